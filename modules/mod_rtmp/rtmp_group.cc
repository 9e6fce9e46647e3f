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

const SharedFraming& RtmpGroup::remember_framing(SharedFraming framing) {
  SharedFraming& slot = ring_[next_];
  if (step_.shared == &slot) step_.shared = nullptr;
  slot = std::move(framing);
  next_ = (next_ + 1) % kRing;
  return slot;
}

namespace {
// Equal but for the absolute timestamp, which is each player's own timeline.
bool same_but_timestamp(const formats::rtmp::ChunkStreamState& a, const formats::rtmp::ChunkStreamState& b) noexcept {
  return a.has_previous == b.has_previous && a.is_delta == b.is_delta && a.timestamp_field == b.timestamp_field &&
         a.previous.length == b.previous.length && a.previous.type_id == b.previous.type_id &&
         a.previous.stream_id == b.previous.stream_id && a.previous.chunk_stream_id == b.previous.chunk_stream_id;
}
}  // namespace

const SharedFraming* RtmpGroup::reuse_framing(const MediaFrame& frame, formats::rtmp::ChunkStreamState& state,
                                              std::uint32_t timestamp) const noexcept {
  const SharedFraming* shared = step_.shared;
  if (!shared || frame.payload.slices().empty()) return nullptr;
  const PageSlice& first = frame.payload.slices().front();
  if (shared->page != first.page.get() || shared->offset != first.offset) return nullptr;
  // Type 1/2/3 headers carry the delta, never the absolute time, unless it needs the extended field.
  if (!state.has_previous || timestamp < state.previous.timestamp ||
      timestamp >= formats::rtmp::kExtendedTimestampMarker)
    return nullptr;
  if (timestamp - state.previous.timestamp != step_.delta || !same_but_timestamp(state, step_.before)) return nullptr;
  state = step_.after;
  state.previous.timestamp = timestamp;
  return shared;
}

void RtmpGroup::remember_step(const MediaFrame& frame, const formats::rtmp::ChunkStreamState& before,
                              const formats::rtmp::ChunkStreamState& after, const SharedFraming& shared) noexcept {
  step_.shared = nullptr;
  if (frame.payload.slices().empty() || !before.has_previous) return;  // a type 0 header: this player's own
  const std::uint32_t timestamp = after.previous.timestamp;
  if (timestamp < before.previous.timestamp || timestamp >= formats::rtmp::kExtendedTimestampMarker) return;
  step_ = Step{&shared, before, after, timestamp - before.previous.timestamp};
}

}  // namespace weir::rtmp
