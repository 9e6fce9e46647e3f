// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// UDP sockets on a poll group (RTP/RTCP to and from RTSP players and publishers). A socket
/// belongs to the group that opened it and to the module that holds it (std::unique_ptr:
/// destroying it closes the socket and drops what is still queued).
///
/// Sending costs what the TCP sender costs: send_to() queues one datagram as references to its
/// pages (no copy), and every datagram queued during a loop turn leaves at the end of that turn,
/// in sendmmsg() calls of up to 64 datagrams, the slices as iovecs.
///
///   send_to(peer, slices) --> queue [dgram][dgram]... --end of turn--> sendmmsg(64 at a time)
///                               | EAGAIN: the rest waits for writability; past max_queued_bytes
///                               | a new datagram is refused (dropped, counted)
///
/// Receiving: recvmmsg() into the group's receive pages; each datagram is handed to the
/// socket's UdpReceiver as a slice of that page (keep it to avoid a copy).
///
/// Losses are never errors of the socket: a datagram refused for a full queue, refused by the
/// kernel (ENOBUFS, EMSGSIZE...) or reported back by an ICMP error (port unreachable) is
/// counted in UdpStats::datagrams_dropped and the socket carries on.

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "weir/pages.h"
#include "weir/sender.h"
#include "weir/status.h"

namespace weir {

/// An IPv4 or IPv6 address and a port: a small value (no heap) to key maps by. An IPv4-mapped
/// IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for IPv4 peers) is kept as
/// the IPv4 address, so that the same peer compares equal whichever way it was learned.
struct UdpPeer {
  std::array<std::uint8_t, 16> address{};  ///< network byte order; IPv4 uses the first 4 bytes
  std::uint32_t scope_id = 0;              ///< IPv6 link-local: the interface index; else 0
  std::uint16_t port = 0;                  ///< host byte order
  std::uint8_t family = 0;                 ///< 4, 6, or 0 for "no peer"

  /// Parses a numeric host ("127.0.0.1", "::1", "[::1]", "fe80::1%eth0") and takes `port`.
  /// Host names are not resolved (that would block): an error says so.
  static Result<UdpPeer> parse(std::string_view host, std::uint16_t port) {
    std::string text(host);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    UdpPeer peer;
    peer.port = port;
    if (::inet_pton(AF_INET, text.c_str(), peer.address.data()) == 1) {
      peer.family = 4;
      return peer;
    }
    std::string scope;
    if (auto percent = text.find('%'); percent != std::string::npos) {
      scope = text.substr(percent + 1);
      text.resize(percent);
    }
    if (::inet_pton(AF_INET6, text.c_str(), peer.address.data()) != 1)
      return error(Errc::malformed, "udp peer '{}': not a numeric IPv4 or IPv6 address", host);
    peer.family = 6;
    if (!scope.empty()) {
      unsigned index = 0;
      auto [end, ec] = std::from_chars(scope.data(), scope.data() + scope.size(), index);
      if (ec != std::errc() || end != scope.data() + scope.size()) index = ::if_nametoindex(scope.c_str());
      if (index == 0) return error(Errc::malformed, "udp peer '{}': no interface '{}'", host, scope);
      peer.scope_id = index;
    }
    peer.unmap_v4();
    return peer;
  }

  /// Parses "host:port" as Connection::peer_address() writes it ("127.0.0.1:50412",
  /// "[::1]:50412").
  static Result<UdpPeer> parse_address(std::string_view host_port) {
    auto colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return error(Errc::malformed, "udp peer '{}': expected host:port", host_port);
    std::string_view port_text = host_port.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
      return error(Errc::malformed, "udp peer '{}': bad port '{}'", host_port, port_text);
    return parse(host_port.substr(0, colon), static_cast<std::uint16_t>(port));
  }

  /// The same host with another port (a player's RTCP port is its RTP port + 1).
  UdpPeer with_port(std::uint16_t other) const noexcept {
    UdpPeer peer = *this;
    peer.port = other;
    return peer;
  }

  bool is_set() const noexcept { return family != 0; }
  bool is_v6() const noexcept { return family == 6; }
  /// 224.0.0.0/4 or ff00::/8.
  bool is_multicast() const noexcept {
    return family == 4 ? (address[0] & 0xF0) == 0xE0 : family == 6 && address[0] == 0xFF;
  }

  /// "127.0.0.1", "::1", "fe80::1%2".
  std::string host() const {
    char text[INET6_ADDRSTRLEN + 16] = {};
    if (family == 0) return "-";
    ::inet_ntop(family == 4 ? AF_INET : AF_INET6, address.data(), text, sizeof text);
    std::string out(text);
    if (scope_id) out.append(1, '%').append(std::to_string(scope_id));  // not "%" + ...: GCC 12 -O3 warns falsely
    return out;
  }
  /// "127.0.0.1:5000", "[::1]:5000".
  std::string to_string() const {
    return family == 6 ? "[" + host() + "]:" + std::to_string(port) : host() + ":" + std::to_string(port);
  }

  friend bool operator==(const UdpPeer& a, const UdpPeer& b) noexcept {
    return a.family == b.family && a.port == b.port && a.scope_id == b.scope_id && a.address == b.address;
  }

  /// The normal form of an IPv4-mapped IPv6 address: the IPv4 address.
  void unmap_v4() noexcept {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (family != 6 || std::memcmp(address.data(), kMapped, sizeof kMapped) != 0) return;
    std::memmove(address.data(), address.data() + 12, 4);
    std::memset(address.data() + 4, 0, 12);
    family = 4;
    scope_id = 0;
  }
};

/// Hashes a UdpPeer (std::hash<UdpPeer> uses it): FNV-1a over the fields that compare.
struct UdpPeerHash {
  std::size_t operator()(const UdpPeer& peer) const noexcept {
    std::uint64_t hash = 14695981039346656037ull;
    auto mix = [&hash](std::uint8_t byte) { hash = (hash ^ byte) * 1099511628211ull; };
    for (std::uint8_t byte : peer.address) mix(byte);
    mix(peer.family);
    mix(static_cast<std::uint8_t>(peer.port >> 8));
    mix(static_cast<std::uint8_t>(peer.port));
    for (int shift = 0; shift < 32; shift += 8) mix(static_cast<std::uint8_t>(peer.scope_id >> shift));
    return static_cast<std::size_t>(hash);
  }
};

/// The host part of "host:port" as Connection::peer_address() writes it: "127.0.0.1:50412" ->
/// "127.0.0.1", "[::1]:50412" -> "::1". Text without a port comes back whole.
inline std::string_view host_of(std::string_view host_port) noexcept {
  if (!host_port.empty() && host_port.front() == '[') {
    auto close = host_port.find(']');
    return close == std::string_view::npos ? host_port.substr(1) : host_port.substr(1, close - 1);
  }
  auto colon = host_port.rfind(':');
  if (colon == std::string_view::npos || host_port.find(':') != colon) return host_port;  // bare IPv6
  return host_port.substr(0, colon);
}

/// Counters of one UDP socket.
struct UdpStats {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t sendmmsg_calls = 0;
  /// Datagrams lost on our side or reported lost: refused by send_to() (queue full, too large,
  /// a multicast group without multicast_ttl, a family the socket cannot reach), refused by
  /// the kernel (ENOBUFS, EMSGSIZE...), or reported by an ICMP error (datagrams_unreachable).
  std::uint64_t datagrams_dropped = 0;
  /// Of those: ICMP errors the network sent back (port or host unreachable); each is also
  /// passed to UdpReceiver::on_unreachable().
  std::uint64_t datagrams_unreachable = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t recvmmsg_calls = 0;
  /// Received datagrams longer than the receive slot (2 KiB at first): dropped, and the slot
  /// grows to fit the next one of that size.
  std::uint64_t datagrams_truncated = 0;
  std::uint64_t queued_datagrams = 0;  ///< now in the queue
  std::uint64_t queued_bytes = 0;      ///< now in the queue
  SenderState state = SenderState::ready;
};

/// A module's side of a UDP socket. Thread: the socket's poll group. Owned by the module; it
/// must outlive the socket or be replaced with set_receiver() before it goes.
class UdpReceiver {
 public:
  /// One datagram, a view into a receive page of the group's pool (keep `data`, a counted
  /// reference, to avoid a copy). The receiver may destroy the socket from here.
  virtual void on_datagram(const PageSlice& data, const UdpPeer& from) noexcept = 0;
  /// The network reported a datagram this socket sent to `to` undeliverable (ICMP port or host
  /// unreachable): a player that went away. Counted already; the default ignores it.
  virtual void on_unreachable(const UdpPeer& to) noexcept { (void)to; }

 protected:
  ~UdpReceiver() = default;
};

/// What PollGroup::open_udp() binds.
struct UdpSpec {
  std::string name;     ///< for logs and errors: "rtsp rtp"
  std::string address;  ///< "0.0.0.0:8000", "[::]:8000", "127.0.0.1:0" (port 0: any free port)
  /// Bytes a socket may hold queued (EAGAIN: the kernel's send buffer is full); a datagram that
  /// would pass it is refused and counted dropped. Memory stays bounded, media is loss-tolerant.
  std::uint64_t max_queued_bytes = 4 << 20;
  /// > 0: the socket may send to multicast groups, with this TTL (hop limit); 0: it may not.
  int multicast_ttl = 0;
  /// SO_REUSEADDR: several sockets may bind the same port (multicast receivers).
  bool reuse_address = false;
};

/// A bound UDP socket. Thread: the poll group that opened it. Owned by the module (destroying
/// it closes the socket; queued datagrams are dropped).
class UdpSocket {
 public:
  virtual ~UdpSocket() = default;

  /// Queues one datagram to `to`, gathered from `slices` (pages referenced, not copied). It
  /// leaves at the end of this loop turn together with every datagram queued on this socket,
  /// in sendmmsg() batches. Returns ready, overloaded (half of max_queued_bytes or more is
  /// queued: the kernel is not keeping up), or hard_barrier: this datagram was refused and
  /// counted dropped (queue full, over 65,507 bytes or 64 slices, a multicast group without
  /// multicast_ttl, an IPv6 peer on an IPv4 socket, or the socket's group is stopping).
  virtual SenderState send_to(const UdpPeer& to, std::span<const PageSlice> slices) noexcept = 0;
  SenderState send_to(const UdpPeer& to, const PageChain& chain) noexcept { return send_to(to, chain.slices()); }
  SenderState send_to(const UdpPeer& to, const PageSlice& slice) noexcept {
    return send_to(to, std::span<const PageSlice>(&slice, 1));
  }

  /// The bound port (the one the kernel chose for port 0).
  virtual std::uint16_t local_port() const noexcept = 0;
  /// The bound address, "0.0.0.0:8000", "[::1]:41000".
  virtual std::string local_address() const = 0;
  virtual UdpStats stats() const noexcept = 0;
  /// Who gets the datagrams that arrive (null: they are read and dropped, not counted dropped).
  virtual void set_receiver(UdpReceiver* receiver) noexcept = 0;
};

}  // namespace weir

template <>
struct std::hash<weir::UdpPeer> : weir::UdpPeerHash {};
