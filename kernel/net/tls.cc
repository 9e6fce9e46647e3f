// SPDX-License-Identifier: Apache-2.0
#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

namespace weir::kernel {

std::string openssl_errors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? std::string("unknown TLS error") : text;
}

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return error(Errc::internal, "TLS: {}", openssl_errors());
  std::shared_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  if (options.certificate_file.empty()) return error(Errc::config, "TLS: no certificate file given");
  if (SSL_CTX_use_certificate_chain_file(ctx, options.certificate_file.c_str()) != 1)
    return error(Errc::config, "TLS certificate {}: {}", options.certificate_file, openssl_errors());
  const std::string& key = options.private_key_file.empty() ? options.certificate_file : options.private_key_file;
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return error(Errc::config, "TLS private key {}: {}", key, openssl_errors());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return error(Errc::config, "TLS private key {} does not match certificate {}", key, options.certificate_file);
  return context;
}

Result<std::shared_ptr<TlsContext>> TlsContext::create_client(bool verify_peer) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return error(Errc::internal, "TLS: {}", openssl_errors());
  std::shared_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  if (verify_peer) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
      return error(Errc::config, "TLS: cannot load the system's CA certificates: {}", openssl_errors());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(const TlsContext& context) : ssl_(SSL_new(context.native())) {
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1);  // empty input means "want more", not end of file
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

TlsSession::TlsSession(const TlsContext& context, const std::string& server_name)
    : ssl_(SSL_new(context.native())) {
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_connect_state(ssl_);
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(server_name, not_an_address);
  if (not_an_address) {
    // RFC 6066 3: SNI carries host names only, never address literals.
    SSL_set_tlsext_host_name(ssl_, server_name.c_str());
    SSL_set1_host(ssl_, server_name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name.c_str());
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

Result<bool> TlsSession::handshake() noexcept {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return true;
  int reason = SSL_get_error(ssl_, rc);
  if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) return false;
  long verdict = SSL_get_verify_result(ssl_);
  if (verdict != X509_V_OK)
    return error(Errc::denied, "TLS handshake: certificate rejected: {}", X509_verify_cert_error_string(verdict));
  return error(Errc::denied, "TLS handshake: {}", openssl_errors());
}

void TlsSession::receive(std::span<const std::uint8_t> ciphertext) noexcept {
  if (ciphertext.empty()) return;
  BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

Result<std::size_t> TlsSession::read(std::span<std::byte> out) noexcept {
  ERR_clear_error();
  int n = SSL_read(ssl_, out.data(), static_cast<int>(out.size()));
  if (n > 0) return static_cast<std::size_t>(n);
  int reason = SSL_get_error(ssl_, n);
  if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) return std::size_t{0};
  if (reason == SSL_ERROR_ZERO_RETURN) return Status(Errc::closed, "peer closed the TLS session");
  return error(Errc::malformed, "TLS {}: {}", is_handshake_done() ? "record" : "handshake", openssl_errors());
}

Status TlsSession::write(std::span<const std::uint8_t> plaintext) noexcept {
  std::size_t done = 0;
  while (done < plaintext.size()) {
    ERR_clear_error();
    int n = SSL_write(ssl_, plaintext.data() + done, static_cast<int>(plaintext.size() - done));
    if (n <= 0) return error(Errc::io, "TLS write: {}", openssl_errors());
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

void TlsSession::take_output(std::vector<std::uint8_t>& out) {
  std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  std::size_t at = out.size();
  out.resize(at + pending);
  int n = BIO_read(out_, out.data() + at, static_cast<int>(pending));
  out.resize(at + static_cast<std::size_t>(n > 0 ? n : 0));
}

bool TlsSession::is_handshake_done() const noexcept { return SSL_is_init_finished(ssl_) == 1; }

}  // namespace weir::kernel
