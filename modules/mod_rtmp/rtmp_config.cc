// SPDX-License-Identifier: Apache-2.0
#include "rtmp_config.h"

#include <algorithm>

namespace weir::rtmp {

Result<RtmpConfig> RtmpConfig::parse(const ConfigView& view) {
  RtmpConfig c;
  auto listen = view.get_string("listen", c.listen);
  if (!listen) return listen.error();
  c.listen = *listen;
  auto tls_listen = view.get_string("tls_listen", "");
  auto certificate = view.get_string("tls_certificate", "");
  auto key = view.get_string("tls_private_key", "");
  if (!tls_listen || !certificate || !key) return Status(Errc::config, "tls keys");
  c.tls_listen = *tls_listen;
  c.tls_certificate = *certificate;
  c.tls_private_key = *key;
  if (!c.tls_listen.empty() && c.tls_certificate.empty())
    return view.invalid("tls_certificate", "tls_listen is set: RTMPS needs a certificate (PEM)");
  auto chunk = view.get_int("chunk_size", c.out_chunk_size, 128, 0x7FFFFFFF);
  if (!chunk) return chunk.error();
  c.out_chunk_size = static_cast<std::uint32_t>(*chunk);
  auto window = view.get_int("ack_window", c.ack_window, 4096, 0x7FFFFFFF);
  if (!window) return window.error();
  c.ack_window = static_cast<std::uint32_t>(*window);
  auto max_message = view.get_bytes("max_message_size", c.max_message_bytes);
  if (!max_message) return max_message.error();
  if (*max_message < 1024 || *max_message > (16u << 20))
    return view.invalid("max_message_size", "must be between 1k and 16m");
  // The wire's length field has 24 bits: 16m means "as large as RTMP allows".
  c.max_message_bytes = static_cast<std::uint32_t>(std::min<std::uint64_t>(*max_message, 0xFFFFFF));
  auto missing = view.get_string("play_missing", "not_found");
  if (!missing) return missing.error();
  if (*missing == "wait") c.play_waits_for_publisher = true;
  else if (*missing != "not_found")
    return view.invalid("play_missing", "expected not_found or wait, got '" + *missing + "'");
  auto gop = view.get_bool("gop_cache", c.gop_cache);
  if (!gop) return gop.error();
  c.gop_cache = *gop;
  auto ping = view.get_duration("ping_interval", c.ping_interval);
  if (!ping) return ping.error();
  if (ping->count() < 100) return view.invalid("ping_interval", "must be at least 100ms");
  c.ping_interval = *ping;
  if (view.has("play_coalescing")) {
    auto coalescing = view.get_duration("play_coalescing", std::chrono::milliseconds(0));
    if (!coalescing) return coalescing.error();
    c.play_coalescing = *coalescing;
  }
  auto handshake = view.get_duration("handshake_timeout", c.handshake_timeout);
  if (!handshake) return handshake.error();
  c.handshake_timeout = *handshake;
  return c;
}

}  // namespace weir::rtmp
