// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Test helper for formats/rtsp: the captures under testdata/ (see generate.sh), and a reader
/// that collects every item of a byte stream.

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/rtsp/message.h"

namespace weir::formats::rtsp::test_support {

using Bytes = std::vector<std::uint8_t>;

/// The bytes of testdata/<name>; an empty vector (and a test failure) when it cannot be read.
inline Bytes read_capture(const std::string& name) {
  std::ifstream in(std::string(WEIR_RTSP_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }
/// The bytes of a literal, NULs included (a string_view of it would stop at the first).
template <std::size_t N>
Bytes bytes_of(const char (&text)[N]) {
  return Bytes(text, text + N - 1);
}

/// An item with its payload copied, to compare items read at different times.
struct OwnedItem {
  ItemKind kind = ItemKind::need_more;
  Request request;
  Response response;
  std::uint8_t channel = 0;
  Bytes payload;
};

/// Every item in `bytes`, fed `step` bytes at a time (0: all at once). Stops at the first error
/// and stores it in `status` when given.
inline std::vector<OwnedItem> read_all(const Bytes& bytes, std::size_t step = 0,
                                       Status* status = nullptr, MessageLimits limits = {}) {
  std::vector<OwnedItem> items;
  MessageReader reader(limits);
  if (step == 0) step = bytes.size() == 0 ? 1 : bytes.size();
  for (std::size_t at = 0; at < bytes.size(); at += step) {
    // A fresh copy per feed, dropped after need_more: proves the reader keeps what it needs.
    Bytes piece(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                bytes.begin() + static_cast<std::ptrdiff_t>(std::min(bytes.size(), at + step)));
    reader.feed(piece);
    while (true) {
      Result<Item> item = reader.next();
      if (!item) {
        if (status != nullptr) *status = item.error();
        return items;
      }
      if (item->kind == ItemKind::need_more) break;
      items.push_back({item->kind, item->request, item->response, item->channel,
                       Bytes(item->payload.begin(), item->payload.end())});
    }
    std::fill(piece.begin(), piece.end(), 0xEE);
  }
  return items;
}

/// The requests among `items`.
inline std::vector<Request> requests_of(const std::vector<OwnedItem>& items) {
  std::vector<Request> out;
  for (const OwnedItem& item : items)
    if (item.kind == ItemKind::request) out.push_back(item.request);
  return out;
}

/// The responses among `items`.
inline std::vector<Response> responses_of(const std::vector<OwnedItem>& items) {
  std::vector<Response> out;
  for (const OwnedItem& item : items)
    if (item.kind == ItemKind::response) out.push_back(item.response);
  return out;
}

}  // namespace weir::formats::rtsp::test_support
