// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Test helper for formats/amf: byte vectors written as hex with quoted text,
///   bytes("02 0007 'connect' 00 3ff0000000000000")
/// Spaces separate nothing in particular; hex digits pair up; 'text' is copied as is.

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace weir::formats::amf::test_support {

/// The bytes `spec` describes; a malformed spec aborts the test binary.
inline std::vector<std::uint8_t> bytes(std::string_view spec) {
  auto nibble = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    std::abort();
  };
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < spec.size();) {
    char ch = spec[i];
    if (ch == ' ' || ch == '\n') {
      ++i;
    } else if (ch == '\'') {
      std::size_t end = spec.find('\'', i + 1);
      if (end == std::string_view::npos) std::abort();
      out.insert(out.end(), spec.begin() + static_cast<std::ptrdiff_t>(i + 1),
                 spec.begin() + static_cast<std::ptrdiff_t>(end));
      i = end + 1;
    } else {
      if (i + 1 >= spec.size()) std::abort();
      out.push_back(static_cast<std::uint8_t>(nibble(ch) << 4 | nibble(spec[i + 1])));
      i += 2;
    }
  }
  return out;
}

/// `a` followed by `b`.
inline std::vector<std::uint8_t> concat(std::vector<std::uint8_t> a,
                                        const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace weir::formats::amf::test_support
