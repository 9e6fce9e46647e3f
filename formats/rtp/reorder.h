// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// ReorderBuffer: puts one SSRC's RTP packets received over UDP back in sequence order before they
/// reach a depacketizer. Packets are copied into a ring of `window` fixed-size slots; a gap is
/// waited for until a packet `window` sequence numbers past it arrives, then skipped and reported
/// as lost.
///
///     next_ = 100                      slots (window 8), indexed sequence % window
///     ┌────┬────┬────┬────┬────┬────┬────┬────┐
///     │    │101 │102 │    │104 │    │    │    │   100 missing: 101..104 held
///     └────┴────┴────┴────┴────┴────┴────┴────┘
///     100 arrives → 100, 101, 102 released; 103 missing: wait
///     111 arrives (111 - 103 = 8 = window) → 103 given up (lost_before 1 on 104), 104 released,
///     105-110 still waited for
///
/// Sequence numbers wrap at 65535. Older than what was released: dropped (late or duplicate). A
/// jump of more than kMaxDropout forwards or kMaxMisorder backwards is taken as a sender restart
/// when the next packet follows it (RFC 3550 A.1's rule), else the jumping packet is dropped.
/// Thread: owner only. Memory: window × max_packet_bytes, allocated on the first push.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weir::formats::rtp {

/// Receives packets back in order from a ReorderBuffer, borrowed for the call only.
class ReleasedPacketSink {
 public:
  /// `lost_before`: sequence numbers skipped just before this one (give the depacketizer
  /// follows_loss = lost_before != 0).
  virtual void released(std::uint16_t sequence, std::span<const std::uint8_t> packet, std::uint32_t lost_before) = 0;

 protected:
  ~ReleasedPacketSink() = default;
};

class ReorderBuffer {
 public:
  /// A forward jump beyond this is a restart candidate, not a gap (RFC 3550 A.1 MAX_DROPOUT).
  static constexpr int kMaxDropout = 3000;
  /// Backward by more than this is a restart candidate, not a late packet (RFC 3550 A.1 MAX_MISORDER).
  static constexpr int kMaxMisorder = 100;

  struct Counters {
    std::uint64_t released = 0;
    std::uint64_t lost = 0;        ///< sequence numbers skipped
    std::uint64_t late = 0;        ///< arrived after their turn (or a duplicate of a released one)
    std::uint64_t duplicates = 0;  ///< a second copy of a held packet
    std::uint64_t too_large = 0;   ///< larger than a slot: dropped, its number counted lost
    std::uint64_t restarts = 0;    ///< sequence resynchronised after a jump
  };

  /// `window`: slots, 1 to 32768 (held latency in packets). `max_packet_bytes`: a slot's size.
  explicit ReorderBuffer(std::size_t window = 64, std::size_t max_packet_bytes = 1500);

  /// One packet as it arrived (its bytes are copied). Releases to `sink` every packet now in order.
  void push(std::uint16_t sequence, std::span<const std::uint8_t> packet, ReleasedPacketSink& sink);
  /// Releases everything held, skipping gaps (end of stream, or a caller's timeout while waiting).
  void flush(ReleasedPacketSink& sink);

  const Counters& counters() const noexcept { return counters_; }
  std::size_t held() const noexcept { return held_; }

 private:
  enum class Slot : std::uint8_t { empty, full, dropped };

  void store(std::uint16_t sequence, std::span<const std::uint8_t> packet);
  void release_next(ReleasedPacketSink& sink);  // the packet at next_, or a loss; advances next_
  void drain(ReleasedPacketSink& sink);

  std::size_t window_;
  std::size_t slot_bytes_;
  std::vector<std::uint8_t> storage_;
  std::vector<Slot> state_;
  std::vector<std::uint16_t> sizes_;
  bool is_started_ = false;
  std::uint16_t next_ = 0;       // the sequence number to release next
  bool has_bad_ = false;
  std::uint16_t bad_next_ = 0;   // a restart is confirmed when this one arrives
  std::size_t held_ = 0;         // full or dropped slots
  std::uint32_t pending_lost_ = 0;
  Counters counters_;
};

}  // namespace weir::formats::rtp
