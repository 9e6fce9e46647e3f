// SPDX-License-Identifier: Apache-2.0
// Fuzz target: AacDepacketizer. The first byte picks the AU-header layout (AAC-hbr, AAC-lbr, or
// one with CTS/DTS deltas, RAP flag and stream state), the rest is length-prefixed RTP packets
// (see test_fuzz_packets.h). Every frame handed out must lie within the cap.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/rtp/aac.h"
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
  AacPayloadConfig config = AacPayloadConfig::hbr();
  if (data[0] % 3 == 1) config = AacPayloadConfig::lbr();
  if (data[0] % 3 == 2) {
    config.cts_delta_length = 7;
    config.dts_delta_length = 5;
    config.random_access_indication = true;
    config.stream_state_indication = 3;
  }
  AacDepacketizer depacketizer(config, kCap);
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
