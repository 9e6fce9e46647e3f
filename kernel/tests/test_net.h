// SPDX-License-Identifier: Apache-2.0
#pragma once
// Loopback sockets for tests: a blocking TestClient with bounded reads, and TestListener, a
// kernel::Listener on 127.0.0.1:0 served by real poll groups whose connections are handled by
// ProbeHandler (echo by default) and observed through ConnectionProbe.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/listener.h"
#include "test_groups.h"

namespace weir::kernel::testing {

/// A blocking client socket; every read waits at most kWaitLimit.
class TestClient {
 public:
  /// Connects to "host:port"; `receive_buffer_bytes` > 0 shrinks SO_RCVBUF first (a slow reader).
  explicit TestClient(const std::string& address, int receive_buffer_bytes = 0) {
    auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    int port = std::stoi(address.substr(colon + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer_bytes > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &to.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~TestClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const noexcept { return connected_; }
  /// The socket, for a test that speaks TLS over it.
  int fd() const noexcept { return fd_; }

  bool send_all(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads up to `max` bytes, waiting at most `limit` for the first; "" at the peer's close or on
  /// timeout (timed_out() tells which).
  std::string read_some(std::size_t max, std::chrono::milliseconds limit = kWaitLimit) {
    timed_out_ = false;
    pollfd p{fd_, POLLIN, 0};
    int ready;
    do ready = ::poll(&p, 1, static_cast<int>(limit.count()));
    while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      timed_out_ = true;
      return {};
    }
    std::string out(max, '\0');
    ssize_t n;
    do n = ::recv(fd_, out.data(), max, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
      closed_ = true;
      return {};
    }
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

  /// Exactly `n` bytes, or nullopt when the peer closed or a read waited past the limit.
  std::optional<std::string> read_exact(std::size_t n) {
    std::string out;
    while (out.size() < n) {
      std::string part = read_some(n - out.size());
      if (part.empty()) return std::nullopt;
      out += part;
    }
    return out;
  }

  /// Everything until the peer closes (nullopt if it does not close within the limit).
  std::optional<std::string> read_to_close() {
    std::string out;
    for (;;) {
      std::string part = read_some(1 << 16);
      if (part.empty()) {
        if (timed_out_) return std::nullopt;
        return out;
      }
      out += part;
    }
  }

  /// Sends `text` and expects it back.
  bool echoes(const std::string& text) {
    if (!send_all(text)) return false;
    auto back = read_exact(text.size());
    return back && *back == text;
  }

  bool timed_out() const noexcept { return timed_out_; }
  bool closed() const noexcept { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
};

/// What a test sees of one accepted connection. Written on the connection's group only; the test
/// reads it by running a function there (TestGroups::run(probe->group, ...)).
struct ConnectionProbe {
  GroupId group = 0;
  Connection* connection = nullptr;  // null once closed
  std::vector<SenderState> state_events;
  std::optional<Status> closed_with;
  std::string received;
  bool keep_received = false;    // keep the received slices (pinning receive pages), no echo
  std::vector<PageSlice> kept;
  std::uint64_t max_queued_bytes = 0;
  // The pump (fill_until_overloaded): sends one page over and over while the sender is ready.
  std::unique_ptr<Timer> pump;
  PageSlice pump_slice;
  std::uint64_t pumped_sends = 0;
};

/// Echoes what it receives; a '!' in the data is a protocol error (on_data returns it).
class ProbeHandler final : public ConnectionHandler {
 public:
  ProbeHandler(Connection& connection, std::shared_ptr<ConnectionProbe> probe)
      : connection_(connection), probe_(std::move(probe)) {}

  Status on_data(const PageSlice& data) noexcept override {
    std::string_view text(reinterpret_cast<const char*>(data.data()), data.length);
    probe_->received.append(text);
    if (text.find('!') != std::string_view::npos) return error(Errc::malformed, "probe: '!' at byte {}", text.find('!'));
    if (probe_->keep_received) {
      probe_->kept.push_back(data);
      return ok();
    }
    connection_.send(data);  // shares the receive page: no copy
    return ok();
  }
  void on_sender_state(SenderState state) noexcept override {
    probe_->state_events.push_back(state);
    if (state != SenderState::ready) probe_->pump.reset();  // full: stop pumping
  }
  void on_close(const Status& reason) noexcept override {
    probe_->closed_with = reason;
    probe_->connection = nullptr;
    probe_->pump.reset();
    probe_->pump_slice = PageSlice{};  // pages must not outlive their group
    probe_->kept.clear();
  }

 private:
  Connection& connection_;
  std::shared_ptr<ConnectionProbe> probe_;
};

/// Hands every connection a ProbeHandler and keeps the probes, in accept order. Any thread.
class ProbeAcceptor final : public Acceptor {
 public:
  std::unique_ptr<ConnectionHandler> accept(Connection& connection) noexcept override {
    if (refuse) return nullptr;
    auto probe = std::make_shared<ConnectionProbe>();
    probe->group = connection.group().id();
    probe->connection = &connection;
    {
      std::lock_guard lock(mutex_);
      probes_.push_back(probe);
    }
    return std::make_unique<ProbeHandler>(connection, std::move(probe));
  }
  /// Set: accept() refuses every new connection (returns nullptr).
  std::atomic<bool> refuse = false;
  /// The `i`th accepted connection's probe, waiting (bounded) for it to be accepted.
  std::shared_ptr<ConnectionProbe> probe(std::size_t i) {
    std::shared_ptr<ConnectionProbe> found;
    bool ok = wait_until([&] {
      std::lock_guard lock(mutex_);
      if (probes_.size() > i) found = probes_[i];
      return found != nullptr;
    });
    if (!ok) wait_expired("a connection to be accepted");
    return found;
  }

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<ConnectionProbe>> probes_;
};

/// A listener on 127.0.0.1:0 over real groups; the main thread's role (accepting) runs on a
/// thread of its own. With `tls`, its connections speak TLS.
class TestListener {
 public:
  explicit TestListener(TestGroupsOptions options, std::shared_ptr<TlsContext> tls = nullptr)
      : groups_(std::move(options)) {
    groups_.stats_registry().add_listener("probe");
    auto listener = Listener::open(io_, ListenerSpec{"probe", "127.0.0.1:0", tls != nullptr, {}}, acceptor_,
                                   groups_.groups(), Logger(&groups_.log(), "test.listener"), std::move(tls));
    if (!listener) {
      std::fprintf(stderr, "listener: %s\n", listener.error().message().c_str());
      std::abort();
    }
    listener_ = std::move(*listener);
    address_ = listener_->bound_address();
    groups_.start();
    listener_->start();
    thread_ = std::thread([this] {
      auto work = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~TestListener() {
    boost::asio::post(io_, [this] {
      listener_->close();
      io_.stop();
    });
    thread_.join();
    groups_.stop();
  }

  TestGroups& groups() noexcept { return groups_; }
  const std::string& address() const noexcept { return address_; }
  std::shared_ptr<ConnectionProbe> probe(std::size_t i) { return acceptor_->probe(i); }
  ProbeAcceptor& acceptor() noexcept { return *acceptor_; }

  /// Runs `fn(connection, probe)` on the probe's group; the connection must still be open.
  template <class Fn>
  auto on_connection(const std::shared_ptr<ConnectionProbe>& probe, Fn&& fn) {
    return groups_.run(probe->group, [&probe, &fn] { return fn(*probe->connection, *probe); });
  }

 private:
  TestGroups groups_;
  boost::asio::io_context io_;
  std::shared_ptr<ProbeAcceptor> acceptor_ = std::make_shared<ProbeAcceptor>();
  std::unique_ptr<Listener> listener_;
  std::string address_;
  std::thread thread_;
};

}  // namespace weir::kernel::testing
