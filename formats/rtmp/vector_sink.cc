// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/vector_sink.h"

#include <algorithm>

#include "formats/rtmp/control.h"

namespace weir::formats::rtmp {

namespace {
auto find_open(std::vector<Message>& open, std::uint32_t csid) {
  return std::find_if(open.begin(), open.end(),
                      [csid](const Message& m) { return m.header.chunk_stream_id == csid; });
}
}  // namespace

std::span<std::uint8_t> VectorSink::begin_message(const MessageHeader& header) noexcept {
  // Moving a Message between vectors keeps its payload buffer, so the span stays valid.
  Message& message = open_.emplace_back();
  message.header = header;
  message.payload.resize(header.length);
  return message.payload;
}

Status VectorSink::end_message(const MessageHeader& header,
                               std::span<std::uint8_t> payload) noexcept {
  static_cast<void>(payload);
  auto it = find_open(open_, header.chunk_stream_id);
  if (it == open_.end())
    return error(Errc::internal, "vector sink: no open message on csid {}", header.chunk_stream_id);
  messages_.push_back(std::move(*it));
  open_.erase(it);
  if (reader_ != nullptr) return apply_chunk_control(*reader_, header, messages_.back().payload);
  return ok();
}

void VectorSink::abort_message(const MessageHeader& header) noexcept {
  auto it = find_open(open_, header.chunk_stream_id);
  if (it == open_.end()) return;
  open_.erase(it);
  ++aborted_;
}

}  // namespace weir::formats::rtmp
