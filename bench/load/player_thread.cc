// SPDX-License-Identifier: Apache-2.0
#include "player_thread.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "latency_stamp.h"
#include "rtsp_player.h"

namespace weir::bench {
namespace {
constexpr int kMaxEvents = 512;
// Longest sleep in epoll_wait: how late a thread may notice a phase change.
constexpr int kMaxWaitMs = 5;
constexpr std::size_t kReceiveBufferBytes = 256 * 1024;
constexpr std::size_t kErrorsKept = 5;
}  // namespace

void PlayerTotals::merge(const PlayerTotals& o) {
  players += o.players;
  playing += o.playing;
  failed += o.failed;
  open_at_end += o.open_at_end;
  kept_up += o.kept_up;
  with_video += o.with_video;
  bytes_per_s += o.bytes_per_s;
  window_bytes += o.window_bytes;
  total_bytes += o.total_bytes;
  window_s = std::max(window_s, o.window_s);
  tcp_players += o.tcp_players;
  tcp_segs_in += o.tcp_segs_in;
  tcp_data_segs_in += o.tcp_data_segs_in;
  tcp_segs_out += o.tcp_segs_out;
  tcp_data_segs_out += o.tcp_data_segs_out;
  video_frames += o.video_frames;
  audio_frames += o.audio_frames;
  key_frames += o.key_frames;
  data_messages += o.data_messages;
  rtp_packets += o.rtp_packets;
  rtp_expected += o.rtp_expected;
  last_play_start_us = std::max(last_play_start_us, o.last_play_start_us);
  time_to_first_frame.merge(o.time_to_first_frame);
  play_start.merge(o.play_start);
  delay.merge(o.delay);
  for (const std::string& e : o.errors)
    if (errors.size() < kErrorsKept) errors.push_back(e);
  error_count += o.error_count;
}

PayloadPool::~PayloadPool() {
  for (auto& list : free_)
    for (std::uint8_t* p : list) ::operator delete(p);
}

std::uint8_t* PayloadPool::allocate(std::uint32_t bytes, std::uint8_t& size_class) {
  int c = std::max(kMinClass, static_cast<int>(std::bit_width(bytes - 1)));
  if (c >= kClasses) c = kClasses - 1;  // the reader caps messages at 16 MiB
  size_class = static_cast<std::uint8_t>(c);
  auto& list = free_[c];
  if (!list.empty()) {
    std::uint8_t* p = list.back();
    list.pop_back();
    return p;
  }
  return static_cast<std::uint8_t*>(::operator new(std::size_t{1} << c));
}

void PayloadPool::release(std::uint8_t* data, std::uint8_t size_class) noexcept { free_[size_class].push_back(data); }

PlayerThread::PlayerThread(const PlayerSettings& settings, FleetControl& control, std::uint32_t thread_index)
    : settings_(settings),
      control_(control),
      thread_index_(thread_index),
      receive_buffer_(std::max(kReceiveBufferBytes, settings.read_size_bytes)),
      paced_(settings.read == ReadMode::paced ? settings.read_interval_ms : 0) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  for (std::uint32_t i = thread_index; i < settings.clients; i += settings.threads) {
    std::string name = settings.streams > 1 ? settings.stream_name + std::to_string(i % settings.streams)
                                            : settings.stream_name;
    if (settings.protocol == Protocol::rtsp)
      players_.push_back(std::make_unique<RtspPlayer>(*this, i, settings.rtsp_base_url + name));
    else
      players_.push_back(std::make_unique<Player>(*this, i, std::move(name)));
  }
  totals_.players = players_.size();
}

PlayerThread::~PlayerThread() {
  players_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void PlayerThread::run() {
  epoll_event events[kMaxEvents];
  int phase = FleetControl::ramp;
  const double us_per_connect = 1e6 / settings_.connect_rate_per_s;
  for (;;) {
    now_us_ = monotonic_us();
    int wanted = control_.phase.load(std::memory_order_acquire);
    if (wanted != phase) {
      if (wanted >= FleetControl::measure && phase < FleetControl::measure) start_window();
      if (wanted >= FleetControl::count && phase < FleetControl::count) end_window();
      if (wanted >= FleetControl::stop) break;
      phase = wanted;
    }
    // Connects whose time has come (client i at start + i / rate, all threads interleaved).
    int timeout_ms = kMaxWaitMs;
    while (next_to_start_ < players_.size()) {
      PlayerBase& p = *players_[next_to_start_];
      auto due = control_.start_us + static_cast<std::int64_t>(p.index() * us_per_connect);
      if (due > now_us_) {
        timeout_ms = static_cast<int>(std::clamp<std::int64_t>((due - now_us_) / 1000, 0, kMaxWaitMs));
        break;
      }
      p.start();
      ++next_to_start_;
    }
    if (paced_count_ > 0) timeout_ms = run_paced_reads(timeout_ms);
    if (now_us_ >= next_tick_us_) {  // keepalives: once a second is plenty for 20 s intervals
      next_tick_us_ = now_us_ + 1'000'000;
      for (std::size_t i = 0; i < next_to_start_; ++i) players_[i]->tick(now_us_);
    }
    int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      // A busy batch takes a while: keep the clock that times players' events fresh.
      if (i % 16 == 0) now_us_ = monotonic_us();
      const std::uint64_t key = events[i].data.u64;
      reinterpret_cast<PlayerBase*>(static_cast<std::uintptr_t>(key & ~std::uint64_t{7}))->on_event(events[i].events,
                                                                                               static_cast<unsigned>(key & 7));
    }
  }
  for (auto& p : players_) p->close_now();
}

int PlayerThread::run_paced_reads(int timeout_ms) noexcept {
  const auto interval = static_cast<std::int64_t>(paced_.size());
  std::int64_t now_ms = now_us_ / 1000;
  // A loop turn late by more than an interval serves each player once, not once per missed turn.
  next_paced_ms_ = std::max(next_paced_ms_, now_ms - interval + 1);
  std::size_t served = 0;
  for (; next_paced_ms_ <= now_ms; ++next_paced_ms_) {
    std::vector<PlayerBase*>& turn = paced_[static_cast<std::size_t>(next_paced_ms_ % interval)];
    for (std::size_t i = 0; i < turn.size();) {
      if (!turn[i]->is_open()) {  // failed or closed: out of the rotation
        turn[i] = turn.back();
        turn.pop_back();
        --paced_count_;
        continue;
      }
      if (++served % 16 == 0) now_us_ = monotonic_us();  // delays are timed by this clock
      turn[i]->read_paced();
      ++i;
    }
  }
  now_us_ = monotonic_us();
  // Wake for the next turn; epoll_wait counts whole ms, so round up rather than spin.
  auto until_next_us = next_paced_ms_ * 1000 - now_us_;
  int next_ms = static_cast<int>(std::clamp<std::int64_t>((until_next_us + 999) / 1000, 0, kMaxWaitMs));
  return std::min(timeout_ms, next_ms);
}

void PlayerThread::start_window() noexcept {
  measuring_ = true;
  window_start_us_ = now_us_;
  for (auto& p : players_) {
    p->at_window_start = p->counters();
    p->tcp_at_window_start = p->tcp_counts();
    p->was_playing_at_window_start = p->is_playing() && p->is_open();
  }
}

void PlayerThread::end_window() noexcept {
  measuring_ = false;
  const double wall_s = static_cast<double>(now_us_ - window_start_us_) / 1e6;
  totals_.window_s = wall_s;
  for (auto& p : players_) {
    const PlayerCounters& a = p->at_window_start;
    const PlayerCounters& b = p->counters();
    totals_.window_bytes += b.bytes - a.bytes;
    totals_.total_bytes += b.bytes;
    totals_.video_frames += b.video_frames - a.video_frames;
    totals_.audio_frames += b.audio_frames - a.audio_frames;
    totals_.key_frames += b.key_frames - a.key_frames;
    totals_.data_messages += b.data_messages - a.data_messages;
    totals_.rtp_packets += b.rtp_packets - a.rtp_packets;
    totals_.rtp_expected += b.rtp_expected - a.rtp_expected;
    if (p->is_playing()) ++totals_.playing;
    if (p->is_open()) ++totals_.open_at_end;
    if (b.video_frames > a.video_frames) ++totals_.with_video;
    if (auto end = p->tcp_counts(); end && p->tcp_at_window_start) {
      const TcpCounts& start = *p->tcp_at_window_start;
      ++totals_.tcp_players;
      // unsigned differences: right across a 32-bit wrap
      totals_.tcp_segs_in += static_cast<std::uint32_t>(end->segs_in - start.segs_in);
      totals_.tcp_data_segs_in += static_cast<std::uint32_t>(end->data_segs_in - start.data_segs_in);
      totals_.tcp_segs_out += static_cast<std::uint32_t>(end->segs_out - start.segs_out);
      totals_.tcp_data_segs_out += static_cast<std::uint32_t>(end->data_segs_out - start.data_segs_out);
    }
    // Kept up: still connected, and the media time it received in the window is at least 95% of
    // the wall time (and, with --fps, so is its frame count: dropped frames do not keep up).
    if (!p->is_open() || b.last_video_ms < 0 || wall_s <= 0) continue;
    std::int64_t from_ms = a.last_video_ms >= 0 ? a.last_video_ms : p->first_video_ms;
    double media_s = static_cast<double>(b.last_video_ms - from_ms) / 1e3;
    bool kept_up = media_s >= settings_.kept_up_ratio * wall_s;
    if (settings_.video_fps > 0)
      kept_up = kept_up && static_cast<double>(b.video_frames - a.video_frames) >=
                               settings_.kept_up_ratio * settings_.video_fps * wall_s;
    if (kept_up) ++totals_.kept_up;
  }
  totals_.bytes_per_s = wall_s > 0 ? static_cast<double>(totals_.window_bytes) / wall_s : 0;
}

void PlayerThread::on_playing(PlayerBase& player) noexcept {
  control_.playing.fetch_add(1, std::memory_order_relaxed);
  if (!paced_.empty()) {
    const auto interval = static_cast<std::int64_t>(paced_.size());
    if (paced_count_ == 0) next_paced_ms_ = now_us_ / 1000 + 1;
    paced_[static_cast<std::size_t>((player.play_start_at_us / 1000) % interval)].push_back(&player);
    ++paced_count_;
  }
  totals_.play_start.record(player.play_start_at_us - player.play_sent_at_us);
  totals_.last_play_start_us = std::max(totals_.last_play_start_us, player.play_start_at_us);
}

void PlayerThread::on_first_key_frame(PlayerBase& player) noexcept {
  totals_.time_to_first_frame.record(player.first_key_at_us - player.first_frame_from_us());
}

void PlayerThread::on_failed(PlayerBase& player, const Status& reason) noexcept {
  control_.failed.fetch_add(1, std::memory_order_relaxed);
  ++totals_.failed;
  ++totals_.error_count;
  if (totals_.errors.size() < kErrorsKept)
    totals_.errors.push_back("player " + std::to_string(player.index()) + ": " + reason.message());
}

}  // namespace weir::bench
