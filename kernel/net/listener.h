// SPDX-License-Identifier: Apache-2.0
#pragma once
// Listener: a listening socket served by the main thread. Each accepted socket goes to the poll
// group with the fewest connections, as a NewConnection task; the connection lives there for
// life. One acceptor handing sockets out balances exactly (SO_REUSEPORT hashes the 4-tuple,
// which leaves groups uneven with few clients); accepting is rare next to streaming.
//
// When accept() fails for want of resources (EMFILE, ENFILE: no descriptor; ENOBUFS, ENOMEM:
// no kernel memory) the pending connection stays queued and the socket stays readable, so waiting
// for readability again would spin a core. The listener pauses instead, the way nginx does:
//
//   readable --accept ok--> hand out ... --EAGAIN--> wait readable
//       \--EMFILE...--> pause: log once, count weir_accept_pauses_total{listener}
//            --> timer 100 ms, 200, 400, ... 1 s --> accept again --EAGAIN--> log "accepting again"
//
// Clients meanwhile wait in the listen backlog and are served once descriptors are free.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "net/tls.h"
#include "poll_group/poll_group.h"
#include "weir/connection.h"

namespace weir::kernel {

/// A listening socket and its accept loop. Thread: the main thread (the io_context it was opened on).
class Listener {
 public:
  /// Binds and listens now (a taken port is an error at startup, naming the address).
  static Result<std::unique_ptr<Listener>> open(boost::asio::io_context& io, const ListenerSpec& spec,
                                                std::shared_ptr<Acceptor> acceptor, Groups& groups,
                                                Logger logger, std::shared_ptr<TlsContext> tls = nullptr);
  /// Starts accepting.
  void start();
  /// Stops accepting (and any retry after a pause); connections already handed out stay.
  void close();
  const std::string& name() const noexcept { return spec_.name; }
  /// The bound address, "127.0.0.1:41235".
  std::string bound_address() const;

 private:
  Listener(boost::asio::ip::tcp::acceptor acceptor, ListenerSpec spec, std::shared_ptr<Acceptor> handler,
           Groups& groups, Logger logger, std::shared_ptr<TlsContext> tls);
  void wait_for_clients();
  /// Accepts until EAGAIN (then waits for readability) or a shortage (then pauses).
  void accept_ready();
  /// accept() failed with `error`: begin or continue a pause, and retry on the timer.
  void pause(int error, bool accepted_some);
  /// accept() drained the backlog: a pause, if any, is over.
  void end_pause();

  // A pause: from accept()'s first failure for want of resources to the next time it drains the
  // backlog.
  struct Pause {
    int error;                        // errno of the first failure
    Clock::time_point since;
    std::chrono::milliseconds delay;  // until the next retry
    std::uint64_t accepted = 0;       // connections accepted since it began: they waited in the backlog
    std::uint64_t failed_retries = 0;
  };

  boost::asio::ip::tcp::acceptor acceptor_;
  ListenerSpec spec_;
  std::shared_ptr<Acceptor> handler_;
  Groups& groups_;
  Logger logger_;
  std::shared_ptr<TlsContext> tls_;
  bool closed_ = false;
  std::optional<Pause> pause_;
  boost::asio::steady_timer retry_;  // armed during a pause, instead of a wait for readability
};

/// Parses "host:port", "[v6]:port" or ":port".
Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text);

}  // namespace weir::kernel
