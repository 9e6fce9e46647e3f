// SPDX-License-Identifier: Apache-2.0
// UDP sockets on poll groups over real loopback sockets: datagrams queued in a turn leave in one
// sendmmsg, gathered from slices; receivers get page slices and the sender's address; a full
// queue, an unreachable port and a destroyed socket are counted or safe, never fatal.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/udp_socket.h"
#include "test_groups.h"

namespace weir::kernel {
namespace {

using testing::TestGroups;
using testing::wait_until;

// A blocking UDP socket on the test thread, bound to a free port of `host`; reads wait at most
// the tests' wait limit.
class TestUdp {
 public:
  explicit TestUdp(const char* host = "127.0.0.1", int receive_buffer_bytes = 0) {
    auto peer = UdpPeer::parse(host, 0);
    family_ = peer->is_v6() ? AF_INET6 : AF_INET;
    fd_ = ::socket(family_, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (receive_buffer_bytes > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
    sockaddr_storage address{};
    socklen_t length = fill(*peer, address);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0;
    length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(family_ == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(address).sin6_port
                                      : reinterpret_cast<sockaddr_in&>(address).sin_port);
    peer_ = peer->with_port(port_);
  }
  ~TestUdp() {
    if (fd_ >= 0) ::close(fd_);
  }
  TestUdp(const TestUdp&) = delete;
  TestUdp& operator=(const TestUdp&) = delete;

  bool bound() const noexcept { return bound_; }
  const UdpPeer& peer() const noexcept { return peer_; }

  bool send_to(const UdpPeer& to, const std::string& bytes) {
    sockaddr_storage address{};
    socklen_t length = fill(to, address);
    return ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&address), length) ==
           static_cast<ssize_t>(bytes.size());
  }
  /// The next datagram, or nullopt after `limit` without one.
  std::optional<std::string> receive(std::chrono::milliseconds limit = testing::kWaitLimit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return std::nullopt;
    std::string out(70000, '\0');
    ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

 private:
  socklen_t fill(const UdpPeer& peer, sockaddr_storage& out) const {
    if (family_ == AF_INET6) {
      auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
      v6.sin6_family = AF_INET6;
      v6.sin6_port = htons(peer.port);
      std::memcpy(v6.sin6_addr.s6_addr, peer.address.data(), 16);
      return sizeof v6;
    }
    auto& v4 = reinterpret_cast<sockaddr_in&>(out);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(peer.port);
    std::memcpy(&v4.sin_addr, peer.address.data(), 4);
    return sizeof v4;
  }

  int fd_ = -1;
  int family_ = AF_INET;
  bool bound_ = false;
  std::uint16_t port_ = 0;
  UdpPeer peer_;
};

bool has_ipv6_loopback() {
  int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// What a receiver saw, on the socket's group; the test reads it there.
struct Received {
  std::vector<std::string> datagrams;
  std::vector<UdpPeer> from;
  std::vector<PageSlice> kept;  // the slices themselves: they must be pages of the group's pool
  std::vector<UdpPeer> unreachable;
};

class RecordingReceiver final : public UdpReceiver {
 public:
  explicit RecordingReceiver(Received& into) : into_(into) {}
  void on_datagram(const PageSlice& data, const UdpPeer& from) noexcept override {
    into_.datagrams.emplace_back(reinterpret_cast<const char*>(data.data()), data.length);
    into_.from.push_back(from);
    into_.kept.push_back(data);
  }
  void on_unreachable(const UdpPeer& to) noexcept override { into_.unreachable.push_back(to); }

 private:
  Received& into_;
};

// A page of the group's pool holding `text`.
PageSlice page_with(PagePool& pool, const std::string& text) {
  PageRef page = pool.allocate();
  std::memcpy(page.get()->data(), text.data(), text.size());
  return PageSlice{page, 0, static_cast<std::uint32_t>(text.size())};
}

std::unique_ptr<UdpSocket> open_on(PollGroup& group, UdpSpec spec, UdpReceiver* receiver = nullptr) {
  auto socket = group.open_udp(spec, receiver);
  if (!socket) {
    ADD_FAILURE() << socket.error().message();
    return nullptr;
  }
  return std::move(*socket);
}

double counter(TestGroups& groups, GroupId g, const std::string& name) {
  std::promise<StatsSnapshot> collected;
  auto future = collected.get_future();
  groups.run(g, [&] { groups[g].stats().collect([&](StatsSnapshot s) { collected.set_value(std::move(s)); }); });
  if (future.wait_for(testing::kWaitLimit) != std::future_status::ready) testing::wait_expired("stats");
  for (const StatValue& value : future.get().values)
    if (value.name == name) return value.value;
  return -1;
}

TEST(UdpPeer, ParsesPrintsAndComparesBothFamilies) {
  auto v4 = UdpPeer::parse("127.0.0.1", 5000);
  ASSERT_TRUE(v4) << v4.error().message();
  EXPECT_EQ(v4->to_string(), "127.0.0.1:5000");
  EXPECT_EQ(v4->host(), "127.0.0.1");
  auto v6 = UdpPeer::parse("[::1]", 5000);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to_string(), "[::1]:5000");
  EXPECT_TRUE(v6->is_v6());
  auto mapped = UdpPeer::parse("::ffff:127.0.0.1", 5000);
  ASSERT_TRUE(mapped);
  EXPECT_EQ(*mapped, *v4) << "an IPv4-mapped address is the IPv4 peer";
  EXPECT_NE(*v4, v4->with_port(5001));
  EXPECT_EQ(UdpPeerHash{}(*mapped), UdpPeerHash{}(*v4));
  std::unordered_map<UdpPeer, int> by_peer{{*v4, 1}, {*v6, 2}};
  EXPECT_EQ(by_peer.at(*mapped), 1);
  EXPECT_TRUE(UdpPeer::parse("239.1.2.3", 1)->is_multicast());
  EXPECT_FALSE(v4->is_multicast());
  EXPECT_TRUE(UdpPeer::parse("ff0e::1", 1)->is_multicast());
}

TEST(UdpPeer, RefusesNamesAndGarbageNamingTheText) {
  auto name = UdpPeer::parse("example.com", 1);
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().code(), Errc::malformed);
  EXPECT_NE(name.error().message().find("example.com"), std::string::npos);
  EXPECT_FALSE(UdpPeer::parse("1.2.3.4.5", 1));
  EXPECT_FALSE(UdpPeer::parse("", 1));
  EXPECT_FALSE(UdpPeer::parse("fe80::1%no-such-interface0", 1));
  EXPECT_FALSE(UdpPeer::parse_address("127.0.0.1"));
  EXPECT_FALSE(UdpPeer::parse_address("127.0.0.1:70000"));
  EXPECT_FALSE(UdpPeer::parse_address("127.0.0.1:5x"));
}

TEST(UdpPeer, TakesTheHostOfAConnectionsPeerAddress) {
  EXPECT_EQ(host_of("127.0.0.1:50412"), "127.0.0.1");
  EXPECT_EQ(host_of("[::1]:50412"), "::1");
  EXPECT_EQ(host_of("[::ffff:10.0.0.1]:50412"), "::ffff:10.0.0.1");
  EXPECT_EQ(host_of("::1"), "::1");
  EXPECT_EQ(host_of("10.0.0.1"), "10.0.0.1");
  auto peer = UdpPeer::parse(host_of("[::ffff:10.0.0.1]:50412"), 6970);
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->to_string(), "10.0.0.1:6970");
  auto whole = UdpPeer::parse_address("[::1]:50412");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->port, 50412);
}

TEST(UdpSocket, DatagramsQueuedInOneTurnLeaveInOneSendmmsgInOrderGatheredFromSlices) {
  TestGroups groups(1);
  TestUdp player;
  ASSERT_TRUE(player.bound());
  constexpr int kDatagrams = 40;
  std::unique_ptr<UdpSocket> socket;
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    if (!socket) return;
    PageSlice payload = page_with(groups[0].pages(), "0123456789abcdefghij");
    for (int i = 0; i < kDatagrams; ++i) {
      // A per-datagram header page and a shared payload page: three slices, no copy.
      PageSlice header = page_with(groups[0].pages(), "#" + std::to_string(i) + ":");
      std::vector<PageSlice> slices{header, payload.sub(0, 10), payload.sub(10, static_cast<std::uint32_t>(i % 10))};
      EXPECT_EQ(socket->send_to(player.peer(), std::span<const PageSlice>(slices)), SenderState::ready);
    }
    UdpStats queued = socket->stats();
    EXPECT_EQ(queued.queued_datagrams, static_cast<std::uint64_t>(kDatagrams));
    EXPECT_EQ(queued.sendmmsg_calls, 0u) << "nothing leaves before the end of the turn";
  });
  ASSERT_TRUE(socket);
  for (int i = 0; i < kDatagrams; ++i) {
    auto datagram = player.receive();
    ASSERT_TRUE(datagram) << "datagram " << i;
    EXPECT_EQ(*datagram, "#" + std::to_string(i) + ":0123456789" + std::string("abcdefghij").substr(0, i % 10));
  }
  UdpStats stats = groups.run(0, [&] { return socket->stats(); });
  EXPECT_EQ(stats.sendmmsg_calls, 1u);
  EXPECT_EQ(stats.datagrams_sent, static_cast<std::uint64_t>(kDatagrams));
  EXPECT_EQ(stats.queued_datagrams, 0u);
  EXPECT_EQ(stats.queued_bytes, 0u);
  EXPECT_EQ(stats.datagrams_dropped, 0u);
  EXPECT_EQ(counter(groups, 0, "weir_udp_sendmmsg_calls_total"), 1);
  EXPECT_EQ(counter(groups, 0, "weir_udp_datagrams_sent_total"), kDatagrams);
  EXPECT_EQ(counter(groups, 0, "weir_udp_sent_bytes_total"), static_cast<double>(stats.bytes_sent));
  groups.run(0, [&] { socket.reset(); });
}

TEST(UdpSocket, MoreThanOneBatchTakesOneSendmmsgPerSixtyFourDatagrams) {
  TestGroups groups(1);
  TestUdp player;
  std::unique_ptr<UdpSocket> socket;
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    static_cast<UdpSocketHandle&>(*socket).impl().disable_segmentation_for_test();  // a message per datagram
    PageSlice payload = page_with(groups[0].pages(), "x");
    for (int i = 0; i < 130; ++i) socket->send_to(player.peer(), payload);
  });
  for (int i = 0; i < 130; ++i) ASSERT_TRUE(player.receive()) << "datagram " << i;
  UdpStats stats = groups.run(0, [&] { return socket->stats(); });
  EXPECT_EQ(stats.sendmmsg_calls, 3u);  // 64 + 64 + 2
  EXPECT_EQ(stats.datagrams_sent, 130u);
  groups.run(0, [&] { socket.reset(); });
}

// What one sendmmsg() message carried: its datagrams' segment size (0: not segmented), its bytes.
struct SentMessage {
  std::uint16_t segment_size = 0;
  std::size_t bytes = 0;
};

// Records every message handed to sendmmsg, then sends them for real; `refuse_segmented` > 0
// fails that many calls whose first message is segmented with EIO, as a device without checksum
// offload does.
std::shared_ptr<std::vector<SentMessage>> record_sendmmsg(UdpSocket& socket, int refuse_segmented = 0) {
  auto sent = std::make_shared<std::vector<SentMessage>>();
  auto refusals = std::make_shared<int>(refuse_segmented);
  static_cast<UdpSocketHandle&>(socket).impl().replace_sendmmsg_for_test(
      [sent, refusals](int fd, mmsghdr* messages, unsigned count, int flags) {
        auto segment_size = [](const msghdr& header) -> std::uint16_t {
          for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&header), c))
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT) {
              std::uint16_t size;
              std::memcpy(&size, CMSG_DATA(c), sizeof size);
              return size;
            }
          return 0;
        };
        if (*refusals > 0 && segment_size(messages[0].msg_hdr) > 0) {
          --*refusals;
          errno = EIO;
          return -1;
        }
        int n = ::sendmmsg(fd, messages, count, flags);
        for (int m = 0; m < n; ++m) {
          SentMessage message{segment_size(messages[m].msg_hdr), 0};
          for (std::size_t v = 0; v < messages[m].msg_hdr.msg_iovlen; ++v) message.bytes += messages[m].msg_hdr.msg_iov[v].iov_len;
          sent->push_back(message);
        }
        return n;
      });
  return sent;
}

TEST(UdpSocket, AFramesPacketsToOnePlayerLeaveAsOneSegmentedMessageAndArriveAsTheirDatagrams) {
  TestGroups groups(1);
  TestUdp players[3];
  std::unique_ptr<UdpSocket> socket;
  std::shared_ptr<std::vector<SentMessage>> sent;
  auto packet = [](int player, int i) {  // four of 1000 bytes, a last one of 300
    return std::to_string(player) + "/" + std::to_string(i) + ":" + std::string(i < 4 ? 996 : 296, 'a' + static_cast<char>(i));
  };
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    sent = record_sendmmsg(*socket);
    for (int p = 0; p < 3; ++p)
      for (int i = 0; i < 5; ++i) {
        // Gathered from two slices each: a segment boundary need not be a slice boundary.
        std::string bytes = packet(p, i);
        PageSlice whole = page_with(groups[0].pages(), bytes);
        std::vector<PageSlice> slices{whole.sub(0, 7), whole.sub(7, whole.length - 7)};
        socket->send_to(players[p].peer(), std::span<const PageSlice>(slices));
      }
    socket->send_to(players[0].peer(), page_with(groups[0].pages(), "alone"));
  });
  for (int p = 0; p < 3; ++p)
    for (int i = 0; i < 5; ++i) {
      auto datagram = players[p].receive();
      ASSERT_TRUE(datagram) << "player " << p << " datagram " << i;
      EXPECT_EQ(*datagram, packet(p, i));
    }
  EXPECT_EQ(players[0].receive(), "alone");
  UdpStats stats = groups.run(0, [&] { return socket->stats(); });
  EXPECT_EQ(stats.sendmmsg_calls, 1u);
  EXPECT_EQ(stats.datagrams_sent, 16u);
  EXPECT_EQ(stats.bytes_sent, 3u * (4 * 1000 + 300) + 5);
  EXPECT_EQ(counter(groups, 0, "weir_udp_datagrams_sent_total"), 16);
  groups.run(0, [&] {
    ASSERT_EQ(sent->size(), 4u) << "one message per player's run, and one for the lone datagram";
    for (int p = 0; p < 3; ++p) {
      EXPECT_EQ((*sent)[p].segment_size, 1000);
      EXPECT_EQ((*sent)[p].bytes, 4300u);
    }
    EXPECT_EQ((*sent)[3].segment_size, 0) << "a single datagram is sent as it is";
    socket.reset();
  });
}

TEST(UdpSocket, ARunEndsAtALargerDatagramAtSixtyFourSegmentsAndAtTheLargestPayload) {
  TestGroups groups(1);
  TestUdp player;
  std::unique_ptr<UdpSocket> socket;
  std::shared_ptr<std::vector<SentMessage>> sent;
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 100; ++i) sizes.push_back(100);  // 64 + 36
  for (int i = 0; i < 40; ++i) sizes.push_back(2000);  // 32 (64,000 bytes) + 8: 33 would pass 65,507
  sizes.push_back(50);
  sizes.push_back(60);  // larger than the one before: a new run
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    sent = record_sendmmsg(*socket);
    for (std::size_t i = 0; i < sizes.size(); ++i)
      socket->send_to(player.peer(), page_with(groups[0].pages(), std::to_string(i) + std::string(sizes[i] - std::to_string(i).size(), '.')));
  });
  // (What arrives is the test above's: here ~150 KB in one turn would pass a receive buffer.)
  ASSERT_TRUE(wait_until([&] { return groups.run(0, [&] { return socket->stats().queued_datagrams; }) == 0; }));
  groups.run(0, [&] {
    std::vector<std::pair<int, std::size_t>> expected{{100, 6400}, {100, 3600}, {2000, 64000}, {2000, 16050}, {0, 60}};
    ASSERT_EQ(sent->size(), expected.size());
    for (std::size_t m = 0; m < expected.size(); ++m) {
      EXPECT_EQ((*sent)[m].segment_size, expected[m].first) << "message " << m;
      EXPECT_EQ((*sent)[m].bytes, expected[m].second) << "message " << m;
    }
    EXPECT_EQ(socket->stats().datagrams_sent, sizes.size());
    socket.reset();
  });
}

TEST(UdpSocket, WhereTheKernelRefusesSegmentedSendsTheSameDatagramsGoOneByOneNoneLost) {
  TestGroups groups(1);
  TestUdp player;
  std::unique_ptr<UdpSocket> socket;
  std::shared_ptr<std::vector<SentMessage>> sent;
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    sent = record_sendmmsg(*socket, 2);  // refused, and refused again when retried
    for (int i = 0; i < 10; ++i) socket->send_to(player.peer(), page_with(groups[0].pages(), "d" + std::to_string(i)));
  });
  for (int i = 0; i < 10; ++i) EXPECT_EQ(player.receive(), "d" + std::to_string(i));
  groups.run(0, [&] {
    UdpStats stats = socket->stats();
    EXPECT_EQ(stats.datagrams_sent, 10u);
    EXPECT_EQ(stats.datagrams_dropped, 0u);
    EXPECT_FALSE(static_cast<UdpSocketHandle&>(*socket).impl().segmentation_on());
    EXPECT_EQ(sent->size(), 10u);
    for (const SentMessage& message : *sent) EXPECT_EQ(message.segment_size, 0);
    socket->send_to(player.peer(), page_with(groups[0].pages(), "e0"));
    socket->send_to(player.peer(), page_with(groups[0].pages(), "e1"));
  });
  EXPECT_EQ(player.receive(), "e0");
  EXPECT_EQ(player.receive(), "e1");
  groups.run(0, [&] {
    EXPECT_EQ(sent->size(), 12u) << "and from then on";
    socket.reset();
  });
}

TEST(UdpSocket, AReceiverGetsDatagramsInPagesOfTheGroupsPoolWithTheSendersAddress) {
  TestGroups groups(2);
  Received received;
  RecordingReceiver receiver(received);
  std::unique_ptr<UdpSocket> socket;
  UdpPeer local = groups.run(1, [&] {
    socket = open_on(groups[1], UdpSpec{"test", "127.0.0.1:0"}, &receiver);
    return *UdpPeer::parse("127.0.0.1", socket->local_port());
  });
  TestUdp publisher;
  // Sent from the group's own thread, so that all 50 wait in the socket before it reads once.
  groups.run(1, [&] {
    for (int i = 0; i < 50; ++i) EXPECT_TRUE(publisher.send_to(local, "rtp " + std::to_string(i)));
  });
  ASSERT_TRUE(wait_until([&] { return groups.run(1, [&] { return received.datagrams.size(); }) == 50; }));
  groups.run(1, [&] {
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(received.datagrams[i], "rtp " + std::to_string(i));
      EXPECT_EQ(received.from[i], publisher.peer());
      EXPECT_EQ(received.kept[i].page.get()->home, received.kept[0].page.get()->home);
    }
    PageRef probe = groups[1].pages().allocate();
    EXPECT_EQ(received.kept[0].page.get()->home, probe.get()->home) << "not a page of the socket's group";
    UdpStats stats = socket->stats();
    EXPECT_EQ(stats.datagrams_received, 50u);
    // 32 + 18, or one more when the receive page had less room left than 32 slots.
    EXPECT_LE(stats.recvmmsg_calls, 3u) << "recvmmsg did not batch";
    received.kept.clear();
    socket.reset();
  });
  EXPECT_EQ(counter(groups, 1, "weir_udp_datagrams_received_total"), 50);
}

TEST(UdpSocket, ALargeDatagramIsCountedTruncatedOnceAndFitsAfterwards) {
  TestGroups groups(1);
  Received received;
  RecordingReceiver receiver(received);
  std::unique_ptr<UdpSocket> socket;
  UdpPeer local = groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"}, &receiver);
    return *UdpPeer::parse("127.0.0.1", socket->local_port());
  });
  TestUdp publisher;
  const std::string big(9000, 'j');  // a jumbo frame's worth: more than the first 2 KiB slot
  ASSERT_TRUE(publisher.send_to(local, big));
  ASSERT_TRUE(wait_until([&] { return groups.run(0, [&] { return socket->stats().datagrams_truncated; }) == 1; }));
  ASSERT_TRUE(publisher.send_to(local, big));
  ASSERT_TRUE(publisher.send_to(local, "small"));
  ASSERT_TRUE(wait_until([&] { return groups.run(0, [&] { return received.datagrams.size(); }) == 2; }));
  groups.run(0, [&] {
    EXPECT_EQ(received.datagrams[0], big);
    EXPECT_EQ(received.datagrams[1], "small");
    EXPECT_EQ(socket->stats().datagrams_truncated, 1u);
    received.kept.clear();
    socket.reset();
  });
}

TEST(UdpSocket, PastMaxQueuedBytesANewDatagramIsRefusedAndCountedDropped) {
  TestGroups groups(1);
  TestUdp player;
  auto [states, stats] = groups.run(0, [&] {
    UdpSpec spec{"test", "127.0.0.1:0"};
    spec.max_queued_bytes = 1000;
    auto socket = open_on(groups[0], spec);
    PageSlice payload = page_with(groups[0].pages(), std::string(400, 'q'));
    std::vector<SenderState> s;
    for (int i = 0; i < 3; ++i) s.push_back(socket->send_to(player.peer(), payload));  // 400, 800, 1200 > 1000
    UdpStats queued = socket->stats();
    return std::pair{s, queued};
  });
  EXPECT_EQ(states, (std::vector<SenderState>{SenderState::ready, SenderState::overloaded, SenderState::hard_barrier}));
  EXPECT_EQ(stats.queued_bytes, 800u);
  EXPECT_EQ(stats.datagrams_dropped, 1u);
  EXPECT_EQ(counter(groups, 0, "weir_udp_datagrams_dropped_total"), 1);
}

TEST(UdpSocket, RefusesWhatItCannotSendAndCountsItDropped) {
  TestGroups groups(1);
  auto stats = groups.run(0, [&] {
    auto socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    PageSlice payload = page_with(groups[0].pages(), "x");
    EXPECT_EQ(socket->send_to(*UdpPeer::parse("239.1.2.3", 5000), payload), SenderState::hard_barrier)
        << "multicast without multicast_ttl";
    EXPECT_EQ(socket->send_to(*UdpPeer::parse("::1", 5000), payload), SenderState::hard_barrier)
        << "IPv6 from an IPv4 socket";
    EXPECT_EQ(socket->send_to(UdpPeer{}, payload), SenderState::hard_barrier) << "no peer";
    std::vector<PageSlice> too_many(UdpSocketImpl::kMaxSlices + 1, payload);
    EXPECT_EQ(socket->send_to(*UdpPeer::parse("127.0.0.1", 5000), std::span<const PageSlice>(too_many)),
              SenderState::hard_barrier);
    return socket->stats();
  });
  EXPECT_EQ(stats.datagrams_dropped, 4u);
  EXPECT_EQ(stats.queued_datagrams, 0u);
}

TEST(UdpSocket, APortNobodyListensOnIsCountedUnreachableAndTheSocketCarriesOn) {
  TestGroups groups(1);
  UdpPeer nobody;
  {
    TestUdp gone;  // a port that was free a moment ago, and is closed again
    nobody = gone.peer();
  }
  TestUdp player;
  Received received;
  RecordingReceiver receiver(received);
  std::unique_ptr<UdpSocket> socket;
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"}, &receiver);
    socket->send_to(nobody, page_with(groups[0].pages(), "anyone?"));
  });
  ASSERT_TRUE(wait_until([&] { return groups.run(0, [&] { return socket->stats().datagrams_unreachable; }) == 1; }));
  // The ICMP error is consumed: the next datagrams (to a live player) all arrive.
  groups.run(0, [&] {
    for (int i = 0; i < 3; ++i) socket->send_to(player.peer(), page_with(groups[0].pages(), "live " + std::to_string(i)));
  });
  for (int i = 0; i < 3; ++i) {
    auto datagram = player.receive();
    ASSERT_TRUE(datagram);
    EXPECT_EQ(*datagram, "live " + std::to_string(i));
  }
  groups.run(0, [&] {
    UdpStats stats = socket->stats();
    EXPECT_EQ(stats.datagrams_dropped, 1u);
    EXPECT_EQ(stats.datagrams_sent, 4u);
    ASSERT_EQ(received.unreachable.size(), 1u);
    EXPECT_EQ(received.unreachable[0], nobody);
    socket.reset();
  });
}

TEST(UdpSocket, AQueueAtItsBoundRefusesNewDatagramsUntilTheTurnsSendDrainsIt) {
  // A receiver whose buffer is full is not our loss: loopback takes every datagram (and drops
  // it at the receiver), so our queue drains and takes datagrams again.
  TestGroups groups(1);
  TestUdp slow("127.0.0.1", 4096);  // never read: its receive buffer fills and the kernel drops
  std::unique_ptr<UdpSocket> socket;
  auto stats = groups.run(0, [&] {
    UdpSpec spec{"test", "127.0.0.1:0"};
    spec.max_queued_bytes = 64 * 1024;
    socket = open_on(groups[0], spec);
    PageSlice payload = page_with(groups[0].pages(), std::string(1000, 'f'));
    int refused = 0;
    for (int i = 0; i < 200; ++i)
      if (socket->send_to(slow.peer(), payload) == SenderState::hard_barrier) ++refused;
    EXPECT_EQ(refused, 200 - 65) << "65 datagrams of 1000 bytes fit in 64 KiB";
    return socket->stats();
  });
  EXPECT_EQ(stats.datagrams_dropped, 135u);
  ASSERT_TRUE(wait_until([&] { return groups.run(0, [&] { return socket->stats().queued_datagrams; }) == 0; }));
  stats = groups.run(0, [&] { return socket->stats(); });
  // The kernel took all of them (it drops at the slow receiver, not at our socket): nothing
  // else was lost on our side, and memory went back.
  EXPECT_EQ(stats.datagrams_sent, 65u);
  EXPECT_EQ(stats.datagrams_dropped, 135u);
  EXPECT_EQ(stats.queued_bytes, 0u);
  groups.run(0, [&] {
    EXPECT_EQ(socket->send_to(slow.peer(), page_with(groups[0].pages(), "again")), SenderState::ready);
    socket.reset();
  });
}

// Plays a script of sendmmsg results on a socket: a number n > 0 sends the first n datagrams for
// real, a negative number fails the call with that errno; past the script every call is real.
// One datagram per message, so that a script counts datagrams.
void play_sendmmsg(UdpSocket& socket, std::vector<int> script) {
  auto calls = std::make_shared<std::size_t>(0);
  static_cast<UdpSocketHandle&>(socket).impl().disable_segmentation_for_test();
  static_cast<UdpSocketHandle&>(socket).impl().replace_sendmmsg_for_test(
      [calls, script = std::move(script)](int fd, mmsghdr* messages, unsigned count, int flags) {
        std::size_t call = (*calls)++;
        if (call < script.size() && script[call] < 0) {
          errno = -script[call];
          return -1;
        }
        if (call < script.size()) count = std::min(count, static_cast<unsigned>(script[call]));
        return ::sendmmsg(fd, messages, count, flags);
      });
}

TEST(UdpSocket, AFullSendBufferKeepsTheRestQueuedAndSendsItOnceWritable) {
  TestGroups groups(1);
  TestUdp player;
  std::unique_ptr<UdpSocket> socket;
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    play_sendmmsg(*socket, {3, -EAGAIN});  // three leave, then the kernel's buffer is full
    for (int i = 0; i < 10; ++i) socket->send_to(player.peer(), page_with(groups[0].pages(), "d" + std::to_string(i)));
  });
  for (int i = 0; i < 10; ++i) {
    auto datagram = player.receive();
    ASSERT_TRUE(datagram) << "datagram " << i;
    EXPECT_EQ(*datagram, "d" + std::to_string(i));
  }
  UdpStats stats = groups.run(0, [&] { return socket->stats(); });
  EXPECT_EQ(stats.sendmmsg_calls, 3u) << "3 sent, EAGAIN, then one call for the other 7 once writable";
  EXPECT_EQ(stats.datagrams_sent, 10u);
  EXPECT_EQ(stats.datagrams_dropped, 0u);
  EXPECT_EQ(stats.queued_datagrams, 0u);
  groups.run(0, [&] { socket.reset(); });
}

TEST(UdpSocket, AnErrorReportedOnceIsRetriedAndOneThatRepeatsDropsOnlyThatDatagram) {
  TestGroups groups(1);
  TestUdp player;
  std::unique_ptr<UdpSocket> socket;
  groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    // ECONNREFUSED: an ICMP error about an earlier datagram (nothing of ours is lost); then two
    // leave; then ENOBUFS twice for d2: its own refusal.
    play_sendmmsg(*socket, {-ECONNREFUSED, 2, -ENOBUFS, -ENOBUFS});
    for (int i = 0; i < 5; ++i) socket->send_to(player.peer(), page_with(groups[0].pages(), "d" + std::to_string(i)));
  });
  for (const char* expected : {"d0", "d1", "d3", "d4"}) {
    auto datagram = player.receive();
    ASSERT_TRUE(datagram) << expected;
    EXPECT_EQ(*datagram, expected);
  }
  UdpStats stats = groups.run(0, [&] { return socket->stats(); });
  EXPECT_EQ(stats.datagrams_sent, 4u);
  EXPECT_EQ(stats.datagrams_dropped, 1u);
  EXPECT_EQ(stats.sendmmsg_calls, 5u);
  EXPECT_EQ(counter(groups, 0, "weir_udp_datagrams_dropped_total"), 1);
  groups.run(0, [&] { socket.reset(); });
}

TEST(UdpSocket, DestroyedWithDatagramsQueuedDropsThemSafely) {
  TestGroups groups(1);
  TestUdp player;
  groups.run(0, [&] {
    auto socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"});
    for (int i = 0; i < 10; ++i) socket->send_to(player.peer(), page_with(groups[0].pages(), "late"));
    socket.reset();  // before the end of the turn: the group's dirty list still holds it
  });
  groups.run_until_idle();
  EXPECT_FALSE(player.receive(std::chrono::milliseconds(50)));
  auto pool = groups.pool_stats(0);
  EXPECT_EQ(pool.pages_in_use, 0u) << "queued datagrams' pages were not released";
}

// A receiver that destroys its socket from the first datagram.
class ClosingReceiver final : public UdpReceiver {
 public:
  std::unique_ptr<UdpSocket> socket;
  int calls = 0;
  void on_datagram(const PageSlice&, const UdpPeer&) noexcept override {
    ++calls;
    socket.reset();
  }
};

TEST(UdpSocket, AReceiverMayDestroyItsSocketFromACallback) {
  TestGroups groups(1);
  ClosingReceiver receiver;
  UdpPeer local = groups.run(0, [&] {
    receiver.socket = open_on(groups[0], UdpSpec{"test", "127.0.0.1:0"}, &receiver);
    return *UdpPeer::parse("127.0.0.1", receiver.socket->local_port());
  });
  TestUdp publisher;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(publisher.send_to(local, "bye"));
  ASSERT_TRUE(wait_until([&] { return groups.run(0, [&] { return receiver.calls; }) > 0; }));
  groups.run_until_idle();
  EXPECT_EQ(groups.run(0, [&] { return receiver.calls; }), 1);
}

TEST(UdpSocket, BindErrorsNameTheSpecAndTheAddress) {
  TestGroups groups(1);
  groups.run(0, [&] {
    auto first = open_on(groups[0], UdpSpec{"rtsp rtp", "127.0.0.1:0"});
    std::string taken = "127.0.0.1:" + std::to_string(first->local_port());
    auto second = groups[0].open_udp(UdpSpec{"rtsp rtp", taken}, nullptr);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message().find("rtsp rtp"), std::string::npos) << second.error().message();
    EXPECT_NE(second.error().message().find(taken), std::string::npos) << second.error().message();
    auto bad = groups[0].open_udp(UdpSpec{"rtsp rtcp", "300.1.1.1:5000"}, nullptr);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("rtsp rtcp"), std::string::npos) << bad.error().message();
    EXPECT_NE(bad.error().message().find("300.1.1.1"), std::string::npos) << bad.error().message();
    // reuse_address lets a second socket share a port (multicast receivers).
    UdpSpec shared{"shared", "127.0.0.1:0"};
    shared.reuse_address = true;
    auto a = open_on(groups[0], shared);
    shared.address = "127.0.0.1:" + std::to_string(a->local_port());
    EXPECT_TRUE(groups[0].open_udp(shared, nullptr));
  });
}

TEST(UdpSocket, SendsAndReceivesOverIpv6Loopback) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no ::1 on this machine";
  TestGroups groups(1);
  TestUdp player("::1");
  ASSERT_TRUE(player.bound());
  Received received;
  RecordingReceiver receiver(received);
  std::unique_ptr<UdpSocket> socket;
  UdpPeer local = groups.run(0, [&] {
    socket = open_on(groups[0], UdpSpec{"test6", "[::1]:0"}, &receiver);
    EXPECT_EQ(socket->local_address(), "[::1]:" + std::to_string(socket->local_port()));
    socket->send_to(player.peer(), page_with(groups[0].pages(), "over v6"));
    return *UdpPeer::parse("::1", socket->local_port());
  });
  auto datagram = player.receive();
  ASSERT_TRUE(datagram);
  EXPECT_EQ(*datagram, "over v6");
  ASSERT_TRUE(player.send_to(local, "back"));
  ASSERT_TRUE(wait_until([&] { return groups.run(0, [&] { return received.datagrams.size(); }) == 1; }));
  groups.run(0, [&] {
    EXPECT_EQ(received.datagrams[0], "back");
    EXPECT_EQ(received.from[0], player.peer());
    EXPECT_EQ(received.from[0].to_string(), "[::1]:" + std::to_string(player.peer().port));
    received.kept.clear();
    socket.reset();
  });
}

}  // namespace
}  // namespace weir::kernel
