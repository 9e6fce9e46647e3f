// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test-only: reads files of formats/flv/testdata (made by testdata/generate.sh).

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// CMake sets the absolute path for flv_test; the fallback keeps the header compiling on its own.
#ifndef WEIR_FLV_TESTDATA
#define WEIR_FLV_TESTDATA "formats/flv/testdata"
#endif

namespace weir::formats::flv::test {

/// The bytes of testdata/<name>; empty when the file is missing (the test then fails on its checks).
inline std::vector<std::uint8_t> read_testdata(const std::string& name) {
  std::ifstream in(std::string(WEIR_FLV_TESTDATA) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace weir::formats::flv::test
