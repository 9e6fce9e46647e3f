// SPDX-License-Identifier: Apache-2.0
#include "net/listener.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "net/connection.h"
#include "stats/stats.h"

namespace weir::kernel {
namespace {

// Retries during a pause: soon at first (a burst of closes frees descriptors quickly), then no
// more than once a second while the shortage lasts.
constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kLongestRetry{1000};

// Errors of one pending connection that accept(2) passes on (Linux reports the network errors of
// a connection that failed while queued): that connection is gone, the next one may be fine.
bool is_pending_connection_error(int error) {
  switch (error) {
    case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN:
    case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

const char* errno_name(int error) {
  switch (error) {
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    default: return "errno";
  }
}

// A pause, counted on a group: stats values live per group, and the listener's thread has none.
struct CountAcceptPause final : Task {
  explicit CountAcceptPause(std::string listener) : listener(std::move(listener)) {}
  void run() noexcept override { PollGroupImpl::current()->stats_impl().count_accept_pause(listener); }
  std::string listener;
};

// A socket accepted on the main thread, adopted by its poll group.
struct NewConnection final : Task {
  NewConnection(int fd, bool is_v6, std::string listener, std::shared_ptr<Acceptor> acceptor,
                std::shared_ptr<TlsContext> tls)
      : fd(fd), is_v6(is_v6), listener(std::move(listener)), acceptor(std::move(acceptor)), tls(std::move(tls)) {}
  ~NewConnection() override {
    if (fd >= 0) ::close(fd);
  }
  void run() noexcept override {
    PollGroupImpl& group = *PollGroupImpl::current();
    boost::asio::ip::tcp::socket socket(group.io());
    boost::system::error_code ec;
    socket.assign(is_v6 ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4(), fd, ec);
    if (ec) {
      // The socket never became a connection: give back the load the acceptor counted for it.
      group.remove_load();
      group.logger().warn("{}: cannot adopt an accepted socket: {}", listener, ec.message());
      return;
    }
    fd = -1;  // the socket owns it now
    auto connection = std::make_shared<ConnectionImpl>(group, std::move(socket), listener, tls.get());
    group.adopt_connection(connection);
    std::unique_ptr<ConnectionHandler> handler = acceptor->accept(*connection);
    if (!handler) {
      group.stats_impl().connection_refused(listener);
      connection->close(Status(Errc::denied, "refused by the " + listener + " acceptor"));
      return;
    }
    connection->start(std::move(handler));
  }
  int fd;
  bool is_v6;
  std::string listener;
  std::shared_ptr<Acceptor> acceptor;
  std::shared_ptr<TlsContext> tls;  // immutable, shared by the listener's connections
};

}  // namespace

Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return error(Errc::config, "'{}': expected host:port", text);
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return error(Errc::config, "'{}': bad port '{}'", text, port_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code address_error;
  auto address = boost::asio::ip::make_address(host, address_error);
  if (address_error) return error(Errc::config, "'{}': bad address '{}'", text, host);
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

Listener::Listener(boost::asio::ip::tcp::acceptor acceptor, ListenerSpec spec, std::shared_ptr<Acceptor> handler,
                   Groups& groups, Logger logger, std::shared_ptr<TlsContext> tls)
    : acceptor_(std::move(acceptor)), spec_(std::move(spec)), handler_(std::move(handler)), groups_(groups),
      logger_(std::move(logger)), tls_(std::move(tls)), retry_(acceptor_.get_executor()) {}

Result<std::unique_ptr<Listener>> Listener::open(boost::asio::io_context& io, const ListenerSpec& spec,
                                                 std::shared_ptr<Acceptor> acceptor, Groups& groups,
                                                 Logger logger, std::shared_ptr<TlsContext> tls) {
  auto endpoint = parse_endpoint(spec.address);
  if (!endpoint) return endpoint.error().with_context("listener " + spec.name);
  boost::asio::ip::tcp::acceptor socket(io);
  boost::system::error_code ec;
  socket.open(endpoint->protocol(), ec);
  if (!ec) socket.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) socket.bind(*endpoint, ec);
  if (!ec) socket.listen(4096, ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec) return error(Errc::io, "listener {} on {}: {}", spec.name, spec.address, ec.message());
  return std::unique_ptr<Listener>(
      new Listener(std::move(socket), spec, std::move(acceptor), groups, std::move(logger), std::move(tls)));
}

std::string Listener::bound_address() const {
  boost::system::error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  if (ec) return "?";
  if (endpoint.address().is_v6()) return "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port());
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

void Listener::start() {
  logger_.info("listening on {} ({}{})", bound_address(), spec_.name, tls_ ? ", TLS" : "");
  wait_for_clients();
}

void Listener::close() {
  closed_ = true;
  retry_.cancel();
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void Listener::wait_for_clients() {
  if (closed_) return;
  acceptor_.async_wait(boost::asio::socket_base::wait_read, [this](const boost::system::error_code& ec) {
    if (closed_ || ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      logger_.error("listener {}: {}", spec_.name, ec.message());
      return;
    }
    accept_ready();
  });
}

void Listener::accept_ready() {
  const bool is_v6 = acceptor_.local_endpoint().address().is_v6();
  bool accepted_some = false;
  for (;;) {
    int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      if (error == EINTR || is_pending_connection_error(error)) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        end_pause();
        wait_for_clients();
        return;
      }
      // EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else that would fail again at once: waiting
      // for readability would return at once too, so wait on the timer.
      pause(error, accepted_some);
      return;
    }
    accepted_some = true;
    if (pause_) ++pause_->accepted;
    GroupId target = groups_.least_loaded();
    groups_[target].add_load();
    groups_.post(target, std::make_unique<NewConnection>(fd, is_v6, spec_.name, handler_, tls_));
  }
}

void Listener::pause(int error, bool accepted_some) {
  if (!pause_) {
    pause_ = Pause{error, Clock::now(), kFirstRetry};
    // Once per pause: a shortage lasting minutes must not write a line per retry.
    logger_.warn("listener {}: accept: {} ({}); not accepting until it clears, retrying every {} ms to {} s",
                 spec_.name, std::strerror(error), errno_name(error), kFirstRetry.count(),
                 kLongestRetry.count() / 1000);
    groups_.post(0, std::make_unique<CountAcceptPause>(spec_.name));
  } else {
    ++pause_->failed_retries;
    // Progress (some descriptors came free) retries soon; none backs off further.
    pause_->delay = accepted_some ? kFirstRetry : std::min(pause_->delay * 2, kLongestRetry);
  }
  retry_.expires_after(pause_->delay);
  retry_.async_wait([this](const boost::system::error_code& ec) {
    if (closed_ || ec == boost::asio::error::operation_aborted) return;
    accept_ready();
  });
}

void Listener::end_pause() {
  if (!pause_) return;
  const double seconds = std::chrono::duration<double>(Clock::now() - pause_->since).count();
  logger_.info("listener {}: accepting again after {} s of {} ({}); {} connections waited in the backlog meanwhile, "
               "{} retries failed",
               spec_.name, std::round(seconds * 10) / 10, std::strerror(pause_->error), errno_name(pause_->error),
               pause_->accepted, pause_->failed_retries);
  pause_.reset();
}

}  // namespace weir::kernel
