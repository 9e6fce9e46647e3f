// SPDX-License-Identifier: Apache-2.0
// weir_bare: the bare fan-out sender bench/run measures Weir's sender against (README.md).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "bare_server.h"

namespace {

constexpr const char* kUsage =
    "usage: weir_bare [--listen HOST:PORT] [--coalescing MS] [--no-nodelay] [--wait-key]\n"
    "                 [--max-backlog BYTES]\n"
    "  --listen HOST:PORT   IPv4 address to listen on (default 127.0.0.1:1935)\n"
    "  --coalescing MS      0: one write per player per video frame (default); MS > 0: one write\n"
    "                       per player every MS milliseconds\n"
    "  --no-nodelay         leave Nagle on (Weir sets TCP_NODELAY; this is for measuring it)\n"
    "  --wait-key           a new player's media starts at the next key frame (default: at the\n"
    "                       next write, as nginx-rtmp's wait_key off); no GOP cache either way\n"
    "  --max-backlog BYTES  drop a player whose unsent bytes pass this (default 8388608)\n"
    "Serves one published stream (any name) to every player (any name) until SIGTERM or SIGINT.\n";

void on_signal(int) {}  // only to interrupt epoll_wait: the loop then returns

bool parse_number(std::string_view text, unsigned long long& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  std::string s(text);
  out = std::strtoull(s.c_str(), &end, 10);
  return end && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  weir::bench::BareSettings settings;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "weir_bare: %s needs a value\n%s", argv[i], kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    unsigned long long number = 0;
    if (arg == "--listen") {
      std::string_view address = value();
      auto colon = address.rfind(':');
      if (colon == std::string_view::npos || !parse_number(address.substr(colon + 1), number) || number == 0 ||
          number > 65535) {
        std::fprintf(stderr, "weir_bare: --listen wants HOST:PORT, got '%.*s'\n", static_cast<int>(address.size()),
                     address.data());
        return 2;
      }
      settings.listen_host = std::string(address.substr(0, colon));
      settings.listen_port = static_cast<std::uint16_t>(number);
    } else if (arg == "--coalescing") {
      if (!parse_number(value(), number) || number > 10'000) {
        std::fprintf(stderr, "weir_bare: --coalescing wants milliseconds, 0..10000\n");
        return 2;
      }
      settings.coalescing = std::chrono::milliseconds(number);
    } else if (arg == "--no-nodelay") {
      settings.no_delay = false;
    } else if (arg == "--wait-key") {
      settings.wait_for_key_frame = true;
    } else if (arg == "--max-backlog") {
      if (!parse_number(value(), number) || number == 0) {
        std::fprintf(stderr, "weir_bare: --max-backlog wants bytes\n");
        return 2;
      }
      settings.max_backlog_bytes = number;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "weir_bare: unknown option '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }

  // No SA_RESTART: the signal interrupts epoll_wait and run() returns.
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  weir::bench::BareServer server(settings);
  if (weir::Status status = server.listen(); !status) {
    std::fprintf(stderr, "weir_bare: %s\n", status.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "weir_bare: listening on %s:%u, coalescing %lld ms, TCP_NODELAY %s\n",
               settings.listen_host.c_str(), settings.listen_port, static_cast<long long>(settings.coalescing.count()),
               settings.no_delay ? "on" : "off");
  weir::Status status = server.run();
  const weir::bench::BareCounters& n = server.counters();
  std::fprintf(stderr,
               "weir_bare: %llu accepted, %llu players, %llu dropped, %llu media messages in, %llu writes out "
               "(%llu partial)\n",
               static_cast<unsigned long long>(n.accepted), static_cast<unsigned long long>(n.players_started),
               static_cast<unsigned long long>(n.players_dropped), static_cast<unsigned long long>(n.media_messages),
               static_cast<unsigned long long>(n.fan_out_writes), static_cast<unsigned long long>(n.partial_writes));
  if (!status) {
    std::fprintf(stderr, "weir_bare: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}
