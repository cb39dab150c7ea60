// status.h - errors as values: Status (ok or an error with errno and context)
// and Result<T> (a value or a Status). Exceptions stay at the CLI edge.
// Both are [[nodiscard]]: an ignored error is a bug (the build makes it an
// error). Where ignoring one is right, cast to (void) with a comment saying why.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace ksight {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return {}; }
  static Status Error(std::string msg, int err = 0) { return {std::move(msg), err}; }
  // An error from a failed call that set errno (or returned -errno).
  static Status Errno(std::string what, int err) {
    if (err < 0) err = -err;
    return {fmt::format("{}: {}", what, std::strerror(err)), err};
  }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& message() const { return msg_; }
  int err() const { return err_; }

  // Prefix the message with more context: "loading syscalls: <msg>".
  Status With(std::string_view context) const {
    if (ok()) return *this;
    return {fmt::format("{}: {}", context, msg_), err_};
  }

 private:
  Status(std::string msg, int err) : failed_(true), err_(err), msg_(std::move(msg)) {}
  bool failed_ = false;
  int err_ = 0;
  std::string msg_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status st) : v_(std::move(st)) {}   // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

#define KS_RETURN_IF_ERROR(expr)       \
  do {                                 \
    ::ksight::Status ks_st__ = (expr); \
    if (!ks_st__.ok()) return ks_st__; \
  } while (0)

}  // namespace ksight
