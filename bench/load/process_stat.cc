// SPDX-License-Identifier: Apache-2.0
#include "process_stat.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace weir::bench {

std::optional<ProcessSample> sample_process(pid_t pid) noexcept {
  std::string base = pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid);
  ProcessSample sample;
  {
    std::FILE* f = std::fopen((base + "/stat").c_str(), "r");
    if (!f) return std::nullopt;
    char line[1024];
    std::size_t n = std::fread(line, 1, sizeof line - 1, f);
    std::fclose(f);
    line[n] = 0;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    const char* p = std::strrchr(line, ')');
    if (!p) return std::nullopt;
    unsigned long utime = 0, stime = 0;
    // state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
      return std::nullopt;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    sample.user_s = static_cast<double>(utime) / tick;
    sample.system_s = static_cast<double>(stime) / tick;
  }
  std::FILE* f = std::fopen((base + "/status").c_str(), "r");
  if (!f) return std::nullopt;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long kib = 0;
    if (std::sscanf(line, "VmRSS: %lu kB", &kib) == 1) {
      sample.rss_kib = kib;
      break;
    }
  }
  std::fclose(f);
  return sample;
}

std::optional<MachineSample> sample_machine() noexcept {
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return std::nullopt;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle, &iowait, &irq,
                      &softirq, &steal);
  std::fclose(f);
  if (n < 7) return std::nullopt;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  MachineSample sample;
  sample.busy_s = static_cast<double>(user + nice + system + irq + softirq + steal) / tick;
  sample.softirq_s = static_cast<double>(softirq) / tick;
  return sample;
}

std::optional<TcpSample> sample_tcp() noexcept {
  std::FILE* f = std::fopen("/proc/net/snmp", "r");
  if (!f) return std::nullopt;
  // Two "Tcp:" lines: the field names, then the values, in the same order.
  char names[1024] = {0}, values[1024] = {0}, line[1024];
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Tcp:", 4) != 0) continue;
    if (names[0] == 0) {
      std::memcpy(names, line, sizeof line);
    } else {
      std::memcpy(values, line, sizeof line);
      break;
    }
  }
  std::fclose(f);
  if (values[0] == 0) return std::nullopt;
  TcpSample sample;
  char* name_save = nullptr;
  char* value_save = nullptr;
  char* name = strtok_r(names, " \n", &name_save);
  char* value = strtok_r(values, " \n", &value_save);
  while (name && value) {
    std::uint64_t v = std::strtoull(value, nullptr, 10);
    if (std::strcmp(name, "InSegs") == 0) sample.in_segs = v;
    else if (std::strcmp(name, "OutSegs") == 0) sample.out_segs = v;
    else if (std::strcmp(name, "RetransSegs") == 0) sample.retrans_segs = v;
    name = strtok_r(nullptr, " \n", &name_save);
    value = strtok_r(nullptr, " \n", &value_save);
  }
  return sample;
}

}  // namespace weir::bench
