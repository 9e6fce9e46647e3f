// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// VectorSink: a ChunkSink that keeps each message in its own std::vector. For tests, tools and
/// the load generator's control path; the server assembles into its pages instead.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "formats/rtmp/chunk.h"
#include "formats/rtmp/chunk_reader.h"
#include "weir/status.h"

namespace weir::formats::rtmp {

/// One complete message, payload owned.
struct Message {
  MessageHeader header;
  std::vector<std::uint8_t> payload;
};

/// Collects complete messages in arrival order. Allocates a vector per message.
/// Thread: the reader's.
class VectorSink final : public ChunkSink {
 public:
  VectorSink() = default;

  /// When set, Set Chunk Size and Abort messages are applied to `reader` as they complete (and
  /// still collected), the way a server's sink applies them. The reader is borrowed: it must
  /// outlive this sink's use, or be unset with nullptr.
  void apply_control_to(ChunkReader* reader) noexcept { reader_ = reader; }

  /// Messages completed so far, oldest first.
  std::vector<Message>& messages() noexcept { return messages_; }
  const std::vector<Message>& messages() const noexcept { return messages_; }
  /// Hands the messages over and starts a new list.
  std::vector<Message> take_messages() noexcept { return std::exchange(messages_, {}); }
  /// Messages dropped by Abort so far.
  std::size_t aborted_count() const noexcept { return aborted_; }
  /// Messages begun and not yet complete.
  std::size_t open_count() const noexcept { return open_.size(); }

  std::span<std::uint8_t> begin_message(const MessageHeader& header) noexcept override;
  Status end_message(const MessageHeader& header,
                     std::span<std::uint8_t> payload) noexcept override;
  void abort_message(const MessageHeader& header) noexcept override;

 private:
  std::vector<Message> messages_;
  std::vector<Message> open_;  // one per csid with a message in progress
  ChunkReader* reader_ = nullptr;
  std::size_t aborted_ = 0;
};

}  // namespace weir::formats::rtmp
