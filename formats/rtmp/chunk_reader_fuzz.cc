// SPDX-License-Identifier: Apache-2.0
// Fuzzes ChunkReader on arbitrary chunk streams, with control messages applied in order, and checks
// a property on what it accepts: every message it delivers survives ChunkWriter -> ChunkReader.
//
// Input: [type 3 mode][feed step] chunk stream bytes...
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "formats/rtmp/aggregate_reader.h"
#include "formats/rtmp/chunk_reader.h"
#include "formats/rtmp/chunk_writer.h"
#include "formats/rtmp/control.h"
#include "formats/rtmp/vector_sink.h"

namespace rtmp = weir::formats::rtmp;

namespace {

void look_inside(const rtmp::Message& message) {
  const std::span<const std::uint8_t> payload = message.payload;
  switch (message.header.type_id) {
    case rtmp::kMessageUserControl:
      static_cast<void>(rtmp::decode_user_control(payload));
      break;
    case rtmp::kMessageSetPeerBandwidth:
      static_cast<void>(rtmp::decode_set_peer_bandwidth(payload));
      break;
    case rtmp::kMessageAcknowledgement:
      static_cast<void>(rtmp::decode_acknowledgement(payload));
      break;
    case rtmp::kMessageWindowAckSize:
      static_cast<void>(rtmp::decode_window_ack_size(payload));
      break;
    case rtmp::kMessageAggregate: {
      rtmp::AggregateReader aggregate(message.header, payload);
      while (auto sub = aggregate.next())
        if (sub->payload.size() != sub->header.length) std::abort();
      break;
    }
    default:
      break;
  }
}

// Writes the messages again (no control messages: the chunk size stays put) and reads them back.
void round_trip(const std::vector<rtmp::Message>& messages) {
  rtmp::ChunkWriter writer;
  std::vector<std::uint8_t> wire;
  std::vector<const rtmp::Message*> sent;
  for (const rtmp::Message& message : messages) {
    if (message.header.type_id == rtmp::kMessageSetChunkSize ||
        message.header.type_id == rtmp::kMessageAbort)
      continue;
    writer.append(wire, message.header, message.payload);
    sent.push_back(&message);
  }
  rtmp::VectorSink sink;
  rtmp::ChunkReaderOptions options;
  options.max_chunk_streams = 1024;
  rtmp::ChunkReader reader(sink, options);
  if (!reader.feed(wire).is_ok()) std::abort();
  const std::vector<rtmp::Message>& got = sink.messages();
  if (got.size() != sent.size()) std::abort();
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(got[i].header == sent[i]->header) || got[i].payload != sent[i]->payload) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  rtmp::ChunkReaderOptions options;
  options.max_message_bytes = 64 * 1024;
  options.max_chunk_streams = 16;
  options.type3_extended_timestamp = static_cast<rtmp::Type3ExtendedTimestamp>(data[0] % 3);
  const std::size_t step = data[1] == 0 ? size : data[1];
  rtmp::VectorSink sink;
  rtmp::ChunkReader reader(sink, options);
  sink.apply_control_to(&reader);
  for (std::size_t at = 2; at < size; at += step) {
    const std::size_t n = step < size - at ? step : size - at;
    if (!reader.feed(std::span<const std::uint8_t>(data + at, n)).is_ok()) break;
  }
  for (const rtmp::Message& message : sink.messages()) look_inside(message);
  round_trip(sink.messages());
  return 0;
}
