// Placeholder: replaced by the real `ztcore identity` implementation.
#include <cstdio>
#include "cli.hpp"
namespace zt::cli {
int cmd_identity(const Args&) {
  std::fputs("error: 'ztcore identity' is not implemented yet\n", stderr);
  return 2;
}
}  // namespace zt::cli
