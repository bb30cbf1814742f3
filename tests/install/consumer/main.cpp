// Uses an installed ztcore through the C++ API: two nodes on 127.0.0.1, one the root of a planet
// made for it; the other comes online through it. Exit 0 when it did.
#include <chrono>
#include <iostream>
#include <thread>

#include <ztcore/ztcore.hpp>

int main() try {
  zt::Runtime rt;
  const auto id = zt::generate_identity();
  uint16_t port;
  {
    zt::Node probe(rt, {.bind = "127.0.0.1", .identity = id, .allow_loopback = true});
    port = probe.port();
  }
  const auto planet = zt::make_planet(1, 1700000000000ULL, id, "127.0.0.1/" + std::to_string(port));
  zt::Node root(rt, {.port = port, .bind = "127.0.0.1", .planet = planet, .identity = id, .allow_loopback = true});
  zt::Node leaf(rt, {.bind = "127.0.0.1", .planet = planet, .allow_loopback = true});
  for (int i = 0; i < 600 && !leaf.online(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::cout << "ztcore " << zt::version() << ": root " << root.address() << ", leaf " << leaf.address()
            << (leaf.online() ? " online" : " NOT online") << "\n";
  return leaf.online() && root.address() == zt::validate_identity(id) ? 0 : 1;
} catch (const zt::Error& e) {
  std::cerr << "error " << static_cast<int>(e.code()) << ": " << e.what() << "\n";
  return 1;
}
