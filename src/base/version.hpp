// The library's version: one source of truth, CMake's `project(ztcore VERSION ...)`, passed to
// every layer as ZTCORE_VERSION (zt_base's public compile definition). zt_version(), the CLI's
// --version, the local API's "ztcoreVersion" and the Python package all read it from here.
#pragma once

#ifndef ZTCORE_VERSION
#error "ZTCORE_VERSION is defined by the build (CMakeLists.txt: zt_base)"
#endif

namespace zt {

inline constexpr char kZtcoreVersion[] = ZTCORE_VERSION;

}  // namespace zt
