// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS for listeners (RTMPS, later HTTPS) and outgoing connections (rtsps, rtmps relays): OpenSSL
// with memory BIOs, so the connection keeps its
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

/// A listener's certificate and key, or the settings of outgoing connections. Shared, immutable
/// after creation; any thread.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create(const TlsOptions& options);
  /// For client sessions: TLS 1.2 or later; with `verify_peer`, certificates are checked against
  /// the system's CA store (OpenSSL's default paths).
  static Result<std::shared_ptr<TlsContext>> create_client(bool verify_peer);
  ~TlsContext();
  SSL_CTX* native() const noexcept { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

/// One connection's TLS state. Thread: the connection's group.
class TlsSession {
 public:
  /// The server side of an accepted connection.
  explicit TlsSession(const TlsContext& context);
  /// The client side (a context from create_client()): `server_name` is sent as SNI unless it is
  /// an IP address, and, when the context verifies, is what the certificate must name.
  TlsSession(const TlsContext& context, const std::string& server_name);
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
  /// Client: advances the handshake with what receive() gave it; true once it is done, false
  /// while it needs more from the peer (take_output() holds what must go first), or an error
  /// (Errc::denied) naming why: the certificate check's verdict or OpenSSL's.
  Result<bool> handshake() noexcept;
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
