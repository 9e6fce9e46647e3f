// SPDX-License-Identifier: Apache-2.0
// Outgoing connections (PollGroup::connect) over real loopback TCP: against a kernel::Listener on
// the same groups (its connections echo), a port nobody listens on, a listener whose backlog is
// full (a connect that never completes), a name that does not resolve, and a TLS listener.
#include <gtest/gtest.h>

#include <future>

#include "net/connection.h"
#include "test_net.h"
#include "test_tls.h"

namespace weir::kernel {
namespace {

using testing::ConnectionProbe;
using testing::TempDir;
using testing::TestGroups;
using testing::TestGroupsOptions;
using testing::TestListener;
using testing::wait_until;

TestGroupsOptions groups_of(GroupId count) {
  TestGroupsOptions options;
  options.count = count;
  return options;
}

std::uint16_t port_of(const std::string& address) {
  return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

// What a test sees of one attempt. Written on the attempt's group only; the test reads it there
// (TestGroups::run), or after the groups stopped.
struct Attempt {
  GroupId group = 0;
  std::unique_ptr<Outgoing> handle;
  int handlers_made = 0;
  int failures = 0;
  std::optional<Status> failed;
  Connection* connection = nullptr;  // null once closed
  std::string received;
  std::optional<Status> closed;
};

// The client side: sends `greeting` when made, keeps what arrives.
class ClientHandler final : public ConnectionHandler {
 public:
  ClientHandler(Connection& connection, std::shared_ptr<Attempt> attempt, const std::string& greeting)
      : attempt_(std::move(attempt)) {
    attempt_->connection = &connection;
    if (!greeting.empty())
      connection.send_copy({reinterpret_cast<const std::uint8_t*>(greeting.data()), greeting.size()});
  }
  Status on_data(const PageSlice& data) noexcept override {
    attempt_->received.append(reinterpret_cast<const char*>(data.data()), data.length);
    return ok();
  }
  void on_close(const Status& reason) noexcept override {
    attempt_->closed = reason;
    attempt_->connection = nullptr;
  }

 private:
  std::shared_ptr<Attempt> attempt_;
};

ConnectSpec spec_for(std::string host, std::uint16_t port) {
  ConnectSpec spec;
  spec.name = "test pull";
  spec.host = std::move(host);
  spec.port = port;
  return spec;
}

// Starts spec's attempt on group `g`; the handler sends `greeting`.
std::shared_ptr<Attempt> start(TestGroups& groups, GroupId g, const ConnectSpec& spec, std::string greeting = {}) {
  auto attempt = std::make_shared<Attempt>();
  attempt->group = g;
  groups.run(g, [&] {
    attempt->handle = groups[g].connect(
        spec,
        [attempt, greeting](Connection& c) -> std::unique_ptr<ConnectionHandler> {
          ++attempt->handlers_made;
          return std::make_unique<ClientHandler>(c, attempt, greeting);
        },
        [attempt](Status status) {
          ++attempt->failures;
          attempt->failed = std::move(status);
        });
  });
  return attempt;
}

template <class Predicate>
void wait_on(TestGroups& groups, const std::shared_ptr<Attempt>& attempt, Predicate predicate, const char* what) {
  if (!wait_until([&] { return groups.run(attempt->group, [&] { return predicate(*attempt); }); }))
    testing::wait_expired(what);
}

Status wait_failed(TestGroups& groups, const std::shared_ptr<Attempt>& attempt) {
  wait_on(groups, attempt, [](const Attempt& a) { return a.failed.has_value() || a.handlers_made > 0; },
          "the attempt to end");
  return groups.run(attempt->group, [&] { return attempt->failed.value_or(Status()); });
}

// A port on 127.0.0.1 that refuses connections: bound (so nobody else takes it) but not listening.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) std::abort();
    socklen_t length = sizeof at;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &length);
    port_ = ntohs(at.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  std::uint16_t port() const noexcept { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A listener on 127.0.0.1 that never accepts, with a backlog of 0 already filled by one
// connection: Linux drops the SYN of any further connect, which so never completes.
class FullBacklog {
 public:
  FullBacklog() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || ::listen(fd_, 0) != 0) std::abort();
    socklen_t length = sizeof at;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &length);
    port_ = ntohs(at.sin_port);
    filler_ = std::make_unique<testing::TestClient>("127.0.0.1:" + std::to_string(port_));
    // Readable: the filler is in the accept queue, so the queue is full from here on.
    pollfd p{fd_, POLLIN, 0};
    if (!filler_->connected() || ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(testing::kWaitLimit).count())) != 1)
      testing::wait_expired("the filler connection to be queued");
  }
  ~FullBacklog() {
    filler_.reset();
    ::close(fd_);
  }
  std::uint16_t port() const noexcept { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::unique_ptr<testing::TestClient> filler_;
};

TEST(Connect, ExchangesBytesBothWaysWithAListener) {
  TestListener server(groups_of(2));
  TestGroups& groups = server.groups();
  auto attempt = start(groups, 1, spec_for("127.0.0.1", port_of(server.address())), "ping");
  auto probe = server.probe(0);  // the listener's side: it echoes
  wait_on(groups, attempt, [](const Attempt& a) { return a.received == "ping"; }, "the echo");
  server.on_connection(probe, [](Connection& c, ConnectionProbe&) {
    const std::string pong = "pong";
    c.send_copy({reinterpret_cast<const std::uint8_t*>(pong.data()), pong.size()});
  });
  wait_on(groups, attempt, [](const Attempt& a) { return a.received == "pingpong"; }, "the server's own bytes");
  auto [peer, handle_pending, made, failures] = groups.run(1, [&] {
    return std::tuple{attempt->connection->peer_address(), attempt->handle->is_pending(), attempt->handlers_made,
                      attempt->failures};
  });
  EXPECT_EQ(peer, server.address());
  EXPECT_FALSE(handle_pending);
  EXPECT_EQ(made, 1);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(groups.run(probe->group, [&] { return probe->received; }), "ping");
  // The connection is the kernel's, not the handle's: dropping the handle leaves it open.
  groups.run(1, [&] { attempt->handle.reset(); });
  EXPECT_TRUE(groups.run(1, [&] { return attempt->connection && attempt->connection->is_open(); }));
  groups.run(1, [&] { attempt->connection->close(ok()); });
  EXPECT_EQ(groups.run(1, [&] { return attempt->closed.value_or(Status(Errc::internal, "open")); }), ok());
}

TEST(Connect, ResolvesANameOnTheWorkerPool) {
  TestListener server(groups_of(1));
  auto attempt = start(server.groups(), 0, spec_for("localhost", port_of(server.address())), "by name");
  wait_on(server.groups(), attempt, [](const Attempt& a) { return a.received == "by name"; }, "the echo");
  EXPECT_EQ(server.groups().run(0, [&] { return attempt->failures; }), 0);
}

TEST(Connect, ListedInTheStatisticsUnderItsName) {
  TestListener server(groups_of(2));
  TestGroups& groups = server.groups();
  auto attempt = start(groups, 0, spec_for("127.0.0.1", port_of(server.address())), "ping");
  wait_on(groups, attempt, [](const Attempt& a) { return a.received == "ping"; }, "the echo");
  ConnectionId id = groups.run(0, [&] {
    attempt->connection->set_label("pull rtsp://camera/live");
    return attempt->connection->id();
  });
  auto promise = std::make_shared<std::promise<std::vector<ConnectionInfo>>>();
  auto future = promise->get_future();
  groups.run(1, [&] {
    groups[1].stats().collect_connections([promise](std::vector<ConnectionInfo> all) { promise->set_value(std::move(all)); });
  });
  ASSERT_EQ(future.wait_for(testing::kWaitLimit), std::future_status::ready);
  std::vector<ConnectionInfo> all = future.get();
  ASSERT_EQ(all.size(), 2u);  // ours and the listener's side of it
  auto ours = std::find_if(all.begin(), all.end(), [&](const ConnectionInfo& i) { return i.id == id; });
  ASSERT_NE(ours, all.end());
  EXPECT_EQ(ours->listener, "test pull");
  EXPECT_EQ(ours->group, 0u);
  EXPECT_EQ(ours->peer_address, server.address());
  EXPECT_EQ(ours->label, "pull rtsp://camera/live");
  EXPECT_EQ(ours->sender.bytes_sent_total, 4u);
}

TEST(Connect, ARefusedPortFailsNamingHostAndPort) {
  RefusingPort refusing;
  TestGroups groups(1);
  auto attempt = start(groups, 0, spec_for("127.0.0.1", refusing.port()));
  Status status = wait_failed(groups, attempt);
  EXPECT_EQ(status.code(), Errc::io);
  EXPECT_NE(status.message().find("test pull: connect to 127.0.0.1:" + std::to_string(refusing.port())), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("refused"), std::string::npos) << status.message();
  groups.run_until_idle();
  EXPECT_EQ(groups.run(0, [&] { return std::pair{attempt->handlers_made, attempt->failures}; }), std::pair(0, 1));
  EXPECT_EQ(groups.run(0, [&] { return groups[0].connection_count(); }), 0u);
}

TEST(Connect, ANameThatDoesNotResolveFails) {
  TestGroups groups(1);
  auto attempt = start(groups, 0, spec_for("nonexistent.invalid", 554));
  Status status = wait_failed(groups, attempt);
  // not_found where a resolver answers NXDOMAIN; io where none can be reached at all.
  EXPECT_TRUE(status.code() == Errc::not_found || status.code() == Errc::io) << status.message();
  EXPECT_NE(status.message().find("test pull: connect to nonexistent.invalid:554: resolve nonexistent.invalid: "),
            std::string::npos)
      << status.message();
  EXPECT_EQ(groups.run(0, [&] { return attempt->handlers_made; }), 0);
}

TEST(Connect, AConnectThatNeverCompletesTimesOut) {
  FullBacklog silent;
  TestGroups groups(1);
  ConnectSpec spec = spec_for("127.0.0.1", silent.port());
  spec.timeout = std::chrono::milliseconds(200);
  auto attempt = start(groups, 0, spec);
  Status status = wait_failed(groups, attempt);
  EXPECT_EQ(status.code(), Errc::timeout) << status.message();
  EXPECT_NE(status.message().find("within 200 ms"), std::string::npos) << status.message();
  EXPECT_EQ(groups.run(0, [&] { return groups[0].pending_connects(); }), 0u);
}

TEST(Connect, AMissingHostOrPortFailsInALaterStepNotInsideConnect) {
  TestGroups groups(1);
  auto attempt = std::make_shared<Attempt>();
  bool failed_inside = groups.run(0, [&] {
    attempt->handle = groups[0].connect(
        spec_for("", 80), [](Connection&) { return std::unique_ptr<ConnectionHandler>(); },
        [attempt](Status status) { attempt->failed = std::move(status); });
    return attempt->failed.has_value();
  });
  EXPECT_FALSE(failed_inside);
  Status status = wait_failed(groups, attempt);
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_NE(status.message().find("no host given"), std::string::npos) << status.message();
}

TEST(Connect, DestroyingTheHandleWhileResolvingCallsNothing) {
  TestListener server(groups_of(1));
  TestGroups& groups = server.groups();
  // The one worker is busy until released: the attempt is certainly still resolving when its
  // handle goes.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  groups.run(0, [&] {
    groups[0].run_blocking([released] { released.wait(); return ok(); }, [](Status) {});
  });
  auto attempt = start(groups, 0, spec_for("localhost", port_of(server.address())));
  EXPECT_TRUE(groups.run(0, [&] { return attempt->handle->is_pending(); }));
  groups.run(0, [&] { attempt->handle.reset(); });
  EXPECT_EQ(groups.run(0, [&] { return groups[0].pending_connects(); }), 0u);
  release.set_value();
  groups.workers().stop_and_join();  // the resolve job ran and its answer was posted
  groups.run_until_idle();
  EXPECT_EQ(groups.run(0, [&] { return std::pair{attempt->handlers_made, attempt->failures}; }), std::pair(0, 0));
  EXPECT_EQ(groups.run(0, [&] { return groups[0].connection_count(); }), 0u);
}

TEST(Connect, DestroyingTheHandleWhileConnectingCallsNothing) {
  FullBacklog silent;
  TestGroups groups(1);
  auto attempt = start(groups, 0, spec_for("127.0.0.1", silent.port()));  // 10 s: still connecting
  EXPECT_TRUE(groups.run(0, [&] { return attempt->handle->is_pending(); }));
  groups.run(0, [&] { attempt->handle.reset(); });
  groups.run_until_idle();
  EXPECT_EQ(groups.run(0, [&] { return std::pair{attempt->handlers_made, attempt->failures}; }), std::pair(0, 0));
  EXPECT_EQ(groups.run(0, [&] { return groups[0].pending_connects(); }), 0u);
}

TEST(Connect, CancelledFromItsOwnFailureCallbackOrAfterItIsHarmless) {
  RefusingPort refusing;
  TestGroups groups(1);
  auto attempt = std::make_shared<Attempt>();
  groups.run(0, [&] {
    attempt->handle = groups[0].connect(
        spec_for("127.0.0.1", refusing.port()), [](Connection&) { return std::unique_ptr<ConnectionHandler>(); },
        [attempt](Status status) {
          attempt->failed = std::move(status);
          attempt->handle.reset();  // what a module's cleanup does
        });
  });
  Status status = wait_failed(groups, attempt);
  EXPECT_EQ(status.code(), Errc::io);
  EXPECT_EQ(groups.run(0, [&] { return attempt->handle == nullptr; }), true);
}

TEST(Connect, AnAttemptUnderWayAtShutdownFailsAsClosed) {
  FullBacklog silent;
  auto groups = std::make_unique<TestGroups>(1);
  auto attempt = start(*groups, 0, spec_for("127.0.0.1", silent.port()));
  groups->stop_threads();  // closes the group's connections: the attempt fails then
  // The group's thread is joined: what it wrote is visible here.
  ASSERT_TRUE(attempt->failed.has_value());
  EXPECT_EQ(attempt->failed->code(), Errc::closed) << attempt->failed->message();
  EXPECT_EQ(attempt->failures, 1);
  attempt->handle.reset();  // after the failure: nothing left to cancel
  groups.reset();
}

TEST(Connect, ANullHandlerClosesTheConnectionAtOnce) {
  TestListener server(groups_of(1));
  TestGroups& groups = server.groups();
  auto attempt = std::make_shared<Attempt>();
  groups.run(0, [&] {
    attempt->handle = groups[0].connect(
        spec_for("127.0.0.1", port_of(server.address())),
        [attempt](Connection&) {
          ++attempt->handlers_made;
          return std::unique_ptr<ConnectionHandler>();
        },
        [attempt](Status status) { attempt->failed = std::move(status); });
  });
  auto probe = server.probe(0);
  if (!wait_until([&] { return groups.run(probe->group, [&] { return probe->closed_with.has_value(); }); }))
    testing::wait_expired("the listener's side to close");
  EXPECT_EQ(groups.run(0, [&] { return std::pair{attempt->handlers_made, attempt->failed.has_value()}; }),
            std::pair(1, false));
}

TEST(Connect, OverTlsExchangesBytesWithATlsListener) {
  TempDir dir;
  TestListener server(groups_of(1), testing::self_signed_tls(dir));
  ConnectSpec spec = spec_for("127.0.0.1", port_of(server.address()));
  spec.use_tls = true;
  spec.verify_peer = false;  // self-signed: nothing to verify it against
  auto attempt = start(server.groups(), 0, spec, "secret");
  wait_on(server.groups(), attempt, [](const Attempt& a) { return a.received == "secret" || a.failed; },
          "the echo over TLS");
  EXPECT_EQ(server.groups().run(0, [&] { return attempt->received; }), "secret");
  EXPECT_EQ(server.groups().run(0, [&] { return attempt->failures; }), 0);
}

TEST(Connect, OverTlsACertificateTheSystemDoesNotTrustFailsTheAttempt) {
  TempDir dir;
  TestListener server(groups_of(1), testing::self_signed_tls(dir));
  ConnectSpec spec = spec_for("localhost", port_of(server.address()));
  spec.use_tls = true;  // verify_peer: against the system's CA store, which knows no such issuer
  auto attempt = start(server.groups(), 0, spec, "secret");
  Status status = wait_failed(server.groups(), attempt);
  EXPECT_EQ(status.code(), Errc::denied) << status.message();
  EXPECT_NE(status.message().find("certificate rejected: self-signed certificate"), std::string::npos)
      << status.message();
  EXPECT_EQ(server.groups().run(0, [&] { return attempt->handlers_made; }), 0);
}

}  // namespace
}  // namespace weir::kernel
