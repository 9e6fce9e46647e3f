// SPDX-License-Identifier: Apache-2.0
#include "tcp_counts.h"

// linux/tcp.h, not netinet/tcp.h: glibc's struct tcp_info stops before the segment counters.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace weir::bench {

std::optional<TcpCounts> read_tcp_counts(int fd) noexcept {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
  if (length < offsetof(tcp_info, tcpi_data_segs_out) + sizeof info.tcpi_data_segs_out) return std::nullopt;
  return TcpCounts{info.tcpi_segs_in, info.tcpi_segs_out, info.tcpi_data_segs_in, info.tcpi_data_segs_out};
}

}  // namespace weir::bench
