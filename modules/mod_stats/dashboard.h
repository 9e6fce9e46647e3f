// SPDX-License-Identifier: Apache-2.0
#pragma once
// The dashboard's static files (dashboard/), embedded at build time by embed_files.cmake.

#include <span>
#include <string_view>

namespace weir::stats {

struct DashboardFile {
  std::string_view name;     ///< "index.html"
  std::string_view content;  ///< the file's bytes; static storage
};

/// Every dashboard file. Any thread.
std::span<const DashboardFile> dashboard_files() noexcept;

}  // namespace weir::stats
