// SPDX-License-Identifier: Apache-2.0
// Figures as weir::Value (the JSON API, Lua), JSON text and the Prometheus text format.
// docs/stats.md documents every field; change both together.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "figures.h"

namespace weir::stats {
namespace {

Value round3(double x) { return std::round(x * 1000.0) / 1000.0; }

Value track_value(const TrackStats& track) {
  Value v = Value::object();
  v.set("codec", codec_name(track.codec));
  v.set("frames", track.frames);
  v.set("bytes", track.bytes);
  return v;
}

Value numbers(const std::vector<double>& xs) {
  std::vector<Value> items;
  items.reserve(xs.size());
  for (double x : xs) items.emplace_back(round3(x));
  return Value::array(std::move(items));
}

// Listener name from a kernel counter name: weir_connections_opened_total{listener="rtmp"}.
std::string listener_of(const std::string& name, std::string_view prefix) {
  if (name.rfind(prefix, 0) != 0) return {};
  std::string_view rest(name);
  rest.remove_prefix(prefix.size());
  constexpr std::string_view open = "{listener=\"";
  if (rest.rfind(open, 0) != 0 || rest.size() < open.size() + 2) return {};
  return std::string(rest.substr(open.size(), rest.size() - open.size() - 2));
}

Poco::Dynamic::Var to_poco(const Value& value) {
  switch (value.type()) {
    case Value::Type::undefined:
    case Value::Type::null: return Poco::Dynamic::Var();
    case Value::Type::boolean: return value.as_bool();
    case Value::Type::number: {
      double x = value.as_number();
      if (!std::isfinite(x)) return Poco::Dynamic::Var();  // JSON has no NaN or infinity
      if (x == std::trunc(x) && std::fabs(x) < 9.0e15) return static_cast<Poco::Int64>(x);
      return x;
    }
    case Value::Type::string: return std::string(value.as_string());
    case Value::Type::date: return value.as_date_ms();
    case Value::Type::array: {
      Poco::JSON::Array::Ptr array = new Poco::JSON::Array();
      for (const Value& item : value.items()) array->add(to_poco(item));
      return array;
    }
    case Value::Type::object: {
      Poco::JSON::Object::Ptr object = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      for (const auto& [key, item] : value.members()) object->set(key, to_poco(item));
      return object;
    }
  }
  return Poco::Dynamic::Var();
}

// Prometheus label values escape backslash, double quote and newline.
std::string label(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Exposition {
 public:
  /// Starts a metric family: HELP and TYPE, once.
  void family(const std::string& name, std::string_view type, std::string_view help) {
    if (!families_.emplace(name, true).second) return;
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(const std::string& name_and_labels, double value) {
    out_ << name_and_labels << ' ';
    if (value == std::trunc(value) && std::fabs(value) < 9.0e15) out_ << static_cast<long long>(value);
    else out_ << value;
    out_ << '\n';
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::map<std::string, bool> families_;
};

}  // namespace

Value server_value(const Figures& f) {
  Value v = Value::object();
  v.set("version", WEIR_VERSION);
  v.set("uptime_seconds", round3(f.uptime_seconds));
  v.set("threads", f.threads);
  // For load balancers: whether new players are admitted, and if not why.
  v.set("accepting", f.refusal.empty());
  if (f.refusal.empty()) v.set("refusal", nullptr);
  else v.set("refusal", f.refusal);
  Value limits = Value::object();
  limits.set("max_connections", f.limits.max_connections);
  limits.set("max_send_rate", f.limits.max_send_rate_bytes);
  limits.set("max_cpu", f.limits.max_cpu_percent);
  v.set("limits", std::move(limits));
  // Connections per listener: opened and closed are counted by the kernel; open is the difference.
  Value listeners = Value::object();
  for (const StatValue& s : f.server.values) {
    std::string name = listener_of(s.name, "weir_connections_opened_total");
    if (name.empty()) continue;
    double closed = 0, refused = 0, accept_pauses = 0;
    for (const StatValue& c : f.server.values) {
      if (listener_of(c.name, "weir_connections_closed_total") == name) closed = c.value;
      if (listener_of(c.name, "weir_connections_refused_total") == name) refused = c.value;
      if (listener_of(c.name, "weir_accept_pauses_total") == name) accept_pauses = c.value;
    }
    Value l = Value::object();
    l.set("open", s.value - closed);
    l.set("total", s.value);
    l.set("refused", refused);
    l.set("accept_pauses", accept_pauses);
    listeners.set(name, std::move(l));
  }
  Value connections = Value::object();
  connections.set("open", f.server.connections_open);
  connections.set("by_listener", std::move(listeners));
  v.set("connections", std::move(connections));
  Value bytes = Value::object();
  double received = 0, sent = 0;
  for (const StatValue& s : f.server.values) {
    if (s.name == "weir_received_bytes_total") received = s.value;
    if (s.name == "weir_sent_bytes_total") sent = s.value;
  }
  bytes.set("received", received);
  bytes.set("sent", sent);
  bytes.set("received_per_second", round3(f.received_bytes_per_second));
  bytes.set("sent_per_second", round3(f.sent_bytes_per_second));
  v.set("bytes", std::move(bytes));
  Value pages = Value::object();
  std::uint64_t allocated = 0, in_use = 0, high = 0, max = 0, failures = 0, page_size = 0;
  for (const PagePoolStats& p : f.server.page_pools) {
    page_size = p.page_size;
    allocated += p.pages_allocated;
    in_use += p.pages_in_use;
    high += p.pages_high_water;
    max += p.pages_max;
    failures += p.allocation_failures;
  }
  pages.set("page_size", page_size);
  pages.set("allocated", allocated);
  pages.set("in_use", in_use);
  pages.set("high_water", high);
  pages.set("max", max);
  pages.set("allocation_failures", failures);
  v.set("pages", std::move(pages));
  Value senders = Value::object();
  senders.set("overloaded", f.server.senders_overloaded);
  v.set("senders", std::move(senders));
  Value process = Value::object();
  process.set("cpu_seconds", round3(f.process.cpu_seconds));
  process.set("cpu_percent", round3(f.cpu_percent));
  process.set("resident_bytes", f.process.resident_bytes);
  v.set("process", std::move(process));
  v.set("streams", f.streams.size());
  // Every counter and gauge the kernel and modules registered, by name (as in /metrics).
  Value counters = Value::object();
  for (const StatValue& s : f.server.values) counters.set(s.name, s.value);
  v.set("counters", std::move(counters));
  return v;
}

Value stream_value(const StreamFigures& s, Clock::time_point taken_at, bool with_history) {
  const StreamStats& k = s.kernel;
  Value v = Value::object();
  v.set("app", k.key.app);
  v.set("name", k.key.name);
  v.set("is_published", k.is_published);
  if (k.is_published) {
    Value publisher = Value::object();
    publisher.set("protocol", k.publisher_protocol);
    publisher.set("address", k.publisher_address);
    double since = std::chrono::duration<double>(taken_at - k.published_at).count();
    publisher.set("seconds", round3(since));
    v.set("publisher", std::move(publisher));
  } else {
    v.set("publisher", nullptr);
  }
  Value video = track_value(k.video);
  video.set("width", s.width);
  video.set("height", s.height);
  video.set("frame_rate", round3(s.frame_rate));
  video.set("bitrate", round3(s.video_bitrate_bps));
  video.set("key_frames", k.video.key_frames);
  video.set("key_frame_interval_ms", k.key_frame_interval_ms);
  v.set("video", std::move(video));
  Value audio = track_value(k.audio);
  audio.set("sample_rate", s.sample_rate_hz);
  audio.set("channels", s.channels);
  audio.set("bitrate", round3(s.audio_bitrate_bps));
  v.set("audio", std::move(audio));
  v.set("bitrate_in", round3(s.bitrate_bps));
  v.set("bitrate_out", round3(s.bitrate_out_bps));
  v.set("bytes_out", k.delivered.bytes_sent);
  v.set("frames_dropped", k.delivered.frames_dropped);
  Value players = Value::object();
  players.set("total", k.players);
  Value by_protocol = Value::object();
  for (const auto& [protocol, count] : k.players_by_protocol)
    by_protocol.set(protocol.empty() ? "other" : protocol, count);
  players.set("by_protocol", std::move(by_protocol));
  v.set("players", std::move(players));
  if (with_history) {
    Value history = Value::object();
    history.set("bitrate_in", numbers(s.bitrate_history));
    history.set("players", numbers(s.players_history));
    v.set("history", std::move(history));
  }
  return v;
}

Value streams_value(const Figures& f) {
  std::vector<Value> items;
  for (const StreamFigures& s : f.streams) items.push_back(stream_value(s, f.taken_at, true));
  Value v = Value::object();
  v.set("streams", Value::array(std::move(items)));
  return v;
}

Value clients_value(const std::vector<ConnectionInfo>& connections, const Figures* figures) {
  std::vector<Value> items;
  items.reserve(connections.size());
  for (const ConnectionInfo& c : connections) {
    Value v = Value::object();
    v.set("id", c.id);
    v.set("protocol", c.listener);
    v.set("address", c.peer_address);
    v.set("label", c.label);
    v.set("stream", c.stream);
    v.set("group", c.group);
    v.set("seconds", round3(c.seconds));
    v.set("bytes_received", c.bytes_received);
    v.set("bytes_sent", c.sender.bytes_sent_total);
    v.set("queued_bytes", c.sender.queued_bytes);
    // How far behind live, in media time: what is queued, at the rate the stream comes in.
    const StreamFigures* stream = nullptr;
    if (figures && !c.stream.empty())
      for (const StreamFigures& s : figures->streams)
        if (s.kernel.key.to_string() == c.stream) stream = &s;
    if (stream && stream->bitrate_bps > 0)
      v.set("lag_ms", round3(static_cast<double>(c.sender.queued_bytes) * 8000.0 / stream->bitrate_bps));
    else
      v.set("lag_ms", nullptr);
    v.set("sender_state", sender_state_name(c.sender.state));
    v.set("refused_sends", c.sender.refused_sends);
    v.set("frames_dropped", c.frames_dropped);
    items.push_back(std::move(v));
  }
  Value v = Value::object();
  v.set("clients", Value::array(std::move(items)));
  return v;
}

std::string to_json(const Value& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(to_poco(value), out);
  return out.str();
}

std::string to_prometheus(const Figures& f) {
  Exposition e;
  for (const StatValue& s : f.server.values) {
    std::string base = s.name.substr(0, s.name.find('{'));
    e.family(base, s.is_gauge ? "gauge" : "counter", s.help);
    e.sample(s.name, s.value);
  }
  e.family("weir_uptime_seconds", "gauge", "Seconds since mod_stats started");
  e.sample("weir_uptime_seconds", std::round(f.uptime_seconds));
  e.family("weir_poll_groups", "gauge", "Poll group threads");
  e.sample("weir_poll_groups", f.threads);
  e.family("weir_accepting_players", "gauge", "1 while new players are admitted, 0 while load is shed");
  e.sample("weir_accepting_players", f.refusal.empty() ? 1 : 0);
  e.family("weir_connections_open", "gauge", "Open connections");
  e.sample("weir_connections_open", static_cast<double>(f.server.connections_open));
  e.family("weir_senders_overloaded", "gauge", "Connections whose send queue is past its soft limit");
  e.sample("weir_senders_overloaded", static_cast<double>(f.server.senders_overloaded));
  e.family("weir_page_pool_pages", "gauge", "Pages of the poll groups' pools by state");
  double in_use = 0, allocated = 0, max = 0;
  for (const PagePoolStats& p : f.server.page_pools) {
    in_use += static_cast<double>(p.pages_in_use);
    allocated += static_cast<double>(p.pages_allocated);
    max += static_cast<double>(p.pages_max);
  }
  e.sample("weir_page_pool_pages{state=\"in_use\"}", in_use);
  e.sample("weir_page_pool_pages{state=\"allocated\"}", allocated);
  e.sample("weir_page_pool_pages{state=\"max\"}", max);
  e.family("weir_process_cpu_seconds_total", "counter", "User and system CPU time of the process");
  e.sample("weir_process_cpu_seconds_total", f.process.cpu_seconds);
  e.family("weir_process_resident_memory_bytes", "gauge", "Resident memory of the process");
  e.sample("weir_process_resident_memory_bytes", static_cast<double>(f.process.resident_bytes));
  e.family("weir_streams", "gauge", "Streams known to the server (published or with waiting players)");
  e.sample("weir_streams", static_cast<double>(f.streams.size()));
  if (f.streams.empty()) return e.text();
  // Prometheus wants base units: bytes, not bits (promtool check metrics says so).
  e.family("weir_stream_received_bytes_per_second", "gauge",
           "Incoming audio and video payload per second of media time, over the rate window");
  for (const StreamFigures& s : f.streams)
    e.sample("weir_stream_received_bytes_per_second{app=\"" + label(s.kernel.key.app) + "\",name=\"" +
                 label(s.kernel.key.name) + "\"}",
             std::round(s.bitrate_bps / 8));
  e.family("weir_stream_frame_rate", "gauge", "Video frames per second of media time over the rate window");
  for (const StreamFigures& s : f.streams)
    e.sample("weir_stream_frame_rate{app=\"" + label(s.kernel.key.app) + "\",name=\"" + label(s.kernel.key.name) + "\"}",
             std::round(s.frame_rate * 1000.0) / 1000.0);
  e.family("weir_stream_received_bytes_total", "counter", "Audio and video payload bytes received from the publisher");
  for (const StreamFigures& s : f.streams)
    e.sample("weir_stream_received_bytes_total{app=\"" + label(s.kernel.key.app) + "\",name=\"" +
                 label(s.kernel.key.name) + "\"}",
             static_cast<double>(s.kernel.audio.bytes + s.kernel.video.bytes));
  e.family("weir_stream_sent_bytes_per_second", "gauge",
           "Audio and video payload sent to the stream's players per second, over the rate window");
  for (const StreamFigures& s : f.streams)
    e.sample("weir_stream_sent_bytes_per_second{app=\"" + label(s.kernel.key.app) + "\",name=\"" +
                 label(s.kernel.key.name) + "\"}",
             std::round(s.bitrate_out_bps / 8));
  e.family("weir_stream_sent_bytes_total", "counter",
           "Audio and video payload bytes sent to the stream's players (a group's part restarts when its last player leaves)");
  for (const StreamFigures& s : f.streams)
    e.sample("weir_stream_sent_bytes_total{app=\"" + label(s.kernel.key.app) + "\",name=\"" +
                 label(s.kernel.key.name) + "\"}",
             static_cast<double>(s.kernel.delivered.bytes_sent));
  e.family("weir_stream_frames_dropped_total", "counter", "Frames the stream's players skipped because they were behind");
  for (const StreamFigures& s : f.streams)
    e.sample("weir_stream_frames_dropped_total{app=\"" + label(s.kernel.key.app) + "\",name=\"" +
                 label(s.kernel.key.name) + "\"}",
             static_cast<double>(s.kernel.delivered.frames_dropped));
  e.family("weir_stream_players", "gauge", "Players of a stream by protocol");
  for (const StreamFigures& s : f.streams)
    for (const auto& [protocol, count] : s.kernel.players_by_protocol)
      e.sample("weir_stream_players{app=\"" + label(s.kernel.key.app) + "\",name=\"" + label(s.kernel.key.name) +
                   "\",protocol=\"" + label(protocol.empty() ? "other" : protocol) + "\"}",
               static_cast<double>(count));
  return e.text();
}

}  // namespace weir::stats
