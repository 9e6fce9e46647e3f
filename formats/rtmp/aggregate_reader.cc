// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/aggregate_reader.h"

#include "formats/rtmp/byte_order.h"

namespace weir::formats::rtmp {

namespace {
constexpr std::size_t kSubHeaderBytes = 11;
constexpr std::size_t kBackPointerBytes = 4;
}  // namespace

std::optional<SubMessage> AggregateReader::next() {
  if (!status_.is_ok() || offset_ >= payload_.size()) return std::nullopt;
  const std::size_t left = payload_.size() - offset_;
  if (left < kSubHeaderBytes) {
    status_ =
        error(Errc::malformed, "aggregate: {} bytes at offset {}, too few for a sub-message header",
              left, offset_);
    return std::nullopt;
  }
  const std::uint8_t* p = payload_.data() + offset_;
  const std::uint32_t length = detail::load_u24be(p + 1);
  if (length > left - kSubHeaderBytes) {
    status_ =
        error(Errc::malformed, "aggregate: sub-message of {} bytes at offset {}, only {} left",
              length, offset_, left - kSubHeaderBytes);
    return std::nullopt;
  }
  const std::uint32_t timestamp = detail::load_u24be(p + 4) | (std::uint32_t{p[7]} << 24);
  if (!has_first_) {
    first_timestamp_ = timestamp;
    has_first_ = true;
  }

  SubMessage sub;
  sub.header.chunk_stream_id = aggregate_.chunk_stream_id;
  sub.header.timestamp = aggregate_.timestamp + (timestamp - first_timestamp_);  // mod 2^32
  sub.header.length = length;
  sub.header.type_id = p[0];
  sub.header.stream_id = aggregate_.stream_id;
  sub.payload = payload_.subspan(offset_ + kSubHeaderBytes, length);

  offset_ += kSubHeaderBytes + length;
  // The back pointer (11 + length) is not checked: encoders disagree on it and nothing needs it.
  const std::size_t after = payload_.size() - offset_;
  if (after >= kBackPointerBytes) {
    offset_ += kBackPointerBytes;
  } else if (after != 0) {
    status_ = error(Errc::malformed, "aggregate: {} stray bytes at offset {}", after, offset_);
    offset_ = payload_.size();
  }
  return sub;
}

}  // namespace weir::formats::rtmp
