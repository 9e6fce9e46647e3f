// SPDX-License-Identifier: Apache-2.0
#pragma once
// Publisher: one NetStream publishing a live stream, the mirror of Player (player.h). It owns the
// stream's Publication and turns the connection's audio, video and data messages into frames:
//
//   audio/video message --parse FLV tag--> MediaFrame (dts unwrapped past 32 bits) --> Publication
//     (payload: the page slice it was assembled in, else one copy into ingest pages)
//   data message --drop @setDataFrame, re-encode AMF0--> MediaFrame (onMetaData flagged)
//
// It also hears from the kernel when the stream's last player left, and tells the application
// (on_no_readers, after [lua] no_readers_delay). Thread: the connection's poll group. Owned by the
// session; destroying it unpublishes.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "formats/rtmp/chunk_reader.h"
#include "weir/pages.h"
#include "weir/poll_group.h"
#include "weir/stream.h"

namespace weir::rtmp {

class RtmpSession;

class Publisher {
 public:
  Publisher(RtmpSession& session, std::uint32_t stream_id, StreamKey key);
  ~Publisher();

  /// Publishes the key and sends NetStream.Publish.Start; the kernel's refusal (the name is taken,
  /// load shedding) as an error, with nothing sent.
  Status start();
  std::uint32_t stream_id() const noexcept { return stream_id_; }
  const StreamKey& key() const noexcept { return key_; }

  /// An audio or video message on this stream; `slice`, when set, holds `payload` in a page. A frame
  /// that does not parse is dropped (logged, counted); Errc::limit when no page is left.
  Status on_media(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload,
                  const PageSlice* slice);
  /// A data message (AMF0) on this stream; one that does not decode is dropped (logged).
  Status on_data(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload);

 private:
  /// The kernel saw the last player of the stream leave: on_no_readers, after the delay.
  void on_no_readers();

  RtmpSession& session_;
  const std::uint32_t stream_id_;
  const StreamKey key_;
  std::unique_ptr<Publication> publication_;
  std::int64_t last_dts_ = 0;
  std::int64_t wrap_offset_ = 0;
  std::unique_ptr<Timer> no_readers_timer_;  // [lua] no_readers_delay
  std::vector<std::uint8_t> scratch_;        // a data message, re-encoded
};

}  // namespace weir::rtmp
