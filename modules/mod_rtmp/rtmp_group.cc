// SPDX-License-Identifier: Apache-2.0
#include "rtmp_group.h"

#include <algorithm>

namespace weir::rtmp {

RtmpGroup::RtmpGroup(PollGroup& group, const RtmpConfig* config, const RtmpCounters* counters, AppsService* apps)
    : poll_group_(group),
      stats_(group.stats()),
      config_(config),
      counters_(counters),
      apps_(apps),
      ingest_(group.pages()),
      framing_(group.pages()) {}

const SharedFraming* RtmpGroup::find_framing(const MediaFrame& frame, std::span<const std::uint8_t> header,
                                              std::span<const std::uint8_t> continuation) const noexcept {
  if (frame.payload.slices().empty()) return nullptr;
  const PageSlice& first = frame.payload.slices().front();
  for (std::size_t i = 0; i < kRing; ++i) {
    const SharedFraming& f = ring_[(next_ + kRing - 1 - i) % kRing];
    if (f.page != first.page.get() || f.offset != first.offset) continue;
    if (f.header_size != header.size() || f.continuation_size != continuation.size()) continue;
    if (!std::equal(header.begin(), header.end(), f.header.begin())) continue;
    if (!std::equal(continuation.begin(), continuation.end(), f.continuation.begin())) continue;
    return &f;
  }
  return nullptr;
}

void RtmpGroup::remember_framing(SharedFraming framing) {
  ring_[next_] = std::move(framing);
  next_ = (next_ + 1) % kRing;
}

}  // namespace weir::rtmp
