// The pcapng writer (runtime/pcapng.cpp) and the capture's synthesized headers
// (runtime/capture.cpp): files parsed back block by block, and read by libpcap.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "runtime/capture.hpp"
#include "runtime/pcapng.hpp"
#include "runtime/state.hpp"

using namespace zt;
using runtime::NodeCapture;
using runtime::PcapngWriter;

namespace {

// One directory per test process, removed when the process ends (it used to stay behind).
struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("ztcore_pcapng_" + std::to_string(::getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string temp_path(const std::string& name) {
  static const TempDir dir;
  return (dir.path / name).string();
}

uint16_t le16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

struct Block {
  uint32_t type = 0;
  Bytes body;  // between the leading length and the trailing length
};

// Splits a pcapng file into blocks, checking every block's framing.
std::vector<Block> parse_blocks(const Bytes& f) {
  std::vector<Block> out;
  size_t off = 0;
  while (off < f.size()) {
    EXPECT_GE(f.size() - off, 12u) << "truncated block at " << off;
    if (f.size() - off < 12) break;
    const uint32_t type = le32(&f[off]), len = le32(&f[off + 4]);
    EXPECT_EQ(len % 4, 0u) << "block at " << off << " is not padded to 32 bits";
    EXPECT_LE(len, f.size() - off);
    if (len < 12 || len > f.size() - off) break;
    EXPECT_EQ(le32(&f[off + len - 4]), len) << "trailing length of the block at " << off;
    out.push_back({type, Bytes(f.begin() + long(off) + 8, f.begin() + long(off) + len - 4)});
    off += len;
  }
  return out;
}

// Options from `p` on: code → value (the last of each code), checking padding and opt_endofopt.
std::map<uint16_t, Bytes> parse_options(const Bytes& body, size_t p) {
  std::map<uint16_t, Bytes> opts;
  bool ended = false;
  while (p + 4 <= body.size()) {
    const uint16_t code = le16(&body[p]), len = le16(&body[p + 2]);
    if (code == 0) {
      EXPECT_EQ(len, 0);
      ended = true;
      p += 4;
      break;
    }
    EXPECT_LE(p + 4 + len, body.size());
    opts[code] = Bytes(body.begin() + long(p) + 4, body.begin() + long(p) + 4 + len);
    p += 4 + ((len + 3u) & ~3u);
  }
  if (!opts.empty()) {
    EXPECT_TRUE(ended) << "options without opt_endofopt";
  }
  EXPECT_EQ(p, body.size()) << "bytes after the options";
  return opts;
}

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

TEST(Pcapng, WritesBlocksThatParseBack) {
  const std::string path = temp_path("blocks.pcapng");
  PcapngWriter w;
  ASSERT_TRUE(w.open(path, "ztcore test").ok());
  auto raw = w.add_interface(PcapngWriter::kLinkRaw, "udp", "wire");
  auto eth = w.add_interface(PcapngWriter::kLinkEthernet, "zt-8056c2e21c000001");
  ASSERT_TRUE(raw.ok() && eth.ok());
  EXPECT_EQ(*raw, 0u);
  EXPECT_EQ(*eth, 1u);
  const Bytes p1 = {1, 2, 3, 4, 5};      // needs 3 bytes of padding
  const Bytes p2(64, 0xab);              // aligned
  const Bytes p3 = {9, 9, 9, 9, 9, 9, 9};
  ASSERT_TRUE(w.write(*eth, 1'700'000'000'123'456, p1, "in from 89e92cee01 accepted", PcapngWriter::Direction::Inbound).ok());
  ASSERT_TRUE(w.write(*raw, 1'700'000'000'123'457, p2).ok());
  ASSERT_TRUE(w.write(*eth, 1'700'000'000'123'458, p3, "out to broadcast sent\n", PcapngWriter::Direction::Outbound).ok());
  EXPECT_FALSE(w.write(7, 0, p1).ok()) << "an interface that was never added";
  EXPECT_EQ(w.packets(), 3u);
  ASSERT_TRUE(w.close().ok());
  EXPECT_FALSE(w.write(*eth, 0, p1).ok()) << "closed";

  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  auto file = runtime::read_file(path);
  ASSERT_TRUE(file);
  auto blocks = parse_blocks(*file);
  ASSERT_EQ(blocks.size(), 6u);
  // Section Header Block.
  EXPECT_EQ(blocks[0].type, 0x0A0D0D0Au);
  EXPECT_EQ(le32(&blocks[0].body[0]), 0x1A2B3C4Du);
  EXPECT_EQ(le16(&blocks[0].body[4]), 1);
  EXPECT_EQ(le16(&blocks[0].body[6]), 0);
  EXPECT_EQ(text(parse_options(blocks[0].body, 16)[4]), "ztcore test");
  // Interface Description Blocks.
  EXPECT_EQ(blocks[1].type, 1u);
  EXPECT_EQ(le16(&blocks[1].body[0]), 101);
  EXPECT_EQ(le32(&blocks[1].body[4]), 0u);  // snaplen: none
  auto o1 = parse_options(blocks[1].body, 8);
  EXPECT_EQ(text(o1[2]), "udp");
  EXPECT_EQ(text(o1[3]), "wire");
  EXPECT_EQ(o1[9], Bytes{6});  // if_tsresol: microseconds
  EXPECT_EQ(blocks[2].type, 1u);
  EXPECT_EQ(le16(&blocks[2].body[0]), 1);
  EXPECT_EQ(text(parse_options(blocks[2].body, 8)[2]), "zt-8056c2e21c000001");
  // Enhanced Packet Blocks.
  struct Want {
    uint32_t iface;
    uint64_t ts;
    Bytes data;
    std::string comment;
    uint32_t flags;
  };
  const Want want[] = {{1, 1'700'000'000'123'456, p1, "in from 89e92cee01 accepted\n", 1},
                       {0, 1'700'000'000'123'457, p2, "", 0},
                       {1, 1'700'000'000'123'458, p3, "out to broadcast sent\n", 2}};
  for (size_t i = 0; i < 3; ++i) {
    const Block& b = blocks[3 + i];
    SCOPED_TRACE(i);
    EXPECT_EQ(b.type, 6u);
    EXPECT_EQ(le32(&b.body[0]), want[i].iface);
    EXPECT_EQ((uint64_t(le32(&b.body[4])) << 32) | le32(&b.body[8]), want[i].ts);
    const uint32_t caplen = le32(&b.body[12]);
    EXPECT_EQ(caplen, want[i].data.size());
    EXPECT_EQ(le32(&b.body[16]), want[i].data.size());
    EXPECT_EQ(Bytes(b.body.begin() + 20, b.body.begin() + 20 + caplen), want[i].data);
    const size_t padded = 20 + ((caplen + 3u) & ~3u);
    for (size_t k = 20 + caplen; k < padded; ++k) EXPECT_EQ(b.body[k], 0) << "padding is zero";
    auto opts = parse_options(b.body, padded);
    if (want[i].comment.empty()) {
      EXPECT_TRUE(opts.empty());
    } else {
      EXPECT_EQ(text(opts[1]), want[i].comment);
      ASSERT_EQ(opts[2].size(), 4u);
      EXPECT_EQ(le32(opts[2].data()), want[i].flags);
    }
  }
}

TEST(Pcapng, LibpcapReadsASingleLinktypeFile) {
  const std::string path = temp_path("eth.pcapng");
  {
    PcapngWriter w;
    ASSERT_TRUE(w.open(path).ok());
    auto eth = w.add_interface(PcapngWriter::kLinkEthernet, "zt-0000000000000001");
    ASSERT_TRUE(eth.ok());
    const Bytes f = NodeCapture::ethernet_frame(proto::Mac(0x0211223344aaULL), proto::Mac::broadcast(), 0x88b5, 0,
                                                as_bytes(std::string_view("hello")));
    ASSERT_TRUE(w.write(*eth, 1'000'000, f, "out to broadcast sent").ok());
    ASSERT_TRUE(w.write(*eth, 2'500'000, f).ok());
  }  // the destructor closes
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), errbuf);
  ASSERT_NE(p, nullptr) << errbuf;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int n = 0;
  while (pcap_next_ex(p, &h, &data) == 1) {
    ++n;
    EXPECT_EQ(h->caplen, 19u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(data) + 14, 5), "hello");
    EXPECT_EQ(data[12], 0x88);
    EXPECT_EQ(h->ts.tv_sec, n == 1 ? 1 : 2);
    EXPECT_EQ(h->ts.tv_usec, n == 1 ? 0 : 500000);
  }
  EXPECT_EQ(n, 2);
  pcap_close(p);
}

TEST(Pcapng, BadPathIsAnIoError) {
  PcapngWriter w;
  auto st = w.open("/nonexistent-dir/x/y.pcapng");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::Io);
  EXPECT_NE(st.error().find("/nonexistent-dir/x/y.pcapng"), std::string::npos) << st.error();
  EXPECT_FALSE(w.add_interface(PcapngWriter::kLinkRaw, "udp").ok());
  EXPECT_FALSE(w.write(0, 0, Bytes{1}).ok());
  EXPECT_TRUE(w.close().ok());
  EXPECT_FALSE(w.open("").ok());
}

namespace {
uint16_t ones_sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (; n > 1; p += 2, n -= 2) s += uint32_t(p[0]) << 8 | p[1];
  if (n) s += uint32_t(p[0]) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}
}  // namespace

TEST(Pcapng, SynthesizedIpv4UdpHeaders) {
  const auto src = *proto::InetAddress::parse("127.0.0.1/9994"), dst = *proto::InetAddress::parse("127.0.0.2/9993");
  const Bytes payload = {0xde, 0xad, 0xbe, 0xef, 0x01};
  const Bytes p = NodeCapture::ip_udp_packet(src, dst, payload);
  ASSERT_EQ(p.size(), 20u + 8 + 5);
  EXPECT_EQ(p[0], 0x45);
  EXPECT_EQ(load_be16(&p[2]), 33);
  EXPECT_EQ(p[9], 17);
  EXPECT_EQ(ones_sum(p.data(), 20), 0xffff) << "IPv4 header checksum";
  EXPECT_EQ(Bytes(p.begin() + 12, p.begin() + 16), (Bytes{127, 0, 0, 1}));
  EXPECT_EQ(load_be16(&p[20]), 9994);
  EXPECT_EQ(load_be16(&p[22]), 9993);
  EXPECT_EQ(load_be16(&p[24]), 13);
  uint32_t pseudo = ones_sum(&p[12], 8) + 17 + 13;
  EXPECT_EQ(ones_sum(&p[20], 13, pseudo), 0xffff) << "UDP checksum";
  EXPECT_EQ(Bytes(p.begin() + 28, p.end()), payload);
  // Families must match.
  EXPECT_TRUE(NodeCapture::ip_udp_packet(src, *proto::InetAddress::parse("::1/9993"), payload).empty());
}

TEST(Pcapng, SynthesizedIpv6UdpHeaders) {
  const auto src = *proto::InetAddress::parse("::1/9994"), dst = *proto::InetAddress::parse("fd00::2/9993");
  const Bytes payload(100, 0x5a);
  const Bytes p = NodeCapture::ip_udp_packet(src, dst, payload);
  ASSERT_EQ(p.size(), 40u + 8 + 100);
  EXPECT_EQ(p[0] >> 4, 6);
  EXPECT_EQ(load_be16(&p[4]), 108);
  EXPECT_EQ(p[6], 17);
  uint32_t pseudo = ones_sum(&p[8], 32) + 17 + 108;
  EXPECT_EQ(ones_sum(&p[40], 108, pseudo), 0xffff) << "UDP checksum";
}

TEST(Pcapng, EthernetHeaderWithAndWithoutVlan) {
  const proto::Mac src(0x0211223344aaULL), dst(0x02aabbccddeeULL);
  const Bytes payload = {1, 2, 3};
  const Bytes plain = NodeCapture::ethernet_frame(src, dst, 0x0800, 0, payload);
  EXPECT_EQ(plain, (Bytes{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x02, 0x11, 0x22, 0x33, 0x44, 0xaa, 0x08, 0x00, 1, 2, 3}));
  const Bytes tagged = NodeCapture::ethernet_frame(src, dst, 0x86dd, 42, payload);
  ASSERT_EQ(tagged.size(), 18u + 3);
  EXPECT_EQ(load_be16(&tagged[12]), 0x8100);
  EXPECT_EQ(load_be16(&tagged[14]), 42);
  EXPECT_EQ(load_be16(&tagged[16]), 0x86dd);
}

TEST(Pcapng, NodeCaptureNamesInterfacesAndComments) {
  const std::string path = temp_path("capture.pcapng");
  auto w = std::make_shared<PcapngWriter>();
  ASSERT_TRUE(w->open(path).ok());
  const uint64_t nwid = 0x8056c2e21c000001ULL;
  const proto::Address me = 0x1122334455, peer = 0x89e92cee01;
  NodeCapture cap(w, me, "n1");
  ASSERT_TRUE(cap.start().ok());
  Bytes dgram(40, 0);
  store_be(&dgram[8], me, 5);
  store_be(&dgram[13], peer, 5);
  cap.wire(runtime::WireDirection::Received, *proto::InetAddress::parse("127.0.0.1/9993"),
           *proto::InetAddress::parse("127.0.0.1/9994"), dgram);
  cap.write_frame(runtime::FrameDirection::In, nwid, proto::Mac::from_address(peer, nwid),
                  proto::Mac::from_address(me, nwid), 0x0800, 0, Bytes(20, 0), "accepted");
  cap.write_frame(runtime::FrameDirection::Out, nwid, proto::Mac::from_address(me, nwid), proto::Mac::broadcast(),
                  0x0806, 0, Bytes(28, 0), "sent");
  cap.write_frame(runtime::FrameDirection::In, nwid, proto::Mac(0x0211223344aaULL), proto::Mac::from_address(me, nwid),
                  0x0800, 0, Bytes(20, 0), "dropped: rule 3", peer);
  ASSERT_TRUE(w->close().ok());
  auto blocks = parse_blocks(*runtime::read_file(path));
  ASSERT_EQ(blocks.size(), 7u);  // SHB, IDB udp, EPB, IDB zt-..., 3 EPB
  EXPECT_EQ(text(parse_options(blocks[1].body, 8)[2]), "n1/udp");
  EXPECT_EQ(text(parse_options(blocks[3].body, 8)[2]), "n1/zt-8056c2e21c000001");
  auto comment = [&](size_t i) {
    const uint32_t caplen = le32(&blocks[i].body[12]);
    return text(parse_options(blocks[i].body, 20 + ((caplen + 3u) & ~3u))[1]);
  };
  EXPECT_EQ(comment(2), "in from 127.0.0.1/9994: 89e92cee01 -> 1122334455\n");
  EXPECT_EQ(le32(&blocks[2].body[12]), 20u + 8 + 40);  // IPv4 + UDP + datagram
  EXPECT_EQ(comment(4), "in from 89e92cee01 accepted\n");
  EXPECT_EQ(comment(5), "out to broadcast sent\n");
  EXPECT_EQ(comment(6), "in from 89e92cee01 dropped: rule 3\n");
}

// NodeHandle::pcap_start / pcap_stop / NodeConfig::pcap on real (idle) runtime nodes.
TEST(Pcapng, RuntimeNodeStartReplaceStop) {
  runtime::Runtime rt;
  auto shared = std::make_shared<PcapngWriter>();
  const std::string shared_path = temp_path("shared.pcapng");
  ASSERT_TRUE(shared->open(shared_path).ok());
  auto config = [&](const std::string& label) {
    runtime::NodeConfig c;
    c.port = 0;
    c.bind = {*proto::InetAddress::parse("127.0.0.1")};
    c.pcap = shared;
    c.pcap_label = label;
    return c;
  };
  auto a = rt.add_node(config("a"));
  auto b = rt.add_node(config("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(shared->interfaces(), 2u);  // a/udp, b/udp
  EXPECT_EQ(shared.use_count(), 3) << "here and one per node's capture (the configs do not keep it)";

  // A node's own file replaces its part of the shared one.
  const std::string p1 = temp_path("a1.pcapng"), p2 = temp_path("a2.pcapng"), p3 = temp_path("a3.pcapng");
  ASSERT_TRUE((*a)->pcap_start(p1).ok());
  ASSERT_TRUE((*a)->pcap_start(p2).ok());  // p1 is closed: SHB + IDB
  auto f1 = parse_blocks(*runtime::read_file(p1));
  ASSERT_EQ(f1.size(), 2u);
  EXPECT_EQ(text(parse_options(f1[1].body, 8)[2]), "udp");
  EXPECT_TRUE((*a)->pcap_stop().ok());
  EXPECT_TRUE((*a)->pcap_stop().ok());  // nothing running
  EXPECT_TRUE(shared->is_open()) << "b still uses it";
  rt.remove_node(*b);
  EXPECT_TRUE(shared->is_open()) << "still referenced here";
  EXPECT_EQ(shared.use_count(), 1);
  shared.reset();

  rt.remove_node(*a);
  auto st = (*a)->pcap_start(p3);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::State);
  EXPECT_FALSE(std::filesystem::exists(p3)) << "no file left behind";
  auto names = parse_blocks(*runtime::read_file(shared_path));
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(text(parse_options(names[1].body, 8)[2]), "a/udp");
  EXPECT_EQ(text(parse_options(names[2].body, 8)[2]), "b/udp");
}
