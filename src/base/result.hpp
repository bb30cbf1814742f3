// Result<T>: a value or a human-readable error. Used at module boundaries instead of
// exceptions; bad network input is an ordinary error value, never a throw.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace zt {

struct Error {
  std::string message;
};

inline Error err(std::string m) { return Error{std::move(m)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::move(v)) {}
  Result(Error e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const std::string& error() const { return std::get<1>(v_).message; }
  Error take_error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations with no value.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace zt
