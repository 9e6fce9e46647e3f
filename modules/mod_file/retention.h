// SPDX-License-Identifier: Apache-2.0
#pragma once
// Retention: finished recordings in record_dir older than [file] retention_age, then the oldest
// past [file] retention_size in all, are deleted. Blocking (the worker pool); one pass at a time
// in the process (a pass asked for while one runs is skipped: that one sees the same files).
// Files still being written (no mdat size yet) are never deleted; they count in the total.

#include "file_config.h"
#include "weir/log.h"

namespace weir::file {

/// Returns how many files were deleted.
std::size_t enforce_retention(const FileConfig& config, const Logger& logger);

}  // namespace weir::file
