// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Base64 (RFC 4648 section 4, the standard alphabet) for sprop-parameter-sets, sprop-vps/sps/pps
/// and Basic authentication.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// The padded base64 text of `bytes`.
std::string base64_encode(std::span<const std::uint8_t> bytes);
/// The padded base64 text of a string's bytes ("user:password").
std::string base64_encode(std::string_view text);

/// Decodes base64. Strict: only the standard alphabet, no spaces or line breaks, '=' only as the
/// final padding; the padding itself may be left out (some encoders write sprop-parameter-sets
/// unpadded). Unused low bits of the last character are ignored (RFC 4648 3.5 lets decoders).
/// Bounded: more than `max_bytes` decoded is Errc::limit before anything is allocated.
/// Errors: Errc::malformed naming the offset of a bad character or a length of 4n+1.
Result<std::vector<std::uint8_t>> base64_decode(std::string_view text,
                                                std::size_t max_bytes = 64 * 1024);

}  // namespace weir::formats::rtsp
