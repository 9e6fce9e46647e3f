// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// What the load tool reads of a process from /proc: CPU time (user + system, all threads, from
/// /proc/PID/stat, clock-tick resolution) and resident memory (VmRSS of /proc/PID/status); and the
/// machine's CPU time (/proc/stat), so that a report shows how busy the whole machine was; and its
/// TCP segment counters.

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace weir::bench {

struct ProcessSample {
  double user_s = 0;
  double system_s = 0;
  std::uint64_t rss_kib = 0;
  double cpu_s() const noexcept { return user_s + system_s; }
};

/// A sample of `pid` (0: this process); nullopt when the process is gone or /proc unreadable.
std::optional<ProcessSample> sample_process(pid_t pid) noexcept;

/// The whole machine's CPU time from /proc/stat, all CPUs: busy (everything but idle and iowait),
/// and the part spent in soft interrupts (loopback's receive path, wherever it ran).
struct MachineSample {
  double busy_s = 0;
  double softirq_s = 0;
};
std::optional<MachineSample> sample_machine() noexcept;

/// TCP segments of this network namespace from /proc/net/snmp (what `nstat -az TcpInSegs TcpOutSegs`
/// shows): every socket's, both ends of every loopback connection.
struct TcpSample {
  std::uint64_t in_segs = 0;
  std::uint64_t out_segs = 0;
  std::uint64_t retrans_segs = 0;
};
std::optional<TcpSample> sample_tcp() noexcept;

}  // namespace weir::bench
