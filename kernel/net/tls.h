// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS for listeners (RTMPS, later HTTPS): OpenSSL with memory BIOs, so the connection keeps its
// own non-blocking socket I/O and TLS only transforms bytes:
//
//   socket --recv--> ciphertext --receive()--> [SSL] --read()--> plaintext --> handler
//   handler --send()--> plaintext queue --write()--> [SSL] --take_output()--> ciphertext --> socket
//
// Encryption copies by nature; the plaintext side keeps the shared-page queue and its limits.

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weir/connection.h"
#include "weir/status.h"

namespace weir::kernel {

/// A listener's certificate and key. Shared, immutable after creation; any thread.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create(const TlsOptions& options);
  ~TlsContext();
  SSL_CTX* native() const noexcept { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

/// One connection's TLS state (server side). Thread: the connection's group.
class TlsSession {
 public:
  explicit TlsSession(const TlsContext& context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  /// Ciphertext from the peer.
  void receive(std::span<const std::uint8_t> ciphertext) noexcept;
  /// Decrypts into `out`: bytes written, 0 when more ciphertext is needed, or an error (a failed
  /// handshake, a bad record, the peer's close_notify as Errc::closed).
  Result<std::size_t> read(std::span<std::byte> out) noexcept;
  /// Encrypts all of `plaintext` (only once the handshake is done).
  Status write(std::span<const std::uint8_t> plaintext) noexcept;
  /// Appends ciphertext ready to go (handshake records, alerts, encrypted data) to `out`.
  void take_output(std::vector<std::uint8_t>& out);
  bool is_handshake_done() const noexcept;
  /// The OpenSSL session, for tests that drive it into a failure.
  SSL* native() const noexcept { return ssl_; }

 private:
  SSL* ssl_;
  BIO* in_;   // owned by ssl_
  BIO* out_;  // owned by ssl_
};

/// OpenSSL's error queue as text (and cleared).
std::string openssl_errors();

}  // namespace weir::kernel
