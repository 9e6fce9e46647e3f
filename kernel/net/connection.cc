// SPDX-License-Identifier: Apache-2.0
#include "net/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "stats/stats.h"

namespace weir::kernel {
namespace {

std::atomic<ConnectionId> g_next_connection_id{1};

// Bytes read from one socket per loop turn before yielding to the others.
constexpr std::size_t kReadBudgetPerTurn = 1 << 20;
// Below this much room left in the receive page, start a fresh page.
constexpr std::uint32_t kMinReceiveRoom = 4096;
// iovecs per sendmsg(): the kernel's limit.
constexpr int kMaxIov = IOV_MAX;

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
  return address.to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

ConnectionImpl::ConnectionImpl(PollGroupImpl& group, boost::asio::ip::tcp::socket socket, std::string listener,
                               const TlsContext* tls)
    : group_(group),
      socket_(std::move(socket)),
      id_(g_next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      listener_(std::move(listener)),
      connected_at_(Clock::now()),
      limits_(group.settings().sender_limits),
      coalescing_(group.settings().coalescing) {
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? std::string("?") : endpoint_text(remote);
  auto local = socket_.local_endpoint(ec);
  local_ = ec ? std::string("?") : endpoint_text(local);
  socket_.non_blocking(true, ec);
  // Our own batching decides when bytes leave; Nagle would only add delay (nginx-rtmp's ~90 ms
  // to NetStream.Play.Start comes from Nagle with delayed ACKs).
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  if (tls) tls_ = std::make_unique<TlsSession>(*tls);
}

ConnectionImpl::~ConnectionImpl() = default;

std::shared_ptr<ConnectionImpl> ConnectionImpl::outgoing(PollGroupImpl& group, boost::asio::ip::tcp::socket socket,
                                                         std::string name, std::unique_ptr<TlsSession> tls) {
  auto connection = std::make_shared<ConnectionImpl>(group, std::move(socket), std::move(name));
  connection->outgoing_ = true;
  connection->tls_ = std::move(tls);
  return connection;
}

void ConnectionImpl::start(std::unique_ptr<ConnectionHandler> handler) {
  owner_.check();
  handler_ = std::move(handler);
  group_.stats_impl().connection_opened(listener_);
  if (tls_ && tls_->is_handshake_done()) {
    // A client session arrives with its handshake done: what the server sent behind its last
    // handshake record (data, TLS 1.3 tickets) already sits in the session, and no socket event
    // will announce it.
    group_.defer([self = shared_from_this()] {
      if (self->open_) self->on_tls_bytes({});
    });
  }
  wait_readable();
}

void ConnectionImpl::wait_readable() noexcept {
  if (read_waiting_ || reading_paused_ || !open_ || retry_read_) return;
  read_waiting_ = true;
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->read_waiting_ = false;
                       if (!self->open_ || self->reading_paused_) return;
                       if (ec) {
                         self->close(error(Errc::io, "wait for data: {}", ec.message()));
                         return;
                       }
                       self->on_readable();
                     });
}

void ConnectionImpl::on_readable() noexcept {
  owner_.check();
  std::size_t budget = kReadBudgetPerTurn;
  const int fd = socket_.native_handle();
  std::uint8_t ciphertext[16384];  // TLS reads ciphertext here; plaintext always goes to pages
  while (open_ && !reading_paused_) {
    std::uint32_t room = sizeof ciphertext;
    void* into = ciphertext;
    if (!tls_) {
      into = group_.receive_space(kMinReceiveRoom, room);
      if (!into) {
        // The pool is exhausted: backpressure. Read again once pages have had time to come home.
        group_.stats_impl().count_receive_stall();
        retry_read_ = group_.after(std::chrono::milliseconds(10), [this] {
          retry_read_.reset();
          wait_readable();
        });
        return;
      }
    }
    ssize_t n = ::recv(fd, into, room, MSG_DONTWAIT);
    if (n > 0) {
      bytes_received_ += static_cast<std::uint64_t>(n);
      group_.stats_impl().add_bytes_in(static_cast<std::uint64_t>(n));
      if (tls_) {
        if (!on_tls_bytes({ciphertext, static_cast<std::size_t>(n)})) return;
      } else if (Status status = handler_->on_data(group_.commit_receive(static_cast<std::uint32_t>(n))); !status) {
        close(std::move(status));
        return;
      }
      if (static_cast<std::uint32_t>(n) < room) break;  // drained the socket
      if (budget <= static_cast<std::size_t>(n)) {
        // Fair share used: continue in a later turn, after the other sockets.
        group_.defer([self = shared_from_this()] {
          if (self->open_) self->on_readable();
        });
        return;
      }
      budget -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      close(Status(Errc::closed, "peer closed the connection"));
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    close(error(Errc::io, "recv: {}", std::strerror(errno)));
    return;
  }
  wait_readable();
}

bool ConnectionImpl::on_tls_bytes(std::span<const std::uint8_t> ciphertext) noexcept {
  tls_->receive(ciphertext);
  bool was_done = tls_->is_handshake_done();
  for (;;) {
    std::uint32_t room = 0;
    std::byte* into = group_.receive_space(kMinReceiveRoom, room);
    if (!into) {
      close(Status(Errc::limit, "page pool exhausted during TLS read"));
      return false;
    }
    auto n = tls_->read({into, room});
    if (!n) {
      close(n.error().with_context("tls"));
      return false;
    }
    if (*n == 0) break;
    Status status = handler_->on_data(group_.commit_receive(static_cast<std::uint32_t>(*n)));
    if (!status) {
      close(std::move(status));
      return false;
    }
    if (!open_) return false;
  }
  // Handshake records (or data queued before the handshake finished) must leave now.
  tls_->take_output(cipher_out_);
  if (!was_done && tls_->is_handshake_done()) group_.logger().debug("conn={} TLS handshake done", id_);
  if (cipher_sent_ < cipher_out_.size() || !queue_.empty()) mark_dirty(SendUrgency::now);
  return true;
}

void ConnectionImpl::encrypt_queue() noexcept {
  // Encrypt ahead at most this much, so a slow TLS client pins plaintext pages, not ciphertext.
  constexpr std::size_t kCipherAhead = 256 * 1024;
  if (!tls_->is_handshake_done()) return;
  while (!queue_.empty() && cipher_out_.size() - cipher_sent_ < kCipherAhead) {
    PageSlice& front = queue_.front();
    std::span<const std::uint8_t> plain(front.data() + head_offset_, front.length - head_offset_);
    if (Status status = tls_->write(plain); !status) {
      close(std::move(status));
      return;
    }
    stats_.queued_bytes -= plain.size();
    head_offset_ = 0;
    queue_.pop_front();
  }
  tls_->take_output(cipher_out_);
}

ssize_t ConnectionImpl::write_vectors(const struct iovec* iov, int count) noexcept {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(iov);
  message.msg_iovlen = static_cast<std::size_t>(count);
  for (;;) {
    ssize_t n = ::sendmsg(socket_.native_handle(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    ++stats_.write_calls;
    if (n >= 0) {
      stats_.bytes_sent_total += static_cast<std::size_t>(n);
      group_.stats_impl().add_bytes_out(static_cast<std::size_t>(n), 1);
      return n;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) wait_writable();
    else close(error(Errc::io, "send: {}", std::strerror(errno)));
    return -1;
  }
}

SenderState ConnectionImpl::send(std::span<const PageSlice> slices, SendUrgency urgency) noexcept {
  owner_.check();
  if (!open_) return SenderState::hard_barrier;
  std::uint64_t total = 0;
  for (const PageSlice& slice : slices) total += slice.length;
  if (stats_.queued_bytes + total > limits_.hard_bytes) {
    ++stats_.refused_sends;
    group_.stats_impl().count_refused_send();
    set_state(SenderState::hard_barrier);
    return SenderState::hard_barrier;
  }
  for (const PageSlice& slice : slices)
    if (slice.length) queue_.push_back(slice);
  stats_.queued_bytes += total;
  stats_.bytes_queued_total += total;
  mark_dirty(urgency);
  // hard_barrier says "this unit was refused": a unit accepted after a refused one ends the barrier,
  // or the caller would take it for refused and send it again.
  if (state_ == SenderState::hard_barrier) set_state(SenderState::overloaded);
  update_state();
  return state_;
}

SenderState ConnectionImpl::send_copy(std::span<const std::uint8_t> bytes) noexcept {
  PageChain chain;
  if (!group_.framing().append(bytes, chain)) {
    // No page for 100-odd bytes of framing: the pool is exhausted; treat as the hard barrier.
    ++stats_.refused_sends;
    return SenderState::hard_barrier;
  }
  return send(chain.slices());
}

void ConnectionImpl::mark_dirty(SendUrgency urgency) noexcept {
  if (dirty_ || write_waiting_) return;  // a flush is already due (or writability will trigger one)
  if (coalescing_.count() > 0) {
    dirty_ = true;
    group_.schedule_flush(shared_from_this(), Clock::now() + coalescing_);
    return;
  }
  const auto hold = group_.settings().hold;
  if (urgency == SendUrgency::may_wait && hold.count() > 0) {
    if (held_) return;  // already waiting for the earlier unit's deadline
    held_ = true;
    held_until_ = Clock::now() + hold;
    group_.hold_sender(shared_from_this(), held_until_);
    return;
  }
  dirty_ = true;
  group_.mark_sender_dirty(shared_from_this());
}

void ConnectionImpl::flush() noexcept {
  owner_.check();
  dirty_ = false;
  held_ = false;  // what was held leaves in this write (or, blocked, when the socket drains)
  if (!open_ || write_waiting_) return;
  iovec iov[kMaxIov];
  if (tls_) {
    for (;;) {
      encrypt_queue();
      if (!open_ || cipher_sent_ == cipher_out_.size()) break;
      iov[0].iov_base = cipher_out_.data() + cipher_sent_;
      iov[0].iov_len = cipher_out_.size() - cipher_sent_;
      ssize_t n = write_vectors(iov, 1);
      if (n < 0) return;
      cipher_sent_ += static_cast<std::size_t>(n);
      if (cipher_sent_ == cipher_out_.size()) {
        cipher_out_.clear();
        cipher_sent_ = 0;
        if (cipher_out_.capacity() > (1u << 20)) cipher_out_.shrink_to_fit();
      } else {
        wait_writable();
        break;
      }
    }
    if (!open_) return;  // a TLS write error closed it: nothing is left to write or to count
  }
  while (!tls_ && !queue_.empty()) {
    int count = 0;
    std::size_t requested = 0;
    for (std::size_t i = 0; i < queue_.size() && count < kMaxIov; ++i, ++count) {
      const PageSlice& slice = queue_.at(i);
      std::uint32_t skip = i == 0 ? head_offset_ : 0;
      iov[count].iov_base = const_cast<std::uint8_t*>(slice.data() + skip);
      iov[count].iov_len = slice.length - skip;
      requested += slice.length - skip;
    }
    ssize_t n = write_vectors(iov, count);
    if (n < 0) return;
    std::size_t sent = static_cast<std::size_t>(n);
    stats_.queued_bytes -= sent;
    while (sent > 0) {
      PageSlice& front = queue_.front();
      std::size_t left = front.length - head_offset_;
      if (sent >= left) {
        sent -= left;
        head_offset_ = 0;
        queue_.pop_front();
      } else {
        head_offset_ += static_cast<std::uint32_t>(sent);
        sent = 0;
      }
    }
    if (static_cast<std::size_t>(n) < requested) {  // the socket buffer is full
      wait_writable();
      break;
    }
  }
  queue_.compact();
  update_state();
  if (queue_.empty() && cipher_sent_ == cipher_out_.size() && close_after_flush_) close(ok());
}

void ConnectionImpl::wait_writable() noexcept {
  if (write_waiting_ || !open_) return;
  write_waiting_ = true;
  socket_.async_wait(boost::asio::socket_base::wait_write,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->write_waiting_ = false;
                       if (!self->open_) return;
                       if (ec) {
                         self->close(error(Errc::io, "wait to send: {}", ec.message()));
                         return;
                       }
                       self->flush();
                     });
}

void ConnectionImpl::update_state() noexcept {
  SenderState next;
  if (stats_.queued_bytes >= limits_.soft_bytes)
    next = state_ == SenderState::hard_barrier ? SenderState::hard_barrier : SenderState::overloaded;
  else
    next = SenderState::ready;
  set_state(next);
}

void ConnectionImpl::set_state(SenderState next) noexcept {
  if (next == state_) return;
  state_ = next;
  recount_overloaded();
  notify_state_later();
}

void ConnectionImpl::recount_overloaded() noexcept {
  const bool counted = open_ && state_ != SenderState::ready;
  if (counted == counted_overloaded_) return;
  counted_overloaded_ = counted;
  group_.count_overloaded(counted ? +1 : -1);
}

void ConnectionImpl::notify_state_later() noexcept {
  // The event is a hint delivered later, never from inside send(): the handler reads the state it
  // finds then.
  if (state_notice_pending_) return;
  state_notice_pending_ = true;
  group_.defer([self = shared_from_this()] {
    self->state_notice_pending_ = false;
    if (!self->open_ || self->state_ == self->notified_state_) return;
    self->notified_state_ = self->state_;
    self->handler_->on_sender_state(self->state_);
  });
}

ConnectionInfo ConnectionImpl::info() const {
  ConnectionInfo i;
  i.id = id_;
  i.group = group_.id();
  i.listener = listener_;
  i.peer_address = peer_;
  i.label = label_;
  i.stream = stream_;
  i.frames_dropped = frames_dropped_;
  i.seconds = std::chrono::duration<double>(group_.now() - connected_at_).count();
  i.bytes_received = bytes_received_;
  i.sender = sender_stats();
  return i;
}

SenderStats ConnectionImpl::sender_stats() const noexcept {
  SenderStats s = stats_;
  s.state = state_;
  return s;
}

void ConnectionImpl::set_sender_limits(SenderLimits limits) noexcept {
  limits_ = limits;
  update_state();
}

void ConnectionImpl::set_coalescing(std::chrono::milliseconds interval) noexcept { coalescing_ = interval; }

void ConnectionImpl::pause_reading() noexcept {
  // A wait already armed stays armed: when it fires while paused, nothing is read and it is not
  // re-armed until resume_reading().
  reading_paused_ = true;
}

void ConnectionImpl::resume_reading() noexcept {
  if (!reading_paused_) return;
  reading_paused_ = false;
  // Data may already be waiting in the socket; read it in a later step, not inside the caller.
  group_.defer([self = shared_from_this()] {
    if (self->open_ && !self->reading_paused_ && !self->read_waiting_) self->on_readable();
  });
}

void ConnectionImpl::close_after_flush() noexcept {
  close_after_flush_ = true;
  if (queue_.empty() && !dirty_) {
    close(ok());
  } else if (held_ && !dirty_ && !write_waiting_) {  // the last bytes need not wait for company
    dirty_ = true;
    group_.mark_sender_dirty(shared_from_this());
  }
}

void ConnectionImpl::close_gracefully(const Status& reason) noexcept {
  if (!open_) return;
  write_waiting_ = false;
  flush();
  close(reason);
}

void ConnectionImpl::close(Status reason) noexcept {
  if (!open_) return;
  open_ = false;
  retry_read_.reset();
  boost::system::error_code ec;
  socket_.close(ec);
  queue_.clear();
  recount_overloaded();  // closed: no longer counted, whatever state_ says
  stats_.queued_bytes = 0;
  if (reason.is_ok() || reason.code() == Errc::closed)
    group_.logger().debug("conn={} peer={} {}={} closed: {}", id_, peer_, outgoing_ ? "outgoing" : "listener",
                          listener_, reason.is_ok() ? std::string("done") : reason.message());
  else
    group_.logger().info("conn={} peer={} {}={} closed: {}", id_, peer_, outgoing_ ? "outgoing" : "listener",
                         listener_, reason.message());
  // Only a started connection was counted opened; one its acceptor refused is counted refused.
  if (handler_) group_.stats_impl().connection_closed(listener_);
  if (handler_) handler_->on_close(reason);
  group_.retire_connection(id_);
}

}  // namespace weir::kernel
