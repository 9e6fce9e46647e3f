// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Status and Result<T>: how errors cross the module boundary (nothing throws across it).
/// Result<T> is our stand-in for C++23 std::expected<T, Status>.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "weir/text.h"

namespace weir {

/// What kind of failure; the message says what and where.
enum class Errc : std::uint8_t {
  ok = 0,
  malformed,       ///< input that breaks its format (a bad chunk, bad AMF, a broken file)
  unsupported,     ///< well-formed, but a feature we do not handle
  limit,           ///< a size or count limit was reached (not a bug in the input)
  not_found,       ///< no such stream, file, key, route
  exists,          ///< the name is taken
  denied,          ///< refused by policy (auth, load shedding)
  io,              ///< the operating system said no (socket, file)
  closed,          ///< the peer or the object is gone
  timeout,         ///< it took too long
  config,          ///< a bad configuration value
  internal,        ///< a broken invariant of ours
};

/// Short name of an error kind ("malformed", "io", ...).
constexpr std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::malformed: return "malformed";
    case Errc::unsupported: return "unsupported";
    case Errc::limit: return "limit";
    case Errc::not_found: return "not found";
    case Errc::exists: return "exists";
    case Errc::denied: return "denied";
    case Errc::io: return "io";
    case Errc::closed: return "closed";
    case Errc::timeout: return "timeout";
    case Errc::config: return "config";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

/// Success, or an error kind with a message naming what and where.
/// Cheap when ok (no allocation). Errors gain context on the way up: with_context("rtmp handshake").
class [[nodiscard]] Status {
 public:
  Status() noexcept = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  bool is_ok() const noexcept { return code_ == Errc::ok; }
  explicit operator bool() const noexcept { return is_ok(); }
  Errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  /// "context: message" — the caller says where the error happened.
  Status with_context(std::string_view context) const& {
    if (is_ok()) return *this;
    return Status(code_, std::string(context) + ": " + message_);
  }
  Status with_context(std::string_view context) && {
    if (is_ok()) return std::move(*this);
    message_.insert(0, std::string(context) + ": ");
    return std::move(*this);
  }
  friend bool operator==(const Status& a, const Status& b) noexcept {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Errc code_ = Errc::ok;
  std::string message_;
};

/// The success status.
inline Status ok() noexcept { return Status(); }

/// Builds an error status with a formatted message: error(Errc::malformed, "bad byte {} at {}", b, at).
template <class... Args>
Status error(Errc code, std::string_view text, const Args&... args) {
  return Status(code, format(text, args...));
}

/// A value, or the Status saying why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::in_place_index<1>, std::move(status)) {}  // NOLINT

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; only valid when !has_value().
  const Status& error() const& { return std::get<1>(data_); }
  Status&& error() && { return std::get<1>(std::move(data_)); }
  /// Ok when a value is held, the error otherwise.
  Status status() const { return has_value() ? Status() : error(); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Status> data_;
};

}  // namespace weir

/// Returns early with the error of a Status-returning expression.
#define WEIR_TRY(expr)                              \
  do {                                              \
    ::weir::Status weir_try_status_ = (expr);       \
    if (!weir_try_status_.is_ok()) return weir_try_status_; \
  } while (0)
