// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Internal to formats/rtsp: the few string helpers its parsers share (ASCII only, no locale).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace weir::formats::rtsp::detail {

inline bool is_space(char ch) noexcept { return ch == ' ' || ch == '\t'; }

/// `text` without leading and trailing spaces, tabs and CRs (a stray CR inside a line would
/// otherwise survive a parse and vanish in the next, after the text is written out again).
inline std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (is_space(text.front()) || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (is_space(text.back()) || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

inline char lower(char ch) noexcept {
  return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
}

/// ASCII case-insensitive equality (header names, parameter names, tokens).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

inline bool istarts_with(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

/// A decimal number of at most `max`, all of `text` (no sign, no spaces); nullopt otherwise.
inline std::optional<std::uint64_t> parse_decimal(std::string_view text,
                                                  std::uint64_t max = UINT64_MAX) noexcept {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(ch - '0');
    if (digit > max || value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

inline int hex_value(char ch) noexcept {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/// A hexadecimal number of 1..16 digits, all of `text`; nullopt otherwise.
inline std::optional<std::uint64_t> parse_hex(std::string_view text) noexcept {
  if (text.empty() || text.size() > 16) return std::nullopt;
  std::uint64_t value = 0;
  for (char ch : text) {
    const int digit = hex_value(ch);
    if (digit < 0) return std::nullopt;
    value = value << 4 | static_cast<std::uint64_t>(digit);
  }
  return value;
}

/// Splits off the text before the first `separator` (all of it when there is none).
inline std::string_view take_until(std::string_view& text, char separator) noexcept {
  const std::size_t at = text.find(separator);
  std::string_view head = text.substr(0, at);
  text = at == std::string_view::npos ? std::string_view() : text.substr(at + 1);
  return head;
}

/// `"text"` without its quotes (and its backslash escapes left in place); other text as is.
inline std::string_view unquote(std::string_view text) noexcept {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    return text.substr(1, text.size() - 2);
  return text;
}

}  // namespace weir::formats::rtsp::detail
