// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/auth.h"

#include <openssl/evp.h>

#include <cstdio>
#include <vector>

#include "formats/rtsp/base64.h"
#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

using detail::iequals;
using detail::trim;

namespace {

struct Parameter {
  std::string name;
  std::string value;
};

// An auth-param list (RFC 7235 2.1): name=token or name="quoted\"string", comma-separated.
Result<std::vector<Parameter>> parse_parameters(std::string_view text) {
  std::vector<Parameter> out;
  std::size_t i = 0;
  auto skip = [&]() {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ',')) ++i;
  };
  while (skip(), i < text.size()) {
    const std::size_t name_start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ',' && text[i] != ' ') ++i;
    Parameter parameter{std::string(text.substr(name_start, i - name_start)), {}};
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size() || text[i] != '=')
      return error(Errc::malformed, "auth parameter \"{}\" at offset {} has no '='",
                   parameter.name.substr(0, 40), name_start);
    ++i;
    while (i < text.size() && text[i] == ' ') ++i;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        const char ch = text[i++];
        if (ch == '"') {
          closed = true;
          break;
        }
        if (ch == '\\' && i < text.size()) {
          parameter.value += text[i++];
          continue;
        }
        parameter.value += ch;
      }
      if (!closed)
        return error(Errc::malformed, "auth parameter \"{}\": unterminated quoted string",
                     parameter.name.substr(0, 40));
    } else {
      const std::size_t value_start = i;
      while (i < text.size() && text[i] != ',' && text[i] != ' ' && text[i] != '\t') ++i;
      parameter.value = std::string(text.substr(value_start, i - value_start));
    }
    out.push_back(std::move(parameter));
  }
  return out;
}

// Splits "Scheme rest" into the scheme and the rest.
std::string_view split_scheme(std::string_view value, std::string_view& rest) {
  value = trim(value);
  const std::size_t space = value.find_first_of(" \t");
  rest = space == std::string_view::npos ? std::string_view() : trim(value.substr(space));
  return value.substr(0, space);
}

const EVP_MD* hash_of(std::string_view algorithm, bool& is_session) {
  is_session = false;
  if (algorithm.empty() || iequals(algorithm, "MD5")) return EVP_md5();
  if (iequals(algorithm, "SHA-256")) return EVP_sha256();
  is_session = true;
  if (iequals(algorithm, "MD5-sess")) return EVP_md5();
  if (iequals(algorithm, "SHA-256-sess")) return EVP_sha256();
  return nullptr;
}

std::string hex_hash(const EVP_MD* md, std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, md, nullptr) != 1) return {};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 15];
  }
  return out;
}

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty()) out += ':';
    out += part;
  }
  return out;
}

// The response a client computes (RFC 7616 3.4.1), from HA1 = H(user:realm:password); empty when
// the algorithm or qop is one we do not do.
std::string digest_response(std::string_view algorithm, std::string_view ha1,
                            std::string_view nonce, std::string_view cnonce, std::string_view nc,
                            std::string_view qop, std::string_view method, std::string_view uri) {
  bool is_session = false;
  const EVP_MD* md = hash_of(algorithm, is_session);
  if (md == nullptr || (!qop.empty() && !iequals(qop, "auth"))) return {};
  std::string session_ha1;
  if (is_session) {
    session_ha1 = hex_hash(md, join({ha1, nonce, cnonce}));
    ha1 = session_ha1;
  }
  const std::string ha2 = hex_hash(md, join({method, uri}));
  if (qop.empty()) return hex_hash(md, join({ha1, nonce, ha2}));
  return hex_hash(md, join({ha1, nonce, nc, cnonce, qop, ha2}));
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(detail::lower(a[i]) ^ detail::lower(b[i]));
  return diff == 0;
}

// Quotes a value for a header, escaping '"' and '\'.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
  return out;
}

}  // namespace

Result<Authorization> parse_authorization(std::string_view value) {
  std::string_view rest;
  const std::string_view scheme = split_scheme(value, rest);
  Authorization out;
  if (iequals(scheme, "Basic")) {
    out.scheme = AuthScheme::basic;
    auto decoded = base64_decode(rest, 4096);
    if (!decoded) return std::move(decoded).error().with_context("authorization basic");
    const std::string_view text(reinterpret_cast<const char*>(decoded->data()), decoded->size());
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos)
      return error(Errc::malformed, "authorization basic: no ':' after the user");
    out.basic.user = std::string(text.substr(0, colon));
    out.basic.password = std::string(text.substr(colon + 1));
    return out;
  }
  if (!iequals(scheme, "Digest"))
    return error(Errc::unsupported, "authorization scheme \"{}\" is not Basic or Digest",
                 scheme.substr(0, 20));
  out.scheme = AuthScheme::digest;
  auto parameters = parse_parameters(rest);
  if (!parameters) return std::move(parameters).error().with_context("authorization digest");
  DigestCredentials& d = out.digest;
  for (Parameter& p : *parameters) {
    std::string* target = iequals(p.name, "username")    ? &d.username
                          : iequals(p.name, "realm")     ? &d.realm
                          : iequals(p.name, "nonce")     ? &d.nonce
                          : iequals(p.name, "uri")       ? &d.uri
                          : iequals(p.name, "response")  ? &d.response
                          : iequals(p.name, "algorithm") ? &d.algorithm
                          : iequals(p.name, "qop")       ? &d.qop
                          : iequals(p.name, "nc")        ? &d.nc
                          : iequals(p.name, "cnonce")    ? &d.cnonce
                          : iequals(p.name, "opaque")    ? &d.opaque
                                                         : nullptr;
    if (target != nullptr && target->empty()) *target = std::move(p.value);
  }
  for (const auto& [name, field] :
       {std::pair<const char*, const std::string*>{"username", &d.username},
        {"realm", &d.realm},
        {"nonce", &d.nonce},
        {"uri", &d.uri},
        {"response", &d.response}})
    if (field->empty()) return error(Errc::malformed, "authorization digest: no {}", name);
  return out;
}

std::string digest_ha1(std::string_view username, std::string_view realm, std::string_view password,
                       std::string_view algorithm) {
  bool is_session = false;
  const EVP_MD* md = hash_of(algorithm, is_session);
  if (md == nullptr) return {};
  return hex_hash(md, join({username, realm, password}));
}

bool digest_matches_ha1(const DigestCredentials& c, std::string_view method,
                        std::string_view ha1_hex) {
  if (ha1_hex.empty()) return false;
  const std::string expected =
      digest_response(c.algorithm, ha1_hex, c.nonce, c.cnonce, c.nc, c.qop, method, c.uri);
  return equal_constant_time(expected, c.response);
}

bool digest_matches(const DigestCredentials& c, std::string_view method,
                    std::string_view password) {
  return digest_matches_ha1(c, method, digest_ha1(c.username, c.realm, password, c.algorithm));
}

std::string www_authenticate_basic(std::string_view realm) {
  return "Basic realm=" + quoted(realm);
}

std::string www_authenticate_digest(std::string_view realm, std::string_view nonce,
                                    bool offer_qop) {
  std::string out =
      "Digest realm=" + quoted(realm) + ", nonce=" + quoted(nonce) + ", algorithm=MD5";
  if (offer_qop) out += ", qop=\"auth\"";
  return out;
}

Result<AuthChallenge> parse_www_authenticate(std::string_view value) {
  std::string_view rest;
  const std::string_view scheme = split_scheme(value, rest);
  AuthChallenge out;
  if (iequals(scheme, "Basic")) {
    out.scheme = AuthScheme::basic;
  } else if (iequals(scheme, "Digest")) {
    out.scheme = AuthScheme::digest;
  } else {
    return error(Errc::unsupported, "challenge scheme \"{}\" is not Basic or Digest",
                 scheme.substr(0, 20));
  }
  auto parameters = parse_parameters(rest);
  if (!parameters) return std::move(parameters).error().with_context("www-authenticate");
  for (Parameter& p : *parameters) {
    if (iequals(p.name, "realm"))
      out.realm = std::move(p.value);
    else if (iequals(p.name, "nonce"))
      out.nonce = std::move(p.value);
    else if (iequals(p.name, "opaque"))
      out.opaque = std::move(p.value);
    else if (iequals(p.name, "algorithm"))
      out.algorithm = std::move(p.value);
    else if (iequals(p.name, "qop"))
      out.qop = std::move(p.value);
    else if (iequals(p.name, "stale"))
      out.is_stale = iequals(p.value, "true");
  }
  if (out.scheme == AuthScheme::digest && (out.realm.empty() || out.nonce.empty()))
    return error(Errc::malformed, "www-authenticate digest: no realm or nonce");
  return out;
}

Result<std::string> authorization_for(const AuthChallenge& challenge, std::string_view user,
                                      std::string_view password, std::string_view method,
                                      std::string_view uri, std::string_view cnonce,
                                      std::uint32_t nonce_count) {
  if (challenge.scheme == AuthScheme::basic) {
    std::string pair(user);
    pair += ':';
    pair += password;
    return "Basic " + base64_encode(pair);
  }
  // qop: use "auth" if it is among those offered; none offered means the RFC 2069 form.
  std::string_view qop;
  if (!challenge.qop.empty()) {
    std::string_view offered = challenge.qop;
    while (!offered.empty()) {
      if (iequals(trim(detail::take_until(offered, ',')), "auth")) qop = "auth";
    }
    if (qop.empty())
      return error(Errc::unsupported, "digest qop \"{}\" without auth",
                   challenge.qop.substr(0, 40));
  }
  char nc[9];
  std::snprintf(nc, sizeof nc, "%08x", nonce_count);
  const std::string ha1 = digest_ha1(user, challenge.realm, password, challenge.algorithm);
  if (ha1.empty())
    return error(Errc::unsupported, "digest algorithm \"{}\"", challenge.algorithm.substr(0, 40));
  const std::string response = digest_response(challenge.algorithm, ha1, challenge.nonce, cnonce,
                                               qop.empty() ? "" : nc, qop, method, uri);
  std::string out = "Digest username=" + quoted(user) + ", realm=" + quoted(challenge.realm) +
                    ", nonce=" + quoted(challenge.nonce) + ", uri=" + quoted(uri) +
                    ", response=" + quoted(response);
  if (!challenge.algorithm.empty()) out += ", algorithm=" + challenge.algorithm;
  if (!challenge.opaque.empty()) out += ", opaque=" + quoted(challenge.opaque);
  if (!qop.empty()) out += ", qop=auth, nc=" + std::string(nc) + ", cnonce=" + quoted(cnonce);
  return out;
}

}  // namespace weir::formats::rtsp
