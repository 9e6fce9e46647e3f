// SPDX-License-Identifier: Apache-2.0
// Fuzz target for formats/mp4's repair path: the input is read as a recording (fed in chunks whose
// size comes from the first byte), and whatever index the scan recovers is built into a moov.
// Every sample it keeps must lie inside what it read; anything but a clean Status is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/mp4/movie.h"
#include "formats/mp4/recording.h"

using namespace weir::formats::mp4;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] * 37u;
  std::span<const std::uint8_t> input(data + 1, size - 1);
  RecordingScanner scanner;
  for (std::size_t at = 0; at < input.size(); at += chunk)
    if (!scanner.feed(input.subspan(at, std::min(chunk, input.size() - at)))) return 0;
  if (scanner.valid_end() > input.size()) __builtin_trap();
  for (const Sample& s : scanner.samples())
    if (s.offset + s.size > scanner.valid_end() || s.track >= scanner.tracks().size()) __builtin_trap();
  if (!scanner.samples().empty()) (void)build_moov(scanner.tracks(), scanner.samples(), scanner.valid_end());
  return 0;
}
