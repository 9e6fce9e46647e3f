// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The RTMP handshake (spec 5.2) for both ends, with no I/O: feed it the peer's bytes, send what it
/// gives back, until is_done(). Also the digest ("complex") handshake of Flash Player and FMS that
/// Flash and some encoders require: C1/S1 carry an HMAC-SHA256 digest, C2/S2 answer it.
///
/// ```
///  client                                   server
///  C0 (version 3) + C1 (1536) ------------>
///                             <------------ S0 + S1 (1536) + S2 (1536)
///  C2 (1536) ---------------------------->  then chunk stream both ways
///
///  C1/S1: time(4) version(4) random(1528)              plain: version 0
///  digest: the 1528 bytes are two 764-byte blocks, digest and key; the digest block is
///    offset(4) random(offset % 728) digest(32) random(...)
///    scheme 0: digest block first  -> digest at 12  + (sum of bytes 8..11)    % 728
///    scheme 1: key block first     -> digest at 776 + (sum of bytes 772..775) % 728
///    digest = HMAC-SHA256(key, the 1504 other bytes); key: C1 "Genuine Adobe Flash Player 001",
///    S1 "Genuine Adobe Flash Media Server 001" (the first 30 / 36 bytes of the full keys)
///  C2/S2: plain: echo of S1/C1 (time, time read, random)
///    digest: random(1504) + HMAC-SHA256(HMAC-SHA256(full key, peer's C1/S1 digest), random)
/// ```

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "weir/status.h"

namespace weir::formats::rtmp {

/// Size of C1, C2, S1 and S2.
inline constexpr std::size_t kHandshakePacketBytes = 1536;
/// C0/S0 of plain RTMP.
inline constexpr std::uint8_t kHandshakeVersion = 3;
/// C0 of RTMPE (encrypted RTMP), which Weir does not speak.
inline constexpr std::uint8_t kHandshakeVersionEncrypted = 6;

/// Which handshake the two ends settled on.
enum class HandshakeKind : std::uint8_t {
  plain,           ///< spec 5.2: random C1/S1, echoed in S2/C2
  digest_scheme0,  ///< digest block first (Flash Player, FFmpeg, librtmp)
  digest_scheme1,  ///< key block first
};

/// Short name for logs: "plain", "digest scheme 0", "digest scheme 1".
const char* handshake_kind_name(HandshakeKind kind) noexcept;

/// Options of a ServerHandshake.
struct ServerHandshakeOptions {
  std::uint32_t time_ms = 0;      ///< S1's time field (the server's clock in ms; 0 is valid)
  std::uint64_t random_seed = 0;  ///< seeds S1/S2's random bytes (tests); 0: seeded from OpenSSL
  bool allow_digest = true;       ///< answer a digest C1 with digest S1/S2; false: always plain
};

/// The server's end of the handshake: reads C0 C1 C2, writes S0 S1 S2.
/// Thread: one owner. ~4.6 KiB, no allocation; drop it once done.
class ServerHandshake {
 public:
  explicit ServerHandshake(ServerHandshakeOptions options = {}) noexcept;

  /// Consumes client bytes up to the end of C2 and returns how many it used: what follows C2 in
  /// `bytes` is the chunk stream's. Errors (sticky): Errc::unsupported for C0 = 6 (RTMPE),
  /// Errc::malformed for any other C0 but 3, Errc::internal if OpenSSL fails.
  Result<std::size_t> feed(std::span<const std::uint8_t> bytes) noexcept;

  /// Bytes to send and not yet marked sent (S0+S1+S2 once C1 is in; empty before). The span stays
  /// valid for the life of this object.
  std::span<const std::uint8_t> pending_output() const noexcept {
    return {out_.data() + out_sent_, static_cast<std::size_t>(out_size_ - out_sent_)};
  }
  /// The socket took `bytes` of pending_output() (a partial write is fine). At most its size.
  void mark_sent(std::size_t bytes) noexcept;

  /// C2 is in: the chunk stream starts with the next byte.
  bool is_done() const noexcept { return state_ == State::done; }
  /// Plain, or the digest scheme the client used (known once C1 is in).
  HandshakeKind kind() const noexcept { return kind_; }
  /// C2 answered S1 correctly (echo, or the digest response). Not required: many clients don't.
  bool is_response_verified() const noexcept { return is_verified_; }
  /// C1's time field.
  std::uint32_t peer_time_ms() const noexcept { return peer_time_ms_; }
  /// C1's version field, e.g. 0x09007C02 for Flash Player 9.0.124.2; 0 from most encoders.
  std::uint32_t peer_version() const noexcept { return peer_version_; }

 private:
  enum class State : std::uint8_t { c0, c1, c2, done, failed };
  Status on_c1() noexcept;
  void on_c2() noexcept;

  ServerHandshakeOptions options_;
  State state_ = State::c0;
  HandshakeKind kind_ = HandshakeKind::plain;
  bool is_verified_ = false;
  std::uint32_t peer_time_ms_ = 0;
  std::uint32_t peer_version_ = 0;
  std::uint16_t have_ = 0;  // bytes of the packet being read
  std::uint16_t out_size_ = 0;
  std::uint16_t out_sent_ = 0;
  std::array<std::uint8_t, 32> c1_digest_{};
  std::array<std::uint8_t, 32> s1_digest_{};
  std::array<std::uint8_t, kHandshakePacketBytes> in_{};           // C1, then C2
  std::array<std::uint8_t, 1 + 2 * kHandshakePacketBytes> out_{};  // S0 S1 S2
  Status error_;
};

/// Options of a ClientHandshake.
struct ClientHandshakeOptions {
  HandshakeKind kind = HandshakeKind::digest_scheme0;  ///< what C1 offers
  std::uint32_t time_ms = 0;                           ///< C1's time field
  std::uint64_t random_seed = 0;  ///< seeds C1/C2's random bytes (tests); 0: seeded from OpenSSL
  bool require_echo = true;       ///< plain handshake: S2 must echo C1's random bytes
};

/// The client's end of the handshake: writes C0 C1 C2, reads S0 S1 S2. For our test client and the
/// load generator. Thread: one owner. ~4.6 KiB, no allocation; drop it once done.
class ClientHandshake {
 public:
  /// Builds C0+C1 at once: pending_output() has them.
  explicit ClientHandshake(ClientHandshakeOptions options = {}) noexcept;

  /// Consumes server bytes up to the end of S2 and returns how many it used; C2 is ready after S1.
  /// Errors (sticky): Errc::unsupported for S0 = 6, Errc::malformed for another S0 but 3, for an
  /// S1 claiming a version whose digest matches neither scheme, for an S2 that does not answer C1
  /// (wrong digest, or no echo when require_echo); Errc::internal if OpenSSL fails.
  Result<std::size_t> feed(std::span<const std::uint8_t> bytes) noexcept;

  /// Bytes to send and not yet marked sent (C0+C1 at first, C2 after S1). The span stays valid for
  /// the life of this object.
  std::span<const std::uint8_t> pending_output() const noexcept {
    return {out_.data() + out_sent_, static_cast<std::size_t>(out_size_ - out_sent_)};
  }
  /// The socket took `bytes` of pending_output() (a partial write is fine). At most its size.
  void mark_sent(std::size_t bytes) noexcept;

  /// S2 is in and checked: the chunk stream starts with the next byte.
  bool is_done() const noexcept { return state_ == State::done; }
  /// What was settled: a digest scheme if the server answered with a valid digest S1, else plain.
  HandshakeKind kind() const noexcept { return kind_; }
  /// S1's version field (0 from plain servers).
  std::uint32_t peer_version() const noexcept { return peer_version_; }

 private:
  enum class State : std::uint8_t { s0, s1, s2, done, failed };
  Status on_s1() noexcept;
  Status on_s2() noexcept;

  ClientHandshakeOptions options_;
  State state_ = State::s0;
  HandshakeKind kind_ = HandshakeKind::plain;
  std::uint32_t peer_version_ = 0;
  std::uint64_t random_state_ = 0;
  std::uint16_t have_ = 0;
  std::uint16_t out_size_ = 0;
  std::uint16_t out_sent_ = 0;
  std::array<std::uint8_t, 32> c1_digest_{};
  std::array<std::uint8_t, kHandshakePacketBytes> in_{};           // S1, then S2
  std::array<std::uint8_t, 1 + 2 * kHandshakePacketBytes> out_{};  // C0 C1 C2
  Status error_;
};

}  // namespace weir::formats::rtmp
