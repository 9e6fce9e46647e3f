// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Percent-decoding and query strings, as every protocol module meets them: HTTP paths and
/// queries, RTMP tcUrl and stream names ("cam1?token=a%20b"), script routes.
///
///   std::string path;
///   if (!percent_decode("/a%20b", path)) reject();          // strict: "/a b"
///   Value args = parse_query("token=a%20b&x");               // {token = "a b", x = ""}

#include <string>
#include <string_view>

#include "weir/value.h"

namespace weir {

namespace detail {
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace detail

/// Decodes %XX escapes of `in` into `out`. `form`: '+' is a space too (query strings). A '%' not
/// followed by two hex digits makes a `strict` decode fail (false); otherwise it is kept as is.
inline bool percent_decode(std::string_view in, std::string& out, bool form = false, bool strict = true) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && form) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else if (i + 2 < in.size() && detail::hex_value(in[i + 1]) >= 0 && detail::hex_value(in[i + 2]) >= 0) {
      out += static_cast<char>(detail::hex_value(in[i + 1]) * 16 + detail::hex_value(in[i + 2]));
      i += 2;
    } else if (strict) {
      return false;
    } else {
      out += c;
    }
  }
  return true;
}

/// "a=1&b=x%20y&c" -> {a = "1", b = "x y", c = ""}: names and values form-decoded (bad escapes
/// kept as is), empty pairs skipped, the first of a repeated name wins.
inline Value parse_query(std::string_view query) {
  Value args = Value::object();
  std::string name;
  std::string value;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    percent_decode(pair.substr(0, eq), name, true, false);
    if (args.find(name)) continue;
    value.clear();
    if (eq != std::string_view::npos) percent_decode(pair.substr(eq + 1), value, true, false);
    args.set(name, value);
  }
  return args;
}

}  // namespace weir
