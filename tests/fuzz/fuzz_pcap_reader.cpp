// Fuzz target: the capture reader of `ztcore wire decode` (tools/pcap_reader.cpp). Arbitrary
// bytes as a capture file: a classic pcap's file format is libpcap's to parse, a pcapng's our
// own block reader's (tools/pcapng_reader.cpp); the link, IP and UDP headers are ours. Nothing may crash, hang or
// leak; every reported datagram's payload lies inside the frame, and a malformed frame is
// reported with an error rather than a payload.
//
// The bytes go to an anonymous in-memory file (memfd) opened by path through /proc, since
// for_each_udp takes a path: no files are left behind and runs in parallel do not collide.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pcap_reader.hpp"

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("fuzz_pcap_reader", 0);
  check(fd >= 0);
  check(ftruncate(fd, 0) == 0);
  size_t done = 0;
  while (done < size) {
    ssize_t w = pwrite(fd, data + done, size - done, off_t(done));
    check(w > 0);
    done += size_t(w);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  uint64_t last_frame = 0;
  auto st = zt::cli::for_each_udp(path, [&](const zt::cli::UdpDatagram& d) {
    check(d.frame_no > last_frame);  // capture order, each frame at most once
    last_frame = d.frame_no;
    if (!d.error.empty()) return;
    check(d.src.port() == 0 || !d.src.empty());
    // Touch every payload byte: ASan reports a view outside the frame.
    volatile uint8_t sum = 0;
    for (uint8_t b : d.payload) sum = uint8_t(sum + b);
    (void)sum;
  });
  if (!st) check(!st.error().empty());
  return 0;
}
