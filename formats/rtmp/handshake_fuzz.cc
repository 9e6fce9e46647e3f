// SPDX-License-Identifier: Apache-2.0
// Fuzzes both ends of the handshake with arbitrary peer bytes.
//
// Input: [role and client kind][feed step] peer bytes...
//   role bit 0: 0 = server reading C0 C1 C2, 1 = client reading S0 S1 S2
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "formats/rtmp/handshake.h"

namespace rtmp = weir::formats::rtmp;

namespace {

template <class End>
void drive(End& end, const std::uint8_t* data, std::size_t size, std::size_t step) {
  std::size_t total = 0;
  for (std::size_t at = 0; at < size; at += step) {
    const std::size_t n = step < size - at ? step : size - at;
    weir::Result<std::size_t> used = end.feed(std::span<const std::uint8_t>(data + at, n));
    if (!used) return;
    if (*used > n) std::abort();
    total += *used;
    end.mark_sent(end.pending_output().size());
    if (end.is_done()) break;
  }
  // The handshake is 1 + 2 * 1536 bytes from the peer; done means exactly that many were used.
  if (end.is_done() && total != 1 + 2 * rtmp::kHandshakePacketBytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t mode = data[0];
  const std::size_t step = data[1] == 0 ? size : data[1];
  if ((mode & 1) == 0) {
    rtmp::ServerHandshakeOptions options;
    options.random_seed = 1;
    options.allow_digest = (mode & 2) == 0;
    rtmp::ServerHandshake server(options);
    drive(server, data + 2, size - 2, step);
  } else {
    rtmp::ClientHandshakeOptions options;
    options.random_seed = 1;
    options.kind = static_cast<rtmp::HandshakeKind>((mode >> 1) % 3);
    options.require_echo = (mode & 8) == 0;
    rtmp::ClientHandshake client(options);
    client.mark_sent(client.pending_output().size());
    drive(client, data + 2, size - 2, step);
  }
  return 0;
}
