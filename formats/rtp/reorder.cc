// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/reorder.h"

#include <algorithm>
#include <cstring>

#include "formats/rtp/rtp_packet.h"

namespace weir::formats::rtp {

ReorderBuffer::ReorderBuffer(std::size_t window, std::size_t max_packet_bytes)
    : window_(std::clamp<std::size_t>(window, 1, 32768)),
      slot_bytes_(std::clamp<std::size_t>(max_packet_bytes, 12, 65535)) {}

void ReorderBuffer::store(std::uint16_t sequence, std::span<const std::uint8_t> packet) {
  std::size_t slot = sequence % window_;
  if (state_[slot] != Slot::empty) {
    ++counters_.duplicates;
    return;
  }
  ++held_;
  if (packet.size() > slot_bytes_) {
    ++counters_.too_large;
    state_[slot] = Slot::dropped;
    return;
  }
  state_[slot] = Slot::full;
  sizes_[slot] = static_cast<std::uint16_t>(packet.size());
  if (!packet.empty()) std::memcpy(&storage_[slot * slot_bytes_], packet.data(), packet.size());
}

void ReorderBuffer::release_next(ReleasedPacketSink& sink) {
  std::size_t slot = next_ % window_;
  std::uint16_t sequence = next_++;
  if (state_[slot] == Slot::full) {
    --held_;
    state_[slot] = Slot::empty;
    ++counters_.released;
    std::uint32_t lost = pending_lost_;
    pending_lost_ = 0;
    sink.released(sequence, std::span<const std::uint8_t>(&storage_[slot * slot_bytes_], sizes_[slot]), lost);
    return;
  }
  if (state_[slot] == Slot::dropped) {
    --held_;
    state_[slot] = Slot::empty;
  }
  ++counters_.lost;
  ++pending_lost_;
}

void ReorderBuffer::drain(ReleasedPacketSink& sink) {
  while (held_ != 0 && state_[next_ % window_] != Slot::empty) release_next(sink);
}

void ReorderBuffer::flush(ReleasedPacketSink& sink) {
  while (held_ != 0) release_next(sink);
}

void ReorderBuffer::push(std::uint16_t sequence, std::span<const std::uint8_t> packet, ReleasedPacketSink& sink) {
  if (storage_.empty()) {
    storage_.resize(window_ * slot_bytes_);
    state_.assign(window_, Slot::empty);
    sizes_.assign(window_, 0);
  }
  if (!is_started_) {
    is_started_ = true;
    next_ = sequence;
  }
  int delta = sequence_delta(next_, sequence);
  bool is_jump = delta > kMaxDropout || delta < -kMaxMisorder;
  if (is_jump) {
    if (!has_bad_ || sequence != bad_next_) {
      // Maybe a stray packet, maybe a restarted sender: wait for the next one to say which.
      has_bad_ = true;
      bad_next_ = static_cast<std::uint16_t>(sequence + 1);
      ++counters_.late;
      return;
    }
    flush(sink);  // what was held belongs to the old sequence; then start over
    ++counters_.restarts;
    pending_lost_ = 0;
    next_ = sequence;
    delta = 0;
  }
  has_bad_ = false;
  if (delta < 0) {
    ++counters_.late;
    return;
  }
  if (static_cast<std::size_t>(delta) >= window_) {
    // Waited long enough for whatever is missing before sequence - window + 1: skip it.
    auto first_kept = static_cast<std::uint16_t>(sequence - window_ + 1);
    while (next_ != first_kept) release_next(sink);
  }
  store(sequence, packet);
  drain(sink);
}

}  // namespace weir::formats::rtp
