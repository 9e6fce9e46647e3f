// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Connections: the kernel owns the socket, reads into pages of the group's pool and writes
/// gathered batches; a module supplies a ConnectionHandler that speaks the protocol.
///
///   socket --recv--> receive page --on_data(slice)--> handler --send(slices)--> queue --writev--> socket
///
/// Everything here runs on the connection's poll group.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "weir/pages.h"
#include "weir/poll_group.h"
#include "weir/sender.h"
#include "weir/status.h"

namespace weir {

using ConnectionId = std::uint64_t;

/// A socket the kernel serves on behalf of a handler. Thread: its poll group. Owned by the kernel;
/// the handler may keep a reference until on_close() returns.
class Connection {
 public:
  /// Unique for the process lifetime.
  virtual ConnectionId id() const noexcept = 0;
  virtual PollGroup& group() noexcept = 0;
  /// "127.0.0.1:50412".
  virtual const std::string& peer_address() const noexcept = 0;
  virtual const std::string& local_address() const noexcept = 0;

  /// Queues `slices` as one unit (all or nothing), shared not copied. Returns the state after
  /// queueing; hard_barrier means the unit was refused because it would pass the hard limit.
  /// The bytes leave in one gathered write together with everything else queued for this
  /// socket: at the end of this loop turn (SendUrgency::now), after the coalescing interval
  /// when one is set, or, for SendUrgency::may_wait, with the next unit that must leave now and
  /// at the latest after the sender's hold time (`[sender] hold`).
  virtual SenderState send(std::span<const PageSlice> slices, SendUrgency urgency) noexcept = 0;
  SenderState send(std::span<const PageSlice> slices) noexcept { return send(slices, SendUrgency::now); }
  SenderState send(const PageChain& chain, SendUrgency urgency = SendUrgency::now) noexcept {
    return send(chain.slices(), urgency);
  }
  SenderState send(const PageSlice& slice) noexcept { return send(std::span<const PageSlice>(&slice, 1)); }
  /// Copies `bytes` into the group's framing pages and queues them (small control messages).
  virtual SenderState send_copy(std::span<const std::uint8_t> bytes) noexcept = 0;

  virtual SenderState sender_state() const noexcept = 0;
  virtual SenderStats sender_stats() const noexcept = 0;
  virtual void set_sender_limits(SenderLimits limits) noexcept = 0;
  /// Gather up to `interval` of data per write (0: one write per loop turn). A few hundred ms
  /// of delay is acceptable for many viewers, and fewer, larger writes cost far less CPU
  /// (bench/RESULTS.md: 200 ms costs a fraction of the CPU per Gbit of no coalescing).
  virtual void set_coalescing(std::chrono::milliseconds interval) noexcept = 0;

  /// Stops reading until resume_reading() (the handler's own backpressure).
  virtual void pause_reading() noexcept = 0;
  virtual void resume_reading() noexcept = 0;

  /// Closes now; queued data is dropped. `reason` is logged (at info if ok(), warn otherwise) and
  /// passed to on_close(). Safe to call from inside handler callbacks; idempotent.
  virtual void close(Status reason) noexcept = 0;
  /// Closes once everything queued has been written (an HTTP response, a final onStatus).
  virtual void close_after_flush() noexcept = 0;
  virtual bool is_open() const noexcept = 0;

  virtual std::uint64_t bytes_received() const noexcept = 0;
  virtual Clock::time_point connected_at() const noexcept = 0;
  /// What the connection is doing, for statistics and operators ("play live/cam1"); the module
  /// sets it as that changes. Shown by Stats::collect_connections().
  virtual void set_label(std::string label) noexcept = 0;
  /// The stream the connection publishes or plays ("live/cam1"; empty: none), for statistics.
  /// Shown by Stats::collect_connections().
  virtual void set_stream(std::string stream) noexcept = 0;
  /// Counts media frames skipped for this connection because it was behind (its module's
  /// policy, e.g. non-key video while the sender is overloaded). A plain add, no atomic: cheap
  /// per batch. Shown by Stats::collect_connections().
  void count_frames_dropped(std::uint64_t frames) noexcept { frames_dropped_ += frames; }

 protected:
  ~Connection() = default;
  std::uint64_t frames_dropped_ = 0;  ///< count_frames_dropped() so far
};

/// A module's side of one connection. Thread: the connection's poll group. Owned by the kernel
/// (destroyed after on_close()).
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  /// New bytes, a view into a receive page; keep `data` (it is a counted reference) to avoid a
  /// copy. An error status closes the connection and is logged with the connection's context.
  virtual Status on_data(const PageSlice& data) noexcept = 0;
  /// The sender's state changed (a hint: re-check sender_state() before acting).
  virtual void on_sender_state(SenderState state) noexcept { (void)state; }
  /// The connection closed (peer, error, close(), shutdown). Called once.
  virtual void on_close(const Status& reason) noexcept { (void)reason; }
};

/// Creates the handler for each new connection of a listener. Called on the connection's poll
/// group, so on several threads at once: keep it stateless or reach per-group state (PerGroup<T>).
class Acceptor {
 public:
  virtual ~Acceptor() = default;
  /// The handler for `connection`, or nullptr to refuse it (it is closed at once).
  virtual std::unique_ptr<ConnectionHandler> accept(Connection& connection) noexcept = 0;
};

/// TLS settings of a listener: PEM files.
struct TlsOptions {
  std::string certificate_file;
  std::string private_key_file;
};

/// A listening socket a module asks for.
struct ListenerSpec {
  std::string name;     ///< for logs and stats: "rtmp", "rtmps", "http"
  std::string address;  ///< "0.0.0.0:1935", "[::]:1935", "127.0.0.1:0" (0 = any free port)
  bool use_tls = false;
  TlsOptions tls;
};

/// An outgoing connection a module asks for (PollGroup::connect()): an RTSP camera to pull, an
/// RTMP server to relay to.
struct ConnectSpec {
  std::string name;  ///< for logs and stats: "rtsp pull"; shown as ConnectionInfo::listener
  std::string host;  ///< a DNS name or an address ("camera.local", "10.0.0.5", "::1", "[::1]")
  std::uint16_t port = 0;
  /// For the whole attempt: resolving, connecting (every address) and the TLS handshake.
  std::chrono::milliseconds timeout{10000};
  bool use_tls = false;
  /// TLS: the name sent as SNI and checked against the certificate (empty: `host`).
  std::string tls_server_name;
  /// TLS: check the server's certificate against the system's CA store and its name.
  bool verify_peer = true;
};

}  // namespace weir
