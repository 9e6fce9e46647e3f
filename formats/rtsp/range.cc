// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/range.h"

#include <cstdio>

#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

namespace {

using std::chrono::microseconds;

// Seconds with an optional fraction, "12" or "12.345"; at most 6 fraction digits count.
std::optional<std::int64_t> parse_seconds_us(std::string_view text, std::uint64_t max_seconds) {
  const std::size_t dot = text.find('.');
  auto whole = detail::parse_decimal(text.substr(0, dot), max_seconds);
  if (!whole) return std::nullopt;
  std::int64_t us = static_cast<std::int64_t>(*whole) * 1'000'000;
  if (dot != std::string_view::npos) {
    const std::string_view fraction = text.substr(dot + 1);
    std::int64_t scale = 100'000;
    for (char ch : fraction) {
      if (ch < '0' || ch > '9') return std::nullopt;
      us += (ch - '0') * scale;
      scale /= 10;
    }
  }
  return us;
}

// npt-time: npt-sec ("123.45") or npt-hhmmss ("1:02:03.5").
std::optional<microseconds> parse_npt_time(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::size_t first_colon = text.find(':');
  if (first_colon == std::string_view::npos) {
    auto us = parse_seconds_us(text, 1'000'000'000);
    if (!us) return std::nullopt;
    return microseconds(*us);
  }
  // npt-mm and npt-ss are 1*2DIGIT (RFC 2326 3.6).
  const std::size_t second_colon = text.find(':', first_colon + 1);
  if (second_colon == std::string_view::npos) return std::nullopt;
  const std::string_view minutes_text =
      text.substr(first_colon + 1, second_colon - first_colon - 1);
  const std::string_view seconds_text = text.substr(second_colon + 1);
  const std::size_t whole_seconds_digits = seconds_text.find('.');
  auto hours = detail::parse_decimal(text.substr(0, first_colon), 1'000'000);
  auto minutes = minutes_text.size() <= 2 ? detail::parse_decimal(minutes_text, 59) : std::nullopt;
  auto seconds = parse_seconds_us(seconds_text, 59);
  if (!hours || !minutes || !seconds ||
      (whole_seconds_digits == std::string_view::npos ? seconds_text.size()
                                                      : whole_seconds_digits) > 2)
    return std::nullopt;
  return microseconds(
      (static_cast<std::int64_t>(*hours) * 3600 + static_cast<std::int64_t>(*minutes) * 60) *
          1'000'000 +
      *seconds);
}

void append_time(std::string& out, microseconds time) {
  const std::int64_t ms = time.count() / 1000;
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  out += text;
}

}  // namespace

Result<NptRange> parse_range(std::string_view value) {
  std::string_view text = detail::trim(value.substr(0, value.find(';')));
  for (std::string_view unit : {"smpte", "clock="})
    if (detail::istarts_with(text, unit))
      return error(Errc::unsupported, "range \"{}\": only npt is supported", text.substr(0, 60));
  if (!detail::istarts_with(text, "npt"))
    return error(Errc::malformed, "range \"{}\": not npt=", text.substr(0, 60));
  text.remove_prefix(3);
  text = detail::trim(text);
  if (text.empty() || text.front() != '=')
    return error(Errc::malformed, "range \"{}\": not npt=", value.substr(0, 60));
  text = detail::trim(text.substr(1));
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos)
    return error(Errc::malformed, "range \"{}\": no '-'", value.substr(0, 60));
  const std::string_view start = detail::trim(text.substr(0, dash));
  const std::string_view end = detail::trim(text.substr(dash + 1));
  NptRange range;
  if (detail::iequals(start, "now")) {
    range.is_now = true;
  } else if (!start.empty()) {
    range.start = parse_npt_time(start);
    if (!range.start) return error(Errc::malformed, "range \"{}\": bad start", value.substr(0, 60));
  }
  if (!end.empty()) {
    range.end = parse_npt_time(end);
    if (!range.end) return error(Errc::malformed, "range \"{}\": bad end", value.substr(0, 60));
  }
  if (start.empty() && !range.end)
    return error(Errc::malformed, "range \"{}\": neither start nor end", value.substr(0, 60));
  if (range.start && range.end && *range.end < *range.start)
    return error(Errc::malformed, "range \"{}\": end before start", value.substr(0, 60));
  return range;
}

std::string format_range(const NptRange& range) {
  std::string out = "npt=";
  if (range.is_now)
    out += "now";
  else if (range.start)
    append_time(out, *range.start);
  out += '-';
  if (range.end) append_time(out, *range.end);
  return out;
}

}  // namespace weir::formats::rtsp
