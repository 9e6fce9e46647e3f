// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// A connection's own segment counters (TCP_INFO), so that the report counts the players' segments
/// and nothing else on the machine: the system-wide counters (/proc/net/snmp) also count the
/// publisher and whatever else runs beside the benchmark.

#include <cstdint>
#include <optional>

namespace weir::bench {

/// Segments one socket sent and received, data or not (ACKs, window updates), since it opened.
struct TcpCounts {
  std::uint32_t segs_in = 0;
  std::uint32_t segs_out = 0;
  std::uint32_t data_segs_in = 0;
  std::uint32_t data_segs_out = 0;
};

/// TCP_INFO of `fd`; nullopt when the socket is gone or the kernel too old (before 4.6).
std::optional<TcpCounts> read_tcp_counts(int fd) noexcept;

}  // namespace weir::bench
