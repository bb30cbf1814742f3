// Fuzz target for the verb payload codecs (proto/verbs.hpp).
//
// Input: byte 0 selects the decoder, the rest is the payload.
//   0x00..0x1f  decode_message(verb = selector) (unassigned verbs yield UnknownVerb)
//   0x20        HelloMoons (HELLO cryptField plaintext)
//   0x21        NetworkConfigAck
//   0x22        ConfigChunk, legacy form refused
//   0x23        ErrorNetwork with info allowed
//   other       selector mod 0x24
// Property: when decode succeeds, encode → decode must succeed again and encode to the same
// bytes (encoding is idempotent after one normalisation); and for every form with a canonical
// writer the first encoding reproduces the input (checked where the codec promises it).
// Any violation aborts.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proto/verbs.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

[[noreturn]] void die(const char* what, unsigned sel) {
  std::fprintf(stderr, "fuzz_verbs: %s (selector 0x%02x)\n", what, sel);
  std::abort();
}

template <class T, class Decode>
void check(unsigned sel, ByteSpan p, Decode&& decode) {
  auto m1 = decode(p);
  if (!m1) {
    if (m1.error().empty()) die("error without a message", sel);
    return;
  }
  Writer w1;
  m1->encode(w1);
  auto m2 = decode(w1.span());
  if (!m2) die("re-encoded message does not decode", sel);
  Writer w2;
  m2->encode(w2);
  if (w1.data() != w2.data()) die("encode(decode(encode(decode(x)))) != encode(decode(x))", sel);
}

void check_message(unsigned sel, ByteSpan p) {
  auto m1 = decode_message(Verb(sel), p);
  if (!m1) {
    if (m1.error().empty()) die("error without a message", sel);
    return;
  }
  if (uint8_t(message_verb(*m1)) != sel) die("message_verb differs from the decoded verb", sel);
  Writer w1;
  encode_message(*m1, w1);
  auto m2 = decode_message(Verb(sel), w1.span());
  if (!m2) die("re-encoded message does not decode", sel);
  if (m2->index() != m1->index()) die("re-decoded to a different message type", sel);
  Writer w2;
  encode_message(*m2, w2);
  if (w1.data() != w2.data()) die("encoding not idempotent", sel);
  // Verbs whose every accepted input has a canonical form must reproduce it exactly.
  const Verb v = Verb(sel);
  const bool exact = v == Verb::Whois || v == Verb::Rendezvous || v == Verb::Frame ||
                     v == Verb::Echo || v == Verb::MulticastLike || v == Verb::UserMessage ||
                     v == Verb::RemoteTrace || v == Verb::Nop || v == Verb::Ack ||
                     v == Verb::QosMeasurement || v == Verb::PathNegotiationRequest;
  if (exact && !std::equal(w1.data().begin(), w1.data().end(), p.begin(), p.end()))
    die("canonical input not reproduced", sel);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned sel = data[0] % 0x24;
  ByteSpan p(data + 1, size - 1);
  if (sel < 0x20) {
    check_message(sel, p);
    return 0;
  }
  switch (sel) {
    case 0x20: check<HelloMoons>(sel, p, [](ByteSpan b) { return HelloMoons::decode(b); }); break;
    case 0x21: check<NetworkConfigAck>(sel, p, [](ByteSpan b) { return NetworkConfigAck::decode(b); }); break;
    case 0x22: check<ConfigChunk>(sel, p, [](ByteSpan b) { return ConfigChunk::decode(b, false); }); break;
    case 0x23: check<ErrorNetwork>(sel, p, [](ByteSpan b) { return ErrorNetwork::decode(b, true); }); break;
    default: break;
  }
  return 0;
}
