// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Sender states: how full a connection's send queue is. The state returned by a send is the
/// truth at that moment; the state-change events that follow are hints (an event may arrive
/// after the queue has already drained again, or be coalesced with the next one within a turn):
/// check Connection::sender_state() before producing more data, never trust an old event.

#include <cstdint>
#include <string_view>

namespace weir {

enum class SenderState : std::uint8_t {
  ready = 0,       ///< below the soft limit: send freely
  overloaded = 1,  ///< at or above the soft limit: drop what can be dropped (non-key video)
  hard_barrier = 2 ///< a send would pass the hard limit: it was refused; resync or close
};

constexpr std::string_view sender_state_name(SenderState state) noexcept {
  switch (state) {
    case SenderState::ready: return "ready";
    case SenderState::overloaded: return "overloaded";
    case SenderState::hard_barrier: return "hard_barrier";
  }
  return "unknown";
}

/// When queued bytes must leave. Every write on a socket is a system call and at least one TCP
/// segment, whose fixed cost (on loopback: waking the reader, the receiver's TCP input) is most of
/// what a media server spends; so a unit that can wait a little rides in the next write instead of
/// making its own. A protocol module marks audio and data between video frames may_wait: they
/// leave together with the next video frame, one write per player per video frame.
enum class SendUrgency : std::uint8_t {
  now = 0,      ///< leaves at the end of this loop turn (or after the coalescing interval)
  may_wait = 1  ///< leaves with the next `now` unit, at the latest after the sender's hold time
};

/// Byte limits of one send queue. The memory a slow client can pin is at most `hard_bytes`
/// (plus one page per slice's page).
struct SenderLimits {
  std::uint64_t soft_bytes = 2 << 20;
  std::uint64_t hard_bytes = 8 << 20;
};

/// Counters of one sender.
struct SenderStats {
  std::uint64_t bytes_queued_total = 0;
  std::uint64_t bytes_sent_total = 0;
  std::uint64_t queued_bytes = 0;      ///< now in the queue
  std::uint64_t write_calls = 0;       ///< writev/sendmsg calls
  std::uint64_t refused_sends = 0;     ///< sends refused at the hard barrier
  SenderState state = SenderState::ready;
};

}  // namespace weir
