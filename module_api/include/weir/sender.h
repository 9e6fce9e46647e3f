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
