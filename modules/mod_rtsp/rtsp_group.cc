// SPDX-License-Identifier: Apache-2.0
#include "rtsp_group.h"

#include "multicast.h"
#include "puller.h"
#include "stream_out.h"

namespace weir::rtsp {

namespace {
constexpr std::uint64_t kUdpQueueBytes = std::uint64_t{256} << 20;
}  // namespace

// The RTCP socket's receiver: the same routes, marked as RTCP.
class RtspGroup::Receiver final : public UdpReceiver {
 public:
  explicit Receiver(RtspGroup& group) : group_(group) {}
  void on_datagram(const PageSlice& data, const UdpPeer& from) noexcept override { group_.on_rtcp_datagram(data, from); }

 private:
  RtspGroup& group_;
};

RtspGroup::RtspGroup(PollGroup& group, const RtspConfig* config, const RtspCounters* counters, AppsService* apps,
                     Logger logger, Lookup lookup, MulticastDirectory* multicast)
    : poll_group_(group),
      stats_(group.stats()),
      config_(config),
      counters_(counters),
      apps_(apps),
      logger_(std::move(logger)),
      packets_(group.pages()),
      ingest_(group.pages()),
      rtcp_receiver_(std::make_unique<Receiver>(*this)),
      lookup_(lookup),
      directory_(multicast) {
  if (config_->rtp_port == 0) return;
  const auto port = static_cast<unsigned>(config_->rtp_port + 2 * group.id());
  // One socket sends to every UDP player of the group: a key frame to a few hundred players is
  // tens of MB queued at once (of shared pages: the memory is far less), more than the default bound.
  auto rtp = group.open_udp(UdpSpec{"rtsp rtp", format("0.0.0.0:{}", port), kUdpQueueBytes}, this);
  auto rtcp = rtp ? group.open_udp(UdpSpec{"rtsp rtcp", format("0.0.0.0:{}", port + 1)}, rtcp_receiver_.get())
                  : Result<std::unique_ptr<UdpSocket>>(rtp.error());
  if (!rtp || !rtcp) {
    // TCP interleaved still works; UDP SETUPs get 461 on this group.
    logger_.error("group {}: RTSP over UDP is off: {}", group.id(), (rtp ? rtcp.error() : rtp.error()).message());
    return;
  }
  rtp_ = std::move(*rtp);
  rtcp_ = std::move(*rtcp);
}

RtspGroup::~RtspGroup() {
  pullers_.clear();
  multicast_.clear();  // their goodbyes still use the socket and the page writers
}

std::shared_ptr<StreamOut> RtspGroup::stream_out(const StreamKey& key) {
  const std::string name = key.to_string();
  auto& slot = streams_[name];
  if (auto existing = slot.lock()) return existing;
  // Forget the streams nobody watches any more (a map of a few entries per group).
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->first != name && it->second.expired()) it = streams_.erase(it);
    else ++it;
  }
  auto made = std::make_shared<StreamOut>(*this, key);
  streams_[name] = made;
  return made;
}

bool RtspGroup::route(const UdpPeer& from, DatagramTarget* target) {
  auto [it, inserted] = routes_.emplace(from, target);
  return inserted || it->second == target;
}

void RtspGroup::unroute(const UdpPeer& from, const DatagramTarget* target) noexcept {
  auto it = routes_.find(from);
  if (it != routes_.end() && it->second == target) routes_.erase(it);
}

void RtspGroup::on_datagram(const PageSlice& data, const UdpPeer& from) noexcept {
  auto it = routes_.find(from);
  if (it != routes_.end()) it->second->on_datagram(data, from, false);
}

void RtspGroup::on_rtcp_datagram(const PageSlice& data, const UdpPeer& from) noexcept {
  auto it = routes_.find(from);
  if (it != routes_.end()) it->second->on_datagram(data, from, true);
}

GroupId RtspGroup::home_of(const StreamKey& key) const noexcept {
  return static_cast<GroupId>(std::hash<std::string>{}(key.to_string()) % poll_group_.group_count());
}

void RtspGroup::want_pull(RtspConfig::Pull pull) {
  // Each pulled stream has one home group, so two players on different groups start one pull,
  // not two racing for the name.
  const GroupId home = home_of(StreamKey{pull.app, pull.name});
  if (home == poll_group_.id()) {
    poll_group_.defer([this, pull = std::move(pull)] { pull_here(pull); });
    return;
  }
  struct Want final : Task {
    Want(Lookup l, GroupId g, RtspConfig::Pull p) : lookup(l), group(g), pull(std::move(p)) {}
    void run() noexcept override {
      if (RtspGroup* target = lookup ? lookup(group) : nullptr) target->pull_here(pull);
    }
    Lookup lookup;
    GroupId group;
    RtspConfig::Pull pull;
  };
  poll_group_.post(home, std::make_unique<Want>(lookup_, home, std::move(pull)));
}

void RtspGroup::pull_here(const RtspConfig::Pull& pull) {
  auto& puller = pullers_[pull.app + "/" + pull.name];
  // A stopped pull that an application now wants from another camera starts over from there; a
  // running one keeps its camera (the first verdict wins while anyone watches).
  if (puller && !puller->is_running() && !(puller->config().url == pull.url)) puller.reset();
  if (!puller) puller = std::make_unique<RtspPuller>(*this, pull);
  puller->demand();
}

}  // namespace weir::rtsp

namespace weir::rtsp {

UdpSocket* RtspGroup::multicast_socket() {
  if (multicast_socket_ || multicast_failed_) return multicast_socket_.get();
  auto socket = poll_group_.open_udp(
      UdpSpec{"rtsp multicast", "0.0.0.0:0", kUdpQueueBytes, config_->multicast_ttl}, nullptr);
  if (!socket) {
    multicast_failed_ = true;
    logger_.error("group {}: RTSP multicast is off: {}", poll_group_.id(), socket.error().message());
    return nullptr;
  }
  multicast_socket_ = std::move(*socket);
  return multicast_socket_.get();
}

template <class Fn>
void RtspGroup::on_multicast_home(const StreamKey& key, Fn fn) {
  // One home group per stream, so that its packets leave once whichever groups its players are on.
  const GroupId home = home_of(key);
  if (home == poll_group_.id()) return fn(*this);
  struct Run final : Task {
    Run(Lookup l, GroupId g, Fn f) : lookup(l), group(g), fn(std::move(f)) {}
    void run() noexcept override {
      if (RtspGroup* target = lookup ? lookup(group) : nullptr) fn(*target);
    }
    Lookup lookup;
    GroupId group;
    Fn fn;
  };
  poll_group_.post(home, std::make_unique<Run>(lookup_, home, std::move(fn)));
}

void RtspGroup::join_multicast(const StreamKey& key, const UdpPeer& address) {
  on_multicast_home(key, [key, address](RtspGroup& home) { home.multicast_here(key, address, true); });
}

void RtspGroup::leave_multicast(const StreamKey& key, const UdpPeer& address) {
  on_multicast_home(key, [key, address](RtspGroup& home) { home.multicast_here(key, address, false); });
}

void RtspGroup::multicast_here(const StreamKey& key, const UdpPeer& address, bool join) {
  // Joins and leaves come from several groups in no set order: a leave of the stream's old address
  // may arrive after a join of its new one, so each address has its own sender.
  const std::string name = key.to_string() + "@" + address.host();
  auto it = multicast_.find(name);
  if (!join) {
    if (it != multicast_.end() && it->second->leave()) multicast_.erase(it);
    return;
  }
  if (it == multicast_.end()) {
    auto out = std::make_unique<MulticastOut>(*this, key, address);
    if (Status s = out->start(); !s) {
      logger_.error("group {}: cannot multicast {}: {}", poll_group_.id(), key.to_string(), s.message());
      return;
    }
    it = multicast_.emplace(name, std::move(out)).first;
  }
  it->second->join();
}

}  // namespace weir::rtsp
