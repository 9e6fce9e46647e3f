// SPDX-License-Identifier: Apache-2.0
#pragma once
// ConnectionImpl: a TCP socket served by one poll group, with its sender.
//
// Reading: wait for readability, then recv() into the group's receive page until EAGAIN (or a
// per-turn budget, for fairness), handing each slice to the handler.
// Sending: send() queues slices (shared pages) and marks the sender dirty; at the end of the loop
// turn (or after the coalescing interval) flush() writes the queue with sendmsg() and as many
// iovecs as the kernel takes. A partial write waits for writability. A may_wait unit (audio
// between video frames) only holds the sender: it leaves with the next unit that must leave now,
// or when the group's hold time has passed, whichever comes first.
//
//   queue: [slice][slice][slice]...      head_offset_: bytes of the first slice already written
//   state: ready < soft_bytes <= overloaded < hard_bytes (a unit that would pass it is refused)

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "net/tls.h"
#include "poll_group/poll_group.h"
#include "weir/connection.h"
#include "weir/owner.h"

namespace weir::kernel {

/// A FIFO of slices with no allocation while empty (an idle player costs nothing here).
class SliceQueue {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  PageSlice& front() noexcept { return items_[head_]; }
  const PageSlice& at(std::size_t i) const noexcept { return items_[head_ + i]; }
  void push_back(const PageSlice& slice) { items_.push_back(slice); }
  void pop_front() noexcept {
    items_[head_].page.reset();
    if (++head_ == items_.size()) clear();
  }
  void clear() noexcept {
    head_ = 0;
    // Once drained, keep at most a small array: a player's queue that grew to a few hundred
    // slices between writes would otherwise pin ~4 KiB per player (bench/RESULTS.md, scenario b).
    if (items_.capacity() > 32) std::vector<PageSlice>().swap(items_);
    else items_.clear();
  }
  void compact() {
    if (head_ > 64 && head_ * 2 > items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  std::vector<PageSlice> items_;
  std::size_t head_ = 0;
};

class ConnectionImpl final : public Connection, public std::enable_shared_from_this<ConnectionImpl> {
 public:
  /// `tls`: the listener's TLS context, or null for plain TCP.
  ConnectionImpl(PollGroupImpl& group, boost::asio::ip::tcp::socket socket, std::string listener,
                 const TlsContext* tls = nullptr);
  ~ConnectionImpl();
  /// An outgoing connection (ConnectAttempt): `name` is its ConnectSpec::name, shown where an
  /// accepted one shows its listener; `tls` is the client session, its handshake done, or null.
  static std::shared_ptr<ConnectionImpl> outgoing(PollGroupImpl& group, boost::asio::ip::tcp::socket socket,
                                                  std::string name, std::unique_ptr<TlsSession> tls);

  /// Hands the connection to its handler and starts reading. Owner thread.
  void start(std::unique_ptr<ConnectionHandler> handler);
  /// Writes what is queued. Called at the end of a turn or when the socket becomes writable.
  void flush() noexcept;
  /// True while may_wait data set to leave at `at` is still waiting (PollGroupImpl's hold FIFO
  /// asks whether its entry is the current one or stale).
  bool is_held_until(Clock::time_point at) const noexcept { return held_ && held_until_ == at; }
  /// Shutdown: one last attempt to write what is queued, then close.
  void close_gracefully(const Status& reason) noexcept;

  // Connection
  ConnectionId id() const noexcept override { return id_; }
  PollGroup& group() noexcept override { return group_; }
  const std::string& peer_address() const noexcept override { return peer_; }
  const std::string& local_address() const noexcept override { return local_; }
  using Connection::send;
  SenderState send(std::span<const PageSlice> slices, SendUrgency urgency) noexcept override;
  SenderState send_copy(std::span<const std::uint8_t> bytes) noexcept override;
  SenderState sender_state() const noexcept override { return state_; }
  SenderStats sender_stats() const noexcept override;
  void set_sender_limits(SenderLimits limits) noexcept override;
  void set_coalescing(std::chrono::milliseconds interval) noexcept override;
  void pause_reading() noexcept override;
  void resume_reading() noexcept override;
  void close(Status reason) noexcept override;
  void close_after_flush() noexcept override;
  bool is_open() const noexcept override { return open_; }
  std::uint64_t bytes_received() const noexcept override { return bytes_received_; }
  Clock::time_point connected_at() const noexcept override { return connected_at_; }
  void set_label(std::string label) noexcept override { label_ = std::move(label); }
  void set_stream(std::string stream) noexcept override { stream_ = std::move(stream); }
  /// For Stats::collect_connections(). Owner thread.
  ConnectionInfo info() const;
  /// The TLS session, or null for plain TCP. Owner thread.
  TlsSession* tls() noexcept { return tls_.get(); }

 private:
  void wait_readable() noexcept;
  void on_readable() noexcept;
  /// TLS: ciphertext in, plaintext to the handler. False when the connection closed.
  bool on_tls_bytes(std::span<const std::uint8_t> ciphertext) noexcept;
  /// TLS: encrypts queued plaintext (up to a bound) into cipher_out_.
  void encrypt_queue() noexcept;
  /// Writes `iov` with sendmsg; returns bytes written, or -1 with the connection waiting or closed.
  ssize_t write_vectors(const struct iovec* iov, int count) noexcept;
  void wait_writable() noexcept;
  void mark_dirty(SendUrgency urgency) noexcept;
  /// Recomputes the state from the queued bytes (keeping a hard barrier while overloaded).
  void update_state() noexcept;
  /// The only writer of state_.
  void set_state(SenderState next) noexcept;
  /// The only caller of PollGroupImpl::count_overloaded: the sender is counted while it is open
  /// and not ready, so a close (from whatever path: a TLS or socket error inside flush(), the
  /// handler, shutdown) takes it out once, and nothing after the close puts it back or takes it
  /// out again.
  void recount_overloaded() noexcept;
  void notify_state_later() noexcept;

  ThreadOwner owner_;
  PollGroupImpl& group_;
  boost::asio::ip::tcp::socket socket_;
  const ConnectionId id_;
  const std::string listener_;  // the listener's name, or an outgoing connection's
  bool outgoing_ = false;       // made by PollGroup::connect(), not accepted
  std::string label_;
  std::string stream_;
  std::string peer_;
  std::string local_;
  std::unique_ptr<ConnectionHandler> handler_;
  const Clock::time_point connected_at_;

  SliceQueue queue_;
  std::uint32_t head_offset_ = 0;
  SenderLimits limits_;
  std::chrono::milliseconds coalescing_{0};
  Clock::time_point held_until_{};  // while held_: when the held may_wait data must leave
  SenderState state_ = SenderState::ready;
  SenderState notified_state_ = SenderState::ready;
  bool counted_overloaded_ = false;  // in the group's overloaded gauge (recount_overloaded())
  SenderStats stats_;
  std::uint64_t bytes_received_ = 0;

  bool open_ = true;
  bool reading_paused_ = false;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool dirty_ = false;   // a flush is due at the end of this turn (or the coalescing interval)
  bool held_ = false;    // only may_wait data is queued; it leaves by held_until_ at the latest
  bool close_after_flush_ = false;
  bool state_notice_pending_ = false;
  std::unique_ptr<Timer> retry_read_;  // set while the page pool is exhausted
  std::unique_ptr<TlsSession> tls_;
  std::vector<std::uint8_t> cipher_out_;  // encrypted, not yet written
  std::size_t cipher_sent_ = 0;
};

}  // namespace weir::kernel
