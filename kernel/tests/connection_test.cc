// SPDX-License-Identifier: Apache-2.0
// Connections and senders over real loopback TCP: a kernel::Listener on real poll groups, a probe
// handler that echoes, and blocking test clients.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <future>
#include <set>

#include "net/connection.h"
#include "test_files.h"
#include "test_net.h"
#include "test_tls.h"

namespace weir::kernel {
namespace {

using testing::ConnectionProbe;
using testing::TempDir;
using testing::TestClient;
using testing::TestGroupsOptions;
using testing::TestListener;
using testing::wait_until;
using testing::self_signed_tls;

TestGroupsOptions groups_of(GroupId count) {
  TestGroupsOptions options;
  options.count = count;
  return options;
}

// A page of `size` bytes where byte i is (i * 7 + seed) % 251: a shifted or reordered run shows.
PageSlice pattern_page(PagePool& pool, std::uint32_t size, std::uint8_t seed) {
  PageRef page = pool.allocate();
  for (std::uint32_t i = 0; i < size; ++i) page.get()->data()[i] = static_cast<std::byte>((i * 7 + seed) % 251);
  return PageSlice{page, 0, size};
}

std::string pattern_text(std::uint32_t size, std::uint8_t seed) {
  std::string text(size, '\0');
  for (std::uint32_t i = 0; i < size; ++i) text[i] = static_cast<char>((i * 7 + seed) % 251);
  return text;
}

std::vector<SenderState> state_events(TestListener& server, const std::shared_ptr<ConnectionProbe>& probe) {
  return server.groups().run(probe->group, [&] { return probe->state_events; });
}

// The probe group's gauge of senders not ready, as /metrics shows it (weir_senders_overloaded).
std::uint64_t overloaded_senders(TestListener& server, const std::shared_ptr<ConnectionProbe>& probe) {
  return server.groups().run(probe->group, [&] { return server.groups()[probe->group].overloaded_senders(); });
}

Status wait_closed(TestListener& server, const std::shared_ptr<ConnectionProbe>& probe) {
  if (!wait_until([&] { return server.groups().run(probe->group, [&] { return probe->closed_with.has_value(); }); }))
    testing::wait_expired("the connection to close");
  return server.groups().run(probe->group, [&] { return *probe->closed_with; });
}

// The client side of a TLS session over a TestClient's socket (blocking; no certificate check).
class TestTlsClient {
 public:
  explicit TestTlsClient(const TestClient& socket) : ctx_(SSL_CTX_new(TLS_client_method())), ssl_(SSL_new(ctx_)) {
    SSL_set_fd(ssl_, socket.fd());
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~TestTlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  TestTlsClient(const TestTlsClient&) = delete;
  TestTlsClient& operator=(const TestTlsClient&) = delete;

  bool connected() const noexcept { return connected_; }
  /// Sends `text` and expects it back (the server has finished its handshake once it answers).
  bool echoes(const std::string& text) {
    if (SSL_write(ssl_, text.data(), static_cast<int>(text.size())) != static_cast<int>(text.size())) return false;
    std::string back;
    while (back.size() < text.size()) {
      char buffer[256];
      int n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) return false;
      back.append(buffer, static_cast<std::size_t>(n));
    }
    return back == text;
  }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_;
  bool connected_ = false;
};

TEST(Connection, EchoesOverLoopback) {
  TestListener server(groups_of(2));
  TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  EXPECT_TRUE(client.echoes("hello, weir"));
  auto probe = server.probe(0);
  auto [peer, local, received] = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    return std::tuple{c.peer_address(), c.local_address(), c.bytes_received()};
  });
  EXPECT_EQ(peer.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(local, server.address());
  EXPECT_EQ(received, 11u);
}

TEST(Connection, NewConnectionsSpreadOverTheGroups) {
  TestListener server(groups_of(2));
  std::vector<std::unique_ptr<TestClient>> clients;
  std::set<GroupId> used;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<TestClient>(server.address()));
    used.insert(server.probe(static_cast<std::size_t>(i))->group);  // accepted before the next connects
  }
  EXPECT_EQ(used, (std::set<GroupId>{0, 1}));
  for (auto& client : clients) EXPECT_TRUE(client->echoes("ping"));
}

TEST(Connection, RefusedByTheAcceptorIsClosedAndCountedRefusedForItsListener) {
  TestListener server(groups_of(2));
  server.acceptor().refuse = true;
  TestClient refused(server.address());
  ASSERT_TRUE(refused.connected());
  EXPECT_EQ(refused.read_to_close(), std::string());
  server.acceptor().refuse = false;
  TestClient accepted(server.address());
  EXPECT_TRUE(accepted.echoes("ping"));
  auto promise = std::make_shared<std::promise<StatsSnapshot>>();
  auto future = promise->get_future();
  server.groups().run(0, [&] { server.groups()[0].stats().collect([promise](StatsSnapshot s) { promise->set_value(std::move(s)); }); });
  ASSERT_EQ(future.wait_for(testing::kWaitLimit), std::future_status::ready);
  StatsSnapshot snapshot = future.get();
  auto value = [&](const std::string& name) {
    for (const StatValue& v : snapshot.values)
      if (v.name == name) return v.value;
    return -1.0;
  };
  EXPECT_EQ(value("weir_connections_refused_total{listener=\"probe\"}"), 1);
  EXPECT_EQ(value("weir_connections_opened_total{listener=\"probe\"}"), 1);  // opened: handed to a handler
  EXPECT_EQ(value("weir_connections_closed_total{listener=\"probe\"}"), 0);  // so open = opened - closed holds
  EXPECT_EQ(snapshot.connections_open, 1u);
}

TEST(Connection, ListedWithTheStreamAndTheFramesDroppedItsModuleReported) {
  TestListener server(groups_of(2));
  TestClient client(server.address());
  ASSERT_TRUE(client.echoes("ping"));
  auto probe = server.probe(0);
  ConnectionId id = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    c.set_stream("live/cam1");
    c.count_frames_dropped(2);
    c.count_frames_dropped(3);
    return c.id();
  });
  auto promise = std::make_shared<std::promise<std::vector<ConnectionInfo>>>();
  auto future = promise->get_future();
  GroupId other = probe->group == 0 ? 1 : 0;  // listed from the group that does not hold it
  server.groups().run(other, [&] {
    server.groups()[other].stats().collect_connections(
        [promise](std::vector<ConnectionInfo> all) { promise->set_value(std::move(all)); });
  });
  ASSERT_EQ(future.wait_for(testing::kWaitLimit), std::future_status::ready);
  std::vector<ConnectionInfo> all = future.get();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, id);
  EXPECT_EQ(all[0].stream, "live/cam1");
  EXPECT_EQ(all[0].frames_dropped, 5u);
}

TEST(Sender, SendReportsOverloadedFromTheSoftLimitAndRefusesAUnitPastTheHardLimit) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  auto [states, at_hard, after] = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    c.set_sender_limits(SenderLimits{1000, 3000});
    PageSlice page = pattern_page(c.group().pages(), 4000, 1);
    std::vector<SenderState> s;
    s.push_back(c.send(page.sub(0, 999)));     // 999 queued: below the soft limit
    s.push_back(c.send(page.sub(999, 1)));     // 1000: at the soft limit
    s.push_back(c.send(page.sub(1000, 2000)));  // 3000: at the hard limit, still accepted
    SenderStats hard = c.sender_stats();
    s.push_back(c.send(page.sub(3000, 1)));    // 3001 would pass it: refused
    return std::tuple{s, hard, c.sender_stats()};
  });
  EXPECT_EQ(states, (std::vector<SenderState>{SenderState::ready, SenderState::overloaded, SenderState::overloaded,
                                              SenderState::hard_barrier}));
  EXPECT_EQ(at_hard.queued_bytes, 3000u);
  EXPECT_EQ(after.queued_bytes, 3000u);  // the refused byte was not queued
  EXPECT_EQ(after.refused_sends, 1u);
  EXPECT_EQ(after.state, SenderState::hard_barrier);
  // What was accepted leaves at the end of the turn, the refused byte does not.
  auto bytes = client.read_exact(3000);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, pattern_text(3000, 1));
  EXPECT_TRUE(wait_until([&] {
    return server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.sender_state(); }) ==
           SenderState::ready;
  }));
  EXPECT_EQ(client.read_some(1, std::chrono::milliseconds(0)), "");
}

TEST(Sender, ClosingAnOverloadedSenderTakesItOutOfTheOverloadedGaugeOnce) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  auto [counted, closed, adjusted] = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    auto& group = static_cast<PollGroupImpl&>(c.group());
    c.set_sender_limits(SenderLimits{1000, 100000});
    c.send(pattern_page(c.group().pages(), 4000, 6));  // queued past the soft limit: counted overloaded
    std::uint64_t overloaded = group.overloaded_senders();
    c.close(error(Errc::denied, "test: go away"));
    std::uint64_t after_close = group.overloaded_senders();
    // A handler may still adjust a connection it holds after the close (the object lives on until
    // the turn ends); the sender is no longer counted, and stays so.
    c.set_sender_limits(SenderLimits{2000, 100000});
    c.send(pattern_page(c.group().pages(), 4000, 6));
    return std::tuple{overloaded, after_close, group.overloaded_senders()};
  });
  EXPECT_EQ(counted, 1u);
  EXPECT_EQ(closed, 0u);
  EXPECT_EQ(adjusted, 0u);
  EXPECT_EQ(overloaded_senders(server, probe), 0u);
}

TEST(Sender, TlsWriteErrorWhileOverloadedClosesAndLeavesTheOverloadedGaugeAtZero) {
  TempDir dir;
  TestListener server(groups_of(1), self_signed_tls(dir));
  TestClient socket(server.address());
  ASSERT_TRUE(socket.connected());
  TestTlsClient client(socket);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.echoes("hello over TLS"));
  auto probe = server.probe(0);
  auto [state, overloaded] = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    c.set_sender_limits(SenderLimits{1000, 100000});
    c.send(pattern_page(c.group().pages(), 4000, 7));  // queued past the soft limit, encrypted at the turn's end
    // Shut the session down on our side: OpenSSL then refuses to encrypt, so the end-of-turn flush
    // meets a TLS write error while the sender is overloaded.
    SSL_shutdown(static_cast<ConnectionImpl&>(c).tls()->native());
    return std::pair{c.sender_state(), static_cast<PollGroupImpl&>(c.group()).overloaded_senders()};
  });
  EXPECT_EQ(state, SenderState::overloaded);
  EXPECT_EQ(overloaded, 1u);
  Status reason = wait_closed(server, probe);
  EXPECT_EQ(reason.code(), Errc::io);
  EXPECT_NE(reason.message().find("TLS write"), std::string::npos) << reason.message();
  EXPECT_EQ(overloaded_senders(server, probe), 0u);
}

TEST(Sender, AUnitIsQueuedWhollyOrNotAtAll) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  auto [state, stats] = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    c.set_sender_limits(SenderLimits{100, 200});
    PageSlice page = pattern_page(c.group().pages(), 300, 2);
    std::vector<PageSlice> unit{page.sub(0, 150), page.sub(150, 100)};  // 250: past the hard limit
    SenderState s = c.send(std::span<const PageSlice>(unit));
    return std::pair{s, c.sender_stats()};
  });
  EXPECT_EQ(state, SenderState::hard_barrier);
  EXPECT_EQ(stats.queued_bytes, 0u);
  EXPECT_EQ(stats.bytes_queued_total, 0u);
}

TEST(Sender, AUnitThatFitsAfterARefusedOneIsQueuedAndNotReportedRefused) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  auto [states, stats] = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    c.set_sender_limits(SenderLimits{1000, 3000});
    PageSlice page = pattern_page(c.group().pages(), 4000, 3);
    std::vector<SenderState> s;
    s.push_back(c.send(page.sub(0, 2500)));     // overloaded
    s.push_back(c.send(page.sub(2500, 1000)));  // would make 3500: refused
    s.push_back(c.send(page.sub(2500, 400)));   // 2900: fits, queued
    return std::pair{s, c.sender_stats()};
  });
  EXPECT_EQ(states, (std::vector<SenderState>{SenderState::overloaded, SenderState::hard_barrier,
                                              SenderState::overloaded}));
  EXPECT_EQ(stats.queued_bytes, 2900u);
  EXPECT_EQ(stats.refused_sends, 1u);
  EXPECT_EQ(stats.state, SenderState::overloaded);
  auto bytes = client.read_exact(2900);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, pattern_text(2900, 3));
}

// Sends the probe's page again and again while the sender is ready, every millisecond, until the
// handler hears it is overloaded (ProbeHandler stops the pump then).
void pump(Connection& c, ConnectionProbe& probe) {
  while (c.sender_state() == SenderState::ready && probe.pumped_sends < 8192) {
    c.send(probe.pump_slice);
    ++probe.pumped_sends;
    probe.max_queued_bytes = std::max(probe.max_queued_bytes, c.sender_stats().queued_bytes);
  }
  probe.pump = c.group().after(std::chrono::milliseconds(1), [&c, &probe] { pump(c, probe); });
}

TEST(Sender, PeerThatStopsReadingOverloadsOnlyItsOwnConnectionAndRecovers) {
  constexpr std::uint64_t kSoft = 256 << 10, kHard = 1 << 20;
  constexpr std::uint32_t kPage = 64 << 10;
  TestListener server(groups_of(1));  // one group: the stuck connection shares the thread
  TestClient slow(server.address(), 16 << 10);
  auto slow_probe = server.probe(0);
  TestClient other(server.address());
  auto other_probe = server.probe(1);
  ASSERT_EQ(slow_probe->group, other_probe->group);

  server.on_connection(slow_probe, [&](Connection& c, ConnectionProbe& p) {
    c.set_sender_limits(SenderLimits{kSoft, kHard});
    p.pump_slice = pattern_page(c.group().pages(), kPage, 5);
    pump(c, p);
  });
  // The slow client reads nothing: socket buffers fill, then the queue reaches the soft limit and
  // the state event arrives.
  ASSERT_TRUE(wait_until([&] {
    auto events = state_events(server, slow_probe);
    return !events.empty() && events.back() == SenderState::overloaded;
  }));
  auto [pumped, max_queued, stats] = server.groups().run(slow_probe->group, [&] {
    return std::tuple{slow_probe->pumped_sends, slow_probe->max_queued_bytes, slow_probe->connection->sender_stats()};
  });
  EXPECT_LT(pumped, 8192u) << "the sender never filled up";
  EXPECT_LE(max_queued, kHard);
  EXPECT_GE(stats.queued_bytes, kSoft);
  EXPECT_EQ(stats.state, SenderState::overloaded);

  // The group still serves the other connection.
  EXPECT_TRUE(other.echoes("still here"));

  // The slow peer reads again: everything arrives, in order, and the sender is ready again.
  const std::string page = pattern_text(kPage, 5);
  std::uint64_t expected = pumped * kPage, got = 0;
  bool intact = true;
  while (got < expected) {
    std::string part = slow.read_some(1 << 16);
    ASSERT_FALSE(part.empty()) << "after " << got << " of " << expected << " bytes";
    for (char ch : part) intact &= ch == page[got++ % kPage];
  }
  EXPECT_TRUE(intact);
  EXPECT_EQ(got, expected);
  ASSERT_TRUE(wait_until([&] {
    auto events = state_events(server, slow_probe);
    return !events.empty() && events.back() == SenderState::ready;
  }));
  auto events = state_events(server, slow_probe);
  EXPECT_EQ(events, (std::vector<SenderState>{SenderState::overloaded, SenderState::ready}));
  EXPECT_EQ(state_events(server, other_probe), std::vector<SenderState>{});
}

TEST(Sender, ManySmallSendsInOneTurnLeaveInFewWrites) {
  constexpr int kMessages = 1000;
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  std::string expected;
  for (int i = 0; i < kMessages; ++i) {
    char line[32];
    std::snprintf(line, sizeof line, "msg %06d\n", i);
    expected += line;
  }
  std::uint64_t calls_before = server.on_connection(probe, [&](Connection& c, ConnectionProbe&) {
    std::uint64_t before = c.sender_stats().write_calls;
    for (int i = 0; i < kMessages; ++i) {
      std::string_view line(expected.data() + i * 11, 11);
      c.send_copy(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(line.data()), line.size()));
    }
    return before;
  });
  auto bytes = client.read_exact(expected.size());
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, expected);
  SenderStats stats = server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.sender_stats(); });
  std::uint64_t writes = stats.write_calls - calls_before;
  EXPECT_GE(writes, 1u);
  EXPECT_LE(writes, 3u) << kMessages << " sends took " << writes << " write calls";
  EXPECT_EQ(stats.bytes_sent_total, expected.size());
}

// Queues `text` (copied into a page of the connection's pool) with `urgency`.
void send_text(Connection& c, std::string_view text, SendUrgency urgency) {
  PageRef page = c.group().pages().allocate();
  std::memcpy(page.get()->data(), text.data(), text.size());
  c.send(std::span<const PageSlice>(std::array{PageSlice{page, 0, static_cast<std::uint32_t>(text.size())}}), urgency);
}

TestGroupsOptions holding(std::chrono::milliseconds hold) {
  TestGroupsOptions options = groups_of(1);
  options.settings.hold = hold;
  return options;
}

TEST(Sender, MayWaitUnitsRideInTheWriteOfTheNextUnitThatMustLeave) {
  // A hold far past the test's waits: only the `now` unit can make them leave.
  TestListener server(holding(std::chrono::hours(1)));
  TestClient client(server.address());
  auto probe = server.probe(0);
  auto write_calls = [&] {
    return server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.sender_stats().write_calls; });
  };
  const std::uint64_t before = write_calls();
  // Three turns of audio-like units, each turn ended before the next is asked for.
  for (const char* unit : {"a1.", "a2.", "a3."})
    server.on_connection(probe, [&](Connection& c, ConnectionProbe&) { send_text(c, unit, SendUrgency::may_wait); });
  EXPECT_EQ(write_calls(), before) << "a may_wait unit was written before anything had to leave";
  server.on_connection(probe, [&](Connection& c, ConnectionProbe&) { send_text(c, "v1.", SendUrgency::now); });
  auto bytes = client.read_exact(12);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, "a1.a2.a3.v1.");
  EXPECT_EQ(write_calls(), before + 1) << "the held units and the one that had to leave took more than one write";
  // The next held unit waits again, and a close after flush does not wait for company.
  server.on_connection(probe, [&](Connection& c, ConnectionProbe&) {
    send_text(c, "a4.", SendUrgency::may_wait);
    c.close_after_flush();
  });
  auto rest = client.read_to_close();
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, "a4.");
}

TEST(Sender, HeldUnitsLeaveTogetherOnceTheHoldTimeHasPassed) {
  TestListener server(holding(std::chrono::milliseconds(30)));
  TestClient client(server.address());
  auto probe = server.probe(0);
  const std::uint64_t before =
      server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.sender_stats().write_calls; });
  server.on_connection(probe, [&](Connection& c, ConnectionProbe&) { send_text(c, "a1.", SendUrgency::may_wait); });
  server.on_connection(probe, [&](Connection& c, ConnectionProbe&) { send_text(c, "a2.", SendUrgency::may_wait); });
  // Nothing else comes: a stream with no video still gets its audio.
  auto bytes = client.read_exact(6);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, "a1.a2.");
  const std::uint64_t after =
      server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.sender_stats().write_calls; });
  EXPECT_GE(after, before + 1);
  EXPECT_LE(after, before + 2);  // one write per hold period: two if the period ended between the two turns
}

TEST(Sender, NoHoldWritesMayWaitUnitsAtTheEndOfTheirTurn) {
  TestListener server(holding(std::chrono::milliseconds(0)));
  TestClient client(server.address());
  auto probe = server.probe(0);
  const std::uint64_t before =
      server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.sender_stats().write_calls; });
  for (const char* unit : {"a1.", "a2."}) {
    server.on_connection(probe, [&](Connection& c, ConnectionProbe&) { send_text(c, unit, SendUrgency::may_wait); });
    auto bytes = client.read_exact(3);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(*bytes, unit);
  }
  EXPECT_EQ(server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.sender_stats().write_calls; }),
            before + 2);
}

TEST(Sender, SharedSlicesOfOnePageLeaveInOrder) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    PageSlice page = pattern_page(c.group().pages(), 1000, 9);
    for (std::uint32_t at = 0; at < 1000; at += 10) c.send(page.sub(at, 10));
  });
  auto bytes = client.read_exact(1000);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, pattern_text(1000, 9));
}

TEST(Connection, CloseAfterFlushDeliversEverythingThenCloses) {
  constexpr std::uint32_t kPage = 64 << 10;
  constexpr int kPages = 40;  // 2.5 MiB: more than one write's worth
  TestListener server(groups_of(1));
  TestClient client(server.address(), 32 << 10);
  auto probe = server.probe(0);
  server.on_connection(probe, [&](Connection& c, ConnectionProbe&) {
    c.set_sender_limits(SenderLimits{8 << 20, 16 << 20});
    for (int i = 0; i < kPages; ++i) c.send(pattern_page(c.group().pages(), kPage, static_cast<std::uint8_t>(i)));
    c.close_after_flush();
    return c.is_open();
  });
  auto all = client.read_to_close();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), static_cast<std::size_t>(kPage) * kPages);
  for (int i = 0; i < kPages; ++i)
    ASSERT_EQ(all->compare(static_cast<std::size_t>(i) * kPage, kPage, pattern_text(kPage, static_cast<std::uint8_t>(i))), 0)
        << "page " << i;
  ASSERT_TRUE(wait_until([&] {
    return server.groups().run(probe->group, [&] { return probe->closed_with.has_value(); });
  }));
  Status reason = server.groups().run(probe->group, [&] { return *probe->closed_with; });
  EXPECT_TRUE(reason.is_ok()) << reason.message();
}

TEST(Connection, CloseAfterFlushWithNothingQueuedClosesAtOnce) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  bool open = server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    c.close_after_flush();
    return c.is_open();
  });
  EXPECT_FALSE(open);
  EXPECT_EQ(client.read_to_close(), std::optional<std::string>(""));
}

TEST(Connection, HandlerErrorClosesOnlyThatConnection) {
  TestListener server(groups_of(1));
  TestClient bad(server.address());
  auto bad_probe = server.probe(0);
  TestClient good(server.address());
  server.probe(1);
  ASSERT_TRUE(bad.send_all("abc!"));
  EXPECT_EQ(bad.read_to_close(), std::optional<std::string>(""));
  ASSERT_TRUE(wait_until([&] {
    return server.groups().run(bad_probe->group, [&] { return bad_probe->closed_with.has_value(); });
  }));
  Status reason = server.groups().run(bad_probe->group, [&] { return *bad_probe->closed_with; });
  EXPECT_EQ(reason.code(), Errc::malformed);
  EXPECT_EQ(reason.message(), "probe: '!' at byte 3");
  EXPECT_TRUE(good.echoes("unaffected"));
}

TEST(Connection, PeerClosingIsReportedOnceAsClosed) {
  TestListener server(groups_of(1));
  auto client = std::make_unique<TestClient>(server.address());
  auto probe = server.probe(0);
  EXPECT_TRUE(client->echoes("x"));
  client.reset();
  ASSERT_TRUE(wait_until([&] {
    return server.groups().run(probe->group, [&] { return probe->closed_with.has_value(); });
  }));
  Status reason = server.groups().run(probe->group, [&] { return *probe->closed_with; });
  EXPECT_EQ(reason.code(), Errc::closed);
  EXPECT_EQ(server.groups().run(probe->group, [&] { return server.groups()[probe->group].connection_count(); }), 0u);
}

TEST(Connection, CloseDropsWhatIsQueued) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    c.send(pattern_page(c.group().pages(), 1000, 4));
    c.close(error(Errc::denied, "test: go away"));
  });
  EXPECT_EQ(client.read_to_close(), std::optional<std::string>(""));
  Status reason = server.groups().run(probe->group, [&] { return probe->closed_with.value_or(Status()); });
  EXPECT_EQ(reason.code(), Errc::denied);
}

TEST(Connection, PausedReadingDeliversNothingUntilResumed) {
  TestListener server(groups_of(1));
  TestClient client(server.address());
  auto probe = server.probe(0);
  EXPECT_TRUE(client.echoes("one"));
  server.on_connection(probe, [](Connection& c, ConnectionProbe&) { c.pause_reading(); });
  ASSERT_TRUE(client.send_all("two"));
  // Nothing may arrive while paused (the wait is only how long we look).
  EXPECT_EQ(client.read_some(16, std::chrono::milliseconds(100)), "");
  EXPECT_TRUE(client.timed_out());
  EXPECT_EQ(server.groups().run(probe->group, [&] { return probe->received; }), "one");
  server.on_connection(probe, [](Connection& c, ConnectionProbe&) { c.resume_reading(); });
  auto back = client.read_exact(3);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, "two");
}

TEST(Connection, ExhaustedPagePoolPausesReadingUntilPagesComeBack) {
  constexpr std::uint32_t kPage = 4096;
  constexpr std::size_t kSent = 64 << 10;
  TestGroupsOptions options = groups_of(1);
  options.settings.page_size = kPage;
  options.settings.max_pages = 4;
  TestListener server(options);
  TestClient client(server.address());
  auto probe = server.probe(0);
  server.groups().run(probe->group, [&] { probe->keep_received = true; });
  ASSERT_TRUE(client.send_all(std::string(kSent, 'x')));
  // The handler keeps every slice: the pool runs dry and reading waits instead of failing.
  auto stalls = [&] {
    return server.groups().run(probe->group, [&] {
      auto& stats = server.groups()[probe->group].stats_impl();
      return stats.local_values()[stats.registry().receive_stalls];
    });
  };
  ASSERT_TRUE(wait_until([&] { return stalls() > 0; }));
  auto [received, pool] = server.groups().run(probe->group, [&] {
    return std::pair{probe->received.size(), server.groups()[probe->group].pool().stats()};
  });
  EXPECT_LE(received, 4u * kPage);
  EXPECT_LT(received, kSent);
  EXPECT_GE(pool.allocation_failures, 1u);
  EXPECT_TRUE(server.on_connection(probe, [](Connection& c, ConnectionProbe&) { return c.is_open(); }));
  // The handler lets go: pages return and reading resumes where it stopped.
  server.groups().run(probe->group, [&] {
    probe->keep_received = false;
    probe->kept.clear();
  });
  auto echoed = client.read_exact(kSent - received);  // what arrives from now on is echoed
  ASSERT_TRUE(echoed);
  EXPECT_EQ(server.groups().run(probe->group, [&] { return probe->received.size(); }), kSent);
}

TEST(Connection, ShutdownClosesOpenConnections) {
  auto server = std::make_unique<TestListener>(groups_of(2));
  TestClient a(server->address());
  TestClient b(server->address());
  server->probe(1);
  EXPECT_TRUE(a.echoes("a"));
  EXPECT_TRUE(b.echoes("b"));
  server.reset();
  EXPECT_EQ(a.read_to_close(), std::optional<std::string>(""));
  EXPECT_EQ(b.read_to_close(), std::optional<std::string>(""));
}

}  // namespace
}  // namespace weir::kernel
