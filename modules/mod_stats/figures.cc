// SPDX-License-Identifier: Apache-2.0
#include "figures.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "formats/flv/codec_config.h"

namespace weir::stats {
namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double counter(const StatsSnapshot& snapshot, std::string_view name) {
  for (const StatValue& v : snapshot.values)
    if (v.name == name) return v.value;
  return 0;
}

// Resolution or sample rate from a sequence header; the kernel keeps it, formats/ decodes it.
void describe(const TrackStats& track, StreamFigures& out) {
  const MediaFrame& header = track.sequence_header;
  if (header.payload.empty() || header.codec_data_offset >= header.payload.size()) return;
  std::vector<std::uint8_t> bytes = header.payload.to_vector();  // a few dozen bytes, once a sample
  std::span<const std::uint8_t> config(bytes.data() + header.codec_data_offset, bytes.size() - header.codec_data_offset);
  auto description = formats::flv::parse_codec_config(header.codec, config);
  if (!description) return;  // a codec we do not decode, or a malformed header: the figures just lack it
  if (header.kind == MediaKind::video) {
    out.width = description->width;
    out.height = description->height;
  } else {
    out.sample_rate_hz = description->sample_rate_hz;
    out.channels = description->channels;
  }
}

}  // namespace

StreamFigures Sampler::measure(StreamStats stats, const std::string& key, Clock::time_point now) {
  StreamFigures f;
  describe(stats.video, f);
  describe(stats.audio, f);
  // Rates over media time (dts), not arrival time: a publisher's bursts and the network's jitter
  // do not show, and a file published with -re measures as its true bitrate. The base is the
  // oldest sample within the window of this same publication; a stream younger than the
  // window is measured from its first frame.
  const StreamRaw* base = nullptr;
  for (const Raw& raw : raws_) {
    auto it = raw.streams.find(key);
    if (it != raw.streams.end() && it->second.published_at == stats.published_at) {
      base = &it->second;
      break;
    }
  }
  const TrackStats& a = stats.audio;
  const TrackStats& v = stats.video;
  std::uint64_t audio_bytes = a.bytes, video_bytes = v.bytes, video_frames = v.frames > 0 ? v.frames - 1 : 0;
  double audio_span_ms = static_cast<double>(a.last_dts_ms - a.first_dts_ms);
  double video_span_ms = static_cast<double>(v.last_dts_ms - v.first_dts_ms);
  if (base && (v.last_dts_ms > base->video_last_dts_ms || a.last_dts_ms > base->audio_last_dts_ms)) {
    audio_bytes = a.bytes - base->audio_bytes;
    video_bytes = v.bytes - base->video_bytes;
    video_frames = v.frames - base->video_frames;
    audio_span_ms = static_cast<double>(a.last_dts_ms - base->audio_last_dts_ms);
    video_span_ms = static_cast<double>(v.last_dts_ms - base->video_last_dts_ms);
  }
  if (audio_span_ms > 0) f.audio_bitrate_bps = static_cast<double>(audio_bytes) * 8000.0 / audio_span_ms;
  if (video_span_ms > 0) {
    f.video_bitrate_bps = static_cast<double>(video_bytes) * 8000.0 / video_span_ms;
    f.frame_rate = static_cast<double>(video_frames) * 1000.0 / video_span_ms;
  }
  f.bitrate_bps = f.audio_bitrate_bps + f.video_bitrate_bps;
  // Bytes out over wall time: players join and leave, so there is no one media clock to follow.
  // A group's part of the count restarts when its last player leaves: the base is the oldest
  // sample of the window from which the count only grew.
  std::uint64_t above = stats.delivered.bytes_sent;
  const Raw* out_base = nullptr;
  for (auto raw = raws_.rbegin(); raw != raws_.rend(); ++raw) {
    auto it = raw->streams.find(key);
    if (it == raw->streams.end() || it->second.bytes_sent > above) break;
    above = it->second.bytes_sent;
    out_base = &*raw;
  }
  if (out_base) {
    double elapsed = seconds_between(out_base->at, now);
    if (elapsed > 0) f.bitrate_out_bps = static_cast<double>(stats.delivered.bytes_sent - above) * 8.0 / elapsed;
  }
  f.kernel = std::move(stats);
  return f;
}

std::shared_ptr<const Figures> Sampler::add(Clock::time_point now, GroupId threads, StatsSnapshot server,
                                            std::vector<StreamStats> streams, ProcessFigures process) {
  auto figures = std::make_shared<Figures>();
  figures->taken_at = now;
  figures->uptime_seconds = seconds_between(started_at_, now);
  figures->threads = threads;
  figures->process = process;

  Raw raw;
  raw.at = now;
  raw.received = counter(server, "weir_received_bytes_total");
  raw.sent = counter(server, "weir_sent_bytes_total");
  raw.cpu_seconds = process.cpu_seconds;
  if (!raws_.empty()) {
    const Raw& base = raws_.front();
    double elapsed = seconds_between(base.at, now);
    if (elapsed > 0) {
      figures->received_bytes_per_second = std::max(0.0, raw.received - base.received) / elapsed;
      figures->sent_bytes_per_second = std::max(0.0, raw.sent - base.sent) / elapsed;
      figures->cpu_percent = std::max(0.0, raw.cpu_seconds - base.cpu_seconds) * 100.0 / elapsed;
    }
  }

  std::map<std::string, std::deque<std::pair<double, double>>> history;
  for (StreamStats& stats : streams) {
    std::string key = stats.key.to_string();
    StreamRaw& r = raw.streams[key];
    r.published_at = stats.published_at;
    r.audio_bytes = stats.audio.bytes;
    r.video_bytes = stats.video.bytes;
    r.video_frames = stats.video.frames;
    r.audio_last_dts_ms = stats.audio.last_dts_ms;
    r.video_last_dts_ms = stats.video.last_dts_ms;
    r.bytes_sent = stats.delivered.bytes_sent;
    StreamFigures f = measure(std::move(stats), key, now);
    auto& points = history[key];
    if (auto old = history_.find(key); old != history_.end()) points = std::move(old->second);
    points.emplace_back(f.bitrate_bps, static_cast<double>(f.kernel.players));
    while (points.size() > config_.history) points.pop_front();
    for (const auto& [bitrate, players] : points) {
      f.bitrate_history.push_back(bitrate);
      f.players_history.push_back(players);
    }
    figures->streams.push_back(std::move(f));
  }
  history_ = std::move(history);  // streams that are gone lose their history

  raws_.push_back(std::move(raw));
  // Keep the newest sample at least rate_window old as the base of every rate.
  while (raws_.size() > 2 && raws_[1].at <= now - config_.rate_window) raws_.pop_front();
  figures->server = std::move(server);
  figures->limits = config_;
  figures->refusal = refusal(*figures);
  return figures;
}

std::string refusal(const Figures& f) {
  const StatsConfig& c = f.limits;
  if (c.max_connections > 0 && f.server.connections_open >= c.max_connections)
    return format("server busy: {} connections open, the limit is {}", f.server.connections_open, c.max_connections);
  if (c.max_send_rate_bytes > 0 && f.sent_bytes_per_second >= static_cast<double>(c.max_send_rate_bytes))
    return format("server busy: sending {} bytes/s, the limit is {}", std::llround(f.sent_bytes_per_second),
                       c.max_send_rate_bytes);
  if (c.max_cpu_percent > 0 && f.cpu_percent >= c.max_cpu_percent)
    return format("server busy: CPU at {}%, the limit is {}%", std::llround(f.cpu_percent),
                  std::llround(c.max_cpu_percent));
  return {};
}

Status read_process_figures(ProcessFigures& out) {
  // /proc/self/stat: the command name (field 2) may hold spaces and parentheses; fields after the
  // last ')' are numbered from 3. utime and stime are fields 14 and 15, in clock ticks.
  std::ifstream stat("/proc/self/stat");
  // Out of descriptors (EMFILE) is the usual reason: say so rather than "unexpected format".
  if (!stat) return error(Errc::io, "cannot open /proc/self/stat: {}", std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::size_t close = text.rfind(')');
  if (close == std::string::npos) return error(Errc::io, "/proc/self/stat: unexpected format");
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  double utime = 0, stime = 0;
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14) utime = std::strtod(field.c_str(), nullptr);
    if (n == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  long ticks = sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return error(Errc::io, "sysconf(_SC_CLK_TCK) failed");
  out.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
  // /proc/self/statm: size resident shared ... in pages.
  std::ifstream statm("/proc/self/statm");
  if (!statm) return error(Errc::io, "cannot open /proc/self/statm: {}", std::strerror(errno));
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return error(Errc::io, "/proc/self/statm: unexpected format");
  out.resident_bytes = resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return ok();
}

}  // namespace weir::stats
