// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RTSP authentication, both ends (RFC 2617, RFC 7616 for Digest, RFC 7617 for Basic):
///   server: parse Authorization, check a Digest response, write WWW-Authenticate challenges
///   client: parse a WWW-Authenticate challenge, answer it with an Authorization value
/// Digest with MD5, MD5-sess, SHA-256, SHA-256-sess; qop=auth or none (RFC 2069 form, what most
/// RTSP clients and cameras use). qop=auth-int is not supported.

#include <cstdint>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// Which scheme a header uses.
enum class AuthScheme : std::uint8_t { basic, digest };

/// Basic credentials (RFC 7617): "Basic base64(user:password)".
struct BasicCredentials {
  std::string user;
  std::string password;
};

/// The parameters of a Digest Authorization header, unquoted. Absent ones are empty.
struct DigestCredentials {
  std::string username;
  std::string realm;
  std::string nonce;
  std::string uri;
  std::string response;   ///< hex digest
  std::string algorithm;  ///< empty means MD5
  std::string qop;        ///< "auth" or empty
  std::string nc;         ///< 8 hex digits with qop
  std::string cnonce;
  std::string opaque;
};

/// A parsed Authorization header: the scheme, and the member it names.
struct Authorization {
  AuthScheme scheme = AuthScheme::basic;
  BasicCredentials basic;
  DigestCredentials digest;
};

/// Parses an Authorization value. Errors: Errc::unsupported for another scheme (Bearer...);
/// Errc::malformed for bad base64 or no ':' in Basic, a broken parameter list or a Digest without
/// username, realm, nonce, uri or response.
Result<Authorization> parse_authorization(std::string_view value);

/// Checks a Digest response against the password: true when it is what the client would have
/// computed for `method` (and the credentials' own uri, nonce, cnonce, nc). The caller checks that
/// the nonce is one it issued and still valid, and that the uri names the request's resource.
/// False for an unknown algorithm or qop. Compares in constant time.
bool digest_matches(const DigestCredentials& credentials, std::string_view method,
                    std::string_view password);
/// As digest_matches(), with HA1 = H(username:realm:password) in hex given instead of the password
/// (an operator may store HA1 rather than passwords). For the -sess algorithms, the H(...) before
/// the nonce and cnonce are added.
bool digest_matches_ha1(const DigestCredentials& credentials, std::string_view method,
                        std::string_view ha1_hex);

/// H(username:realm:password) in lower-case hex, with H from `algorithm` (MD5 when empty).
/// Empty for an unknown algorithm.
std::string digest_ha1(std::string_view username, std::string_view realm, std::string_view password,
                       std::string_view algorithm = {});

/// `Basic realm="realm"`.
std::string www_authenticate_basic(std::string_view realm);
/// `Digest realm="realm", nonce="nonce", algorithm=MD5` (with `, qop="auth"` when offer_qop; the
/// default leaves it out, as live555-based clients, VLC among them, do not do qop).
std::string www_authenticate_digest(std::string_view realm, std::string_view nonce,
                                    bool offer_qop = false);

/// A server's challenge, from a WWW-Authenticate value.
struct AuthChallenge {
  AuthScheme scheme = AuthScheme::basic;
  std::string realm;
  std::string nonce;
  std::string opaque;
  std::string algorithm;  ///< empty means MD5
  std::string qop;        ///< as offered, e.g. "auth,auth-int"
  bool is_stale = false;
};

/// Parses one challenge. Errors: Errc::unsupported for another scheme; Errc::malformed for a
/// broken parameter list, or a Digest challenge without realm or nonce.
Result<AuthChallenge> parse_www_authenticate(std::string_view value);

/// The Authorization value that answers `challenge` for one request: Basic, or Digest for
/// `method` and `uri` (the request line's URI). With a qop of "auth" on offer the answer uses it,
/// with the caller's `cnonce` (random, hex) and `nonce_count` (1 for the first use of this
/// nonce, +1 after). Errors: Errc::unsupported for an algorithm or qop we cannot do.
Result<std::string> authorization_for(const AuthChallenge& challenge, std::string_view user,
                                      std::string_view password, std::string_view method,
                                      std::string_view uri, std::string_view cnonce = "0a4f113b",
                                      std::uint32_t nonce_count = 1);

}  // namespace weir::formats::rtsp
