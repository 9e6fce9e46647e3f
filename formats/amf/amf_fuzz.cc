// SPDX-License-Identifier: Apache-2.0
// Decodes every input as AMF0 and as AMF3; what decodes must encode, and the encoding must decode
// and encode again to the same bytes. A crash, a sanitizer report or a failed round trip aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "formats/amf/amf0.h"
#include "formats/amf/amf3.h"

namespace {

using weir::formats::amf::Amf0Reader;
using weir::formats::amf::Amf0Writer;
using weir::formats::amf::Amf3Reader;
using weir::formats::amf::Amf3Writer;
using weir::formats::amf::Limits;
using weir::formats::amf::Value;

// Small enough that reference bombs fail fast instead of slowing the run.
constexpr Limits kLimits{.max_depth = 64, .max_output_bytes = 1 << 20};

void require(bool condition) {
  if (!condition) std::abort();
}

template <class Reader, class Writer>
void round_trip(std::span<const std::uint8_t> input) {
  Reader reader(input, kLimits);
  auto values = reader.read_all();
  if (!values) return;  // bad input is fine, as long as it is refused cleanly
  std::vector<std::uint8_t> first;
  Writer writer(first);
  // Every decoded value has a valid encoding; the writer's limits are the reader's.
  require(writer.write_all(*values).is_ok());
  Reader again(first, Limits{.max_depth = 64, .max_output_bytes = std::size_t{1} << 30});
  auto decoded = again.read_all();
  require(decoded.has_value());
  std::vector<std::uint8_t> second;
  Writer writer_again(second);
  require(writer_again.write_all(*decoded).is_ok());
  require(first == second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);
  round_trip<Amf0Reader, Amf0Writer>(input);
  round_trip<Amf3Reader, Amf3Writer>(input);
  return 0;
}
