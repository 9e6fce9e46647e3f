// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The Range header in normal play time (RFC 2326 3.6, 12.29): "npt=10.5-", "npt=now-",
/// "npt=0-30", "npt=0:01:02.5-". SMPTE and clock (absolute) ranges are recognised and refused.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// An NPT range. Absent start or end: open. `is_now`: the start is "now" (live).
struct NptRange {
  bool is_now = false;
  std::optional<std::chrono::microseconds> start;
  std::optional<std::chrono::microseconds> end;
  friend bool operator==(const NptRange&, const NptRange&) = default;
};

/// Parses a Range value. A ";time=..." suffix is ignored. Errors: Errc::unsupported for smpte=,
/// smpte-25=, smpte-30-drop=, clock= (the caller answers 457 or ignores it); Errc::malformed for
/// anything else that is not an NPT range (also end before start), naming the text.
Result<NptRange> parse_range(std::string_view value);

/// "npt=now-", "npt=10.500-", "npt=0.000-30.000" (milliseconds precision, seconds form).
std::string format_range(const NptRange& range);

}  // namespace weir::formats::rtsp
