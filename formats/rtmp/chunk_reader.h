// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// ChunkReader: turns the bytes a peer sends after the handshake into whole RTMP messages, copying
/// each payload byte once, straight into storage its ChunkSink provides.
///
/// ```
///  feed(bytes) --> chunk headers parsed in place (or gathered in an 18-byte buffer when split)
///                  |
///                  +--> new message:  sink.begin_message(header) -> span of header.length bytes
///                  +--> chunk data:   memcpy into that span (the one copy)
///                  +--> last chunk:   sink.end_message(header, payload)
/// ```
/// No allocation per chunk or message (only when a chunk stream id is first seen), no virtual call
/// per byte: two per message.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/rtmp/chunk.h"
#include "weir/status.h"

namespace weir::formats::rtmp {

/// Where a ChunkReader puts message payloads. Implemented by whoever owns the memory: the server
/// assembles payloads into its pages, tools use VectorSink (vector_sink.h).
/// Thread: the reader's. Several messages may be open at once, one per chunk stream id, when the
/// peer interleaves chunks.
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;

  /// A message starts. Returns writable storage for its payload, at least header.length bytes,
  /// which the sink keeps valid until end_message() or abort_message() for this header's csid.
  /// A span shorter than header.length refuses the message: feed() fails with Errc::limit.
  virtual std::span<std::uint8_t> begin_message(const MessageHeader& header) noexcept = 0;

  /// All header.length payload bytes are in `payload` (the storage from begin_message, trimmed).
  /// This is the place to apply Set Chunk Size and Abort (ChunkReader::set_chunk_size(), abort()):
  /// they then take effect exactly where the peer put them in the stream. An error stops feed()
  /// and is returned from it.
  virtual Status end_message(const MessageHeader& header,
                             std::span<std::uint8_t> payload) noexcept = 0;

  /// The peer aborted the message (or the caller did through ChunkReader::abort()); its storage is
  /// the sink's again. Default: nothing to release.
  virtual void abort_message(const MessageHeader& header) noexcept { static_cast<void>(header); }
};

/// Whether a peer repeats the extended timestamp on type 3 chunks. The spec and Flash/FMS repeat it
/// (so does FFmpeg); some older encoders leave it out.
enum class Type3ExtendedTimestamp : std::uint8_t {
  detect,    ///< not known yet: decided on the first type 3 continuation chunk that would carry it
  repeated,  ///< type 3 chunks carry it when the message's first chunk did
  omitted,   ///< type 3 continuation chunks never carry it
};

/// Limits and peer quirks of a ChunkReader.
struct ChunkReaderOptions {
  /// Longest message payload accepted (Errc::limit beyond). The wire allows 16 MiB - 1.
  std::uint32_t max_message_bytes = 16 * 1024 * 1024;
  /// Most distinct chunk stream ids a peer may use (Errc::limit beyond); each costs ~40 bytes.
  std::uint32_t max_chunk_streams = 64;
  /// How type 3 chunks carry extended timestamps; detect unless the peer is known.
  Type3ExtendedTimestamp type3_extended_timestamp = Type3ExtendedTimestamp::detect;
};

/// Reassembles RTMP messages from a peer's chunk stream (spec 5.3): all four header formats, 1-3
/// byte basic headers, extended timestamps (also on type 3 chunks, repeated or not), interleaved
/// chunk streams, Set Chunk Size and Abort applied by the caller.
///
/// Thread: one owner (a connection's). The sink is borrowed and must outlive the reader; the
/// reader never calls it after destruction, so storage of messages still open then is the sink's
/// to reclaim. Errors are sticky: after feed() fails, every later feed() returns the same error.
///
/// Detecting the extended timestamp on type 3 chunks needs 4 bytes of look-ahead once per
/// connection; if a peer stops sending right inside that window, the message completes when the
/// next bytes arrive.
class ChunkReader {
 public:
  /// Starts at chunk size 128 with no chunk streams known.
  explicit ChunkReader(ChunkSink& sink, ChunkReaderOptions options = {});

  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  /// Consumes all of `bytes`: completes messages through the sink and keeps any partial chunk
  /// header (at most 18 bytes) for the next call. `bytes` is borrowed for the call only.
  /// Errors: Errc::malformed (a chunk that breaks the format, e.g. fmt 1-3 on a csid never seen,
  /// a new message on a csid whose previous one is unfinished), Errc::limit (message too long, too
  /// many chunk streams, sink refused the storage) or the sink's own error; messages name the csid
  /// and the byte offset in the chunk stream.
  Status feed(std::span<const std::uint8_t> bytes) noexcept;

  /// Applies the peer's Set Chunk Size to the chunks after it; call it from end_message() of that
  /// control message. Errc::malformed unless 1 <= bytes <= 0x7FFFFFFF (the error is not sticky).
  Status set_chunk_size(std::uint32_t bytes) noexcept;

  /// Drops the partial message on `chunk_stream_id` (the peer's Abort message); the sink gets
  /// abort_message(). Nothing happens when no message is open there.
  void abort(std::uint32_t chunk_stream_id) noexcept;

  /// The chunk size in force for the next chunk.
  std::uint32_t chunk_size() const noexcept { return chunk_size_; }
  /// Bytes consumed by feed() so far (updated when feed() returns): the offset errors name, and
  /// what acknowledgements count.
  std::uint64_t bytes_consumed() const noexcept { return offset_; }
  /// What the reader knows of the peer's type 3 extended timestamps (detect until it has seen one).
  Type3ExtendedTimestamp type3_extended_timestamp() const noexcept { return type3_mode_; }
  /// Number of chunk stream ids seen so far.
  std::size_t chunk_stream_count() const noexcept { return streams_.size(); }

 private:
  // What the reader remembers of one chunk stream id: the base for compressed headers and the
  // message being assembled.
  struct Stream {
    MessageHeader header;               // the open message, or the last one
    std::uint8_t* payload = nullptr;    // sink storage of the open message
    std::uint32_t received = 0;         // payload bytes of the open message so far
    std::uint32_t timestamp_field = 0;  // last timestamp or delta stated (extended: the full one)
    bool has_extended = false;          // that header used an extended timestamp
    bool is_open = false;               // a message is partly received
  };
  struct Parsed;

  Status run(const std::uint8_t* p, std::size_t n, std::uint64_t at) noexcept;
  std::size_t parse_header(const std::uint8_t* p, std::size_t n, Parsed& out) noexcept;
  bool resolve_probe(Parsed& header) noexcept;
  Status start_chunk(const Parsed& header, std::uint64_t at) noexcept;
  Status finish_chunk() noexcept;
  Stream* find(std::uint32_t chunk_stream_id) noexcept;

  ChunkSink* sink_;
  ChunkReaderOptions options_;
  std::uint32_t chunk_size_ = kDefaultChunkSize;
  Type3ExtendedTimestamp type3_mode_;

  // The chunk whose data is being copied: its stream's index and the bytes left of it.
  std::uint32_t current_ = 0;
  std::uint32_t chunk_left_ = 0;
  bool discard_ = false;  // the current chunk's message was aborted: skip its data

  // A chunk header split across feed() calls, gathered until `header_need_` bytes are in.
  std::array<std::uint8_t, kMaxChunkHeaderBytes> header_{};
  std::uint8_t header_have_ = 0;
  std::uint8_t header_need_ = 0;
  std::uint64_t header_at_ = 0;  // stream offset of its first byte

  std::uint64_t offset_ = 0;
  std::vector<Stream> streams_;
  // csid < 64 (1-byte basic header, nearly all traffic) -> index in streams_ + 1; 0 = not seen.
  std::array<std::uint32_t, 64> small_index_{};
  Status error_;
};

}  // namespace weir::formats::rtmp
