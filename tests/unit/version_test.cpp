// The version has one source (CMake's project VERSION): the C ABI, the CLI and the local API
// all report the same string.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "base/version.hpp"
#include "ztcore/ztcore.h"

TEST(Version, CliVersionEqualsZtVersion) {
  const std::string v = zt_version();
  EXPECT_EQ(v, zt::kZtcoreVersion);
  ASSERT_FALSE(v.empty());
  std::FILE* p = ::popen((std::string(ZTCORE_CLI_PATH) + " --version").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0);
  // "ztcore <version> (ZeroTier protocol 12)"
  EXPECT_EQ(out.rfind("ztcore " + v + " ", 0), 0u) << out;
}
