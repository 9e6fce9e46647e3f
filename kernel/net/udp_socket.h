// SPDX-License-Identifier: Apache-2.0
#pragma once
// UdpSocketImpl: a UDP socket served by one poll group.
//
// Sending: send_to() appends a datagram (its peer and its slices) to the queue and, the first
// time in a turn, puts the socket on the group's dirty list; at the end of the turn, right after
// the TCP senders' writes, flush() hands the queue to sendmmsg() 64 messages at a time. A run of
// datagrams to one unicast peer, all of one size but a shorter last one (an RTP frame's packets to
// one player), is one message of up to 64 segments that the kernel cuts into datagrams
// (UDP_SEGMENT, generic segmentation offload); where the kernel refuses that, the socket sends one
// datagram per message from then on. EAGAIN (the kernel's send buffer is full) keeps the rest
// queued until the socket is writable again.
//
//   datagrams_: [to, first, count, bytes][...][...]      head_: the first not yet sent
//                      |                                        (sent ones are popped, their
//   slices_:    [slice][slice][slice][slice]...                  pages released at once)
//
// Receiving: wait for readability, then recvmmsg() into the group's receive page, one slot per
// datagram (2 KiB at first, larger after a datagram did not fit), until EAGAIN or a per-turn
// budget. The socket asks for ICMP errors (IP_RECVERR): they wake the reader too, and each one
// drained from the error queue is a dropped datagram, passed to the receiver as unreachable.
//
// The module owns a UdpSocketHandle (what open_udp returns); the handle owns a reference to the
// impl, as do the group's dirty list and pending waits, so that destroying the handle from
// anywhere (a receiver callback, an end-of-turn hook) only closes the socket: the impl goes once
// the last of those lets go.

#include <sys/socket.h>

#include <boost/asio/ip/udp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "poll_group/poll_group.h"
#include "weir/owner.h"
#include "weir/udp.h"

namespace weir::kernel {

class UdpSocketImpl final : public std::enable_shared_from_this<UdpSocketImpl> {
 public:
  /// Messages per sendmmsg() call, datagrams per recvmmsg() call.
  static constexpr unsigned kSendBatch = 64;
  /// Datagrams in one segmented message (the kernel's UDP_MAX_SEGMENTS).
  static constexpr std::size_t kMaxSegments = 64;
  static constexpr unsigned kReceiveBatch = 32;
  /// A datagram of more slices is refused (64 datagrams of 16 slices fill IOV_MAX iovecs).
  static constexpr std::size_t kMaxSlices = 64;
  /// The largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP).
  static constexpr std::uint32_t kMaxDatagramBytes = 65507;

  /// Binds `spec` on `group`; errors name spec.name and spec.address. Owner thread.
  static Result<std::shared_ptr<UdpSocketImpl>> open(PollGroupImpl& group, const UdpSpec& spec,
                                                     UdpReceiver* receiver) noexcept;
  UdpSocketImpl(PollGroupImpl& group, boost::asio::ip::udp::socket socket, const UdpSpec& spec);
  ~UdpSocketImpl();

  SenderState send_to(const UdpPeer& to, std::span<const PageSlice> slices) noexcept;
  std::uint16_t local_port() const noexcept { return local_port_; }
  const std::string& local_address() const noexcept { return local_; }
  UdpStats stats() const noexcept;
  void set_receiver(UdpReceiver* receiver) noexcept;
  /// Sends what is queued. Called at the end of a turn or when the socket becomes writable.
  void flush() noexcept;
  /// Closes the socket and drops the queue; idempotent (the handle's destructor, shutdown).
  void close() noexcept;
  bool is_open() const noexcept { return open_; }
  /// Tests only: replaces ::sendmmsg, so that EAGAIN and refusals, which loopback never
  /// produces, can be played. Owner thread.
  using SendFunction = std::function<int(int fd, mmsghdr* messages, unsigned count, int flags)>;
  void replace_sendmmsg_for_test(SendFunction send) noexcept { send_for_test_ = std::move(send); }
  /// Tests only: one datagram per message, as where the kernel refuses segmentation.
  void disable_segmentation_for_test() noexcept { segmentation_ = false; }
  bool segmentation_on() const noexcept { return segmentation_; }

 private:
  struct Datagram {
    UdpPeer to;
    std::uint32_t first_slice = 0;  // index into slices_
    std::uint32_t slice_count = 0;
    std::uint32_t bytes = 0;
  };
  void wait_readable() noexcept;
  void wait_writable() noexcept;
  void on_readable() noexcept;
  /// Reads the error queue (ICMP errors about datagrams we sent) until it is empty.
  void drain_errors() noexcept;
  /// Drops the first queued datagram (sent, or refused by the kernel).
  void pop_front() noexcept;
  /// How many queued datagrams from `first` leave as one message: a run to one unicast peer, each
  /// the size of the first but the last, within kMaxSegments, kMaxDatagramBytes and `iov_room`.
  std::size_t segments_from(std::size_t first, std::size_t iov_room) const noexcept;
  void compact() noexcept;
  void update_state() noexcept;
  SenderState refuse() noexcept;
  void log_refusal(int error) noexcept;

  ThreadOwner owner_;
  PollGroupImpl& group_;
  boost::asio::ip::udp::socket socket_;
  const std::string name_;
  std::string local_;
  std::uint16_t local_port_ = 0;
  bool is_v6_ = false;
  const std::uint64_t max_queued_bytes_;
  const bool may_multicast_;
  UdpReceiver* receiver_ = nullptr;

  std::vector<Datagram> datagrams_;
  std::size_t head_ = 0;
  std::vector<PageSlice> slices_;
  UdpStats stats_;
  std::uint32_t receive_slot_ = 2048;
  int last_logged_error_ = 0;
  bool segmentation_ = true;  // UDP_SEGMENT until the kernel refuses it once

  bool open_ = true;
  bool dirty_ = false;  // on the group's dirty list for the end of this turn
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  std::unique_ptr<Timer> retry_read_;  // set while the page pool is exhausted
  SendFunction send_for_test_;
};

/// What a module holds: closing on destruction, everything else forwarded.
class UdpSocketHandle final : public UdpSocket {
 public:
  explicit UdpSocketHandle(std::shared_ptr<UdpSocketImpl> impl) noexcept : impl_(std::move(impl)) {}
  ~UdpSocketHandle() override { impl_->close(); }
  UdpSocketHandle(const UdpSocketHandle&) = delete;
  UdpSocketHandle& operator=(const UdpSocketHandle&) = delete;

  SenderState send_to(const UdpPeer& to, std::span<const PageSlice> slices) noexcept override {
    return impl_->send_to(to, slices);
  }
  using UdpSocket::send_to;
  std::uint16_t local_port() const noexcept override { return impl_->local_port(); }
  std::string local_address() const override { return impl_->local_address(); }
  UdpStats stats() const noexcept override { return impl_->stats(); }
  void set_receiver(UdpReceiver* receiver) noexcept override { impl_->set_receiver(receiver); }
  /// For the kernel's tests.
  UdpSocketImpl& impl() noexcept { return *impl_; }

 private:
  std::shared_ptr<UdpSocketImpl> impl_;
};

}  // namespace weir::kernel
