// The ten reference identities from tests/vectors/identities.txt (secret forms), for tests
// that need many nodes without paying for identity generation.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "proto/identity.hpp"

namespace zt::test {

inline std::vector<proto::Identity> reference_identities() {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/identities.txt");
  std::vector<proto::Identity> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("secret = ", 0) != 0) continue;
    auto id = proto::Identity::parse(line.substr(9));
    if (id.ok()) out.push_back(*id);
  }
  return out;
}

}  // namespace zt::test
