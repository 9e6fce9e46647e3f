// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/handshake.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "formats/rtmp/byte_order.h"

namespace weir::formats::rtmp {

namespace {

using Digest = std::array<std::uint8_t, 32>;

constexpr std::size_t kPacket = kHandshakePacketBytes;
constexpr std::size_t kDigestBytes = 32;
// The digest sits in a 764-byte block after a 4-byte offset, so its position varies by 728.
constexpr std::size_t kDigestOffsetModulo = 728;

// The keys are public: "Genuine Adobe Flash Media Server 001" / "Genuine Adobe Flash Player 001"
// followed by the same 32 bytes. C1/S1 digests use only the text, C2/S2 responses the whole key.
constexpr std::uint8_t kKeyTail[32] = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};
constexpr char kServerText[] = "Genuine Adobe Flash Media Server 001";
constexpr char kClientText[] = "Genuine Adobe Flash Player 001";
constexpr std::size_t kServerTextBytes = sizeof(kServerText) - 1;  // 36
constexpr std::size_t kClientTextBytes = sizeof(kClientText) - 1;  // 30

struct Key {
  std::array<std::uint8_t, kServerTextBytes + sizeof(kKeyTail)> bytes{};
  std::size_t text_size = 0;
  std::span<const std::uint8_t> text() const noexcept { return {bytes.data(), text_size}; }
  std::span<const std::uint8_t> full() const noexcept {
    return {bytes.data(), text_size + sizeof(kKeyTail)};
  }
};

constexpr Key make_key(const char* text, std::size_t size) {
  Key key;
  for (std::size_t i = 0; i < size; ++i) key.bytes[i] = static_cast<std::uint8_t>(text[i]);
  for (std::size_t i = 0; i < sizeof(kKeyTail); ++i) key.bytes[size + i] = kKeyTail[i];
  key.text_size = size;
  return key;
}

constexpr Key kServerKey = make_key(kServerText, kServerTextBytes);
constexpr Key kClientKey = make_key(kClientText, kClientTextBytes);

// What the digest ends put in C1/S1's version field: Flash Player 9.0.124.2 (the first to require
// the digest handshake) and FMS 4.5.0.1.
constexpr std::uint32_t kClientVersion = 0x09007C02;
constexpr std::uint32_t kServerVersion = 0x04050001;

// Random bytes for C1/S1/C2/S2 (splitmix64). They only need to differ between connections, not to
// be secret: the digest is a client/server check, not security.
class Random {
 public:
  explicit Random(std::uint64_t seed) noexcept : state_(seed) {
    if (state_ == 0 && RAND_bytes(reinterpret_cast<unsigned char*>(&state_), sizeof(state_)) != 1)
      state_ = reinterpret_cast<std::uintptr_t>(this) ^ 0x5745495252544d50ull;
  }
  void fill(std::uint8_t* p, std::size_t n) noexcept {
    while (n > 0) {
      std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      const std::size_t take = std::min<std::size_t>(n, sizeof(z));
      std::memcpy(p, &z, take);
      p += take;
      n -= take;
    }
  }
  std::uint64_t state() const noexcept { return state_; }

 private:
  std::uint64_t state_;
};

bool hmac_sha256(std::span<const std::uint8_t> key, const std::uint8_t* data, std::size_t size,
                 Digest& out) noexcept {
  unsigned int length = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data, size, out.data(),
              &length) != nullptr &&
         length == out.size();
}

// Where the digest of a C1/S1 sits under `scheme` (not plain).
std::size_t digest_position(const std::uint8_t* packet, HandshakeKind scheme) noexcept {
  const std::size_t block = scheme == HandshakeKind::digest_scheme0 ? 8 : 772;
  const std::size_t sum =
      std::size_t{packet[block]} + packet[block + 1] + packet[block + 2] + packet[block + 3];
  return block + 4 + sum % kDigestOffsetModulo;
}

// HMAC over the packet without the 32 digest bytes at `position`.
bool packet_digest(const std::uint8_t* packet, std::size_t position,
                   std::span<const std::uint8_t> key, Digest& out) noexcept {
  std::array<std::uint8_t, kPacket - kDigestBytes> rest;
  std::memcpy(rest.data(), packet, position);
  std::memcpy(rest.data() + position, packet + position + kDigestBytes,
              kPacket - position - kDigestBytes);
  return hmac_sha256(key, rest.data(), rest.size(), out);
}

// The scheme whose digest validates in `packet`, trying `first` first; plain when none does.
HandshakeKind find_digest(const std::uint8_t* packet, std::span<const std::uint8_t> key,
                          HandshakeKind first, Digest& digest) noexcept {
  const HandshakeKind order[2] = {
      first == HandshakeKind::digest_scheme1 ? HandshakeKind::digest_scheme1
                                             : HandshakeKind::digest_scheme0,
      first == HandshakeKind::digest_scheme1 ? HandshakeKind::digest_scheme0
                                             : HandshakeKind::digest_scheme1};
  for (HandshakeKind scheme : order) {
    const std::size_t position = digest_position(packet, scheme);
    Digest expected;
    if (packet_digest(packet, position, key, expected) &&
        std::equal(expected.begin(), expected.end(), packet + position)) {
      digest = expected;
      return scheme;
    }
  }
  return HandshakeKind::plain;
}

// Writes time, version and random bytes, with the digest placed under `kind` unless plain.
bool build_first_packet(std::uint8_t* packet, HandshakeKind kind, std::uint32_t time_ms,
                        std::uint32_t version, std::span<const std::uint8_t> key, Random& random,
                        Digest& digest) noexcept {
  detail::store_u32be(packet, time_ms);
  detail::store_u32be(packet + 4, kind == HandshakeKind::plain ? 0 : version);
  random.fill(packet + 8, kPacket - 8);
  if (kind == HandshakeKind::plain) return true;
  const std::size_t position = digest_position(packet, kind);
  if (!packet_digest(packet, position, key, digest)) return false;
  std::memcpy(packet + position, digest.data(), kDigestBytes);
  return true;
}

// C2/S2 of the digest handshake: random bytes signed with a key derived from the peer's digest.
bool response_digest(const std::uint8_t* packet, std::span<const std::uint8_t> full_key,
                     const Digest& peer_digest, Digest& out) noexcept {
  Digest key;
  return hmac_sha256(full_key, peer_digest.data(), peer_digest.size(), key) &&
         hmac_sha256(key, packet, kPacket - kDigestBytes, out);
}

bool build_response(std::uint8_t* packet, std::span<const std::uint8_t> full_key,
                    const Digest& peer_digest, Random& random) noexcept {
  random.fill(packet, kPacket - kDigestBytes);
  Digest digest;
  if (!response_digest(packet, full_key, peer_digest, digest)) return false;
  std::memcpy(packet + kPacket - kDigestBytes, digest.data(), kDigestBytes);
  return true;
}

bool is_response_valid(const std::uint8_t* packet, std::span<const std::uint8_t> full_key,
                       const Digest& peer_digest) noexcept {
  Digest digest;
  return response_digest(packet, full_key, peer_digest, digest) &&
         std::equal(digest.begin(), digest.end(), packet + kPacket - kDigestBytes);
}

// Plain C2/S2: the peer's time, our time, the peer's random bytes.
void build_echo(std::uint8_t* packet, const std::uint8_t* peer, std::uint32_t time_ms) noexcept {
  std::memcpy(packet, peer, 4);
  detail::store_u32be(packet + 4, time_ms);
  std::memcpy(packet + 8, peer + 8, kPacket - 8);
}

Status check_version(std::uint8_t version, const char* who) {
  if (version == kHandshakeVersion) return ok();
  if (version == kHandshakeVersionEncrypted)
    return error(Errc::unsupported, "{} version 6: encrypted RTMP (RTMPE) is not supported", who);
  return error(Errc::malformed, "{} version {}, 3 expected", who, version);
}

Status crypto_failed() { return error(Errc::internal, "HMAC-SHA256 failed in OpenSSL"); }

}  // namespace

const char* handshake_kind_name(HandshakeKind kind) noexcept {
  switch (kind) {
    case HandshakeKind::plain:
      return "plain";
    case HandshakeKind::digest_scheme0:
      return "digest scheme 0";
    case HandshakeKind::digest_scheme1:
      return "digest scheme 1";
  }
  return "unknown";
}

// ---- server ----

ServerHandshake::ServerHandshake(ServerHandshakeOptions options) noexcept : options_(options) {}

Result<std::size_t> ServerHandshake::feed(std::span<const std::uint8_t> bytes) noexcept {
  if (state_ == State::failed) return error_;
  std::size_t used = 0;
  while (used < bytes.size() && state_ != State::done) {
    if (state_ == State::c0) {
      Status status = check_version(bytes[used], "C0");
      if (!status.is_ok()) {
        state_ = State::failed;
        error_ = status;
        return status;
      }
      ++used;
      state_ = State::c1;
      continue;
    }
    const std::size_t take = std::min(kPacket - have_, bytes.size() - used);
    std::memcpy(in_.data() + have_, bytes.data() + used, take);
    have_ = static_cast<std::uint16_t>(have_ + take);
    used += take;
    if (have_ < kPacket) break;
    have_ = 0;
    if (state_ == State::c1) {
      Status status = on_c1();
      if (!status.is_ok()) {
        state_ = State::failed;
        error_ = status;
        return status;
      }
      state_ = State::c2;
    } else {
      on_c2();
      state_ = State::done;
    }
  }
  return used;
}

Status ServerHandshake::on_c1() noexcept {
  const std::uint8_t* c1 = in_.data();
  peer_time_ms_ = detail::load_u32be(c1);
  peer_version_ = detail::load_u32be(c1 + 4);
  Digest c1_digest{};
  kind_ = options_.allow_digest
              ? find_digest(c1, kClientKey.text(), HandshakeKind::plain, c1_digest)
              : HandshakeKind::plain;
  c1_digest_ = c1_digest;

  Random random(options_.random_seed);
  out_[0] = kHandshakeVersion;
  std::uint8_t* s1 = out_.data() + 1;
  std::uint8_t* s2 = s1 + kPacket;
  Digest s1_digest{};
  if (!build_first_packet(s1, kind_, options_.time_ms, kServerVersion, kServerKey.text(), random,
                          s1_digest))
    return crypto_failed();
  s1_digest_ = s1_digest;
  if (kind_ == HandshakeKind::plain) {
    build_echo(s2, c1, options_.time_ms);
  } else if (!build_response(s2, kServerKey.full(), c1_digest_, random)) {
    return crypto_failed();
  }
  out_size_ = static_cast<std::uint16_t>(out_.size());
  return ok();
}

void ServerHandshake::on_c2() noexcept {
  const std::uint8_t* c2 = in_.data();
  const std::uint8_t* s1 = out_.data() + 1;
  is_verified_ = kind_ == HandshakeKind::plain
                     ? std::equal(c2 + 8, c2 + kPacket, s1 + 8)
                     : is_response_valid(c2, kClientKey.full(), s1_digest_);
}

void ServerHandshake::mark_sent(std::size_t bytes) noexcept {
  out_sent_ = static_cast<std::uint16_t>(std::min<std::size_t>(out_size_, out_sent_ + bytes));
}

// ---- client ----

ClientHandshake::ClientHandshake(ClientHandshakeOptions options) noexcept : options_(options) {
  Random random(options_.random_seed);
  out_[0] = kHandshakeVersion;
  Digest digest{};
  if (build_first_packet(out_.data() + 1, options_.kind, options_.time_ms, kClientVersion,
                         kClientKey.text(), random, digest)) {
    c1_digest_ = digest;
    out_size_ = 1 + kPacket;
  } else {
    state_ = State::failed;
    error_ = crypto_failed();
  }
  random_state_ = random.state();
}

Result<std::size_t> ClientHandshake::feed(std::span<const std::uint8_t> bytes) noexcept {
  if (state_ == State::failed) return error_;
  std::size_t used = 0;
  while (used < bytes.size() && state_ != State::done) {
    Status status;
    if (state_ == State::s0) {
      status = check_version(bytes[used], "S0");
      ++used;
      state_ = State::s1;
    } else {
      const std::size_t take = std::min(kPacket - have_, bytes.size() - used);
      std::memcpy(in_.data() + have_, bytes.data() + used, take);
      have_ = static_cast<std::uint16_t>(have_ + take);
      used += take;
      if (have_ < kPacket) break;
      have_ = 0;
      if (state_ == State::s1) {
        status = on_s1();
        state_ = State::s2;
      } else {
        status = on_s2();
        state_ = State::done;
      }
    }
    if (!status.is_ok()) {
      state_ = State::failed;
      error_ = status;
      return status;
    }
  }
  return used;
}

Status ClientHandshake::on_s1() noexcept {
  const std::uint8_t* s1 = in_.data();
  peer_version_ = detail::load_u32be(s1 + 4);
  kind_ = HandshakeKind::plain;
  Digest s1_digest{};
  // As librtmp does: a server that states a version in S1 signs it; one that states 0 is plain.
  if (options_.kind != HandshakeKind::plain && peer_version_ != 0) {
    kind_ = find_digest(s1, kServerKey.text(), options_.kind, s1_digest);
    if (kind_ == HandshakeKind::plain)
      return error(Errc::malformed, "S1 states version {} but its digest matches neither scheme",
                   peer_version_);
  }
  Random random(random_state_);
  std::uint8_t* c2 = out_.data() + 1 + kPacket;
  if (kind_ == HandshakeKind::plain) {
    build_echo(c2, s1, options_.time_ms);
  } else if (!build_response(c2, kClientKey.full(), s1_digest, random)) {
    return crypto_failed();
  }
  random_state_ = random.state();
  out_size_ = static_cast<std::uint16_t>(out_.size());
  return ok();
}

Status ClientHandshake::on_s2() noexcept {
  const std::uint8_t* s2 = in_.data();
  const std::uint8_t* c1 = out_.data() + 1;
  if (kind_ != HandshakeKind::plain) {
    if (!is_response_valid(s2, kServerKey.full(), c1_digest_))
      return error(Errc::malformed, "S2 does not answer C1's digest ({})",
                   handshake_kind_name(kind_));
    return ok();
  }
  if (options_.require_echo && !std::equal(s2 + 8, s2 + kPacket, c1 + 8))
    return error(Errc::malformed, "S2 does not echo C1's random bytes");
  return ok();
}

void ClientHandshake::mark_sent(std::size_t bytes) noexcept {
  out_sent_ = static_cast<std::uint16_t>(std::min<std::size_t>(out_size_, out_sent_ + bytes));
}

}  // namespace weir::formats::rtmp
