// SPDX-License-Identifier: Apache-2.0
#pragma once
// ConnectAttempt: one PollGroup::connect(), on the group that asked, from the name to a served
// connection.
//
//   connect() --host is an address?--yes------------------------------+
//        \--no--> resolve: getaddrinfo on the worker pool --Resolved-->+--> async_connect(address 1)
//                                                                          --refused--> address 2 ...
//   deadline timer (spec.timeout) over all of it                          --connected--> [TLS handshake]
//        --fires--> failed(Errc::timeout)                                     --> ConnectionImpl::start
//
// Only the group's thread touches an attempt. The resolve job on the worker pool gets the name
// and a Resolution to fill (plain data) and nothing of the group's; its answer comes back as a
// message that finds the attempt through a weak pointer, so an attempt cancelled meanwhile is
// simply gone. An attempt ends once (finish()): from then on no callback runs and it holds no
// socket or timer, so a handle kept past its group's life holds only plain memory.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/tls.h"
#include "poll_group/poll_group.h"
#include "weir/connection.h"

namespace weir::kernel {

/// What a resolve job on the worker pool fills in: written there, read on the group after the
/// reply message (which orders the two).
struct Resolution {
  std::string host;
  std::uint16_t port = 0;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
};

/// Resolves `host`:`port` with getaddrinfo (blocks: worker pool only). Errc::not_found when the
/// name does not exist, Errc::io for other failures.
Status resolve_blocking(Resolution& resolution);

class ConnectAttempt final : public std::enable_shared_from_this<ConnectAttempt> {
 public:
  using MakeHandler = std::function<std::unique_ptr<ConnectionHandler>(Connection&)>;
  using Failed = std::function<void(Status)>;

  ConnectAttempt(PollGroupImpl& group, ConnectSpec spec, MakeHandler make_handler, Failed failed);
  ~ConnectAttempt();
  ConnectAttempt(const ConnectAttempt&) = delete;
  ConnectAttempt& operator=(const ConnectAttempt&) = delete;

  /// Begins: arms the deadline and resolves or connects. Callbacks come in later steps only.
  void start();
  /// Ends the attempt without a callback (the handle was destroyed). Idempotent.
  void cancel() noexcept;
  /// Ends the attempt with failed(reason) (the group is shutting down). Idempotent.
  void abort(const Status& reason) noexcept;
  bool is_pending() const noexcept { return !done_; }

 private:
  void on_resolved(const Status& status, const Resolution& resolution);
  /// Connects to endpoints_[next_], or fails with the last address's error when none is left.
  void connect_next();
  void on_connected(const boost::system::error_code& ec);
  void on_deadline();
  // TLS client handshake over the connected socket, before any handler exists.
  void start_handshake();
  void handshake_step();
  void write_handshake_output();
  void wait_handshake_input();
  /// The socket is ready (and the handshake done): hands it to a ConnectionImpl and the handler.
  void succeed();
  /// Ends the attempt with failed(status) (prefixed with name and host:port).
  void fail(Status status);
  /// Ends the attempt: unregisters it, drops socket, timer and callbacks (the caller moved out
  /// the one it is about to call).
  void finish() noexcept;
  /// "rtsp pull: connect to camera:554"
  std::string what() const;

  ThreadOwner owner_;
  PollGroupImpl& group_;
  const ConnectSpec spec_;
  MakeHandler make_handler_;
  Failed failed_;
  bool done_ = false;
  enum class Phase { resolving, connecting, handshaking } phase_ = Phase::resolving;

  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
  std::size_t next_ = 0;
  std::string last_error_;  // why the previous address failed, for the message if all do
  // Engaged while the attempt runs; reset by finish() (or moved into the connection).
  std::optional<boost::asio::ip::tcp::socket> socket_;
  std::optional<boost::asio::steady_timer> deadline_;

  std::unique_ptr<TlsSession> tls_;
  std::vector<std::uint8_t> tls_out_;  // handshake records not yet written
  std::size_t tls_out_sent_ = 0;
};

/// The handle PollGroup::connect() returns: cancels its attempt when destroyed.
class OutgoingImpl final : public Outgoing {
 public:
  explicit OutgoingImpl(std::shared_ptr<ConnectAttempt> attempt) : attempt_(std::move(attempt)) {}
  ~OutgoingImpl() override { cancel(); }
  void cancel() noexcept override { attempt_->cancel(); }
  bool is_pending() const noexcept override { return attempt_->is_pending(); }

 private:
  std::shared_ptr<ConnectAttempt> attempt_;
};

}  // namespace weir::kernel
