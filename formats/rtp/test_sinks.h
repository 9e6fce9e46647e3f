// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test-only: sinks that keep what packetizers and depacketizers hand out, and test data access.

#include <cstdint>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"

#ifndef WEIR_RTP_TESTDATA
#define WEIR_RTP_TESTDATA "formats/rtp/testdata"
#endif

namespace weir::formats::rtp::test {

using Bytes = std::vector<std::uint8_t>;

struct Packet {
  Bytes payload;
  bool marker = false;
  std::size_t pieces = 0;
};

/// Joins each packet's pieces, as a caller writing them into its buffer would.
struct CollectingPayloadSink : PayloadSink {
  std::vector<Packet> packets;
  void packet(std::span<const std::span<const std::uint8_t>> pieces, bool marker) override {
    Packet p;
    p.marker = marker;
    p.pieces = pieces.size();
    for (auto piece : pieces) p.payload.insert(p.payload.end(), piece.begin(), piece.end());
    packets.push_back(std::move(p));
  }
};

struct Unit {
  std::uint32_t timestamp = 0;
  Bytes data;
  bool is_key_frame = false;
};

struct CollectingAccessUnitSink : AccessUnitSink {
  std::vector<Unit> units;
  void access_unit(const AccessUnit& unit) override {
    units.push_back(Unit{unit.rtp_timestamp, Bytes(unit.data.begin(), unit.data.end()), unit.is_key_frame});
  }
};

/// An RtpPacket over `payload` (which must outlive it).
inline RtpPacket rtp_packet(const Bytes& payload, std::uint32_t timestamp, bool marker, std::uint16_t sequence = 0) {
  RtpPacket packet;
  packet.header.timestamp = timestamp;
  packet.header.marker = marker;
  packet.header.sequence = sequence;
  packet.payload = payload;
  return packet;
}

/// The bytes of testdata/<name> (or of formats/flv/testdata with flv = true); empty when missing.
inline Bytes read_testdata(const std::string& name, bool flv = false) {
  std::string dir = std::string(WEIR_RTP_TESTDATA) + (flv ? "/../../flv/testdata" : "");
  std::ifstream in(dir + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The datagrams of a capture written by testdata/capture_rtp.py (2-byte length, then bytes).
inline std::vector<Bytes> read_packets(const std::string& name) {
  Bytes file = read_testdata(name);
  std::vector<Bytes> out;
  for (std::size_t at = 0; at + 2 <= file.size();) {
    std::size_t length = std::size_t{file[at]} << 8 | file[at + 1];
    at += 2;
    if (length > file.size() - at) break;
    out.emplace_back(file.begin() + static_cast<std::ptrdiff_t>(at),
                     file.begin() + static_cast<std::ptrdiff_t>(at + length));
    at += length;
  }
  return out;
}

/// NAL units after 4-byte lengths.
inline Bytes avcc(std::initializer_list<Bytes> nals) {
  Bytes out;
  for (const Bytes& nal : nals) {
    std::uint32_t n = static_cast<std::uint32_t>(nal.size());
    out.insert(out.end(), {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                           static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    out.insert(out.end(), nal.begin(), nal.end());
  }
  return out;
}

/// A NAL unit: `header` bytes, then `size - header.size()` bytes of a pattern.
inline Bytes nal(Bytes header, std::size_t size) {
  Bytes out = std::move(header);
  for (std::size_t i = out.size(); i < size; ++i) out.push_back(static_cast<std::uint8_t>(i * 7 + 3));
  return out;
}

}  // namespace weir::formats::rtp::test
