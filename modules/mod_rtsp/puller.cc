// SPDX-License-Identifier: Apache-2.0
#include "puller.h"

#include <algorithm>
#include <random>

#include "formats/rtsp/auth.h"
#include "formats/rtsp/message.h"
#include "formats/rtsp/session_header.h"
#include "formats/rtsp/transport.h"
#include "formats/rtsp/url.h"
#include "ingest.h"
#include "rtsp_group.h"
#include "weir/connection.h"

namespace weir::rtsp {
namespace fr = formats::rtsp;

namespace {
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
// A pull that played this long before it dropped starts its retries from 1 s again.
constexpr std::chrono::milliseconds kGoodRun{60'000};
// A camera that sends nothing (no answer, no media) this long is dropped and retried.
constexpr std::chrono::milliseconds kSilence{10'000};
constexpr std::chrono::milliseconds kWatchTick{2'000};
constexpr std::uint32_t kDefaultSessionTimeoutS = 60;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

std::string random_cnonce() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  // weir::format has no {:x}: 16 lower-case hex digits by hand.
  static constexpr char kDigits[] = "0123456789abcdef";
  std::uint64_t value = generator();
  std::string out(16, '0');
  for (std::size_t i = 16; i-- > 0; value >>= 4) out[i] = kDigits[value & 15];
  return out;
}
}  // namespace

// The client side of one RTSP connection to the camera: the requests in turn, then the
// interleaved media into an RtspIngest. The kernel owns it (the connection's handler); the puller
// points at it until it closes or the puller detaches it.
class PullClient final : public ConnectionHandler, public IngestHost {
 public:
  PullClient(Connection& connection, RtspPuller& puller)
      : connection_(connection),
        puller_(&puller),
        group_(puller.group()),
        key_(puller.key()),
        url_(puller.config().url),
        request_url_(puller.config().url_text),
        peer_host_(url_.host),
        last_bytes_at_(group_.poll_group().now()) {
    connection_.set_label(format("pull {} from {}", key_.to_string(), request_url_));
    connection_.set_stream(key_.to_string());
    watch_timer_ = group_.poll_group().after(kWatchTick, [this] { watch(); });
    send(make_request("OPTIONS", request_url_));
  }
  ~PullClient() override = default;

  // IngestHost
  RtspGroup& group() noexcept override { return group_; }
  Connection& connection() noexcept override { return connection_; }
  const Logger& logger() const noexcept override { return group_.logger(); }
  const std::string& peer_host() const noexcept override { return peer_host_; }
  bool route(const UdpPeer&) override { return false; }  // TCP interleaved only
  void fail(Status reason) override { connection_.close(std::move(reason)); }
  std::string_view publish_protocol() const noexcept override { return "rtsp-pull"; }

  Status on_data(const PageSlice& data) noexcept override {
    reader_.feed(std::span<const std::uint8_t>(data.data(), data.length));
    // Everything fed is read before returning: the reader's borrow ends with this call.
    while (connection_.is_open()) {
      auto item = reader_.next();
      if (!item) {
        group_.stats().add(group_.counters().protocol_errors);
        fail(item.error().with_context("camera's RTSP stream"));
        return ok();
      }
      if (item->kind == fr::ItemKind::need_more) break;
      last_bytes_at_ = group_.poll_group().now();
      if (item->kind == fr::ItemKind::interleaved) {
        if (ingest_ && ingest_->is_publishing()) ingest_->on_interleaved(item->channel, item->payload);
      } else if (item->kind == fr::ItemKind::response) {
        on_response(item->response);
      }
      // A request from the camera (some send GET_PARAMETER or ANNOUNCE) needs no answer of ours.
    }
    return ok();
  }

  void on_close(const Status& reason) noexcept override {
    const std::int64_t last_dts = ingest_ && ingest_->is_publishing() ? ingest_->last_dts() : -1;
    ingest_.reset();  // the publication is the puller's: the players stay for the retry
    keepalive_timer_.reset();
    watch_timer_.reset();
    if (RtspPuller* puller = std::exchange(puller_, nullptr)) puller->on_client_closed(reason, last_dts);
  }

  /// The puller stops: TEARDOWN, then the connection closes once it has left. Nothing more is
  /// reported to the puller.
  void stop() {
    puller_ = nullptr;
    ingest_.reset();
    keepalive_timer_.reset();
    watch_timer_.reset();
    if (!session_.empty()) send(make_request("TEARDOWN", play_url_.empty() ? request_url_ : play_url_));
    connection_.close_after_flush();
  }
  /// The puller goes (the server stops): close now, report nothing.
  void detach() {
    puller_ = nullptr;
    ingest_.reset();
    keepalive_timer_.reset();
    watch_timer_.reset();
    connection_.close(error(Errc::closed, "rtsp pull of {} ends", key_.to_string()));
  }

 private:
  enum class Step { options, describe, setup, play, playing };

  fr::Request make_request(std::string method, std::string uri) {
    fr::Request request;
    request.method = std::move(method);
    request.uri = std::move(uri);
    return request;
  }

  void send(fr::Request request) {
    request.headers.erase(std::remove_if(request.headers.begin(), request.headers.end(),
                                         [](const fr::Header& h) {
                                           return iequals(h.name, "CSeq") || iequals(h.name, "Authorization") ||
                                                  iequals(h.name, "Session");
                                         }),
                          request.headers.end());
    request.headers.insert(request.headers.begin(), fr::Header{"CSeq", std::to_string(++cseq_)});
    request.add_header("User-Agent", "Weir");
    if (!session_.empty() && request.method != "OPTIONS" && request.method != "DESCRIBE")
      request.add_header("Session", session_);
    if (challenge_) {
      auto answer = fr::authorization_for(*challenge_, url_.user, url_.password, request.method, request.uri, cnonce_,
                                          ++nonce_count_);
      if (answer) request.add_header("Authorization", *answer);
    }
    expected_cseq_ = cseq_;
    std::string text = fr::serialize(request);
    last_request_ = std::move(request);
    connection_.send_copy(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }

  void on_response(const fr::Response& response) {
    auto cseq = fr::cseq(response);
    if (!cseq || *cseq != expected_cseq_) return;  // a keepalive's answer, or a stray one
    if (step_ == Step::playing) {
      if (response.status == 454) fail(error(Errc::closed, "the camera ended the session (454)"));
      return;  // keepalives: other answers do not matter
    }
    if (response.status == 401 && !auth_tried_ && !url_.user.empty()) {
      if (auto challenge = pick_challenge(response)) {
        auth_tried_ = true;
        challenge_ = std::move(*challenge);
        cnonce_ = random_cnonce();
        nonce_count_ = 0;
        group_.logger().info("pull {}: the camera asks for {} authentication", key_.to_string(),
                             challenge_->scheme == fr::AuthScheme::digest ? "Digest" : "Basic");
        return send(last_request_);
      }
    }
    if (response.status < 200 || response.status >= 300) {
      const Errc code = response.status == 401 || response.status == 403 ? Errc::denied
                        : response.status == 404                         ? Errc::not_found
                                                                         : Errc::io;
      return fail(error(code, "the camera answered {} {} to {}", response.status,
                        response.reason.empty() ? fr::reason_phrase(response.status) : std::string_view(response.reason),
                        last_request_.method));
    }
    if (response.status == 200 && last_request_.method != "OPTIONS") auth_tried_ = false;  // a later 401 (stale nonce) may be answered again
    switch (step_) {
      case Step::options: return on_options(response);
      case Step::describe: return on_describe(response);
      case Step::setup: return on_setup(response);
      case Step::play: return on_play(response);
      case Step::playing: return;
    }
  }

  std::optional<fr::AuthChallenge> pick_challenge(const fr::Response& response) {
    std::optional<fr::AuthChallenge> basic;
    for (const fr::Header& header : response.headers) {
      if (!iequals(header.name, "WWW-Authenticate")) continue;
      auto challenge = fr::parse_www_authenticate(header.value);
      if (!challenge) continue;
      if (challenge->scheme == fr::AuthScheme::digest) return *challenge;  // never send the password itself when we need not
      basic = *challenge;
    }
    return basic;
  }

  void on_options(const fr::Response& response) {
    const std::string* methods = response.header("Public");
    get_parameter_ = methods && methods->find("GET_PARAMETER") != std::string::npos;
    step_ = Step::describe;
    fr::Request describe = make_request("DESCRIBE", request_url_);
    describe.add_header("Accept", "application/sdp");
    send(std::move(describe));
  }

  void on_describe(const fr::Response& response) {
    const std::string* base = response.header("Content-Base");
    if (!base) base = response.header("Content-Location");
    base_ = base ? *base : request_url_;
    ingest_ = std::make_unique<RtspIngest>(*this, key_);
    if (Status s = ingest_->describe(response.body); !s) return fail(s.with_context("the camera's SDP"));
    controls_ = ingest_->track_controls();
    play_url_ = base_;
    step_ = Step::setup;
    setup_next();
  }

  void setup_next() {
    const std::string& control = controls_[track_];
    const std::string url = control.empty() ? base_ : fr::resolve_control(base_, control);
    fr::Request setup = make_request("SETUP", url);
    setup.add_header("Transport", format("RTP/AVP/TCP;unicast;interleaved={}-{}", 2 * track_, 2 * track_ + 1));
    send(std::move(setup));
  }

  void on_setup(const fr::Response& response) {
    if (const std::string* header = response.header("Session")) {
      auto session = fr::parse_session(*header);
      if (!session) return fail(session.error().with_context("the camera's Session header"));
      session_ = session->id;
      if (session->timeout_s && *session->timeout_s > 0) session_timeout_s_ = *session->timeout_s;
    }
    auto rtp = static_cast<std::uint8_t>(2 * track_);
    auto rtcp = static_cast<std::uint8_t>(2 * track_ + 1);
    if (const std::string* header = response.header("Transport")) {
      auto specs = fr::parse_transport(*header);
      if (specs && !specs->empty() && specs->front().interleaved) {
        rtp = static_cast<std::uint8_t>(specs->front().interleaved->first);
        rtcp = static_cast<std::uint8_t>(specs->front().interleaved->last);
      }
    }
    ingest_->setup_interleaved(track_, rtp, rtcp);
    if (++track_ < controls_.size()) return setup_next();
    step_ = Step::play;
    fr::Request play = make_request("PLAY", play_url_);
    play.add_header("Range", "npt=0.000-");
    send(std::move(play));
  }

  void on_play(const fr::Response&) {
    if (!puller_ || !puller_->publication()) return fail(error(Errc::closed, "the pull of {} ended", key_.to_string()));
    ingest_->use_publication(*puller_->publication(), puller_->time_offset());
    if (Status s = ingest_->start(); !s) return fail(s.with_context("publishing the pull"));
    step_ = Step::playing;
    group_.stats().add(group_.counters().publishes);
    connection_.set_label(format("pull {} from {} (playing)", key_.to_string(), request_url_));
    schedule_keepalive();
    puller_->on_playing();
  }

  void schedule_keepalive() {
    const auto interval = std::chrono::milliseconds(std::max<std::uint32_t>(1, session_timeout_s_) * 500);
    keepalive_timer_ = group_.poll_group().after(interval, [this] {
      send(make_request(get_parameter_ ? "GET_PARAMETER" : "OPTIONS", play_url_));
      schedule_keepalive();
    });
  }

  void watch() {
    if (group_.poll_group().now() - last_bytes_at_ > kSilence)
      return fail(error(Errc::timeout, "the camera sent nothing for {} s", kSilence.count() / 1000));
    watch_timer_ = group_.poll_group().after(kWatchTick, [this] { watch(); });
  }

  Connection& connection_;
  RtspPuller* puller_;
  RtspGroup& group_;
  const StreamKey key_;
  const fr::Url url_;
  const std::string request_url_;  // the configured URL without its user:pass
  const std::string peer_host_;
  fr::MessageReader reader_;
  Step step_ = Step::options;
  std::uint32_t cseq_ = 0;
  std::uint32_t expected_cseq_ = 0;
  fr::Request last_request_;
  std::optional<fr::AuthChallenge> challenge_;
  std::string cnonce_;
  std::uint32_t nonce_count_ = 0;
  bool auth_tried_ = false;
  bool get_parameter_ = false;
  std::string base_;
  std::string play_url_;
  std::vector<std::string> controls_;
  std::size_t track_ = 0;
  std::string session_;
  std::uint32_t session_timeout_s_ = kDefaultSessionTimeoutS;
  std::unique_ptr<RtspIngest> ingest_;
  Clock::time_point last_bytes_at_;
  std::unique_ptr<Timer> keepalive_timer_;
  std::unique_ptr<Timer> watch_timer_;
};

RtspPuller::RtspPuller(RtspGroup& group, const RtspConfig::Pull& pull)
    : group_(group), pull_(pull), key_{pull.app, pull.name} {}

RtspPuller::~RtspPuller() {
  attempt_.reset();
  if (PullClient* client = std::exchange(client_, nullptr)) client->detach();
}

bool RtspPuller::is_wanted() const noexcept {
  return group_.poll_group().now() - wanted_at_ < group_.config().pull_idle_timeout;
}

std::int64_t RtspPuller::time_offset() const noexcept {
  if (last_dts_ < 0) return 0;
  // The stream's clock went on while the camera was away.
  const auto away = std::chrono::duration_cast<std::chrono::milliseconds>(group_.poll_group().now() - dropped_at_);
  return last_dts_ + std::max<std::int64_t>(away.count(), 1);
}

void RtspPuller::demand() {
  wanted_at_ = group_.poll_group().now();
  if (publication_) return;  // running, or retrying
  auto publication = group_.poll_group().streams().publish(
      key_, PublishOptions{group_.config().gop_cache, "rtsp-pull", fr::format_authority(pull_.url),
                           [this](const Status& reason) { stop(reason.message()); }});
  if (!publication) {
    // Someone publishes it already (an RTMP publisher took the name): their players get theirs.
    group_.logger().warn("pull {}: not started: {}", key_.to_string(), publication.error().message());
    return;
  }
  publication_ = std::move(*publication);
  publication_->on_no_subscribers([this] { arm_idle_timer(); });
  arm_idle_timer();  // also when the players who asked left before they were counted
  last_dts_ = -1;
  backoff_ = std::chrono::milliseconds(1000);
  group_.logger().info("pull {}: starting from {}", key_.to_string(), pull_.url_text);
  connect();
}

void RtspPuller::connect() {
  retry_timer_.reset();
  ConnectSpec spec;
  spec.name = "rtsp pull";
  spec.host = pull_.url.host;
  spec.port = pull_.url.port;
  attempt_ = group_.poll_group().connect(
      spec,
      [this](Connection& connection) -> std::unique_ptr<ConnectionHandler> {
        auto client = std::make_unique<PullClient>(connection, *this);
        client_ = client.get();
        return client;
      },
      [this](Status why) { retry(why); });
}

void RtspPuller::on_playing() {
  playing_ = true;
  playing_since_ = group_.poll_group().now();
  group_.logger().info("pull {}: playing from {}", key_.to_string(), pull_.url_text);
}

void RtspPuller::on_client_closed(const Status& reason, std::int64_t last_dts) {
  client_ = nullptr;
  dropped_at_ = group_.poll_group().now();
  last_dts_ = std::max(last_dts_, last_dts);
  if (playing_ && dropped_at_ - playing_since_ >= kGoodRun) backoff_ = std::chrono::milliseconds(1000);
  playing_ = false;
  retry(reason);
}

void RtspPuller::retry(const Status& reason) {
  if (!publication_) return;
  group_.logger().warn("pull {}: camera lost ({}); reconnecting in {} ms", key_.to_string(), reason.message(),
                       backoff_.count());
  retry_timer_ = group_.poll_group().after(backoff_, [this] {
    retry_timer_.reset();
    group_.logger().info("pull {}: reconnecting to {}", key_.to_string(), pull_.url_text);
    connect();
  });
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

void RtspPuller::stop(std::string_view why) {
  group_.logger().info("pull {}: stopped: {}", key_.to_string(), why);
  idle_timer_.reset();
  retry_timer_.reset();
  attempt_.reset();
  playing_ = false;
  if (PullClient* client = std::exchange(client_, nullptr)) client->stop();
  publication_.reset();  // may be inside the publication's own stop callback: nothing touches it after
}

void RtspPuller::arm_idle_timer() {
  idle_timer_ = group_.poll_group().after(group_.config().pull_idle_timeout, [this] { on_idle_timer(); });
}

void RtspPuller::on_idle_timer() {
  idle_timer_.reset();
  if (!publication_) return;
  if (publication_->subscriber_count() > 0) return;  // on_no_subscribers arms it again
  // A player who asked just now may not be counted yet: look again later.
  if (is_wanted()) return arm_idle_timer();
  stop(format("no player for {} ms", group_.config().pull_idle_timeout.count()));
}

}  // namespace weir::rtsp
