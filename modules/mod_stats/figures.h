// SPDX-License-Identifier: Apache-2.0
#pragma once
// What mod_stats knows of the server: a Figures snapshot, made on group 0 once per
// sample_interval from the kernel's counters (Stats::collect) and streams (Streams::collect),
// then shared, immutable, with every group. Requests are answered on their own group from the
// latest snapshot, so a reader never waits on streaming and streaming never waits on a reader.
//
//   group 0: timer -> Stats::collect -> Streams::collect -> /proc (worker pool) -> Sampler::add
//            -> shared_ptr<const Figures> --FiguresReady--> every group's StatsWorker::latest
//   group g: GET /api/v1/... -> to_value(latest) -> JSON

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weir/poll_group.h"
#include "weir/stats.h"
#include "weir/stream.h"
#include "weir/value.h"

namespace weir::stats {

struct StatsConfig {
  std::chrono::milliseconds sample_interval{1000};
  std::chrono::milliseconds rate_window{5000};  ///< rates are measured over this much media/wall time
  std::size_t history = 60;                     ///< samples kept per stream for the dashboard's sparklines
  // Load shedding: above any of these, new players are refused; 0 = no limit.
  std::uint64_t max_connections = 0;
  std::uint64_t max_send_rate_bytes = 0;  ///< bytes per second sent, over the rate window
  double max_cpu_percent = 0;             ///< of one core, over the rate window
  std::string token;                      ///< bearer token for the actions; empty: actions disabled
};

/// One stream, with what the sampler measured.
struct StreamFigures {
  StreamStats kernel;               ///< the kernel's counters
  double bitrate_bps = 0;           ///< audio + video payload, over the rate window (media time)
  double audio_bitrate_bps = 0;
  double video_bitrate_bps = 0;
  double frame_rate = 0;            ///< video frames per second of media time, over the window
  /// Audio and video payload sent to the stream's players (StreamStats::delivered), bits per
  /// second of wall time over the rate window: players x bitrate_bps when every player keeps up.
  double bitrate_out_bps = 0;
  std::uint32_t width = 0;          ///< from the video sequence header; 0 when unknown
  std::uint32_t height = 0;
  std::uint32_t sample_rate_hz = 0; ///< from the audio sequence header
  std::uint32_t channels = 0;
  std::vector<double> bitrate_history;  ///< one per sample, oldest first
  std::vector<double> players_history;
};

/// Process figures read from /proc on the worker pool.
struct ProcessFigures {
  double cpu_seconds = 0;            ///< user + system since start
  std::uint64_t resident_bytes = 0;
};

/// One snapshot of everything. Immutable once made; shared by all groups.
struct Figures {
  Clock::time_point taken_at{};
  double uptime_seconds = 0;
  GroupId threads = 0;
  StatsSnapshot server;
  double received_bytes_per_second = 0;  ///< over the rate window (wall time)
  double sent_bytes_per_second = 0;
  ProcessFigures process;
  double cpu_percent = 0;  ///< of one core, over the rate window
  std::vector<StreamFigures> streams;  ///< sorted by app/name
  StatsConfig limits;                  ///< the configured limits, for the API
  std::string refusal;                 ///< why new players are refused; empty: accepting
};

/// Turns successive raw collections into Figures with rates. Thread: group 0 only.
class Sampler {
 public:
  Sampler(StatsConfig config, Clock::time_point started_at) : config_(config), started_at_(started_at) {}
  std::shared_ptr<const Figures> add(Clock::time_point now, GroupId threads, StatsSnapshot server,
                                     std::vector<StreamStats> streams, ProcessFigures process);

 private:
  struct StreamRaw {
    Clock::time_point published_at{};
    std::uint64_t audio_bytes = 0, video_bytes = 0, video_frames = 0;
    std::int64_t audio_last_dts_ms = 0, video_last_dts_ms = 0;
    std::uint64_t bytes_sent = 0;  // to players, all groups
  };
  struct Raw {
    Clock::time_point at{};
    double received = 0, sent = 0, cpu_seconds = 0;
    std::map<std::string, StreamRaw> streams;
  };
  StreamFigures measure(StreamStats stats, const std::string& key, Clock::time_point now);

  const StatsConfig config_;
  const Clock::time_point started_at_;
  std::deque<Raw> raws_;  // oldest first, spanning at least rate_window
  std::map<std::string, std::deque<std::pair<double, double>>> history_;  // key -> (bitrate, players)
};

/// Why new players should be refused under `f.limits`, or empty.
std::string refusal(const Figures& f);

/// Reads /proc/self: blocking file reads, so call it on the worker pool.
Status read_process_figures(ProcessFigures& out);

/// The figures as weir::Value trees: the JSON of the HTTP API and what Lua sees (docs/stats.md).
Value server_value(const Figures& figures);
Value stream_value(const StreamFigures& stream, Clock::time_point taken_at, bool with_history);
Value streams_value(const Figures& figures);

/// Connections as weir::Value: {"clients": [...]}. With `figures`, a client of a stream gets
/// `lag_ms`: its queued bytes at the stream's bitrate in.
Value clients_value(const std::vector<ConnectionInfo>& connections, const Figures* figures = nullptr);

/// weir::Value -> JSON text (Poco::JSON). Numbers that are whole print without a fraction.
std::string to_json(const Value& value);

/// The Prometheus text exposition format (version 0.0.4).
std::string to_prometheus(const Figures& figures);

}  // namespace weir::stats
