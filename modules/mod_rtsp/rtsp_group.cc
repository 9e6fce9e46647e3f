// SPDX-License-Identifier: Apache-2.0
#include "rtsp_group.h"

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
                     Logger logger, Lookup lookup)
    : poll_group_(group),
      stats_(group.stats()),
      config_(config),
      counters_(counters),
      apps_(apps),
      logger_(std::move(logger)),
      packets_(group.pages()),
      ingest_(group.pages()),
      rtcp_receiver_(std::make_unique<Receiver>(*this)),
      lookup_(lookup) {
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

RtspGroup::~RtspGroup() = default;

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

void RtspGroup::want_pull(const RtspConfig::Pull& pull) {
  // Each pull has one home group (its place in the config, round robin), so two players on
  // different groups start one pull, not two racing for the name.
  const auto index = static_cast<GroupId>(&pull - config_->pulls.data());
  const GroupId home = index % poll_group_.group_count();
  if (home == poll_group_.id()) return pull_here(pull);
  struct Want final : Task {
    Want(Lookup l, GroupId g, const RtspConfig::Pull* p) : lookup(l), group(g), pull(p) {}
    void run() noexcept override {
      if (RtspGroup* target = lookup ? lookup(group) : nullptr) target->pull_here(*pull);
    }
    Lookup lookup;
    GroupId group;
    const RtspConfig::Pull* pull;
  };
  poll_group_.post(home, std::make_unique<Want>(lookup_, home, &pull));
}

void RtspGroup::pull_here(const RtspConfig::Pull& pull) {
  auto& puller = pullers_[pull.app + "/" + pull.name];
  if (!puller) puller = std::make_unique<RtspPuller>(*this, pull);
  puller->demand();
}

}  // namespace weir::rtsp
