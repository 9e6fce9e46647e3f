// SPDX-License-Identifier: Apache-2.0
#include "net/udp_socket.h"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "net/listener.h"
#include "stats/stats.h"

namespace weir::kernel {
namespace {

// A socket that fans out to many players queues bursts of a whole video frame per player; the
// kernel's default send buffer (~208 KiB) would turn most of them into EAGAIN. Capped by
// net.core.wmem_max/rmem_max unless we may force it.
constexpr int kSocketBufferBytes = 4 << 20;
// recvmmsg() calls per socket per loop turn before yielding to the other sockets.
constexpr int kReceiveCallsPerTurn = 8;
// iovecs per sendmmsg() call, over all its datagrams.
constexpr std::size_t kMaxIov = IOV_MAX;

void set_buffer(int fd, int force_option, int option, int bytes) {
  // The forcing variant needs CAP_NET_ADMIN; without it the plain one gets what wmem_max allows.
  if (::setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) != 0)
    ::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
}

std::string endpoint_text(const boost::asio::ip::udp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
  return address.to_string() + ":" + std::to_string(endpoint.port());
}

// The peer as the socket's family writes it; 0 when the socket cannot reach it (IPv6 on IPv4).
socklen_t to_sockaddr(const UdpPeer& peer, bool socket_is_v6, sockaddr_in6& out) noexcept {
  std::memset(&out, 0, sizeof out);
  if (!socket_is_v6) {
    if (peer.family != 4) return 0;
    auto& v4 = reinterpret_cast<sockaddr_in&>(out);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(peer.port);
    std::memcpy(&v4.sin_addr, peer.address.data(), 4);
    return sizeof(sockaddr_in);
  }
  out.sin6_family = AF_INET6;
  out.sin6_port = htons(peer.port);
  if (peer.family == 4) {  // a dual-stack socket reaches IPv4 peers at ::ffff:a.b.c.d
    out.sin6_addr.s6_addr[10] = 0xFF;
    out.sin6_addr.s6_addr[11] = 0xFF;
    std::memcpy(out.sin6_addr.s6_addr + 12, peer.address.data(), 4);
  } else {
    std::memcpy(out.sin6_addr.s6_addr, peer.address.data(), 16);
    out.sin6_scope_id = peer.scope_id;
  }
  return sizeof(sockaddr_in6);
}

UdpPeer from_sockaddr(const sockaddr_in6& in) noexcept {
  UdpPeer peer;
  if (in.sin6_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(in);
    peer.family = 4;
    peer.port = ntohs(v4.sin_port);
    std::memcpy(peer.address.data(), &v4.sin_addr, 4);
  } else if (in.sin6_family == AF_INET6) {
    peer.family = 6;
    peer.port = ntohs(in.sin6_port);
    std::memcpy(peer.address.data(), in.sin6_addr.s6_addr, 16);
    peer.scope_id = in.sin6_scope_id;
    peer.unmap_v4();
  }
  return peer;
}

}  // namespace

Result<std::shared_ptr<UdpSocketImpl>> UdpSocketImpl::open(PollGroupImpl& group, const UdpSpec& spec,
                                                           UdpReceiver* receiver) noexcept {
  auto parsed = parse_endpoint(spec.address);
  if (!parsed) return parsed.error().with_context("udp socket " + spec.name);
  const boost::asio::ip::udp::endpoint endpoint(parsed->address(), parsed->port());
  boost::asio::ip::udp::socket socket(group.io());
  boost::system::error_code ec;
  socket.open(endpoint.protocol(), ec);
  if (!ec && spec.reuse_address) socket.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) socket.bind(endpoint, ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec) return error(Errc::io, "udp socket {} on {}: {}", spec.name, spec.address, ec.message());
  const int fd = socket.native_handle();
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, kSocketBufferBytes);
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, kSocketBufferBytes);
  // ICMP errors (a player's port closed) reach an unconnected socket only when asked for; they
  // then queue on the error queue, which the reader drains.
  const int one = 1;
  ::setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof one);  // IPv4, and IPv4-mapped on a v6 socket
  const bool is_v6 = endpoint.address().is_v6();
  if (is_v6) ::setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
  if (spec.multicast_ttl > 0) {
    const int ttl = std::min(spec.multicast_ttl, 255);
    int rc = is_v6 ? ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl)
                   : ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    if (rc != 0)
      return error(Errc::io, "udp socket {} on {}: multicast TTL {}: {}", spec.name, spec.address, ttl,
                   std::strerror(errno));
  }
  auto impl = std::make_shared<UdpSocketImpl>(group, std::move(socket), spec);
  group.logger().debug("udp {} bound to {}", spec.name, impl->local_address());
  impl->set_receiver(receiver);
  impl->wait_readable();
  return impl;
}

UdpSocketImpl::UdpSocketImpl(PollGroupImpl& group, boost::asio::ip::udp::socket socket, const UdpSpec& spec)
    : group_(group),
      socket_(std::move(socket)),
      name_(spec.name),
      max_queued_bytes_(spec.max_queued_bytes),
      may_multicast_(spec.multicast_ttl > 0) {
  boost::system::error_code ec;
  auto local = socket_.local_endpoint(ec);
  local_ = ec ? std::string("?") : endpoint_text(local);
  local_port_ = ec ? 0 : local.port();
  is_v6_ = !ec && local.address().is_v6();
}

UdpSocketImpl::~UdpSocketImpl() { close(); }

void UdpSocketImpl::close() noexcept {
  if (!open_) return;
  open_ = false;
  receiver_ = nullptr;
  retry_read_.reset();
  boost::system::error_code ec;
  socket_.close(ec);  // pending waits complete with operation_aborted, holding their own reference
  // Dropped, not counted: the module closed the socket knowing what it held.
  datagrams_.clear();
  slices_.clear();
  head_ = 0;
  stats_.queued_bytes = 0;
  stats_.queued_datagrams = 0;
}

UdpStats UdpSocketImpl::stats() const noexcept {
  owner_.check();
  return stats_;
}

void UdpSocketImpl::set_receiver(UdpReceiver* receiver) noexcept {
  owner_.check();
  if (open_) receiver_ = receiver;
}

SenderState UdpSocketImpl::refuse() noexcept {
  ++stats_.datagrams_dropped;
  group_.stats_impl().count_udp_dropped(1);
  return SenderState::hard_barrier;
}

SenderState UdpSocketImpl::send_to(const UdpPeer& to, std::span<const PageSlice> slices) noexcept {
  owner_.check();
  if (!open_) return refuse();
  std::uint64_t bytes = 0;
  for (const PageSlice& slice : slices) bytes += slice.length;
  if (bytes > kMaxDatagramBytes || slices.size() > kMaxSlices) return refuse();
  if ((to.family != 4 && to.family != 6) || (to.family == 6 && !is_v6_)) return refuse();
  if (to.is_multicast() && !may_multicast_) return refuse();
  if (stats_.queued_bytes + bytes > max_queued_bytes_) return refuse();  // the newest goes: O(1)
  Datagram datagram{to, static_cast<std::uint32_t>(slices_.size()), 0, static_cast<std::uint32_t>(bytes)};
  for (const PageSlice& slice : slices) {
    if (!slice.length) continue;
    slices_.push_back(slice);
    ++datagram.slice_count;
  }
  datagrams_.push_back(datagram);
  stats_.queued_bytes += bytes;
  ++stats_.queued_datagrams;
  if (!dirty_ && !write_waiting_) {  // a flush is already due, or writability will bring one
    dirty_ = true;
    group_.mark_udp_dirty(shared_from_this());
  }
  update_state();
  return stats_.state;
}

void UdpSocketImpl::update_state() noexcept {
  stats_.state = stats_.queued_bytes * 2 >= max_queued_bytes_ && stats_.queued_bytes > 0 ? SenderState::overloaded
                                                                                           : SenderState::ready;
}

void UdpSocketImpl::pop_front() noexcept {
  Datagram& front = datagrams_[head_];
  for (std::uint32_t i = 0; i < front.slice_count; ++i) slices_[front.first_slice + i].page.reset();
  stats_.queued_bytes -= front.bytes;
  --stats_.queued_datagrams;
  if (++head_ == datagrams_.size()) {
    head_ = 0;
    datagrams_.clear();
    slices_.clear();
  }
}

void UdpSocketImpl::compact() noexcept {
  // Once drained, keep no large arrays: a burst to many players should not pin memory for good.
  if (datagrams_.empty()) {
    if (datagrams_.capacity() > 1024) std::vector<Datagram>().swap(datagrams_);
    if (slices_.capacity() > 4096) std::vector<PageSlice>().swap(slices_);
    return;
  }
  if (head_ < 64 || head_ * 2 < datagrams_.size()) return;
  const std::uint32_t first = datagrams_[head_].first_slice;
  slices_.erase(slices_.begin(), slices_.begin() + first);
  datagrams_.erase(datagrams_.begin(), datagrams_.begin() + static_cast<std::ptrdiff_t>(head_));
  head_ = 0;
  for (Datagram& datagram : datagrams_) datagram.first_slice -= first;
}

void UdpSocketImpl::log_refusal(int error) noexcept {
  // One line per kind of refusal per socket, not one per datagram.
  if (error == last_logged_error_) return;
  last_logged_error_ = error;
  group_.logger().info("udp {} on {}: the kernel refused a datagram: {} (further ones are counted)", name_, local_,
                       std::strerror(error));
}

std::size_t UdpSocketImpl::segments_from(std::size_t first, std::size_t iov_room) const noexcept {
  const Datagram& lead = datagrams_[first];
  std::size_t segments = 1, slices = lead.slice_count;
  std::uint64_t total = lead.bytes;
  // Multicast leaves once per packet anyway; a datagram of 0 bytes cannot set a segment size.
  if (!segmentation_ || lead.bytes == 0 || lead.to.is_multicast()) return segments;
  while (first + segments < datagrams_.size() && segments < kMaxSegments) {
    const Datagram& next = datagrams_[first + segments];
    if (!(next.to == lead.to) || next.bytes == 0 || next.bytes > lead.bytes || total + next.bytes > kMaxDatagramBytes ||
        slices + next.slice_count > iov_room)
      break;
    ++segments;
    slices += next.slice_count;
    total += next.bytes;
    if (next.bytes < lead.bytes) break;  // only the last segment may be shorter
  }
  return segments;
}

void UdpSocketImpl::flush() noexcept {
  owner_.check();
  dirty_ = false;
  if (!open_ || write_waiting_) return;
  mmsghdr messages[kSendBatch];
  sockaddr_in6 names[kSendBatch];
  // A run of datagrams to one peer, all of one size but the last, leaves as one message that the
  // kernel cuts into datagrams (UDP_SEGMENT): one pass through the stack for up to 64 of them.
  alignas(cmsghdr) char controls[kSendBatch][CMSG_SPACE(sizeof(std::uint16_t))];
  std::uint32_t segments[kSendBatch];
  iovec iov[kMaxIov];
  bool retried = false;  // the last call failed once for the datagram now at the head
  while (open_ && head_ < datagrams_.size()) {
    unsigned count = 0;
    std::size_t used = 0;
    for (std::size_t i = head_; i < datagrams_.size() && count < kSendBatch;) {
      const Datagram& lead = datagrams_[i];
      if (used + lead.slice_count > kMaxIov) break;
      const std::size_t run = segments_from(i, kMaxIov - used);
      msghdr& header = messages[count].msg_hdr;
      header = msghdr{};
      header.msg_name = &names[count];
      header.msg_namelen = to_sockaddr(lead.to, is_v6_, names[count]);
      header.msg_iov = iov + used;
      messages[count].msg_len = 0;
      const std::size_t first_iov = used;
      for (std::size_t d = i; d < i + run; ++d)
        for (std::uint32_t s = 0; s < datagrams_[d].slice_count; ++s) {
          const PageSlice& slice = slices_[datagrams_[d].first_slice + s];
          iov[used].iov_base = const_cast<std::uint8_t*>(slice.data());
          iov[used].iov_len = slice.length;
          ++used;
        }
      header.msg_iovlen = used - first_iov;
      if (run > 1) {
        header.msg_control = controls[count];
        header.msg_controllen = sizeof controls[count];
        cmsghdr* control = CMSG_FIRSTHDR(&header);
        control->cmsg_level = SOL_UDP;
        control->cmsg_type = UDP_SEGMENT;
        control->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto size = static_cast<std::uint16_t>(lead.bytes);
        std::memcpy(CMSG_DATA(control), &size, sizeof size);
      }
      segments[count] = static_cast<std::uint32_t>(run);
      ++count;
      i += run;
    }
    const int fd = socket_.native_handle();
    int sent = send_for_test_ ? send_for_test_(fd, messages, count, MSG_DONTWAIT | MSG_NOSIGNAL)
                              : ::sendmmsg(fd, messages, count, MSG_DONTWAIT | MSG_NOSIGNAL);
    ++stats_.sendmmsg_calls;
    if (sent > 0) {
      std::uint64_t bytes = 0, datagrams = 0;
      for (int m = 0; m < sent; ++m) {
        bytes += messages[m].msg_len;
        datagrams += segments[m];
        for (std::uint32_t d = 0; d < segments[m]; ++d) pop_front();
      }
      stats_.datagrams_sent += datagrams;
      stats_.bytes_sent += bytes;
      group_.stats_impl().add_udp_sent(datagrams, bytes);
      retried = false;
      continue;  // a short count: the next call sends the rest or reports why not
    }
    group_.stats_impl().add_udp_sent(0, 0);
    const int failure = errno;
    if (failure == EINTR) continue;
    if (failure == EAGAIN || failure == EWOULDBLOCK) {
      wait_writable();
      break;
    }
    // An ICMP error about an earlier datagram is reported by the next send, which it fails
    // without sending (the error is consumed by that report): try the head once more. A second
    // failure is the head's own (EMSGSIZE, ENOBUFS, EACCES for broadcast...): it is dropped.
    if (!retried) {
      retried = true;
      continue;
    }
    retried = false;
    if (segments[0] > 1 && (failure == EIO || failure == EINVAL || failure == EOPNOTSUPP || failure == ENOPROTOOPT ||
                            failure == EMSGSIZE)) {
      // The route's device cannot take segmented sends (no checksum offload, a segment over
      // its MTU, an old kernel): the same datagrams go one by one from now on, none lost.
      segmentation_ = false;
      group_.logger().info("udp {} on {}: the kernel refused a segmented send: {}; sending datagrams one by one",
                           name_, local_, std::strerror(failure));
      continue;
    }
    log_refusal(failure);
    pop_front();
    ++stats_.datagrams_dropped;
    group_.stats_impl().count_udp_dropped(1);
  }
  compact();
  update_state();
}

void UdpSocketImpl::wait_writable() noexcept {
  if (write_waiting_ || !open_) return;
  write_waiting_ = true;
  socket_.async_wait(boost::asio::socket_base::wait_write,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->write_waiting_ = false;
                       if (!self->open_ || ec) return;  // closed; a UDP socket has no other failure
                       self->flush();
                     });
}

void UdpSocketImpl::wait_readable() noexcept {
  if (read_waiting_ || !open_ || retry_read_) return;
  read_waiting_ = true;
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->read_waiting_ = false;
                       if (!self->open_) return;
                       if (ec) {
                         self->group_.logger().warn("udp {} on {}: wait for datagrams: {}", self->name_, self->local_,
                                                    ec.message());
                         return;
                       }
                       self->on_readable();
                     });
}

void UdpSocketImpl::drain_errors() noexcept {
  // Each entry: the original datagram's payload (not wanted: no buffer), its destination in
  // msg_name, and a sock_extended_err in a control message.
  for (int round = 0; round < 1024 && open_; ++round) {
    sockaddr_in6 name{};
    alignas(cmsghdr) char control[256];
    msghdr header{};
    header.msg_name = &name;
    header.msg_namelen = sizeof name;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(socket_.native_handle(), &header, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: empty
    }
    bool is_network_error = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(&header, c)) {
      if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
        continue;
      sock_extended_err extended;
      std::memcpy(&extended, CMSG_DATA(c), sizeof extended);
      is_network_error = extended.ee_origin == SO_EE_ORIGIN_ICMP || extended.ee_origin == SO_EE_ORIGIN_ICMP6;
    }
    // A local error (EMSGSIZE...) also failed its send, which counted it.
    if (!is_network_error) continue;
    ++stats_.datagrams_dropped;
    ++stats_.datagrams_unreachable;
    group_.stats_impl().count_udp_dropped(1);
    if (receiver_) receiver_->on_unreachable(from_sockaddr(name));
  }
}

void UdpSocketImpl::on_readable() noexcept {
  owner_.check();
  auto self = shared_from_this();  // a receiver may destroy the handle from its callback
  drain_errors();
  const int fd = socket_.native_handle();
  for (int call = 0; open_; ++call) {
    if (call == kReceiveCallsPerTurn) {
      // Fair share used: continue in a later turn, after the other sockets.
      group_.defer([self] {
        if (self->open_) self->on_readable();
      });
      return;
    }
    std::uint32_t room = 0;
    std::byte* at = group_.receive_space(receive_slot_, room);
    if (!at) {
      // The pool is exhausted: backpressure (the kernel's receive buffer holds or drops the rest).
      group_.stats_impl().count_receive_stall();
      retry_read_ = group_.after(std::chrono::milliseconds(10), [this] {
        retry_read_.reset();
        on_readable();
      });
      return;
    }
    const unsigned batch = std::min<unsigned>(kReceiveBatch, room / receive_slot_);
    mmsghdr messages[kReceiveBatch];
    sockaddr_in6 names[kReceiveBatch];
    iovec iov[kReceiveBatch];
    for (unsigned i = 0; i < batch; ++i) {
      iov[i].iov_base = at + static_cast<std::size_t>(i) * receive_slot_;
      iov[i].iov_len = receive_slot_;
      msghdr& header = messages[i].msg_hdr;
      header = msghdr{};
      header.msg_name = &names[i];
      header.msg_namelen = sizeof names[i];
      header.msg_iov = &iov[i];
      header.msg_iovlen = 1;
      messages[i].msg_len = 0;
    }
    // MSG_TRUNC: msg_len is the datagram's real length, so a slot too small shows how large.
    int got = ::recvmmsg(fd, messages, batch, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    ++stats_.recvmmsg_calls;
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // A pending ICMP error reported here instead of by a send: drain and read on.
      drain_errors();
      if (call + 1 < kReceiveCallsPerTurn) continue;
      break;
    }
    // Seal every slot first (the slices must not move under a callback), then deliver.
    PageSlice slices[kReceiveBatch];
    std::uint32_t largest = 0;
    std::uint64_t bytes = 0;
    unsigned delivered = 0;
    for (int i = 0; i < got; ++i) {
      const std::uint32_t length = messages[i].msg_len;
      const bool truncated = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || length > receive_slot_;
      const bool last = i + 1 == got;
      PageSlice slot = group_.commit_receive(last ? std::min(length, receive_slot_) : receive_slot_);
      if (truncated) {
        ++stats_.datagrams_truncated;
        largest = std::max(largest, length);
        slices[i] = PageSlice{};
        continue;
      }
      slot.length = length;
      slices[i] = std::move(slot);
      bytes += length;
      ++delivered;
    }
    stats_.datagrams_received += delivered;
    stats_.bytes_received += bytes;
    group_.stats_impl().add_udp_received(delivered, bytes, static_cast<std::uint64_t>(got) - delivered);
    if (largest > 0) {  // fit the next one of that size (a page holds the largest datagram)
      std::uint32_t slot = receive_slot_;
      while (slot < largest) slot *= 2;
      receive_slot_ = std::min(slot, group_.pool().page_size());
      group_.logger().info("udp {} on {}: a datagram of {} bytes did not fit; receive slots now {} bytes", name_,
                           local_, largest, receive_slot_);
    }
    for (int i = 0; i < got && open_; ++i)
      if (slices[i].page && receiver_) receiver_->on_datagram(slices[i], from_sockaddr(names[i]));
    if (static_cast<unsigned>(got) < batch) break;  // drained the socket
  }
  wait_readable();
}

}  // namespace weir::kernel
