// Result<T>: a value or an error (a code plus a human-readable message). Used at module
// boundaries instead of exceptions; bad network input is an ordinary error value, never a throw.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace zt {

// What kind of failure an Error is; mirrors the C ABI's zt_result so src/capi maps errors by
// kind, never by message text. (Not "ErrorCode": that is the wire's ERROR verb codes,
// proto::ErrorCode.) A plain err("text") is InvalidArgument: most errors are
// rejected input, and that is what the C ABI reported for an unclassified error.
enum class ErrorKind {
  InvalidArgument,  // bad input (also the default)
  NotFound,         // the named object does not exist (e.g. a network not joined)
  Io,               // file, socket or OS failure
  State,            // the call is not valid in the object's current state
  TooLarge,         // a size limit was exceeded
  Internal,         // a bug or an unexpected failure
};

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::InvalidArgument;
};

inline Error err(std::string m) { return Error{std::move(m)}; }
inline Error err(ErrorKind kind, std::string m) { return Error{std::move(m), kind}; }

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
  // The error's kind; only valid when !ok().
  ErrorKind kind() const { return std::get<1>(v_).kind; }
  Error take_error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations with no value.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace zt
