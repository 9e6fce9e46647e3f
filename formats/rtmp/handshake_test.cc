// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/handshake.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::formats::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

void append(Bytes& out, std::span<const std::uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// All pending output of a handshake end, marked sent.
template <class End>
Bytes take(End& end) {
  Bytes out;
  append(out, end.pending_output());
  end.mark_sent(out.size());
  return out;
}

// Moves bytes both ways, at most `step` at a time, until both ends are done or one fails.
// Returns the first error.
Status exchange(ClientHandshake& client, ServerHandshake& server, std::size_t step) {
  Bytes to_server;
  Bytes to_client;
  for (bool progress = true; progress;) {
    progress = false;
    append(to_server, take(client));
    append(to_client, take(server));
    if (!to_server.empty() && !server.is_done()) {
      const std::size_t n = std::min(step, to_server.size());
      Result<std::size_t> used = server.feed(std::span(to_server).first(n));
      if (!used) return used.error();
      EXPECT_EQ(*used, n);  // nothing follows C2 here
      to_server.erase(to_server.begin(), to_server.begin() + static_cast<std::ptrdiff_t>(n));
      progress = true;
    }
    if (!to_client.empty() && !client.is_done()) {
      const std::size_t n = std::min(step, to_client.size());
      Result<std::size_t> used = client.feed(std::span(to_client).first(n));
      if (!used) return used.error();
      EXPECT_EQ(*used, n);
      to_client.erase(to_client.begin(), to_client.begin() + static_cast<std::ptrdiff_t>(n));
      progress = true;
    }
  }
  EXPECT_TRUE(to_server.empty());
  EXPECT_TRUE(to_client.empty());
  return ok();
}

ClientHandshakeOptions client_options(HandshakeKind kind, std::uint64_t seed = 11) {
  ClientHandshakeOptions options;
  options.kind = kind;
  options.time_ms = 1234;
  options.random_seed = seed;
  return options;
}

ServerHandshakeOptions server_options(std::uint64_t seed = 22) {
  ServerHandshakeOptions options;
  options.time_ms = 5678;
  options.random_seed = seed;
  return options;
}

TEST(RtmpHandshake, CompletesThePlainHandshake) {
  for (std::size_t step : {std::size_t{1}, std::size_t{100}, std::size_t{5000}}) {
    ClientHandshake client(client_options(HandshakeKind::plain));
    ServerHandshake server(server_options());
    Status status = exchange(client, server, step);
    ASSERT_TRUE(status.is_ok()) << status.message();
    EXPECT_TRUE(client.is_done());
    EXPECT_TRUE(server.is_done());
    EXPECT_EQ(client.kind(), HandshakeKind::plain);
    EXPECT_EQ(server.kind(), HandshakeKind::plain);
    EXPECT_TRUE(server.is_response_verified());
    EXPECT_EQ(server.peer_time_ms(), 1234u);
    EXPECT_EQ(server.peer_version(), 0u);
    EXPECT_EQ(client.peer_version(), 0u);
  }
}

TEST(RtmpHandshake, CompletesTheDigestHandshakeInBothSchemes) {
  for (HandshakeKind kind : {HandshakeKind::digest_scheme0, HandshakeKind::digest_scheme1}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {  // digests land at many offsets
      ClientHandshake client(client_options(kind, seed));
      ServerHandshake server(server_options(seed * 77));
      Status status = exchange(client, server, seed == 1 ? 1 : 4096);
      ASSERT_TRUE(status.is_ok()) << handshake_kind_name(kind) << ": " << status.message();
      EXPECT_TRUE(client.is_done() && server.is_done());
      EXPECT_EQ(server.kind(), kind);
      EXPECT_EQ(client.kind(), kind);
      EXPECT_TRUE(server.is_response_verified());
      EXPECT_EQ(server.peer_version(), 0x09007C02u);
      EXPECT_EQ(client.peer_version(), 0x04050001u);
    }
  }
}

TEST(RtmpHandshake, DigestClientFallsBackToPlainWithAPlainServer) {
  ServerHandshakeOptions options = server_options();
  options.allow_digest = false;
  ClientHandshake client(client_options(HandshakeKind::digest_scheme1));
  ServerHandshake server(options);
  Status status = exchange(client, server, 700);
  ASSERT_TRUE(status.is_ok()) << status.message();
  EXPECT_EQ(server.kind(), HandshakeKind::plain);
  EXPECT_EQ(client.kind(), HandshakeKind::plain);
  EXPECT_TRUE(server.is_response_verified());
}

TEST(RtmpHandshake, KeepsOutputPendingUntilMarkedSent) {
  ClientHandshake client(client_options(HandshakeKind::plain));
  const std::span<const std::uint8_t> c0c1 = client.pending_output();
  EXPECT_EQ(c0c1.size(), 1 + kHandshakePacketBytes);
  EXPECT_EQ(c0c1[0], kHandshakeVersion);
  client.mark_sent(1000);  // a partial write
  EXPECT_EQ(client.pending_output().size(), 1 + kHandshakePacketBytes - 1000);
  EXPECT_EQ(client.pending_output().data(), c0c1.data() + 1000);
  client.mark_sent(5000);
  EXPECT_TRUE(client.pending_output().empty());
  ServerHandshake server(server_options());
  EXPECT_TRUE(server.pending_output().empty());
}

TEST(RtmpHandshake, ServerLeavesTheBytesAfterC2ToTheChunkStream) {
  ClientHandshake client(client_options(HandshakeKind::digest_scheme0));
  ServerHandshake server(server_options());
  Bytes c0c1;
  append(c0c1, take(client));
  ASSERT_EQ(*server.feed(c0c1), c0c1.size());
  Bytes s;
  append(s, take(server));
  ASSERT_EQ(*client.feed(s), s.size());
  EXPECT_TRUE(client.is_done());
  Bytes c2_and_more;
  append(c2_and_more, take(client));
  ASSERT_EQ(c2_and_more.size(), kHandshakePacketBytes);
  c2_and_more.insert(c2_and_more.end(), {0x03, 0x00, 0x00});  // the first chunk's bytes
  Result<std::size_t> used = server.feed(c2_and_more);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(*used, kHandshakePacketBytes);
  EXPECT_TRUE(server.is_done());
  EXPECT_EQ(*server.feed(Bytes{1, 2, 3}), 0u);
}

TEST(RtmpHandshake, ClientLeavesTheBytesAfterS2ToTheChunkStream) {
  ClientHandshake client(client_options(HandshakeKind::plain));
  ServerHandshake server(server_options());
  ASSERT_TRUE(server.feed(take(client)).has_value());
  Bytes s;
  append(s, take(server));
  s.push_back(0x02);
  EXPECT_EQ(*client.feed(s), s.size() - 1);
  EXPECT_TRUE(client.is_done());
}

TEST(RtmpHandshake, WaitsForTheRestOfAShortC1) {
  ServerHandshake server(server_options());
  Bytes partial(1 + 1000, 0);
  partial[0] = 3;
  EXPECT_EQ(*server.feed(partial), partial.size());
  EXPECT_FALSE(server.is_done());
  EXPECT_TRUE(server.pending_output().empty());
  EXPECT_EQ(*server.feed(Bytes{}), 0u);
  EXPECT_EQ(*server.feed(Bytes(536, 0)), 536u);
  EXPECT_EQ(server.pending_output().size(), 1 + 2 * kHandshakePacketBytes);
}

TEST(RtmpHandshake, RefusesEncryptedRtmp) {
  ServerHandshake server;
  Result<std::size_t> used = server.feed(Bytes{6, 0, 0});
  ASSERT_FALSE(used.has_value());
  EXPECT_EQ(used.error().code(), Errc::unsupported);
  EXPECT_EQ(server.feed(Bytes{3}).error().code(), Errc::unsupported);  // sticky
}

TEST(RtmpHandshake, RejectsOtherVersions) {
  for (std::uint8_t version : {0, 1, 4, 0x16, 0x47, 0xFF}) {  // 0x16: TLS, 0x47: "GET"
    ServerHandshake server;
    Result<std::size_t> used = server.feed(Bytes{version});
    ASSERT_FALSE(used.has_value());
    EXPECT_EQ(used.error().code(), Errc::malformed);
    EXPECT_NE(used.error().message().find(std::to_string(version)), std::string::npos);
  }
  ClientHandshake client(client_options(HandshakeKind::plain));
  EXPECT_EQ(client.feed(Bytes{9}).error().code(), Errc::malformed);
  ClientHandshake client6(client_options(HandshakeKind::plain));
  EXPECT_EQ(client6.feed(Bytes{6}).error().code(), Errc::unsupported);
}

TEST(RtmpHandshake, AnswersAC1WithABrokenDigestAsPlain) {
  ClientHandshake client(client_options(HandshakeKind::digest_scheme0));
  Bytes c0c1;
  append(c0c1, take(client));
  for (std::size_t i = 9; i < c0c1.size(); i += 97) c0c1[i] ^= 0x5A;
  ServerHandshake server(server_options());
  ASSERT_TRUE(server.feed(c0c1).has_value());
  EXPECT_EQ(server.kind(), HandshakeKind::plain);
}

TEST(RtmpHandshake, ClientRejectsAnS2ThatDoesNotAnswerC1) {
  for (HandshakeKind kind : {HandshakeKind::plain, HandshakeKind::digest_scheme0}) {
    ClientHandshake client(client_options(kind));
    ServerHandshake server(server_options());
    ASSERT_TRUE(server.feed(take(client)).has_value());
    Bytes s;
    append(s, take(server));
    s.back() ^= 1;  // in S2's digest, or in its echo of C1
    Result<std::size_t> used = client.feed(s);
    ASSERT_FALSE(used.has_value()) << handshake_kind_name(kind);
    EXPECT_EQ(used.error().code(), Errc::malformed);
    EXPECT_NE(used.error().message().find("S2"), std::string::npos);
  }
}

TEST(RtmpHandshake, ClientCanSkipTheEchoCheckForLaxPlainServers) {
  ClientHandshakeOptions options = client_options(HandshakeKind::plain);
  options.require_echo = false;
  ClientHandshake client(options);
  Bytes s(1 + 2 * kHandshakePacketBytes, 0xAB);
  s[0] = 3;
  std::fill(s.begin() + 5, s.begin() + 9, 0);  // S1 version 0: plain
  EXPECT_EQ(*client.feed(s), s.size());
  EXPECT_TRUE(client.is_done());
}

TEST(RtmpHandshake, ClientRejectsAnS1ThatStatesAVersionWithoutAValidDigest) {
  ClientHandshake client(client_options(HandshakeKind::digest_scheme0));
  Bytes s(1 + kHandshakePacketBytes, 0x11);
  s[0] = 3;
  Result<std::size_t> used = client.feed(s);
  ASSERT_FALSE(used.has_value());
  EXPECT_EQ(used.error().code(), Errc::malformed);
}

// ---- the digest handshake rebuilt here from its public description, independent of handshake.cc

Bytes hmac(const Bytes& key, const Bytes& data) {
  Bytes out(32);
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &size);
  return out;
}

const Bytes kTail = {0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0,
                     0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80,
                     0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
Bytes full(const std::string& s) {
  Bytes key = text(s);
  key.insert(key.end(), kTail.begin(), kTail.end());
  return key;
}
const std::string kPlayer = "Genuine Adobe Flash Player 001";
const std::string kServer = "Genuine Adobe Flash Media Server 001";

std::size_t offset_of_digest(const Bytes& packet, std::size_t from, int scheme) {
  const std::size_t base = scheme == 0 ? 8 : 772;
  const std::size_t sum = packet[from + base] + packet[from + base + 1] + packet[from + base + 2] +
                          packet[from + base + 3];
  return sum % 728 + base + 4;
}

Bytes without(const Bytes& packet, std::size_t from, std::size_t digest_at) {
  Bytes rest(packet.begin() + static_cast<std::ptrdiff_t>(from),
             packet.begin() + static_cast<std::ptrdiff_t>(from + digest_at));
  rest.insert(rest.end(), packet.begin() + static_cast<std::ptrdiff_t>(from + digest_at + 32),
              packet.begin() + static_cast<std::ptrdiff_t>(from + 1536));
  return rest;
}

TEST(RtmpHandshake, ValidatesADigestC1BuiltFromThePublishedOffsets) {
  for (int scheme : {0, 1}) {
    Bytes c0c1(1 + 1536);
    c0c1[0] = 3;
    std::uint32_t x = 12345u + static_cast<std::uint32_t>(scheme);
    for (std::size_t i = 9; i < c0c1.size(); ++i) {
      x = x * 1103515245u + 12345u;
      c0c1[i] = static_cast<std::uint8_t>(x >> 16);
    }
    c0c1[5] = 10, c0c1[6] = 0, c0c1[7] = 45, c0c1[8] = 2;  // "Flash Player 10.0.45.2"
    const std::size_t at = offset_of_digest(c0c1, 1, scheme);
    const Bytes c1_digest = hmac(text(kPlayer), without(c0c1, 1, at));
    std::copy(c1_digest.begin(), c1_digest.end(),
              c0c1.begin() + static_cast<std::ptrdiff_t>(1 + at));

    ServerHandshake server(server_options());
    ASSERT_EQ(*server.feed(c0c1), c0c1.size());
    EXPECT_EQ(server.kind(),
              scheme == 0 ? HandshakeKind::digest_scheme0 : HandshakeKind::digest_scheme1);
    EXPECT_EQ(server.peer_version(), 0x0A002D02u);

    // S1 is signed with the server key at the client's scheme; S2 answers C1's digest.
    Bytes s;
    append(s, take(server));
    ASSERT_EQ(s.size(), 1u + 2 * 1536);
    EXPECT_EQ(s[0], 3);
    const std::size_t s1_at = offset_of_digest(s, 1, scheme);
    const Bytes s1_digest(s.begin() + static_cast<std::ptrdiff_t>(1 + s1_at),
                          s.begin() + static_cast<std::ptrdiff_t>(1 + s1_at + 32));
    EXPECT_EQ(hmac(text(kServer), without(s, 1, s1_at)), s1_digest);
    const Bytes s2(s.begin() + 1 + 1536, s.end());
    const Bytes s2_key = hmac(full(kServer), c1_digest);
    EXPECT_EQ(hmac(s2_key, Bytes(s2.begin(), s2.begin() + 1504)),
              Bytes(s2.begin() + 1504, s2.end()));

    // C2 answers S1's digest the same way, with the player key.
    Bytes c2(1536, 0x42);
    const Bytes c2_digest =
        hmac(hmac(full(kPlayer), s1_digest), Bytes(c2.begin(), c2.begin() + 1504));
    std::copy(c2_digest.begin(), c2_digest.end(), c2.begin() + 1504);
    ASSERT_EQ(*server.feed(c2), c2.size());
    EXPECT_TRUE(server.is_done());
    EXPECT_TRUE(server.is_response_verified());
  }
}

TEST(RtmpHandshake, ServerAcceptsAC2ThatAnswersNothing) {
  ClientHandshake client(client_options(HandshakeKind::digest_scheme0));
  ServerHandshake server(server_options());
  ASSERT_TRUE(server.feed(take(client)).has_value());
  take(server);
  ASSERT_EQ(*server.feed(Bytes(1536, 0)), 1536u);
  EXPECT_TRUE(server.is_done());
  EXPECT_FALSE(server.is_response_verified());
}

}  // namespace
}  // namespace weir::formats::rtmp
