// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// AggregateReader: splits an Aggregate message (type 22) into its sub-messages, without copying.
///
/// ```
///  aggregate payload:
///  +------+--------+---------------+-----------+-----------+-----------+------+...
///  | type | length | timestamp     | stream id | payload   | back ptr  | type |
///  |  1   |   3    | 3 low + 1 high|     3     |  length   | 4 = 11+len|      |
///  +------+--------+---------------+-----------+-----------+-----------+------+...
/// ```
/// The sub-message headers are FLV tag headers (timestamp bits 24..31 in the 4th byte). As spec
/// 6.1.1 says, timestamps are rebased so the first sub-message lands on the aggregate's own
/// timestamp, and the aggregate's stream id overrides theirs.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "formats/rtmp/chunk.h"
#include "weir/status.h"

namespace weir::formats::rtmp {

/// One message inside an aggregate; `payload` views into the aggregate's payload.
struct SubMessage {
  MessageHeader header;  ///< csid and stream id of the aggregate, rebased timestamp
  std::span<const std::uint8_t> payload;
};

/// Yields the sub-messages of one aggregate in order:
/// `while (auto sub = reader.next()) use(*sub); if (!reader.status().is_ok()) ...`.
/// Thread: any; the payload is borrowed and must outlive the reader and what it yields.
class AggregateReader {
 public:
  /// `aggregate` is the aggregate message's header, `payload` its payload.
  AggregateReader(const MessageHeader& aggregate, std::span<const std::uint8_t> payload) noexcept
      : aggregate_(aggregate), payload_(payload) {}

  /// The next sub-message, or nullopt at the end or on an error (then status() says which).
  /// A missing back pointer after the last sub-message is tolerated; a short or overlong
  /// sub-message is Errc::malformed naming its byte offset.
  std::optional<SubMessage> next();

  /// Ok, or why next() stopped early.
  const Status& status() const noexcept { return status_; }

 private:
  MessageHeader aggregate_;
  std::span<const std::uint8_t> payload_;
  std::size_t offset_ = 0;
  std::uint32_t first_timestamp_ = 0;
  bool has_first_ = false;
  Status status_;
};

}  // namespace weir::formats::rtmp
