// SPDX-License-Identifier: Apache-2.0
// Fuzz target: LatmDepacketizer. The first byte picks the StreamMuxConfig (GStreamer's AAC-LC, or
// three subframes with 16 bits of other data), the rest is length-prefixed RTP packets (see
// test_fuzz_packets.h). Every frame handed out must be non-empty and within the cap; the
// StreamMuxConfig parser is fed the same bytes too.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/rtp/latm.h"
#include "formats/rtp/test_fuzz_packets.h"

using namespace weir::formats::rtp;

namespace {
constexpr std::size_t kCap = 1 << 14;
struct CheckingSink : AccessUnitSink {
  void access_unit(const AccessUnit& unit) override {
    if (unit.data.empty() || unit.data.size() > kCap) __builtin_trap();
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  (void)parse_stream_mux_config(std::span<const std::uint8_t>(data + 1, size - 1 < 64 ? size - 1 : 64));
  static const std::uint8_t kAacLc[] = {0x40, 0x00, 0x24, 0x20};
  static const std::uint8_t kSubframes[] = {0x42, 0x01, 0xd6, 0x13, 0x10, 0x1f, 0xf0, 0x86, 0xac};
  auto config = (data[0] & 1) ? parse_stream_mux_config(kSubframes) : parse_stream_mux_config(kAacLc);
  if (!config) __builtin_trap();
  LatmDepacketizer depacketizer(*config, kCap);
  CheckingSink sink;
  bool has_last = false;
  std::uint16_t last = 0;
  for (auto bytes : fuzz::split_packets(std::span<const std::uint8_t>(data + 1, size - 1))) {
    auto packet = parse_rtp(bytes);
    if (!packet) continue;
    bool gap = has_last && packet->header.sequence != static_cast<std::uint16_t>(last + 1);
    has_last = true;
    last = packet->header.sequence;
    (void)depacketizer.push(*packet, gap, sink);
  }
  return 0;
}
