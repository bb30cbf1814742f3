// `ztcore wire decode [--identity FILE]... CAPTURE` — decodes the ZeroTier UDP traffic of a
// capture into one JSON object per line (see kUsage for the fields).
//
// Keys: every --identity file (secret or public text form) goes into an identity book; the
// book also learns identities from authenticated HELLOs and OK(WHOIS) replies. The key for a
// packet between a and b needs the secret of one and the identity of the other; keys are
// cached per pair. A HELLO is checked with the key agreed with the identity it carries.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/hex.hpp"
#include "cli.hpp"
#include "pcap_reader.hpp"
#include "proto/fragment.hpp"
#include "proto/packet.hpp"
#include "proto/verbs.hpp"
#include "runtime/identity_store.hpp"
#include "wire_json.hpp"

namespace zt::cli {
namespace {

using namespace zt::proto;

const char* kUsage =
    "usage: ztcore wire decode [--identity FILE]... [--interface NAME] CAPTURE.pcap\n"
    "\n"
    "Decodes every UDP datagram of a capture (pcap or pcapng; Ethernet, Linux cooked, raw IP\n"
    "or loopback link types; IPv4 and IPv6) as ZeroTier traffic and prints one JSON object\n"
    "per line. ztcore's own two-layer pcapng (node/lab --pcap) is read too: its wire\n"
    "interfaces are decoded, its virtual-network interfaces (\"zt-<nwid>\") skipped.\n"
    "  ts, frame, src, dst, len          capture time (s), frame number, \"ip/port\", bytes\n"
    "  interface                         pcapng interface name (when the file names it)\n"
    "  kind                              \"packet\", \"junk\" (too short), \"beacon\", \"fragment\"\n"
    "  packet_id, dest, source           header fields (16 / 10 hex digits)\n"
    "  fragment                          true if reassembled from fragments (reported once,\n"
    "                                    when complete; the pieces print nothing). A packet\n"
    "                                    never completed gets a line with kind \"fragmented\"\n"
    "                                    and an error at the end of the output.\n"
    "  cipher, cipher_name, hops\n"
    "  authentic                         true/false; null when no key is known for the pair\n"
    "  verb, compressed                  verb name (\"HELLO\", \"OK\", ...), LZ4 flag\n"
    "  in_re_verb, in_re_packet_id       OK/ERROR envelope; in_re_frame = frame of the request\n"
    "  error_code, error_name            ERROR only\n"
    "  decoded                           the verb's fields\n"
    "  error                             why a datagram could not be decoded\n"
    "\n"
    "options:\n"
    "  -i, --identity FILE   identity (text form, secret or public); repeatable. A packet\n"
    "                        between a and b is authenticated and decrypted when the secret\n"
    "                        of one of them and the identity of the other are known.\n"
    "  --interface NAME      only the packets of this pcapng interface (e.g. \"n1/udp\" in a\n"
    "                        lab capture, where each datagram appears at both ends).\n"
    "\n"
    "exit status: 0 decoded (bad datagrams are reported as lines), 1 the capture or an\n"
    "identity could not be read, 2 usage error.\n";

struct Request {
  Verb verb;
  uint64_t frame;
};

class WireDecoder {
 public:
  bool add_identity(const Identity& id) {
    if (id.has_private()) secrets_[id.address()] = id;
    known_.emplace(id.address(), id);
    return true;
  }

  void datagram(const UdpDatagram& d) {
    Json j;
    j["ts"] = d.ts;
    j["frame"] = d.frame_no;
    if (!d.interface.empty()) j["interface"] = std::string(d.interface);
    j["src"] = d.src.empty() ? Json(nullptr) : Json(d.src.to_string());
    j["dst"] = d.dst.empty() ? Json(nullptr) : Json(d.dst.to_string());
    j["len"] = d.payload.size();
    if (!d.error.empty()) {
      j["error"] = d.error;
      emit(j);
      return;
    }
    try {
      if (classify_and_decode(d, j)) emit(j);
    } catch (const std::exception& e) {  // defensive: nlohmann or allocation failures
      j["error"] = std::string("internal: ") + e.what();
      emit(j);
    }
  }

  // End of capture: one line per fragmented packet that never completed (its pieces printed
  // nothing so far).
  void finish() {
    std::vector<Pending*> left;
    for (auto& [id, p] : pending_) left.push_back(&p);
    std::sort(left.begin(), left.end(), [](const Pending* a, const Pending* b) {
      return a->line["frame"].get<uint64_t>() < b->line["frame"].get<uint64_t>();
    });
    for (Pending* p : left) {
      p->line["pieces_seen"] = p->pieces;
      p->line["error"] = "incomplete fragmented packet (never reassembled)";
      emit(p->line);
    }
    pending_.clear();
  }

 private:
  struct Pending {
    Json line;  // the first piece's line (capture time, endpoints, packet id)
    unsigned pieces = 0;
  };

  // A piece that did not complete a packet: remembered until its packet completes.
  bool piece_pending(uint64_t id, const Json& j) {
    auto [it, fresh] = pending_.try_emplace(id);
    if (fresh) {
      it->second.line = j;
      it->second.line["kind"] = "fragmented";
      it->second.line["packet_id"] = to_hex(id, 16);
    }
    ++it->second.pieces;
    return false;
  }

  static void emit(const Json& j) {
    std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
  }

  // Returns false when nothing should be printed (a fragment of an incomplete packet).
  bool classify_and_decode(const UdpDatagram& d, Json& j) {
    const int64_t now_ms = int64_t(d.ts * 1000.0);
    switch (classify(d.payload)) {
      case DatagramKind::Drop:
        j["kind"] = "junk";
        return true;
      case DatagramKind::Beacon:
        j["kind"] = "beacon";
        j["source"] = to_hex(beacon_source(d.payload), 10);
        return true;
      case DatagramKind::Fragment: {
        FragmentView f(d.payload);
        if (!f.valid()) {
          j["kind"] = "fragment";
          j["packet_id"] = to_hex(f.packet_id(), 16);
          j["error"] = "invalid fragment header (counts byte " + to_hex(uint64_t(f.total() << 4 | f.number()), 2) + ")";
          return true;
        }
        ByteSpan whole = defrag_.add_fragment(d.payload, now_ms);
        if (whole.empty()) return piece_pending(f.packet_id(), j);
        pending_.erase(f.packet_id());
        Bytes copy(whole.begin(), whole.end());
        packet(copy, true, j);
        return true;
      }
      case DatagramKind::Head: {
        PacketView v(d.payload);
        if (v.fragmented()) {
          ByteSpan whole = defrag_.add_head(d.payload, now_ms);
          if (whole.empty()) return piece_pending(v.packet_id(), j);
          pending_.erase(v.packet_id());
          Bytes copy(whole.begin(), whole.end());
          packet(copy, true, j);
          return true;
        }
        packet(Bytes(d.payload.begin(), d.payload.end()), false, j);
        return true;
      }
      default:
        j["kind"] = "junk";
        return true;
    }
  }

  const Identity* lookup(Address a) const {
    auto it = known_.find(a);
    return it == known_.end() ? nullptr : &it->second;
  }

  // Cached key for a packet between a and b; nullptr when neither side's secret (with the
  // other's identity) is known.
  PeerKey* pair_key(Address a, Address b) {
    if (a == b) return nullptr;
    auto k = std::minmax(a, b);
    auto it = keys_.find(k);
    if (it != keys_.end()) return it->second.get();
    std::unique_ptr<PeerKey> key;
    const Identity* ia = lookup(a);
    const Identity* ib = lookup(b);
    if (auto s = secrets_.find(a); s != secrets_.end() && ib) {
      key = std::make_unique<PeerKey>(s->second.agree(*ib));
    } else if (auto s2 = secrets_.find(b); s2 != secrets_.end() && ia) {
      key = std::make_unique<PeerKey>(s2->second.agree(*ia));
    }
    if (!key) return nullptr;
    return keys_.emplace(k, std::move(key)).first->second.get();
  }

  // Key for a HELLO from `hello_id` to `dest`: agreed with the identity inside it.
  std::unique_ptr<PeerKey> hello_key(const Identity& hello_id, Address dest) {
    if (auto s = secrets_.find(dest); s != secrets_.end() && hello_id.address() != dest)
      return std::make_unique<PeerKey>(s->second.agree(hello_id));
    if (auto s = secrets_.find(hello_id.address()); s != secrets_.end() && s->second == hello_id) {
      if (const Identity* d = lookup(dest)) return std::make_unique<PeerKey>(s->second.agree(*d));
    }
    return nullptr;
  }

  void packet(Bytes wire, bool reassembled, Json& j) {
    j["kind"] = "packet";
    PacketView hv(wire);
    j["packet_id"] = to_hex(hv.packet_id(), 16);
    j["dest"] = to_hex(hv.dest(), 10);
    j["source"] = to_hex(hv.source(), 10);
    j["fragment"] = reassembled;
    if (reassembled) j["packet_len"] = wire.size();
    j["cipher"] = int(hv.cipher());
    j["cipher_name"] = cipher_name(hv.cipher());
    j["hops"] = hv.hops();
    j["authentic"] = nullptr;
    if (!hv.valid()) {
      j["error"] = "packet longer than " + std::to_string(kMaxPacketSize) + " bytes";
      return;
    }
    const uint64_t wire_id = hv.packet_id();
    const Address source = hv.source(), dest = hv.dest();
    const Cipher cipher = hv.cipher();

    // Working copy with room for decompression.
    Bytes buf(kMaxPacketSize);
    std::copy(wire.begin(), wire.end(), buf.begin());
    size_t len = wire.size();
    MutByteSpan pkt(buf.data(), len);
    const bool clear = cipher == Cipher::None || cipher == Cipher::TrustedPath;

    std::optional<bool> authentic;
    std::unique_ptr<PeerKey> own_hello_key;
    PeerKey* key = nullptr;
    if (cipher == Cipher::TrustedPath) {
      j["trusted_path_id"] = to_hex(hv.mac(), 16);
    } else if (cipher == Cipher::None && hv.verb() == Verb::Hello) {
      // §2.1 rule 2: authenticate with the identity carried inside the HELLO.
      auto h = Hello::decode(hv.payload());
      if (h) {
        if (h->identity.address() != source) j["warning"] = "HELLO identity address differs from source";
        own_hello_key = hello_key(h->identity, dest);
        key = own_hello_key.get();
      }
    } else {
      key = pair_key(source, dest);
    }
    if (key) {
      authentic = dearmor(pkt, *key);
      j["authentic"] = *authentic;
    }
    if (authentic == false) return;  // verb and payload unknown (or forged)
    if (!authentic && !clear) return;  // encrypted and no key
    // From here the verb byte and payload are plaintext.
    PacketView v(ByteSpan(buf.data(), len));
    j["verb"] = verb_name(v.verb());
    j["compressed"] = v.compressed();
    if (v.compressed()) {
      auto n = decompress_payload(MutByteSpan(buf.data(), buf.size()), len);
      if (!n) {
        j["error"] = "LZ4 decompression failed";
        return;
      }
      len = *n;
      j["payload_len"] = len - kHeaderSize;
    }
    v = PacketView(ByteSpan(buf.data(), len));
    const Verb verb = v.verb();
    ByteSpan payload = v.payload();
    auto m = decode_message(verb, payload);
    if (!m) {
      j["error"] = m.error();
      return;
    }
    IdentityLookup lk = [this](Address a) { return lookup(a); };
    if (auto* ok = std::get_if<OkMessage>(&*m)) {
      envelope(j, ok->in_re_verb, ok->in_re_packet_id);
      auto req = requests_.find(ok->in_re_packet_id);
      // §3.10 quirk: the acknowledgement of a NETWORK_CONFIG push is an OK in re ECHO.
      if (ok->in_re_verb == Verb::Echo && req != requests_.end() &&
          req->second.verb == Verb::NetworkConfig) {
        auto ack = NetworkConfigAck::decode(std::get<OkEcho>(ok->body).payload);
        if (ack) {
          j["decoded"] = config_ack_json(*ack);
          j["decoded"]["network_config_ack"] = true;
        } else {
          j["decoded"] = ok_body_json(ok->body, lk);
        }
      } else {
        j["decoded"] = ok_body_json(ok->body, lk);
      }
      if (authentic && ok->in_re_verb == Verb::Whois)
        for (const auto& id : std::get<OkWhois>(ok->body).identities) known_.emplace(id.address(), id);
    } else if (auto* er = std::get_if<ErrorMessage>(&*m)) {
      envelope(j, er->in_re_verb, er->in_re_packet_id);
      j["error_code"] = int(er->code);
      j["error_name"] = error_code_name(er->code);
      j["decoded"] = error_body_json(er->body);
    } else {
      j["decoded"] = message_json(*m, lk);
    }
    if (auto* h = std::get_if<Hello>(&*m)) {
      if (authentic) {
        known_.emplace(h->identity.address(), h->identity);
        hello_moons(j, buf, len, *h, key);
      }
    }
    requests_.emplace(wire_id, Request{verb, j["frame"].get<uint64_t>()});
  }

  void envelope(Json& j, Verb in_re, uint64_t in_re_id) {
    j["in_re_verb"] = verb_name(in_re);
    j["in_re_packet_id"] = to_hex(in_re_id, 16);
    auto req = requests_.find(in_re_id);
    j["in_re_frame"] = req == requests_.end() ? Json(nullptr) : Json(req->second.frame);
  }

  // Decrypts HELLO's cryptField region (§2.8) in the working buffer and lists the moons.
  void hello_moons(Json& j, Bytes& buf, size_t len, const Hello& h, PeerKey* key) {
    if (!key || h.moons_region.empty()) return;
    const size_t payload_len = len - kHeaderSize;
    const size_t off = kHeaderSize + h.crypt_offset(payload_len);
    if (!crypt_field(key->key(), MutByteSpan(buf.data(), len), off, len - off)) return;
    auto moons = HelloMoons::decode(ByteSpan(buf.data() + off, len - off));
    if (!moons) {
      j["decoded"]["moons_error"] = moons.error();
      return;
    }
    j["decoded"]["moons"] = hello_moons_json(*moons);
  }

  std::map<Address, Identity> secrets_;
  std::map<Address, Identity> known_;
  std::map<std::pair<Address, Address>, std::unique_ptr<PeerKey>> keys_;
  std::unordered_map<uint64_t, Request> requests_;  // wire packet ID → first packet seen
  std::map<uint64_t, Pending> pending_;             // fragmented packets in progress
  Defragmenter defrag_;
};

int decode(const Args& args) {
  std::vector<std::string> id_files;
  std::string capture;
  UdpOptions opts;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-i" || a == "--identity") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "error: %s needs a file argument\n", a.c_str());
        return 2;
      }
      id_files.push_back(args[++i]);
    } else if (a.rfind("--identity=", 0) == 0) {
      id_files.push_back(a.substr(11));
    } else if (a == "--interface") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        std::fprintf(stderr, "error: %s needs an interface name\n", a.c_str());
        return 2;
      }
      opts.interface = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "error: unknown option '%s'\n\n%s", a.c_str(), kUsage);
      return 2;
    } else if (capture.empty()) {
      capture = a;
    } else {
      std::fprintf(stderr, "error: more than one capture given ('%s', '%s')\n", capture.c_str(), a.c_str());
      return 2;
    }
  }
  if (capture.empty()) {
    std::fprintf(stderr, "error: no capture file given\n\n%s", kUsage);
    return 2;
  }
  WireDecoder dec;
  for (const auto& f : id_files) {
    auto id = runtime::load_identity_file(f);
    if (!id) {
      std::fprintf(stderr, "error: identity %s: %s\n", f.c_str(), id.error().c_str());
      return 1;
    }
    dec.add_identity(*id);
  }
  Status st = for_each_udp(capture, [&](const UdpDatagram& d) { dec.datagram(d); }, opts);
  dec.finish();
  std::fflush(stdout);
  if (!st) {
    std::fprintf(stderr, "error: %s\n", st.error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_wire(const Args& args) {
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (wants_help(args)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args[0] == "decode") return decode(Args(args.begin() + 1, args.end()));
  std::fprintf(stderr, "error: unknown wire subcommand '%s'\n\n%s", args[0].c_str(), kUsage);
  return 2;
}

}  // namespace zt::cli
