// SPDX-License-Identifier: Apache-2.0
#include "session.h"

#include <algorithm>

#include "app_values.h"
#include "formats/amf/amf0.h"
#include "formats/rtmp/aggregate_reader.h"
#include "player.h"
#include "publisher.h"
#include "shared_object_client.h"

namespace weir::rtmp {
namespace amf = formats::amf;
namespace wire = formats::rtmp;

namespace {

// Shared objects one connection may use at once: more is a client gone wrong, not a use.
constexpr std::size_t kMaxSharedObjectsPerConnection = 256;

formats::rtmp::ChunkReaderOptions reader_options(const RtmpConfig& config) {
  formats::rtmp::ChunkReaderOptions options;
  options.max_message_bytes = config.max_message_bytes;
  // Encoders use a handful of chunk streams (2..8); more only serves to hold memory open.
  options.max_chunk_streams = 16;
  return options;
}

std::string string_arg(const std::vector<amf::Value>& args, std::size_t i) {
  return i < args.size() ? std::string(args[i].as_string()) : std::string();
}

}  // namespace

std::string_view strip_query(std::string_view name) noexcept {
  auto q = name.find('?');
  return q == std::string_view::npos ? name : name.substr(0, q);
}

RtmpSession::RtmpSession(Connection& connection, RtmpGroup& group, Logger logger)
    : connection_(connection),
      group_(group),
      logger_(std::move(logger)),
      handshake_(std::make_unique<formats::rtmp::ServerHandshake>()),
      reader_(*this, reader_options(group.config())),
      messages_(connection),
      app_bridge_(*this) {
  group_.stats().add(group_.counters().connections);
  handshake_timer_ = group_.poll_group().after(group_.config().handshake_timeout, [this] {
    fail(error(Errc::timeout, "no RTMP handshake within {} ms", group_.config().handshake_timeout.count()));
  });
}

RtmpSession::~RtmpSession() = default;

void RtmpSession::fail(Status reason) {
  group_.stats().add(group_.counters().protocol_errors);
  connection_.close(std::move(reason));
}

Status RtmpSession::on_data(const PageSlice& data) noexcept {
  std::span<const std::uint8_t> bytes(data.data(), data.length);
  received_ += bytes.size();
  if (handshake_) {
    auto used = handshake_->feed(bytes);
    if (!used)
      return used.error().with_context(format("conn={} peer={} rtmp handshake", connection_.id(), connection_.peer_address()));
    auto out = handshake_->pending_output();
    if (!out.empty()) {
      connection_.send_copy(out);
      handshake_->mark_sent(out.size());
    }
    bytes = bytes.subspan(*used);
    if (!handshake_->is_done()) return ok();
    logger_.debug("conn={} handshake done ({})", connection_.id(), wire::handshake_kind_name(handshake_->kind()));
    handshake_.reset();  // 4.6 KiB: an idle player must not keep it
    handshake_timer_.reset();
    schedule_ping();
  }
  if (!bytes.empty()) {
    Status status = reader_.feed(bytes);
    if (!status) return status.with_context(format("conn={} peer={} rtmp", connection_.id(), connection_.peer_address()));
  }
  if (peer_window_ && received_ - acknowledged_ >= peer_window_) {
    acknowledged_ = received_;
    messages_.send_control(wire::kMessageAcknowledgement, wire::encode_acknowledgement(static_cast<std::uint32_t>(received_)));
  }
  return ok();
}

void RtmpSession::on_sender_state(SenderState) noexcept {
  // Players read the sender's state before each frame (it is the truth; this event is a hint).
}

void RtmpSession::on_close(const Status&) noexcept {
  ping_timer_.reset();
  handshake_timer_.reset();
  app_bridge_.on_close();
  if (connected_) {
    for (const auto& p : publishers_) app_bridge_.notify(AppHook::unpublish, app_bridge_.stream_value(p->key().name));
    for (const auto& player : players_) app_bridge_.notify(AppHook::stop, app_bridge_.stream_value(player->key().name));
    app_bridge_.notify(AppHook::disconnect, Value());
  }
  app_bridge_.detach();
  // We may be inside a player's on_frames (it closed us): destroy players after this call stack.
  auto players = std::make_shared<std::vector<std::unique_ptr<Player>>>(std::move(players_));
  players_.clear();
  group_.poll_group().defer([players] {});
  for (const auto& p : publishers_)
    logger_.info("conn={} unpublished {} (connection closed)", connection_.id(), p->key().to_string());
  publishers_.clear();  // unpublishes: the stream's players wait out the grace period
  // Unsubscribed now (no update reaches a closed session); the clients themselves go after this
  // call stack, which may be inside one of their updates.
  for (auto& client : shared_objects_) client->detach();
  auto objects = std::make_shared<std::vector<std::unique_ptr<SharedObjectClient>>>(std::move(shared_objects_));
  shared_objects_.clear();
  group_.poll_group().defer([objects] {});
}

void RtmpSession::schedule_ping() {
  ping_timer_ = group_.poll_group().after(group_.config().ping_interval, [this] {
    if (received_ != received_at_last_ping_) {
      ping_outstanding_ = false;
    } else if (ping_outstanding_) {
      connection_.close(error(Errc::timeout, "peer silent for {} ms and did not answer a ping",
                              2 * group_.config().ping_interval.count()));
      return;
    } else {
      ping_outstanding_ = true;
      messages_.send_user_control(wire::UserControlEvent::ping_request,
                        static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       Clock::now().time_since_epoch())
                                                       .count()));
    }
    received_at_last_ping_ = received_;
    schedule_ping();
  });
}

// ---- message storage (ChunkSink) ----

RtmpSession::Incoming* RtmpSession::incoming(std::uint32_t chunk_stream_id) {
  for (Incoming& in : incoming_)
    if (in.chunk_stream_id == chunk_stream_id) return &in;
  incoming_.push_back(Incoming{});
  incoming_.back().chunk_stream_id = chunk_stream_id;
  return &incoming_.back();
}

std::span<std::uint8_t> RtmpSession::begin_message(const wire::MessageHeader& header) noexcept {
  Incoming& in = *incoming(header.chunk_stream_id);
  in.slice = PageSlice{};
  in.in_page = false;
  // What a peer may hold open at once: one largest message and a little more (interleaved audio).
  const std::uint64_t budget = std::uint64_t{group_.config().max_message_bytes} + (1u << 20);
  if (open_bytes_ + header.length > budget) {
    logger_.warn("conn={} peer={}: unfinished messages would hold {} bytes (limit {}): refused", connection_.id(),
                 connection_.peer_address(), open_bytes_ + header.length, budget);
    return {};
  }
  open_bytes_ += header.length;
  in.open_length = header.length;
  bool is_media = header.type_id == wire::kMessageAudio || header.type_id == wire::kMessageVideo ||
                  header.type_id == wire::kMessageDataAmf0;
  // Media that fits a page is assembled straight into a page of the group's pool: the payload's
  // only copy. Larger messages (big key frames) go through a vector, then into pages.
  if (is_media && header.length > 0 && header.length <= group_.poll_group().pages().page_size()) {
    if (std::byte* at = group_.ingest().reserve(header.length, in.slice)) {
      in.in_page = true;
      return {reinterpret_cast<std::uint8_t*>(at), header.length};
    }
    return {};  // the pool is exhausted: refusing the message closes this publisher, nobody else
  }
  if (in.capacity < header.length) {
    in.bytes.reset(new std::uint8_t[header.length]);  // default-initialised: no zero fill
    in.capacity = header.length;
  }
  return {in.bytes.get(), header.length};
}

Status RtmpSession::end_message(const wire::MessageHeader& header, std::span<std::uint8_t> payload) noexcept {
  Incoming& in = *incoming(header.chunk_stream_id);
  open_bytes_ -= in.open_length;
  in.open_length = 0;
  PageSlice slice = std::move(in.slice);
  Status status = on_message(header, payload, in.in_page ? &slice : nullptr);
  in.in_page = false;
  if (in.capacity > (256u << 10)) {  // after a big key frame: give the memory back
    in.bytes.reset();
    in.capacity = 0;
  }
  return status;
}

void RtmpSession::abort_message(const wire::MessageHeader& header) noexcept {
  Incoming& in = *incoming(header.chunk_stream_id);
  open_bytes_ -= in.open_length;
  in.open_length = 0;
  in.slice = PageSlice{};
  in.in_page = false;
}

// ---- dispatch ----

Status RtmpSession::on_message(const wire::MessageHeader& header, std::span<const std::uint8_t> payload,
                               const PageSlice* slice) {
  switch (header.type_id) {
    case wire::kMessageSetChunkSize:
    case wire::kMessageAbort:
    case wire::kMessageAcknowledgement:
    case wire::kMessageWindowAckSize:
    case wire::kMessageSetPeerBandwidth:
    case wire::kMessageUserControl:
      return on_control(header, payload);
    case wire::kMessageCommandAmf0:
    case wire::kMessageCommandAmf3: {
      // AMF3 commands: a format byte (0), then AMF0 with AVM+ switches.
      if (header.type_id == wire::kMessageCommandAmf3) {
        if (payload.empty()) return ok();
        payload = payload.subspan(1);
      }
      if (app_bridge_.is_waiting()) {
        // The client's answer to a client:call is what the hook may be waiting for: never queued.
        amf::Amf0Reader peek(payload);
        auto name = peek.read();
        if (name && (name->as_string() == "_result" || name->as_string() == "_error"))
          return on_command(header, payload);
        return app_bridge_.queue(header, payload);
      }
      return on_command(header, payload);
    }
    case wire::kMessageDataAmf0:
      return on_data_message(header, payload);
    case wire::kMessageDataAmf3:
      if (payload.empty()) return ok();
      return on_data_message(header, payload.subspan(1));
    case wire::kMessageAudio:
    case wire::kMessageVideo:
      return on_media(header, payload, slice);
    case wire::kMessageAggregate: {
      wire::AggregateReader aggregate(header, payload);
      while (auto sub = aggregate.next()) WEIR_TRY(on_message(sub->header, sub->payload, nullptr));
      return aggregate.status().with_context("aggregate message");
    }
    case wire::kMessageSharedObjectAmf0:
    case wire::kMessageSharedObjectAmf3:
      return on_shared_object(header, payload);
    default:
      logger_.debug("conn={} message type {} ignored", connection_.id(), static_cast<int>(header.type_id));
      return ok();
  }
}

Status RtmpSession::on_control(const wire::MessageHeader& header, std::span<const std::uint8_t> payload) {
  switch (header.type_id) {
    case wire::kMessageSetChunkSize:
    case wire::kMessageAbort:
      return wire::apply_chunk_control(reader_, header, payload);
    case wire::kMessageAcknowledgement:
      return wire::decode_acknowledgement(payload).status();
    case wire::kMessageWindowAckSize: {
      auto window = wire::decode_window_ack_size(payload);
      if (!window) return window.error();
      peer_window_ = *window;
      return ok();
    }
    case wire::kMessageSetPeerBandwidth:
      return wire::decode_set_peer_bandwidth(payload).status();
    case wire::kMessageUserControl: {
      auto event = wire::decode_user_control(payload);
      if (!event) return event.error();
      if (event->event == wire::UserControlEvent::ping_request)
        messages_.send_user_control(wire::UserControlEvent::ping_response, event->value);
      else if (event->event == wire::UserControlEvent::ping_response)
        ping_outstanding_ = false;
      return ok();
    }
    default:
      return ok();
  }
}

Status RtmpSession::on_command(const wire::MessageHeader& header, std::span<const std::uint8_t> payload) {
  amf::Amf0Reader reader(payload);
  auto values = reader.read_all();
  if (!values) return values.error().with_context("command");
  if (values->size() < 2 || !(*values)[0].is_string())
    return error(Errc::malformed, "command without a name and transaction id");
  std::string name((*values)[0].as_string());
  double transaction = (*values)[1].as_number();
  amf::Value command = values->size() > 2 ? (*values)[2] : amf::Value::null();
  std::vector<amf::Value> args(values->size() > 3 ? values->begin() + 3 : values->end(), values->end());
  logger_.debug("conn={} command {} txn={} stream={}", connection_.id(), name, transaction, header.stream_id);

  if (name == "connect") return on_connect(transaction, command);
  // The client answers a client:call (on_connect may call it before the connect is accepted).
  if (name == "_result" || name == "_error") {
    app_bridge_.on_client_answer(name == "_error", transaction, args);
    return ok();
  }
  if (!connected_) return error(Errc::malformed, "command '{}' before connect", name);
  if (name == "createStream") return on_create_stream(transaction);
  if (name == "publish") return on_publish(transaction, header.stream_id, args);
  if (name == "play") return on_play(transaction, header.stream_id, args);
  if (name == "releaseStream" || name == "FCSubscribe" || name == "_checkbw") {
    if (transaction > 0) messages_.send_result(transaction, amf::Value::null(), amf::Value());
    return ok();
  }
  if (name == "FCPublish") {
    std::string stream(strip_query(string_arg(args, 0)));
    messages_.send_command(0, {amf::Value("onFCPublish"), amf::Value(0.0), amf::Value::null(),
                     amf::Value::object({{"code", amf::Value("NetStream.Publish.Start")},
                                         {"description", amf::Value(stream)}})});
    if (transaction > 0) messages_.send_result(transaction, amf::Value::null(), amf::Value());
    return ok();
  }
  if (name == "FCUnpublish") {
    std::string stream(strip_query(string_arg(args, 0)));
    messages_.send_command(0, {amf::Value("onFCUnpublish"), amf::Value(0.0), amf::Value::null(),
                     amf::Value::object({{"code", amf::Value("NetStream.Unpublish.Success")},
                                         {"description", amf::Value(stream)}})});
    if (transaction > 0) messages_.send_result(transaction, amf::Value::null(), amf::Value());
    return ok();
  }
  if (name == "getStreamLength") {  // live streams have no length
    messages_.send_result(transaction, amf::Value::null(), amf::Value(0.0));
    return ok();
  }
  if (name == "closeStream" || name == "deleteStream") {
    std::uint32_t id = name == "deleteStream" && !args.empty() ? static_cast<std::uint32_t>(args[0].as_number())
                                                             : header.stream_id;
    close_stream(id);
    return ok();
  }
  if (name == "pause" || name == "receiveAudio" || name == "receiveVideo" || name == "seek") {
    for (auto& player : players_) {
      if (player->stream_id() != header.stream_id) continue;
      if (name == "pause") player->pause(!args.empty() && args[0].as_boolean(), args.size() > 1 ? args[1].as_number() : 0);
      else if (name == "receiveAudio") player->receive_audio(args.empty() || args[0].as_boolean(true));
      else if (name == "receiveVideo") player->receive_video(args.empty() || args[0].as_boolean(true));
      else player->seek(args.empty() ? 0 : args[0].as_number());
    }
    return ok();
  }
  // A method of the server-side application: NetConnection.call(name, responder, args...).
  if (app_bridge_.has_hook(AppHook::call, name)) {
    std::vector<Value> call_args;
    call_args.reserve(args.size());
    for (const amf::Value& arg : args) call_args.push_back(to_app_value(arg));
    app_bridge_.ask(AppRequest{AppHook::call, name, std::move(call_args)}, [this, transaction, name](AppVerdict verdict) {
      if (transaction <= 0) return;  // no responder: the client wants no answer
      if (verdict.kind == AppVerdict::Kind::accept)
        messages_.send_result(transaction, amf::Value::null(), to_amf(verdict.result));
      else
        messages_.send_error(transaction, verdict.code.empty() ? "NetConnection.Call.Failed" : verdict.code,
                   verdict.description);
    });
    return ok();
  }
  if (transaction > 0)
    messages_.send_command(0, {amf::Value("_error"), amf::Value(transaction), amf::Value::null(),
                     amf::Value::object({{"level", amf::Value("error")},
                                         {"code", amf::Value("NetConnection.Call.Failed")},
                                         {"description", amf::Value("Method not found (" + name + ")")}})});
  return ok();
}

Status RtmpSession::on_connect(double transaction, const amf::Value& command) {
  if (connected_) return error(Errc::malformed, "second connect on one connection");
  std::string app(command.find("app") ? command.find("app")->as_string() : std::string_view());
  app = std::string(strip_query(app));
  while (!app.empty() && app.back() == '/') app.pop_back();
  if (app.empty()) return error(Errc::malformed, "connect without an app");
  app_ = app;
  if (const amf::Value* url = command.find("tcUrl")) tc_url_ = url->as_string();
  if (const amf::Value* version = command.find("flashVer")) flash_version_ = version->as_string();
  if (const amf::Value* encoding = command.find("objectEncoding")) object_encoding_ = encoding->as_number();
  if (app_bridge_.has_hook(AppHook::connect)) {
    Value params = to_app_value(command);
    if (!params.is_object()) params = Value::object();
    params.set("app", app_);
    params.set("address", connection_.peer_address());
    // Query arguments may come on the tcUrl (rtmp://host/live?token=x) or the app (live?token=x).
    Value args = parse_query(query_of(tc_url_));
    if (const amf::Value* raw_app = command.find("app")) {
      Value app_args = parse_query(query_of(raw_app->as_string()));
      for (const auto& [key, value] : app_args.members())
        if (!args.find(key)) args.set(key, value);
    }
    params.set("args", std::move(args));
    app_bridge_.ask(AppRequest{AppHook::connect, {}, {std::move(params)}},
        [this, transaction](AppVerdict verdict) { finish_connect(transaction, verdict); });
    return ok();
  }
  finish_connect(transaction, AppVerdict{});
  return ok();
}

void RtmpSession::finish_connect(double transaction, const AppVerdict& verdict) {
  if (verdict.kind != AppVerdict::Kind::accept) {
    bool redirect = verdict.kind == AppVerdict::Kind::redirect;
    // Redirects as Flash Media Server and Wowza send them: the rejection carries ex.redirect.
    amf::Value ex = redirect ? amf::Value::object({{"code", amf::Value(302.0)},
                                                   {"redirect", amf::Value(verdict.redirect_url)}})
                             : amf::Value();
    std::string description = verdict.description.empty() ? "Connection rejected by the application" : verdict.description;
    messages_.send_error(transaction, verdict.code.empty() ? "NetConnection.Connect.Rejected" : verdict.code, description, ex);
    logger_.info("conn={} peer={} connect app={} {} by the application: {}", connection_.id(),
                 connection_.peer_address(), app_, redirect ? "redirected to " + verdict.redirect_url : "rejected",
                 description);
    app_bridge_.drop_queued();  // whatever the client sent behind its connect is not for us
    connection_.close_after_flush();
    return;
  }
  connected_ = true;
  app_bridge_.apply(verdict);
  if (app_bridge_.has_hook(AppHook::update)) app_bridge_.start_updates();
  const RtmpConfig& config = group_.config();
  messages_.send_control(wire::kMessageWindowAckSize, wire::encode_window_ack_size(config.ack_window));
  messages_.send_control(wire::kMessageSetPeerBandwidth,
               wire::encode_set_peer_bandwidth({config.ack_window, wire::BandwidthLimit::dynamic}));
  messages_.send_control(wire::kMessageSetChunkSize, wire::encode_set_chunk_size(config.out_chunk_size));
  messages_.set_chunk_size(config.out_chunk_size);
  messages_.send_result(transaction,
              amf::Value::object({{"fmsVer", amf::Value("FMS/3,5,7,7009")},
                                  {"capabilities", amf::Value(31.0)},
                                  {"mode", amf::Value(1.0)}}),
              amf::Value::object({{"level", amf::Value("status")},
                                  {"code", amf::Value("NetConnection.Connect.Success")},
                                  {"description", amf::Value("Connection succeeded.")},
                                  {"objectEncoding", amf::Value(object_encoding_)}}));
  logger_.info("conn={} peer={} connect app={} flashVer='{}'", connection_.id(), connection_.peer_address(), app_,
               flash_version_);
}

Status RtmpSession::on_create_stream(double transaction) {
  std::uint32_t id = next_stream_id_++;
  messages_.send_result(transaction, amf::Value::null(), amf::Value(static_cast<double>(id)));
  return ok();
}

Status RtmpSession::on_publish(double, std::uint32_t stream_id, const std::vector<amf::Value>& args) {
  std::string name(strip_query(string_arg(args, 0)));
  std::string type = args.size() > 1 ? std::string(args[1].as_string()) : "live";
  if (name.empty()) {
    messages_.send_status(stream_id, "error", "NetStream.Publish.BadName", "No stream name");
    return ok();
  }
  if (publisher(stream_id)) {
    messages_.send_status(stream_id, "error", "NetStream.Publish.BadName", "Already publishing on this stream");
    return ok();
  }
  if (app_bridge_.has_hook(AppHook::publish)) {
    Value stream = app_bridge_.stream_value(string_arg(args, 0));
    stream.set("type", type);
    app_bridge_.ask(AppRequest{AppHook::publish, {}, {std::move(stream)}}, [this, stream_id, name, type](AppVerdict verdict) {
      if (verdict.kind != AppVerdict::Kind::accept) {
        app_bridge_.refuse(stream_id, verdict, "publish", name, "NetStream.Publish.Denied", "Publishing " + name + " was refused");
        return;
      }
      app_bridge_.apply(verdict);
      start_publish(stream_id, verdict.stream_name.empty() ? name : verdict.stream_name, type);
    });
    return ok();
  }
  start_publish(stream_id, name, type);
  return ok();
}

void RtmpSession::start_publish(std::uint32_t stream_id, const std::string& name, const std::string& type) {
  if (publisher(stream_id)) {  // a second publish raced in behind the hook
    messages_.send_status(stream_id, "error", "NetStream.Publish.BadName", "Already publishing on this stream");
    return;
  }
  if (type == "record" || type == "append")
    logger_.warn("conn={} publish {}/{} type={}: recording needs mod_file; publishing live only", connection_.id(),
                 app_, name, type);
  auto publisher = std::make_unique<Publisher>(*this, stream_id, StreamKey{app_, name});
  if (Status status = publisher->start(); !status) {
    logger_.info("conn={} publish {} refused: {}", connection_.id(), publisher->key().to_string(), status.message());
    messages_.send_status(stream_id, "error", "NetStream.Publish.BadName", status.message());
    return;
  }
  publishers_.push_back(std::move(publisher));
}

Status RtmpSession::on_play(double, std::uint32_t stream_id, const std::vector<amf::Value>& args) {
  std::string name(strip_query(string_arg(args, 0)));
  if (name.empty()) {
    messages_.send_status(stream_id, "error", "NetStream.Play.StreamNotFound", "No stream name");
    return ok();
  }
  close_stream(stream_id);  // a second play on a stream replaces the first
  double duration_s = args.size() > 2 ? args[2].as_number(-1) : -1;
  if (app_bridge_.has_hook(AppHook::play)) {
    Value stream = app_bridge_.stream_value(string_arg(args, 0));
    stream.set("start", args.size() > 1 ? args[1].as_number(-2) : -2);
    stream.set("duration", duration_s);
    app_bridge_.ask(AppRequest{AppHook::play, {}, {std::move(stream)}}, [this, stream_id, name, duration_s](AppVerdict verdict) {
      if (verdict.kind != AppVerdict::Kind::accept) {
        app_bridge_.refuse(stream_id, verdict, "play", name, "NetStream.Play.Failed", "Playing " + name + " was refused");
        return;
      }
      app_bridge_.apply(verdict);
      start_play(stream_id, verdict.stream_name.empty() ? name : verdict.stream_name, duration_s);
    });
    return ok();
  }
  start_play(stream_id, name, duration_s);
  return ok();
}

void RtmpSession::start_play(std::uint32_t stream_id, const std::string& name, double duration_s, bool may_ask,
                             std::string source) {
  close_stream(stream_id);
  StreamKey key{app_, name};
  auto player = std::make_unique<Player>(*this, stream_id, key);
  bool wait = group_.config().play_waits_for_publisher;
  const bool pulled = !source.empty();
  Status status = player->start(wait, duration_s, std::move(source));
  if (!status && status.code() == Errc::denied) {  // load shedding: say why, the player shows it
    messages_.send_status(stream_id, "error", "NetStream.Play.Failed", status.message());
    logger_.info("conn={} play {} refused: {}", connection_.id(), key.to_string(), status.message());
    return;
  }
  if (!status && may_ask && app_bridge_.has_hook(AppHook::stream_not_found)) {
    // The application may send the player to another stream (a fallback, a renamed one), or
    // name where to pull it from (a camera: weir.accept{pull = "rtsp://..."}).
    app_bridge_.ask(AppRequest{AppHook::stream_not_found, {}, {app_bridge_.stream_value(name)}},
        [this, stream_id, name, duration_s](AppVerdict verdict) {
          if (verdict.kind == AppVerdict::Kind::accept && (!verdict.stream_name.empty() || !verdict.pull_url.empty())) {
            app_bridge_.apply(verdict);
            start_play(stream_id, verdict.stream_name.empty() ? name : verdict.stream_name, duration_s, false,
                       std::move(verdict.pull_url));
            return;
          }
          app_bridge_.refuse(stream_id, verdict, "play", name, "NetStream.Play.StreamNotFound", app_ + "/" + name + " is not published");
        });
    return;
  }
  if (!status) {
    // A pull nobody could start says why (its message does not hold the URL's password).
    messages_.send_status(stream_id, "error", "NetStream.Play.StreamNotFound",
                          pulled ? status.message() : key.to_string() + " is not published");
    logger_.info("conn={} play {}: not found{}", connection_.id(), key.to_string(), pulled ? ": " + status.message() : "");
    return;
  }
  group_.stats().add(group_.counters().plays);
  connection_.set_label("play " + key.to_string());
  connection_.set_stream(key.to_string());
  logger_.info("conn={} peer={} playing {}", connection_.id(), connection_.peer_address(), key.to_string());
  players_.push_back(std::move(player));
}

void RtmpSession::close_stream(std::uint32_t stream_id) {
  std::erase_if(publishers_, [&](const std::unique_ptr<Publisher>& p) {
    if (p->stream_id() != stream_id) return false;
    logger_.info("conn={} unpublished {}", connection_.id(), p->key().to_string());
    app_bridge_.notify(AppHook::unpublish, app_bridge_.stream_value(p->key().name));
    return true;
  });
  for (auto it = players_.begin(); it != players_.end();) {
    if ((*it)->stream_id() == stream_id) {
      app_bridge_.notify(AppHook::stop, app_bridge_.stream_value((*it)->key().name));
      // Commands run outside stream deliveries, so the player can go at once.
      it = players_.erase(it);
    } else {
      ++it;
    }
  }
}

Publisher* RtmpSession::publisher(std::uint32_t stream_id) {
  for (const auto& p : publishers_)
    if (p->stream_id() == stream_id) return p.get();
  return nullptr;
}

Status RtmpSession::on_data_message(const wire::MessageHeader& header, std::span<const std::uint8_t> payload) {
  Publisher* p = publisher(header.stream_id);
  if (!p) return ok();  // data from a non-publisher (e.g. a player's onBWCheck) is not for anyone
  return p->on_data(header, payload);
}

Status RtmpSession::on_media(const wire::MessageHeader& header, std::span<const std::uint8_t> payload,
                             const PageSlice* slice) {
  Publisher* p = publisher(header.stream_id);
  if (!p) return ok();
  return p->on_media(header, payload, slice);
}

// ---- server-side applications ----

void RtmpSession::resume_commands() {
  while (!app_bridge_.is_waiting() && connection_.is_open()) {
    auto command = app_bridge_.take_queued();
    if (!command) return;
    Status status = on_command(command->header, command->payload);
    if (!status) {
      fail(status.with_context(format("conn={} peer={} rtmp", connection_.id(), connection_.peer_address())));
      return;
    }
  }
}

// ---- shared objects ----

SharedObjectClient* RtmpSession::find_shared_object(const SharedObjectKey& key) {
  for (auto& client : shared_objects_)
    if (client && client->key() == key) return client.get();
  return nullptr;
}

Status RtmpSession::on_shared_object(const wire::MessageHeader& header, std::span<const std::uint8_t> payload) {
  const bool is_amf3 = header.type_id == wire::kMessageSharedObjectAmf3;
  auto message = wire::decode_shared_object(payload, is_amf3);
  if (!message) return message.error();
  if (!connected_) return error(Errc::malformed, "shared object message before connect");
  SharedObjectKey key{app_, message->name, message->persistent};
  for (wire::SharedObjectEventData& event : message->events) {
    using Type = wire::SharedObjectEventType;
    SharedObjectClient* client = find_shared_object(key);
    switch (event.type) {
      case Type::use: {
        if (client) break;  // a second use of one object changes nothing
        if (shared_objects_.size() >= kMaxSharedObjectsPerConnection)
          return error(Errc::limit, "more than {} shared objects on one connection", kMaxSharedObjectsPerConnection);
        auto fresh = std::make_unique<SharedObjectClient>(*this, key, is_amf3);
        if (Status status = fresh->start(); !status) {
          logger_.info("conn={} shared object {}: {}", connection_.id(), key.to_string(), status.message());
          wire::SharedObjectMessage reply{key.name, 0, key.persistent, {}};
          reply.events.push_back({Type::status, "SharedObject.UseFailed", {}, {}, "error"});
          send_shared_object(reply, is_amf3);
          break;
        }
        logger_.debug("conn={} uses shared object {}", connection_.id(), key.to_string());
        shared_objects_.push_back(std::move(fresh));
        break;
      }
      case Type::release:
        std::erase_if(shared_objects_, [&](const auto& c) { return c && c->key() == key; });
        break;
      case Type::request_change:
      case Type::request_remove:
      case Type::send_message:
        if (!client || !client->subscription()) {
          logger_.info("conn={} {} on shared object {}, which it does not use: ignored", connection_.id(),
                       wire::shared_object_event_name(static_cast<std::uint8_t>(event.type)), key.to_string());
          break;
        }
        if (event.type == Type::request_change) {
          client->subscription()->set(event.name, to_app_value(event.value));
        } else if (event.type == Type::request_remove) {
          client->subscription()->remove(event.name);
        } else {
          std::vector<Value> args;
          args.reserve(event.args.size());
          for (const amf::Value& arg : event.args) args.push_back(to_app_value(arg));
          client->subscription()->send(event.name, std::move(args));
        }
        break;
      default:  // events only a server sends: nothing to do
        logger_.debug("conn={} shared object {}: client sent a {} event: ignored", connection_.id(), key.to_string(),
                      wire::shared_object_event_name(static_cast<std::uint8_t>(event.type)));
        break;
    }
  }
  return ok();
}

void RtmpSession::release_shared_object(const SharedObjectKey& key) {
  for (auto& client : shared_objects_) {
    if (!client || client->key() != key) continue;
    // Destroyed after the current call stack, which may be the client's own callback.
    group_.poll_group().defer([keep = std::shared_ptr<SharedObjectClient>(std::move(client))] {});
  }
  std::erase(shared_objects_, nullptr);
}

void RtmpSession::send_shared_object(const wire::SharedObjectMessage& message, bool is_amf3) {
  std::vector<std::uint8_t> out;
  Status status = wire::encode_shared_object(message, is_amf3, out);
  if (!status) {
    logger_.warn("conn={} shared object message not sent: {}", connection_.id(), status.message());
    return;
  }
  messages_.send_message(kCommandChunkStream, is_amf3 ? wire::kMessageSharedObjectAmf3 : wire::kMessageSharedObjectAmf0, 0, out);
}

}  // namespace weir::rtmp
