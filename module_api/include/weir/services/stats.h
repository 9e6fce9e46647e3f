// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The statistics service: the figures mod_stats serves over HTTP, for other modules (the Lua
/// binding: `weir.stats.server()` is one call and a Value-to-table conversion). mod_stats
/// provides it; list it before the modules that use it:
///
///   auto stats = registrar.service<StatsService>();
///   if (!stats) return stats.error();
///   weir::Value figures = (*stats)->server(group);   // later, on a poll group
///
/// Each answer is the same tree as the JSON of the matching endpoint (docs/stats.md), from the
/// calling group's latest sample: no waiting, no message.

#include <string_view>

#include "weir/poll_group.h"
#include "weir/registrar.h"
#include "weir/stream.h"
#include "weir/value.h"

namespace weir {

class StatsService : public Service {
 public:
  static constexpr std::string_view kServiceName = "stats";
  static constexpr std::string_view kServiceType = "weir::StatsService/1";
  std::string_view service_type() const noexcept final { return kServiceType; }
  /// GET /api/v1/server. Null before the first sample. Thread: `group`, a poll group.
  virtual Value server(PollGroup& group) const = 0;
  /// GET /api/v1/streams: {"streams": [...]}. Null before the first sample. Thread: `group`.
  virtual Value streams(PollGroup& group) const = 0;
  /// GET /api/v1/streams/{app}/{name}; null when there is no such stream. Thread: `group`.
  virtual Value stream(PollGroup& group, const StreamKey& key) const = 0;
};

}  // namespace weir
