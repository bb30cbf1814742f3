// Placeholder: replaced by the real `ztcore netconf` implementation.
#include <cstdio>
#include "cli.hpp"
namespace zt::cli {
int cmd_netconf(const Args&) {
  std::fputs("error: 'ztcore netconf' is not implemented yet\n", stderr);
  return 2;
}
}  // namespace zt::cli
