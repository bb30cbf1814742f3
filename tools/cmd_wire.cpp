// Placeholder: replaced by the real `ztcore wire` implementation.
#include <cstdio>
#include "cli.hpp"
namespace zt::cli {
int cmd_wire(const Args&) {
  std::fputs("error: 'ztcore wire' is not implemented yet\n", stderr);
  return 2;
}
}  // namespace zt::cli
