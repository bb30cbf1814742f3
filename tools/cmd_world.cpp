// Placeholder: replaced by the real `ztcore world` implementation.
#include <cstdio>
#include "cli.hpp"
namespace zt::cli {
int cmd_world(const Args&) {
  std::fputs("error: 'ztcore world' is not implemented yet\n", stderr);
  return 2;
}
}  // namespace zt::cli
