// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS for tests: a listener context with a fresh self-signed certificate (for the TLS listener
// tests and, as the server an outgoing TLS connection meets, the connect tests).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "net/tls.h"
#include "test_files.h"

namespace weir::kernel::testing {

// A listener's TLS context with a fresh self-signed P-256 certificate, written into `dir`.
inline std::shared_ptr<TlsContext> self_signed_tls(const TempDir& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  const std::string pem = (dir.path() / "tls.pem").string();
  std::FILE* file = std::fopen(pem.c_str(), "w");
  PEM_write_X509(file, cert);
  PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(file);
  X509_free(cert);
  EVP_PKEY_free(key);
  auto context = TlsContext::create(TlsOptions{pem, pem});
  if (!context) {
    std::fprintf(stderr, "test TLS context: %s\n", context.error().message().c_str());
    std::abort();
  }
  return *context;
}

}  // namespace weir::kernel::testing
