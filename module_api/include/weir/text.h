// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// weir::format(): "{}" placeholders filled in order (libstdc++ 12 has no std::format), for
/// error and log text. Named text.h, not format.h, so that it is not taken for formats/.
/// Never on the per-frame path.

#include <sstream>
#include <string>
#include <string_view>

namespace weir {

namespace detail {
inline void format_rest(std::ostringstream& out, std::string_view text) { out << text; }

template <class First, class... Rest>
void format_rest(std::ostringstream& out, std::string_view text, const First& first,
                 const Rest&... rest) {
  auto hole = text.find("{}");
  if (hole == std::string_view::npos) {
    out << text;
    return;
  }
  out << text.substr(0, hole);
  if constexpr (std::is_same_v<First, char> || std::is_same_v<First, signed char> ||
                std::is_same_v<First, unsigned char> || std::is_same_v<First, std::byte>) {
    out << static_cast<int>(first);  // bytes print as numbers, not raw characters
  } else {
    out << first;
  }
  format_rest(out, text.substr(hole + 2), rest...);
}
}  // namespace detail

/// Replaces each "{}" in `text` by the next argument, streamed with operator<<.
/// Extra arguments are ignored; extra holes are kept as written.
template <class... Args>
std::string format(std::string_view text, const Args&... args) {
  std::ostringstream out;
  detail::format_rest(out, text, args...);
  return std::move(out).str();
}

}  // namespace weir
