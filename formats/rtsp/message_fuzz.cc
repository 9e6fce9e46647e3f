// SPDX-License-Identifier: Apache-2.0
// Fuzzes MessageReader: the input, fed in pieces whose sizes come from its first bytes, must give
// the same items (or the same error) as when fed whole; what it reads serializes and reads back.
// Headers it reads go through the header parsers of this folder.
//
// Input: [piece size seed 2 bytes] stream bytes...
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "formats/rtsp/auth.h"
#include "formats/rtsp/message.h"
#include "formats/rtsp/range.h"
#include "formats/rtsp/sdp.h"
#include "formats/rtsp/session_header.h"
#include "formats/rtsp/transport.h"
#include "formats/rtsp/url.h"

namespace rtsp = weir::formats::rtsp;

namespace {

struct Seen {
  rtsp::ItemKind kind;
  std::string text;  // serialized message, or channel + payload
};

void look_inside(const std::vector<rtsp::Header>& headers, const std::string& body) {
  for (const rtsp::Header& header : headers) {
    static_cast<void>(rtsp::parse_transport(header.value));
    static_cast<void>(rtsp::parse_range(header.value));
    static_cast<void>(rtsp::parse_session(header.value));
    static_cast<void>(rtsp::parse_rtp_info(header.value));
    static_cast<void>(rtsp::parse_authorization(header.value));
    static_cast<void>(rtsp::parse_www_authenticate(header.value));
  }
  if (!body.empty()) static_cast<void>(rtsp::parse_sdp(body));
}

std::vector<Seen> read(std::span<const std::uint8_t> bytes, std::size_t seed,
                       weir::Status& status) {
  rtsp::MessageLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_body_bytes = 4096;
  rtsp::MessageReader reader(limits);
  std::vector<Seen> seen;
  std::size_t at = 0;
  std::uint32_t state = static_cast<std::uint32_t>(seed) * 2654435761u + 1;
  while (at < bytes.size()) {
    std::size_t n = bytes.size() - at;
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (state >> 16) % 97);
    }
    // A copy per piece, scribbled over after need_more: the reader must not keep a view of it.
    std::vector<std::uint8_t> piece(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                    bytes.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    reader.feed(piece);
    while (true) {
      weir::Result<rtsp::Item> item = reader.next();
      if (!item) {
        status = item.error();
        return seen;
      }
      if (item->kind == rtsp::ItemKind::need_more) break;
      switch (item->kind) {
        case rtsp::ItemKind::request:
          seen.push_back({item->kind, rtsp::serialize(item->request)});
          break;
        case rtsp::ItemKind::response:
          seen.push_back({item->kind, rtsp::serialize(item->response)});
          break;
        default:
          seen.push_back({item->kind, std::string(1, static_cast<char>(item->channel)) +
                                          std::string(item->payload.begin(), item->payload.end())});
          break;
      }
    }
    std::fill(piece.begin(), piece.end(), 0xA5);
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t seed = static_cast<std::size_t>(data[0]) << 8 | data[1];
  const std::span<const std::uint8_t> bytes(data + 2, size - 2);
  weir::Status whole_status;
  weir::Status cut_status;
  const std::vector<Seen> whole = read(bytes, 0, whole_status);
  const std::vector<Seen> cut = read(bytes, seed == 0 ? 1 : seed, cut_status);
  if (whole.size() != cut.size() || whole_status.code() != cut_status.code()) std::abort();
  for (std::size_t i = 0; i < whole.size(); ++i)
    if (whole[i].kind != cut[i].kind || whole[i].text != cut[i].text) std::abort();

  // What was read is written again and must read back as itself.
  for (const Seen& item : whole) {
    if (item.kind != rtsp::ItemKind::request && item.kind != rtsp::ItemKind::response) continue;
    rtsp::MessageReader again;
    again.feed(
        std::span(reinterpret_cast<const std::uint8_t*>(item.text.data()), item.text.size()));
    weir::Result<rtsp::Item> back = again.next();
    if (!back || back->kind != item.kind) std::abort();
    const std::string text = item.kind == rtsp::ItemKind::request ? rtsp::serialize(back->request)
                                                                  : rtsp::serialize(back->response);
    if (text != item.text) std::abort();
    const rtsp::Request& request = back->request;
    look_inside(item.kind == rtsp::ItemKind::request ? request.headers : back->response.headers,
                item.kind == rtsp::ItemKind::request ? request.body : back->response.body);
    if (item.kind == rtsp::ItemKind::request) {
      auto url = rtsp::parse_url(request.uri);
      if (url) static_cast<void>(rtsp::split_stream_path(url->path));
      static_cast<void>(rtsp::cseq(request));
    }
  }
  return 0;
}
