// SPDX-License-Identifier: Apache-2.0
#include "session.h"

#include <charconv>
#include <random>

#include "formats/rtsp/auth.h"
#include "formats/rtsp/transport.h"
#include "formats/rtsp/url.h"
#include "ingest.h"
#include "multicast.h"
#include "player.h"
#include "weir/query.h"

namespace weir::rtsp {
namespace fr = formats::rtsp;

namespace {
constexpr std::string_view kPublic =
    "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, ANNOUNCE, RECORD, GET_PARAMETER, SET_PARAMETER";
// A DESCRIBE of a stream that is published but has sent nothing yet waits this long for headers.
constexpr std::chrono::milliseconds kDescribeWait{5000};
// The same for a stream pulled from a camera on demand.
constexpr std::chrono::milliseconds kPullDescribeWait{15000};
// Requests read but not yet handled (while an application decides): past this, reading pauses.
constexpr std::size_t kMaxHeldBytes = 256 << 10;

std::string hex_digits(std::uint64_t value, int digits) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, value >>= 4) out[static_cast<std::size_t>(i)] = kDigits[value & 15];
  return out;
}

// The protection space our challenges name.
constexpr std::string_view kRealm = "Weir";

std::string random_session_id() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  return hex_digits(generator(), 16);
}

// The status an application's rejection maps to: its code when that is an RTSP status number.
int rejection_status(const AppVerdict& verdict) {
  int status = 0;
  const std::string& code = verdict.code;
  auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (ec == std::errc() && end == code.data() + code.size() && status >= 400 && status < 600) return status;
  return code.find("Unauthorized") != std::string::npos ? 401 : 403;
}
}  // namespace

// The session as the application sees it (weir/services/apps.h); detached when the connection ends.
class RtspAppClient final : public AppClient {
 public:
  RtspAppClient(RtspSession& session, std::string app)
      : session_(&session),
        id_(session.connection().id()),
        group_(session.connection().group()),
        address_(session.connection().peer_address()),
        app_(std::move(app)) {}
  ConnectionId id() const noexcept override { return id_; }
  PollGroup& group() noexcept override { return group_; }
  std::string_view protocol() const noexcept override { return "rtsp"; }
  std::string_view app() const noexcept override { return app_; }
  std::string_view address() const noexcept override { return address_; }
  bool is_open() const noexcept override { return session_ != nullptr; }
  void call(std::string_view, std::vector<Value>, std::function<void(Result<Value>)> done) noexcept override {
    // RTSP has no calls from the server to a client's code.
    if (done) group_.defer([done = std::move(done)] { done(Status(Errc::unsupported, "RTSP clients cannot be called")); });
  }
  void close(std::string_view reason) noexcept override {
    if (session_) session_->connection().close(error(Errc::denied, "closed by the application: {}", reason));
  }
  Value& values() noexcept override { return values_; }
  RtspSession* session() const noexcept { return session_; }
  void detach() noexcept { session_ = nullptr; }

 private:
  RtspSession* session_;
  ConnectionId id_;
  PollGroup& group_;
  std::string address_;
  std::string app_;
  Value values_ = Value::object();
};

RtspSession::RtspSession(Connection& connection, RtspGroup& group)
    : connection_(connection), group_(group), peer_host_(weir::host_of(connection.peer_address())) {
  touch();
  group_.stats().add(group_.counters().connections);
  connection_.set_label("rtsp");
  start_session_timer();
}

RtspSession::~RtspSession() {
  // Whatever touches the RtspGroup is undone in on_close: at shutdown the kernel destroys a
  // closed connection's handler after the groups' stop hooks destroyed their RtspGroup.
  if (app_client_) app_client_->detach();
}

Status RtspSession::on_data(const PageSlice& data) noexcept {
  touch();
  // The reader borrows these bytes until it has read them all (need_more): the slice keeps the
  // page alive while requests wait behind an application's verdict.
  reader_.feed(std::span<const std::uint8_t>(data.data(), data.length));
  borrowed_ = data;
  return process();
}

Status RtspSession::process() {
  while (!held_ && connection_.is_open()) {
    auto item = reader_.next();
    if (!item) {
      group_.stats().add(group_.counters().protocol_errors);
      // A reply the client can read, then the connection goes: the stream is out of step.
      fr::Response response;
      response.status = 400;
      response.add_header("Server", "Weir");
      std::string text = fr::serialize(response);
      connection_.send_copy(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
      logger().warn("conn={} peer={} closed: {}", connection_.id(), connection_.peer_address(), item.error().message());
      reader_ = fr::MessageReader();  // nothing more is read from a stream out of step
      held_ = true;
      connection_.close_after_flush();
      return ok();
    }
    using Kind = fr::ItemKind;
    switch (item->kind) {
      case Kind::need_more:
        borrowed_ = PageSlice{};
        return ok();
      case Kind::request: handle(item->request); break;
      case Kind::response: break;  // answers to nothing we ask (we send no requests to clients)
      case Kind::interleaved:
        if (ingest_) ingest_->on_interleaved(item->channel, item->payload);
        else if (player_ && (item->channel & 1)) player_->on_rtcp(item->payload);
        break;
    }
  }
  // While an application decides, requests stay in the reader; a client that floods meanwhile waits.
  if (held_ && reader_.buffered_bytes() > kMaxHeldBytes) connection_.pause_reading();
  return ok();
}

void RtspSession::resume() {
  held_ = false;
  connection_.resume_reading();
  if (Status s = process(); !s) connection_.close(std::move(s));
}

void RtspSession::reply(const Request& request, int status, std::vector<fr::Header> headers, std::string body) {
  fr::Response response;
  response.status = status;
  response.reason = std::string(fr::reason_phrase(status));
  if (const std::string* cseq = request.header("CSeq")) response.headers.push_back({"CSeq", *cseq});
  response.headers.push_back({"Server", "Weir"});
  if (!session_id_.empty() && status < 300 && request.method != "OPTIONS")
    response.headers.push_back({"Session", format("{};timeout={}", session_id_, group_.config().session_timeout.count() / 1000)});
  for (auto& h : headers) response.headers.push_back(std::move(h));
  response.body = std::move(body);
  std::string text = fr::serialize(response);
  connection_.send_copy(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void RtspSession::refuse(const Request& request, int status, std::string_view why) {
  logger().info("conn={} peer={} {} {}: {} {}", connection_.id(), connection_.peer_address(), request.method, request.uri,
                status, why);
  reply(request, status);
}

void RtspSession::handle(const Request& request) {
  if (!fr::cseq(request)) {
    group_.stats().add(group_.counters().protocol_errors);
    return refuse(request, 400, "no CSeq");
  }
  const std::string& m = request.method;
  if (m == "OPTIONS") return on_options(request);
  if (m == "DESCRIBE") return on_describe(request);
  if (m == "SETUP") return on_setup(request);
  if (m == "PLAY") return on_play(request);
  if (m == "PAUSE") return on_pause(request);
  if (m == "TEARDOWN") return on_teardown(request);
  if (m == "ANNOUNCE") return on_announce(request);
  if (m == "RECORD") return on_record(request);
  if (m == "GET_PARAMETER" || m == "SET_PARAMETER") {
    if (!session_matches(request, false)) return refuse(request, 454, "unknown session");
    return reply(request, 200);
  }
  refuse(request, 501, "method not implemented");
}

void RtspSession::on_options(const Request& request) {
  reply(request, 200, {{"Public", std::string(kPublic)}});
}

std::string RtspSession::base_url(const Request& request) const {
  auto url = fr::parse_url(request.uri);
  if (!url) return request.uri;
  auto path = fr::split_stream_path(url->path);
  if (!path) return request.uri;
  std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
  return format("rtsp://{}:{}/{}/{}/", host, url->port, path->app, path->name);
}

bool RtspSession::session_matches(const Request& request, bool required) {
  const std::string* header = request.header("Session");
  if (!header) return !required || !session_id_.empty();
  std::string_view id(*header);
  id = id.substr(0, id.find(';'));
  while (!id.empty() && id.back() == ' ') id.remove_suffix(1);
  return !session_id_.empty() && id == session_id_;
}

void RtspSession::ask(const Request& request, AppHook hook, Value stream, std::function<void(const AppVerdict&)> then) {
  auto run_hook = [this, hook, stream = std::move(stream), then = std::move(then)]() mutable {
    if (!group_.has_hook(app_, hook)) return then(AppVerdict{});
    hold();
    std::weak_ptr<RtspAppClient> weak = app_client_;
    group_.apps().request(app_client_, AppRequest{hook, {}, {std::move(stream)}}, [weak, then](AppVerdict verdict) {
      auto client = weak.lock();
      if (!client || !client->session()) return;
      RtspSession& self = *client->session();
      self.held_ = false;
      if (verdict.kind == AppVerdict::Kind::accept) self.apply(verdict);
      then(verdict);
      if (!self.held_) self.resume();  // unless what the verdict started holds them again
    });
  };
  if (!app_client_) app_client_ = std::make_shared<RtspAppClient>(*this, app_);
  if (connected_ || !group_.has_hook(app_, AppHook::connect)) {
    connected_ = true;
    return run_hook();
  }
  Value params = Value::object();
  params.set("app", app_);
  params.set("address", connection_.peer_address());
  params.set("tcUrl", request.uri);
  params.set("protocol", "rtsp");
  auto url = fr::parse_url(request.uri);
  params.set("args", parse_query(url ? std::string_view(url->query) : std::string_view()));
  // Credentials the client sent (after a 401 challenge): Basic gives the script the password to
  // check; Digest gives the user, and the script answers with the user's password (or HA1) in
  // the verdict's values, which the server checks the response against.
  std::optional<fr::DigestCredentials> digest;
  if (const std::string* header = request.header("Authorization")) {
    auto auth = fr::parse_authorization(*header);
    if (!auth) {
      logger().info("conn={} peer={} bad Authorization header: {}", connection_.id(), connection_.peer_address(),
                    auth.error().message());
    } else if (auth->scheme == fr::AuthScheme::basic) {
      params.set("auth", Value::object({{"scheme", "basic"}, {"user", auth->basic.user}, {"password", auth->basic.password}}));
    } else {
      params.set("auth", Value::object({{"scheme", "digest"}, {"user", auth->digest.username}, {"realm", auth->digest.realm}}));
      digest = auth->digest;
    }
  }
  hold();
  std::weak_ptr<RtspAppClient> weak = app_client_;
  group_.apps().request(app_client_, AppRequest{AppHook::connect, {}, {std::move(params)}},
                        [weak, request, digest, run_hook = std::move(run_hook)](AppVerdict verdict) mutable {
    auto client = weak.lock();
    if (!client || !client->session()) return;
    RtspSession& self = *client->session();
    if (verdict.kind == AppVerdict::Kind::accept && digest && !self.digest_accepted(request, *digest, verdict)) {
      verdict.kind = AppVerdict::Kind::reject;
      verdict.code = "401";
      verdict.description = "wrong Digest credentials for " + digest->username;
    }
    if (verdict.kind == AppVerdict::Kind::redirect) {
      self.reply(request, 302, {{"Location", verdict.redirect_url}});
    } else if (verdict.kind == AppVerdict::Kind::reject) {
      const int status = rejection_status(verdict);
      const std::string why = verdict.description.empty() ? "connect rejected by the application" : verdict.description;
      if (status == 401) {
        // A challenge the client answers with credentials (and the connect hook is asked again).
        self.logger().info("conn={} peer={} {} {}: 401 {}", self.connection_.id(), self.connection_.peer_address(),
                           request.method, request.uri, why);
        self.reply(request, 401, {{"WWW-Authenticate", fr::www_authenticate_digest(kRealm, self.nonce())},
                                  {"WWW-Authenticate", fr::www_authenticate_basic(kRealm)}});
      } else {
        self.refuse(request, status, why);
      }
    } else {
      self.apply(verdict);
      self.connected_ = true;
      self.held_ = false;
      run_hook();
      if (self.held_) return;  // the second hook holds the requests until its own verdict
    }
    self.resume();
  });
}

const std::string& RtspSession::nonce() {
  if (nonce_.empty()) nonce_ = random_session_id() + random_session_id();
  return nonce_;
}

bool RtspSession::digest_accepted(const Request& request, const fr::DigestCredentials& credentials,
                                  const AppVerdict& verdict) {
  // Only our own nonce, for our realm: a response computed for another server's challenge is not one.
  if (nonce_.empty() || credentials.nonce != nonce_ || credentials.realm != kRealm) return false;
  for (const auto& [name, value] : verdict.values) {
    if (name == "password" && value.is_string()) return fr::digest_matches(credentials, request.method, value.as_string());
    if (name == "ha1" && value.is_string()) return fr::digest_matches_ha1(credentials, request.method, value.as_string());
  }
  return false;  // the script accepted without saying the password: nothing to check against
}

void RtspSession::apply(const AppVerdict& verdict) {
  for (const auto& [name, value] : verdict.values)
    if (name != "password" && name != "ha1") app_client_->values().set(name, value);  // secrets stay out of client:get
  if (verdict.lifetime.count() > 0)
    lifetime_timer_ = group_.poll_group().after(verdict.lifetime, [this] {
      connection_.close(Status(Errc::closed, "the application's lifetime for this client ended"));
    });
}

void RtspSession::on_describe(const Request& request) {
  auto url = fr::parse_url(request.uri);
  auto path = url ? fr::split_stream_path(url->path) : Result<fr::StreamPath>(url.error());
  if (!path) return refuse(request, 400, path.error().message());
  if (ingest_) return refuse(request, 455, "DESCRIBE on a publishing session");
  app_ = path->app;
  Value stream = Value::object({{"name", path->name}, {"app", path->app}, {"args", parse_query(url->query)}});
  ask(request, AppHook::play, stream, [this, request, name = path->name, stream](const AppVerdict& verdict) {
    if (verdict.kind == AppVerdict::Kind::redirect) return reply(request, 302, {{"Location", verdict.redirect_url}});
    if (verdict.kind == AppVerdict::Kind::reject)
      return refuse(request, rejection_status(verdict), verdict.description.empty() ? "play rejected by the application" : verdict.description);
    StreamKey key{app_, verdict.stream_name.empty() ? name : verdict.stream_name};
    if (player_ && player_->key() == key) {
      pending_ = request;
      return answer_pending();
    }
    play_stream(request, StreamKey{app_, name}, std::move(key), stream, true, {});
  });
}

void RtspSession::play_stream(const Request& request, StreamKey requested, StreamKey key, Value stream, bool may_ask,
                              std::string source) {
  player_.reset();
  auto player = std::make_unique<RtspPlayer>(*this, key);
  // A camera of [rtsp] pull.*, or of `source`, is started by the kernel's demand hook (module.cc):
  // the player waits for it.
  const bool pulled = !source.empty();
  Status s = player->subscribe(group_.config().play_waits_for_publisher, std::move(source));
  if (!s && s.code() == Errc::not_found && may_ask && group_.has_hook(app_, AppHook::stream_not_found)) {
    // The application may play another stream instead, or name where to pull this one from.
    stream.set("name", key.name);
    ask(request, AppHook::stream_not_found, std::move(stream),
        [this, request, requested, key](const AppVerdict& verdict) {
          if (verdict.kind == AppVerdict::Kind::accept && (!verdict.stream_name.empty() || !verdict.pull_url.empty()))
            return play_stream(request, requested,
                               StreamKey{key.app, verdict.stream_name.empty() ? key.name : verdict.stream_name},
                               Value(), false, verdict.pull_url);
          if (verdict.kind == AppVerdict::Kind::reject)  // without a code: still "not found"
            return refuse(request, verdict.code.empty() ? 404 : rejection_status(verdict),
                          verdict.description.empty() ? key.to_string() + " is not published" : verdict.description);
          refuse(request, 404, key.to_string() + " is not published");
        });
    return;
  }
  if (!s) {
    // A pull nobody could start says why (the message does not hold the URL's password).
    if (s.code() == Errc::not_found) return refuse(request, 404, pulled ? s.message() : key.to_string() + " is not published");
    return refuse(request, s.code() == Errc::denied ? 503 : 500, s.message());
  }
  player_ = std::move(player);
  requested_ = std::move(requested);
  connection_.set_stream(key.to_string());
  connection_.set_label("describe " + key.to_string());
  pending_ = request;
  answer_pending();
}

void RtspSession::on_stream_ready() {
  if (pending_) answer_pending();
}

void RtspSession::answer_pending() {
  if (!pending_ || !player_) return;
  if (!player_->is_describable()) {
    if (!pending_timer_) {
      hold();
      // A pulled camera may take a few seconds to connect, answer and send its first frames.
      const bool pulled =
          player_->is_pulled() || group_.config().find_pull(player_->key().app, player_->key().name) != nullptr;
      pending_timer_ = group_.poll_group().after(pulled ? kPullDescribeWait : kDescribeWait, [this] {
        pending_timer_.reset();
        if (!pending_) return;
        Request request = std::move(*pending_);
        pending_.reset();
        refuse(request, 404, "the stream has no audio or video RTP can carry (yet)");
        resume();
      });
    }
    return;
  }
  Request request = std::move(*pending_);
  pending_.reset();
  const bool was_waiting = pending_timer_ != nullptr;
  pending_timer_.reset();
  if (request.method == "DESCRIBE") {
    std::string local(weir::host_of(connection_.local_address()));
    reply(request, 200, {{"Content-Base", base_url(request)}, {"Content-Type", "application/sdp"}},
          player_->out().sdp(local));
  } else {
    on_setup(request);
  }
  if (was_waiting) resume();
}

void RtspSession::on_setup(const Request& request) {
  auto url = fr::parse_url(request.uri);
  auto path = url ? fr::split_stream_path(url->path) : Result<fr::StreamPath>(url.error());
  if (!path) return refuse(request, 400, path.error().message());
  if (!session_matches(request, false)) return refuse(request, 454, "unknown session");
  const std::string* transport_header = request.header("Transport");
  if (!transport_header) return refuse(request, 461, "no Transport header");
  auto specs = fr::parse_transport(*transport_header);
  if (!specs || specs->empty()) return refuse(request, 461, specs ? "empty Transport" : specs.error().message());

  if (ingest_) {
    auto answer = ingest_->setup(*path, *specs);
    if (!answer) return refuse(request, answer.error().code() == Errc::unsupported ? 461 : 459, answer.error().message());
    if (session_id_.empty()) session_id_ = random_session_id();
    return reply(request, 200, {{"Transport", *answer}});
  }
  if (!player_ || !(requested_ == StreamKey{path->app, path->name})) {
    // SETUP without DESCRIBE (some clients know the stream): describe it first, then set up.
    if (pending_) return refuse(request, 455, "a SETUP while another request waits");
    app_ = path->app;
    Value stream = Value::object({{"name", path->name}, {"app", path->app}, {"args", parse_query(url->query)}});
    ask(request, AppHook::play, stream, [this, request, path = *path, stream](const AppVerdict& verdict) {
      if (verdict.kind != AppVerdict::Kind::accept)
        return refuse(request, rejection_status(verdict), "play rejected by the application");
      StreamKey requested{path.app, path.name};
      StreamKey key{path.app, verdict.stream_name.empty() ? path.name : verdict.stream_name};
      play_stream(request, std::move(requested), std::move(key), stream, true, {});
    });
    return;
  }
  const auto& tracks = player_->out().tracks();
  std::size_t track = path->track ? static_cast<std::size_t>(*path->track) : 0;
  if (!path->track && tracks.size() > 1) return refuse(request, 459, "SETUP of the aggregate URL: name a track");
  if (track >= tracks.size() || track >= 4) return refuse(request, 404, format("no track {}", track));

  TrackTransport& t = player_->transport(track);
  std::string answer;
  for (const fr::TransportSpec& spec : *specs) {
    if (spec.is_multicast) {
      // The stream's group address (the client's own destination is not taken: the server
      // chooses, as RFC 2326 12.39 allows), held until the session ends.
      if (!multicast_key_ || !(*multicast_key_ == player_->key())) {
        leave_multicast();
        auto address = group_.multicast_directory().acquire(player_->key().to_string());
        if (!address) continue;
        multicast_key_ = player_->key();
        multicast_address_ = *address;
      }
      const unsigned port = group_.config().multicast_port + 2 * static_cast<unsigned>(track);
      t = TrackTransport{};
      t.is_setup = true;
      t.multicast = true;
      answer = format("RTP/AVP;multicast;destination={};port={}-{};ttl={}", multicast_address_.host(), port, port + 1,
                      group_.config().multicast_ttl);
      break;
    }
    if (spec.lower == fr::LowerTransport::tcp) {
      std::uint8_t rtp_channel = static_cast<std::uint8_t>(2 * track);
      if (spec.interleaved) rtp_channel = static_cast<std::uint8_t>(spec.interleaved->first);
      t = TrackTransport{};
      t.is_setup = true;
      t.rtp_channel = rtp_channel;
      t.rtcp_channel = static_cast<std::uint8_t>(spec.interleaved ? spec.interleaved->last : rtp_channel + 1);
      answer = format("RTP/AVP/TCP;unicast;interleaved={}-{};ssrc={}", unsigned{t.rtp_channel}, unsigned{t.rtcp_channel},
                      hex_digits(tracks[track].ssrc, 8));
      break;
    }
    if (!spec.client_port || !group_.rtp_socket()) continue;
    auto rtp_peer = UdpPeer::parse(peer_host_, spec.client_port->first);
    auto rtcp_peer = UdpPeer::parse(peer_host_, spec.client_port->last);
    if (!rtp_peer || !rtcp_peer) continue;
    t = TrackTransport{};
    t.is_setup = true;
    t.udp = true;
    t.rtp_peer = *rtp_peer;
    t.rtcp_peer = *rtcp_peer;
    route(*rtcp_peer);  // the player's receiver reports
    answer = format("RTP/AVP;unicast;client_port={}-{};server_port={}-{};ssrc={}", spec.client_port->first,
                    spec.client_port->last, group_.rtp_port(), group_.rtp_port() + 1, hex_digits(tracks[track].ssrc, 8));
    break;
  }
  if (answer.empty())
    return refuse(request, 461, !group_.rtp_socket()              ? "UDP is off ([rtsp] rtp_port = 0): use TCP interleaved"
                                : group_.config().multicast_enabled() ? "no transport we serve (TCP interleaved, UDP unicast or multicast)"
                                                                      : "no transport we serve (TCP interleaved or UDP unicast; multicast is off)");
  if (session_id_.empty()) session_id_ = random_session_id();
  reply(request, 200, {{"Transport", answer}});
}

void RtspSession::on_play(const Request& request) {
  if (!session_matches(request, true)) return refuse(request, 454, "unknown session");
  if (!player_ || player_->set_up_tracks() == 0) return refuse(request, 455, "PLAY before SETUP");
  std::string info;
  std::string base = base_url(request);
  if (!base.empty() && base.back() != '/') base += '/';
  for (std::size_t i = 0; i < player_->out().tracks().size() && i < 4; ++i) {
    // A multicast track's numbering is its home group's: the receiver learns it from the packets.
    if (!player_->transport(i).is_setup || player_->transport(i).multicast) continue;
    auto [sequence, timestamp] = player_->out().start_of(i);
    if (!info.empty()) info += ',';
    info += format("url={}trackID={};seq={};rtptime={}", base, i, sequence, timestamp);
  }
  std::vector<fr::Header> headers{{"Range", "npt=now-"}};
  if (!info.empty()) headers.push_back({"RTP-Info", info});
  reply(request, 200, std::move(headers));
  if (multicast_key_ && !multicast_joined_ && player_->uses_multicast()) {
    multicast_joined_ = true;
    group_.join_multicast(*multicast_key_, multicast_address_);
  }
  const bool first = !player_->is_playing() && !report_timer_;
  player_->play();
  group_.stats().add(group_.counters().plays);
  connection_.set_label(format("play {} (rtsp {})", player_->key().to_string(), player_->transport_name()));
  if (first) {
    logger().info("conn={} peer={} playing {}", connection_.id(), connection_.peer_address(), player_->key().to_string());
    // Sender reports keep players' audio and video clocks tied to one wall clock.
    schedule_reports();
  }
}

void RtspSession::schedule_reports() {
  report_timer_ = group_.poll_group().after(group_.config().sender_report_interval, [this] {
    if (player_ && player_->is_playing()) player_->send_sender_reports();
    schedule_reports();
  });
}

void RtspSession::on_pause(const Request& request) {
  if (!session_matches(request, true)) return refuse(request, 454, "unknown session");
  if (!player_) return refuse(request, 455, "PAUSE without PLAY");
  player_->pause();
  reply(request, 200);
}

void RtspSession::on_teardown(const Request& request) {
  if (!session_matches(request, false)) return refuse(request, 454, "unknown session");
  if (player_) player_->send_goodbyes();
  reply(request, 200);
  end(Status(Errc::closed, "TEARDOWN"));
}

void RtspSession::on_announce(const Request& request) {
  auto url = fr::parse_url(request.uri);
  auto path = url ? fr::split_stream_path(url->path) : Result<fr::StreamPath>(url.error());
  if (!path) return refuse(request, 400, path.error().message());
  if (player_ || ingest_) return refuse(request, 455, "ANNOUNCE on a session that already plays or publishes");
  const std::string* type = request.header("Content-Type");
  if (type && type->find("application/sdp") == std::string::npos) return refuse(request, 415, "ANNOUNCE without an SDP");
  app_ = path->app;
  Value stream = Value::object({{"name", path->name}, {"app", path->app}, {"args", parse_query(url->query)}});
  ask(request, AppHook::publish, std::move(stream), [this, request, name = path->name](const AppVerdict& verdict) {
    if (verdict.kind != AppVerdict::Kind::accept)
      return refuse(request, rejection_status(verdict), verdict.description.empty() ? "publish rejected by the application" : verdict.description);
    auto ingest = std::make_unique<RtspIngest>(*this, StreamKey{app_, verdict.stream_name.empty() ? name : verdict.stream_name});
    if (Status s = ingest->describe(request.body); !s) {
      group_.stats().add(group_.counters().protocol_errors);
      return refuse(request, s.code() == Errc::unsupported ? 415 : 400, s.message());
    }
    ingest_ = std::move(ingest);
    if (session_id_.empty()) session_id_ = random_session_id();
    reply(request, 200);
  });
}

void RtspSession::on_record(const Request& request) {
  if (!session_matches(request, true)) return refuse(request, 454, "unknown session");
  if (!ingest_ || !ingest_->has_setup()) return refuse(request, 455, "RECORD before ANNOUNCE and SETUP");
  if (Status s = ingest_->start(); !s) {
    int status = s.code() == Errc::exists ? 403 : s.code() == Errc::denied ? 503 : 500;
    return refuse(request, status, s.message());
  }
  group_.stats().add(group_.counters().publishes);
  reply(request, 200);
  connection_.set_label(format("publish {} (rtsp {})", ingest_->key().to_string(), ingest_->uses_udp() ? "udp" : "tcp"));
  connection_.set_stream(ingest_->key().to_string());
  logger().info("conn={} peer={} publishing {} over RTSP", connection_.id(), connection_.peer_address(),
                ingest_->key().to_string());
}

bool RtspSession::route(const UdpPeer& peer) {
  if (!group_.route(peer, this)) return false;
  routes_.push_back(peer);
  return true;
}

void RtspSession::on_datagram(const PageSlice& data, const UdpPeer& from, bool rtcp) noexcept {
  touch();
  if (ingest_) ingest_->on_datagram(data, from, rtcp);
  else if (player_ && rtcp) player_->on_rtcp(std::span<const std::uint8_t>(data.data(), data.length));
}

void RtspSession::start_session_timer() {
  // Checked at half the timeout: a session is dead after between one and one and a half timeouts.
  auto half = group_.config().session_timeout / 2;
  session_timer_ = group_.poll_group().after(half, [this] {
    auto idle = group_.poll_group().now() - last_heard_;
    // A TCP player is alive while its connection is: only UDP sessions and sessions that never
    // started need to be heard from.
    bool streaming_tcp = (player_ && player_->is_playing() && player_->uses_tcp()) ||
                         (ingest_ && ingest_->is_publishing() && !ingest_->uses_udp());
    if (!streaming_tcp && idle > group_.config().session_timeout) {
      connection_.close(error(Errc::timeout, "RTSP session timed out: nothing heard for {} s",
                              std::chrono::duration_cast<std::chrono::seconds>(idle).count()));
      return;
    }
    start_session_timer();
  });
}

void RtspSession::fail(Status reason) { connection_.close(std::move(reason)); }

void RtspSession::end(Status reason) {
  if (closing_) return;
  closing_ = true;
  logger().info("conn={} peer={} {}", connection_.id(), connection_.peer_address(), reason.message());
  connection_.close_after_flush();
}

void RtspSession::on_close(const Status&) noexcept {
  pending_timer_.reset();
  session_timer_.reset();
  report_timer_.reset();
  lifetime_timer_.reset();
  if (app_client_ && app_client_->session()) {
    if (ingest_ && ingest_->is_publishing() && group_.has_hook(app_, AppHook::unpublish))
      group_.apps().request(app_client_, AppRequest{AppHook::unpublish, {}, {Value::object({{"name", ingest_->key().name}, {"app", app_}})}}, {});
    if (player_ && group_.has_hook(app_, AppHook::stop))
      group_.apps().request(app_client_, AppRequest{AppHook::stop, {}, {Value::object({{"name", player_->key().name}, {"app", app_}})}}, {});
    if (group_.has_hook(app_, AppHook::disconnect))
      group_.apps().request(app_client_, AppRequest{AppHook::disconnect, {}, {}}, {});
  }
  leave_multicast();
  for (const UdpPeer& peer : routes_) group_.unroute(peer, this);
  routes_.clear();
  player_.reset();
  ingest_.reset();
}

void RtspSession::leave_multicast() noexcept {
  if (!multicast_key_) return;
  if (multicast_joined_) group_.leave_multicast(*multicast_key_, multicast_address_);
  group_.multicast_directory().release(multicast_key_->to_string());
  multicast_key_.reset();
  multicast_joined_ = false;
}

}  // namespace weir::rtsp
