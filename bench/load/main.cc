// SPDX-License-Identifier: Apache-2.0
// weir_load: the benchmark's RTMP load generator (bench/README.md).
//
//   weir_load play    --url rtmp://H:P/APP/NAME --clients N [options]   N players, JSON report on stdout
//   weir_load publish --url rtmp://H:P/APP/NAME --file F.flv [options]  real-time FLV publisher
#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client_messages.h"
#include "latency_stamp.h"
#include "player_thread.h"
#include "process_stat.h"
#include "publisher.h"

namespace weir::bench {
namespace {

constexpr const char* kUsage = R"(usage:
  weir_load play --url rtmp://HOST:PORT/APP/NAME --clients N [options]
  weir_load play --protocol rtsp --url rtsp://HOST:PORT/APP/NAME --clients N [options]
      --protocol P       rtmp (default) or rtsp: OPTIONS, DESCRIBE, SETUP per track, PLAY, then read
      --rtsp-transport T tcp (default: RTP/AVP/TCP interleaved in the RTSP connection) or udp
                         (RTP/AVP unicast, one even/odd socket pair per player, read with recvmmsg)
      --threads T        player threads (default 2)
      --rate R           connects started per second (default 2000)
      --streams S        play NAME0..NAME{S-1}, client i plays NAME{i % S} (default 1: NAME)
      --fps F            video frame rate: keeping up also needs 95% of the frames (default 0: off)
      --read MODE        once playing: arrival (read when epoll says data came, like ffplay) or paced
                         (every --read-interval ms, recv --read-size pieces until a short read or
                         EAGAIN, no epoll wake-up for data, like a player with a jitter buffer); default arrival
      --read-interval MS paced: time between a player's turns (default 20)
      --read-size B      paced: bytes per recv() (default 65536)
      --settle S         seconds between the end of the ramp and the window (default 2)
      --duration S       measurement window in seconds (default 10)
      --ramp-timeout S   give up waiting for players to start after S seconds (default 30 + N / R)
      --server-pid P     a server process to measure (repeat for several; summed)
      --at-window-start C  shell command run just before the window opens (e.g. callgrind_control -i on PID)
      --at-window-end C    shell command run just after it closes
      --count-window S   then S seconds more with the players still playing, outside the window
                         (default 0), for counters that would slow the server inside it
      --at-count-start C / --at-count-end C   shell commands run just before / after the count window
  weir_load publish --url rtmp://HOST:PORT/APP/NAME --file F.flv [options]
      --streams S        publish NAME0..NAME{S-1} (default 1: NAME)
      --duration S       seconds to publish (default 0: until SIGINT/SIGTERM)
      --stagger MS       start stream k at k * MS milliseconds (default 0)
      --chunk-size B     outgoing chunk size (default 60000)
      --no-stamp         do not insert send-time stamps into H.264 frames
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "weir_load: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

struct Args {
  std::vector<std::string> items;
  std::size_t at = 0;
  bool next(std::string& flag) {
    if (at >= items.size()) return false;
    flag = items[at++];
    return true;
  }
  std::string value(const std::string& flag) {
    if (at >= items.size()) usage_error(flag + " needs a value");
    return items[at++];
  }
  double number(const std::string& flag) {
    std::string v = value(flag);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != 0 || d < 0) usage_error(flag + ": not a number: " + v);
    return d;
  }
};

sockaddr_in resolve(const RtmpUrl& url) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(url.port);
  std::string host = url.host == "localhost" ? "127.0.0.1" : url.host;
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) usage_error("host must be an IPv4 address: " + host);
  return address;
}

void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

struct Sampled {
  ProcessSample total;
  bool ok = true;
};

Sampled sample_all(const std::vector<pid_t>& pids) {
  Sampled s;
  for (pid_t pid : pids) {
    auto one = sample_process(pid);
    if (!one) {
      s.ok = false;
      continue;
    }
    s.total.user_s += one->user_s;
    s.total.system_s += one->system_s;
    s.total.rss_kib += one->rss_kib;
  }
  return s;
}

void print_quantiles(const char* name, const Histogram& h, bool last = false) {
  std::printf("  \"%s\": {\"count\": %llu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}%s\n", name,
              static_cast<unsigned long long>(h.count()), h.quantile(0.5) / 1e3, h.quantile(0.99) / 1e3,
              static_cast<double>(h.max()) / 1e3, last ? "" : ",");
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    out += c;
  }
  return out + "\"";
}

int run_play(Args& args) {
  PlayerSettings settings;
  std::string url_text;
  double settle_s = 2, duration_s = 10, ramp_timeout_s = -1, count_window_s = 0;
  std::vector<pid_t> server_pids;
  std::string at_window_start, at_window_end, at_count_start, at_count_end;
  std::string flag;
  settings.threads = 2;
  while (args.next(flag)) {
    if (flag == "--url") url_text = args.value(flag);
    else if (flag == "--protocol") {
      std::string p = args.value(flag);
      if (p == "rtmp") settings.protocol = Protocol::rtmp;
      else if (p == "rtsp") settings.protocol = Protocol::rtsp;
      else usage_error("--protocol: rtmp or rtsp, not " + p);
    } else if (flag == "--rtsp-transport") {
      std::string t = args.value(flag);
      if (t == "tcp") settings.rtsp_transport = RtspTransport::tcp;
      else if (t == "udp") settings.rtsp_transport = RtspTransport::udp;
      else usage_error("--rtsp-transport: tcp or udp, not " + t);
    } else if (flag == "--clients") settings.clients = static_cast<std::uint32_t>(args.number(flag));
    else if (flag == "--threads") settings.threads = static_cast<std::uint32_t>(args.number(flag));
    else if (flag == "--rate") settings.connect_rate_per_s = args.number(flag);
    else if (flag == "--streams") settings.streams = static_cast<std::uint32_t>(args.number(flag));
    else if (flag == "--fps") settings.video_fps = args.number(flag);
    else if (flag == "--read") {
      std::string mode = args.value(flag);
      if (mode == "arrival") settings.read = ReadMode::arrival;
      else if (mode == "paced") settings.read = ReadMode::paced;
      else usage_error("--read: arrival or paced, not " + mode);
    } else if (flag == "--read-interval") settings.read_interval_ms = static_cast<std::uint32_t>(args.number(flag));
    else if (flag == "--read-size") settings.read_size_bytes = static_cast<std::size_t>(args.number(flag));
    else if (flag == "--settle") settle_s = args.number(flag);
    else if (flag == "--duration") duration_s = args.number(flag);
    else if (flag == "--ramp-timeout") ramp_timeout_s = args.number(flag);
    else if (flag == "--server-pid") server_pids.push_back(static_cast<pid_t>(args.number(flag)));
    else if (flag == "--at-window-start") at_window_start = args.value(flag);
    else if (flag == "--at-window-end") at_window_end = args.value(flag);
    else if (flag == "--count-window") count_window_s = args.number(flag);
    else if (flag == "--at-count-start") at_count_start = args.value(flag);
    else if (flag == "--at-count-end") at_count_end = args.value(flag);
    else usage_error("unknown flag " + flag);
  }
  // rtsp://HOST[:PORT]/APP/NAME has the shape of an RTMP URL: parse it as one, default port 554.
  const bool is_rtsp = settings.protocol == Protocol::rtsp;
  constexpr std::string_view kRtspScheme = "rtsp://";
  if (is_rtsp && url_text.compare(0, kRtspScheme.size(), kRtspScheme) != 0)
    usage_error("--protocol rtsp needs an rtsp://HOST[:PORT]/APP/NAME url, not " + url_text);
  std::string authority = is_rtsp ? url_text.substr(kRtspScheme.size(), url_text.find('/', kRtspScheme.size()) - kRtspScheme.size()) : "";
  auto url = parse_rtmp_url(is_rtsp ? "rtmp://" + url_text.substr(kRtspScheme.size()) : url_text);
  if (!url) usage_error(url.error().message());
  if (is_rtsp) {
    if (authority.find(':') == std::string::npos) url->port = 554;
    settings.rtsp_base_url = "rtsp://" + url->host + ":" + std::to_string(url->port) + "/" + url->app + "/";
  }
  if (settings.clients == 0 || settings.threads == 0 || settings.streams == 0 || settings.connect_rate_per_s <= 0)
    usage_error("--clients, --threads, --streams and --rate must be positive");
  if (settings.read_interval_ms == 0 || settings.read_size_bytes == 0)
    usage_error("--read-interval and --read-size must be positive");
  settings.threads = std::min(settings.threads, settings.clients);
  settings.server = resolve(*url);
  settings.app = url->app;
  settings.tc_url = url->tc_url;
  settings.stream_name = url->name;
  if (ramp_timeout_s < 0) ramp_timeout_s = 30 + settings.clients / settings.connect_rate_per_s;
  raise_fd_limit();

  const Sampled server_base = sample_all(server_pids);
  FleetControl control;
  control.start_us = monotonic_us() + 10'000;
  std::vector<std::unique_ptr<PlayerThread>> threads;
  for (std::uint32_t t = 0; t < settings.threads; ++t)
    threads.push_back(std::make_unique<PlayerThread>(settings, control, t));
  std::vector<std::thread> running;
  for (auto& t : threads) running.emplace_back([&t] { t->run(); });

  // Ramp: until every player plays or failed (or the timeout).
  const std::int64_t ramp_deadline = control.start_us + static_cast<std::int64_t>(ramp_timeout_s * 1e6);
  while (control.playing.load() + control.failed.load() < settings.clients && monotonic_us() < ramp_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::int64_t ramp_end = monotonic_us();
  const std::uint32_t playing_after_ramp = control.playing.load();
  // The server's CPU over the ramp alone (before the first connect to the last Play.Start, within
  // the 10 ms this loop sleeps): what a new player costs it, whatever the load client's own speed.
  const Sampled server_ramp_end = sample_all(server_pids);
  std::fprintf(stderr, "weir_load: %u of %u playing after %.2f s (%u failed)\n", playing_after_ramp, settings.clients,
               static_cast<double>(ramp_end - control.start_us) / 1e6, control.failed.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(settle_s * 1000)));

  if (!at_window_start.empty() && std::system(at_window_start.c_str()) != 0)
    std::fprintf(stderr, "weir_load: --at-window-start failed: %s\n", at_window_start.c_str());
  const Sampled server_start = sample_all(server_pids);
  const auto self_start = sample_process(0);
  const auto machine_start = sample_machine();
  const auto tcp_start = sample_tcp();
  const std::int64_t window_start = monotonic_us();
  control.phase.store(FleetControl::measure, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(duration_s * 1000)));
  control.phase.store(FleetControl::count, std::memory_order_release);
  const std::int64_t window_end = monotonic_us();
  const Sampled server_end = sample_all(server_pids);
  const auto self_end = sample_process(0);
  const auto machine_end = sample_machine();
  const auto tcp_end = sample_tcp();
  if (!at_window_end.empty() && std::system(at_window_end.c_str()) != 0)
    std::fprintf(stderr, "weir_load: --at-window-end failed: %s\n", at_window_end.c_str());
  if (count_window_s > 0) {
    if (!at_count_start.empty() && std::system(at_count_start.c_str()) != 0)
      std::fprintf(stderr, "weir_load: --at-count-start failed: %s\n", at_count_start.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(count_window_s * 1000)));
    if (!at_count_end.empty() && std::system(at_count_end.c_str()) != 0)
      std::fprintf(stderr, "weir_load: --at-count-end failed: %s\n", at_count_end.c_str());
  }
  control.phase.store(FleetControl::stop, std::memory_order_release);
  for (auto& t : running) t.join();

  PlayerTotals totals;
  for (auto& t : threads) totals.merge(t->totals());
  const double window = static_cast<double>(window_end - window_start) / 1e6;
  const double gbps = totals.bytes_per_s * 8 / 1e9;
  const double server_cpu = server_end.total.cpu_s() - server_start.total.cpu_s();
  const double self_cpu = self_end && self_start ? self_end->cpu_s() - self_start->cpu_s() : 0;
  const double ramp_s = static_cast<double>(std::max(totals.last_play_start_us, control.start_us) - control.start_us) / 1e6;

  std::printf("{\n");
  std::printf("  \"clients\": %u, \"threads\": %u, \"streams\": %u,\n", settings.clients, settings.threads,
              settings.streams);
  std::printf("  \"protocol\": \"%s\", \"rtsp_transport\": \"%s\",\n", is_rtsp ? "rtsp" : "rtmp",
              !is_rtsp ? "" : settings.rtsp_transport == RtspTransport::udp ? "udp" : "tcp");
  if (is_rtsp)
    std::printf("  \"rtp\": {\"packets\": %llu, \"expected\": %llu, \"lost\": %lld},\n",
                static_cast<unsigned long long>(totals.rtp_packets), static_cast<unsigned long long>(totals.rtp_expected),
                static_cast<long long>(totals.rtp_expected) - static_cast<long long>(totals.rtp_packets));
  std::printf("  \"connected\": %u, \"playing_after_ramp\": %u, \"playing_at_end\": %llu, \"failed\": %llu,\n",
              control.connected.load(), playing_after_ramp, static_cast<unsigned long long>(totals.playing),
              static_cast<unsigned long long>(totals.failed));
  std::printf("  \"read\": \"%s\", \"read_interval_ms\": %u, \"read_size\": %zu,\n",
              settings.read == ReadMode::paced ? "paced" : "arrival", settings.read_interval_ms,
              settings.read_size_bytes);
  std::printf("  \"ramp_s\": %.3f, \"ramp_rate_per_s\": %.1f, \"requested_rate_per_s\": %.1f,\n", ramp_s,
              ramp_s > 0 ? playing_after_ramp / ramp_s : 0.0, settings.connect_rate_per_s);
  std::printf("  \"window_s\": %.3f, \"window_bytes\": %llu, \"total_bytes\": %llu, \"gbps\": %.4f,\n", window,
              static_cast<unsigned long long>(totals.window_bytes), static_cast<unsigned long long>(totals.total_bytes),
              gbps);
  std::printf("  \"kept_up\": %llu, \"kept_up_share\": %.4f, \"with_video\": %llu,\n",
              static_cast<unsigned long long>(totals.kept_up),
              static_cast<double>(totals.kept_up) / settings.clients, static_cast<unsigned long long>(totals.with_video));
  std::printf("  \"video_frames\": %llu, \"audio_frames\": %llu, \"key_frames\": %llu, \"data_messages\": %llu,\n",
              static_cast<unsigned long long>(totals.video_frames), static_cast<unsigned long long>(totals.audio_frames),
              static_cast<unsigned long long>(totals.key_frames), static_cast<unsigned long long>(totals.data_messages));
  const double ramp_cpu = server_ramp_end.total.cpu_s() - server_base.total.cpu_s();
  std::printf("  \"ramp\": {\"server_cpu_s\": %.3f, \"server_us_per_player\": %.2f, \"wall_s\": %.3f},\n", ramp_cpu,
              playing_after_ramp ? ramp_cpu * 1e6 / playing_after_ramp : 0.0,
              static_cast<double>(ramp_end - control.start_us) / 1e6);
  print_quantiles("time_to_first_frame", totals.time_to_first_frame);
  print_quantiles("play_start", totals.play_start);
  print_quantiles("delay", totals.delay);
  std::printf("  \"server\": {\"pids\": %zu, \"sampled\": %s, \"cpu_s\": %.3f, \"user_s\": %.3f, \"system_s\": %.3f, "
              "\"cores\": %.4f, \"rss_base_kib\": %llu, \"rss_start_kib\": %llu, \"rss_end_kib\": %llu},\n",
              server_pids.size(), server_base.ok && server_end.ok ? "true" : "false", server_cpu,
              server_end.total.user_s - server_start.total.user_s,
              server_end.total.system_s - server_start.total.system_s, window > 0 ? server_cpu / window : 0,
              static_cast<unsigned long long>(server_base.total.rss_kib),
              static_cast<unsigned long long>(server_start.total.rss_kib),
              static_cast<unsigned long long>(server_end.total.rss_kib));
  std::printf("  \"loadgen\": {\"cpu_s\": %.3f, \"cores\": %.4f, \"rss_kib\": %llu},\n", self_cpu,
              window > 0 ? self_cpu / window : 0, static_cast<unsigned long long>(self_end ? self_end->rss_kib : 0));
  if (machine_start && machine_end && window > 0)
    std::printf("  \"machine\": {\"cpus\": %ld, \"busy_cores\": %.4f, \"softirq_cores\": %.4f},\n",
                sysconf(_SC_NPROCESSORS_ONLN), (machine_end->busy_s - machine_start->busy_s) / window,
                (machine_end->softirq_s - machine_start->softirq_s) / window);
  std::printf("  \"player_segments\": {\"players\": %llu, \"in\": %llu, \"data_in\": %llu, \"out\": %llu, "
              "\"data_out\": %llu},\n",
              static_cast<unsigned long long>(totals.tcp_players), static_cast<unsigned long long>(totals.tcp_segs_in),
              static_cast<unsigned long long>(totals.tcp_data_segs_in),
              static_cast<unsigned long long>(totals.tcp_segs_out),
              static_cast<unsigned long long>(totals.tcp_data_segs_out));
  if (tcp_start && tcp_end)
    std::printf("  \"tcp\": {\"in_segs\": %llu, \"out_segs\": %llu, \"retrans_segs\": %llu},\n",
                static_cast<unsigned long long>(tcp_end->in_segs - tcp_start->in_segs),
                static_cast<unsigned long long>(tcp_end->out_segs - tcp_start->out_segs),
                static_cast<unsigned long long>(tcp_end->retrans_segs - tcp_start->retrans_segs));
  std::printf("  \"errors\": [");
  for (std::size_t i = 0; i < totals.errors.size(); ++i)
    std::printf("%s%s", i ? ", " : "", json_string(totals.errors[i]).c_str());
  std::printf("], \"error_count\": %llu\n}\n", static_cast<unsigned long long>(totals.error_count));
  return 0;
}

int run_publish(Args& args) {
  PublisherSettings settings;
  std::string url_text;
  std::string flag;
  while (args.next(flag)) {
    if (flag == "--url") url_text = args.value(flag);
    else if (flag == "--file") settings.file = args.value(flag);
    else if (flag == "--streams") settings.streams = static_cast<std::uint32_t>(args.number(flag));
    else if (flag == "--duration") settings.duration_s = args.number(flag);
    else if (flag == "--stagger") settings.stagger_ms = args.number(flag);
    else if (flag == "--chunk-size") settings.chunk_size = static_cast<std::uint32_t>(args.number(flag));
    else if (flag == "--no-stamp") settings.stamp = false;
    else usage_error("unknown flag " + flag);
  }
  auto url = parse_rtmp_url(url_text);
  if (!url) usage_error(url.error().message());
  if (settings.file.empty()) usage_error("--file is required");
  if (settings.streams == 0 || settings.chunk_size < 128) usage_error("--streams > 0, --chunk-size >= 128");
  settings.server = resolve(*url);
  settings.app = url->app;
  settings.tc_url = url->tc_url;
  settings.stream_name = url->name;
  raise_fd_limit();
  Status status = run_publisher(settings);
  if (!status) {
    std::fprintf(stderr, "weir_load publish: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) {
  using namespace weir::bench;
  if (argc < 2) usage_error("a mode is needed");
  Args args;
  for (int i = 2; i < argc; ++i) args.items.emplace_back(argv[i]);
  std::string mode = argv[1];
  if (mode == "play") return run_play(args);
  if (mode == "publish") return run_publish(args);
  if (mode == "--help" || mode == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  usage_error("unknown mode " + mode);
}
