// SPDX-License-Identifier: Apache-2.0
#pragma once
// Listener: a listening socket served by the main thread. Each accepted socket goes to the poll
// group with the fewest connections, as a NewConnection task; the connection lives there for
// life. One acceptor handing sockets out balances exactly (SO_REUSEPORT hashes the 4-tuple,
// which leaves groups uneven with few clients); accepting is rare next to streaming.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "net/tls.h"
#include "poll_group/poll_group.h"
#include "weir/connection.h"

namespace weir::kernel {

class Listener {
 public:
  /// Binds and listens now (a taken port is an error at startup, naming the address).
  static Result<std::unique_ptr<Listener>> open(boost::asio::io_context& io, const ListenerSpec& spec,
                                                std::shared_ptr<Acceptor> acceptor, Groups& groups,
                                                Logger logger, std::shared_ptr<TlsContext> tls = nullptr);
  void start();
  void close();
  const std::string& name() const noexcept { return spec_.name; }
  /// The bound address, "127.0.0.1:41235".
  std::string bound_address() const;

 private:
  Listener(boost::asio::ip::tcp::acceptor acceptor, ListenerSpec spec, std::shared_ptr<Acceptor> handler,
           Groups& groups, Logger logger, std::shared_ptr<TlsContext> tls);
  void wait_for_clients();
  void accept_ready();

  boost::asio::ip::tcp::acceptor acceptor_;
  ListenerSpec spec_;
  std::shared_ptr<Acceptor> handler_;
  Groups& groups_;
  Logger logger_;
  std::shared_ptr<TlsContext> tls_;
  bool closed_ = false;
};

/// Parses "host:port", "[v6]:port" or ":port".
Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text);

}  // namespace weir::kernel
