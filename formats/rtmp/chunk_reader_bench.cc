// SPDX-License-Identifier: Apache-2.0
// The chunk layer's cost per byte and per message: reading a publisher's stream into a sink that
// reuses one buffer (what a server's page writer costs aside), and framing a message for a player.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "formats/rtmp/chunk_reader.h"
#include "formats/rtmp/chunk_writer.h"
#include "formats/rtmp/control.h"

namespace weir::formats::rtmp {
namespace {

// Hands out the same storage for every message: measures the reader, not an allocator.
class ReusingSink final : public ChunkSink {
 public:
  std::span<std::uint8_t> begin_message(const MessageHeader& header) noexcept override {
    if (storage_.size() < header.length) storage_.resize(header.length);
    return storage_;
  }
  Status end_message(const MessageHeader&, std::span<std::uint8_t> payload) noexcept override {
    bytes_ += payload.size();
    return ok();
  }
  std::size_t bytes_ = 0;

 private:
  std::vector<std::uint8_t> storage_;
};

// 2 s of a 3 Mbit/s publisher: 25 fps video, 43 audio frames/s, at `chunk_size`.
std::vector<std::uint8_t> publisher_stream(std::uint32_t chunk_size) {
  ChunkWriter writer(chunk_size);
  std::vector<std::uint8_t> wire;
  std::vector<std::uint8_t> video(15000, 0x17);
  std::vector<std::uint8_t> audio(370, 0xAF);
  for (std::uint32_t i = 0; i < 50; ++i) {
    MessageHeader v{6, i * 40, static_cast<std::uint32_t>(video.size()), kMessageVideo, 1};
    writer.append(wire, v, video);
    for (std::uint32_t a = 0; a < 2; ++a) {
      MessageHeader h{4, i * 40 + a * 23, static_cast<std::uint32_t>(audio.size()), kMessageAudio, 1};
      writer.append(wire, h, audio);
    }
  }
  return wire;
}

void BM_ChunkReaderPublisherStream(benchmark::State& state) {
  const auto chunk_size = static_cast<std::uint32_t>(state.range(0));
  const std::vector<std::uint8_t> wire = publisher_stream(chunk_size);
  const std::size_t read_size = 16 * 1024;  // one socket read at a time
  ReusingSink sink;
  for (auto _ : state) {
    ChunkReader reader(sink);
    benchmark::DoNotOptimize(reader.set_chunk_size(chunk_size));
    for (std::size_t at = 0; at < wire.size(); at += read_size) {
      const std::size_t n = std::min(read_size, wire.size() - at);
      if (!reader.feed(std::span(wire).subspan(at, n)).is_ok()) state.SkipWithError("feed failed");
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_ChunkReaderPublisherStream)->Arg(128)->Arg(4096)->Arg(65536);

void BM_FrameMessageForAPlayer(benchmark::State& state) {
  ChunkStreamState stream;
  std::uint32_t timestamp = 0;
  for (auto _ : state) {
    MessageHeader header{6, timestamp += 40, 15000, kMessageVideo, 1};
    MessageFraming framing = frame_message(stream, header, 4096);
    benchmark::DoNotOptimize(framing);
  }
}
BENCHMARK(BM_FrameMessageForAPlayer);

}  // namespace
}  // namespace weir::formats::rtmp

BENCHMARK_MAIN();
