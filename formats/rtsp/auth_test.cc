// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/auth.h"

#include <gtest/gtest.h>

namespace weir::formats::rtsp {
namespace {

// RFC 2617 3.5's worked example (its response is for GET).
constexpr std::string_view kRfc2617Authorization =
    "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
    "uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
    "response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

TEST(ParseAuthorization, ReadsBasicCredentials) {
  auto auth = parse_authorization("Basic Ym9iOnBhOnNz");  // what ffmpeg sent for bob:pa%3Ass
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->scheme, AuthScheme::basic);
  EXPECT_EQ(auth->basic.user, "bob");
  EXPECT_EQ(auth->basic.password, "pa:ss");
}

TEST(ParseAuthorization, ReadsEveryDigestParameter) {
  auto auth = parse_authorization(kRfc2617Authorization);
  ASSERT_TRUE(auth) << auth.error().message();
  EXPECT_EQ(auth->scheme, AuthScheme::digest);
  const DigestCredentials& d = auth->digest;
  EXPECT_EQ(d.username, "Mufasa");
  EXPECT_EQ(d.realm, "testrealm@host.com");
  EXPECT_EQ(d.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  EXPECT_EQ(d.uri, "/dir/index.html");
  EXPECT_EQ(d.qop, "auth");
  EXPECT_EQ(d.nc, "00000001");
  EXPECT_EQ(d.cnonce, "0a4f113b");
  EXPECT_EQ(d.response, "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(d.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
  EXPECT_TRUE(d.algorithm.empty());
}

TEST(ParseAuthorization, ReadsEscapesInQuotedStrings) {
  auto auth = parse_authorization(
      "digest username=\"a\\\"b\",realm=\"r\",nonce=\"n\",uri=\"rtsp://h/a/b\",response=\"00\"");
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->digest.username, "a\"b");
}

TEST(ParseAuthorization, RefusesOtherSchemesAndBrokenValues) {
  EXPECT_EQ(parse_authorization("Bearer abc").error().code(), Errc::unsupported);
  for (const char* text :
       {"Basic", "Basic !!!!", "Basic Ym9i", "Digest username=\"x", "Digest username",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\""})
    EXPECT_EQ(parse_authorization(text).error().code(), Errc::malformed) << text;
}

TEST(DigestMatches, ChecksRfc2617sExample) {
  auto auth = parse_authorization(kRfc2617Authorization);
  ASSERT_TRUE(auth);
  EXPECT_TRUE(digest_matches(auth->digest, "GET", "Circle Of Life"));
  EXPECT_FALSE(digest_matches(auth->digest, "GET", "Circle of Life"));
  EXPECT_FALSE(digest_matches(auth->digest, "POST", "Circle Of Life"));
  EXPECT_TRUE(digest_matches_ha1(auth->digest, "GET",
                                 digest_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")));
  EXPECT_FALSE(digest_matches_ha1(auth->digest, "GET", ""));
}

TEST(DigestMatches, ChecksRfc7616sMd5AndSha256Examples) {
  DigestCredentials d;
  d.username = "Mufasa";
  d.realm = "http-auth@example.org";
  d.nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
  d.uri = "/dir/index.html";
  d.qop = "auth";
  d.nc = "00000001";
  d.cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  d.algorithm = "MD5";
  d.response = "8ca523f5e9506fed4657c9700eebdbec";
  EXPECT_TRUE(digest_matches(d, "GET", "Circle of Life"));
  d.algorithm = "SHA-256";
  d.response = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
  EXPECT_TRUE(digest_matches(d, "GET", "Circle of Life"));
  d.algorithm = "SHA-512-256";
  EXPECT_FALSE(digest_matches(d, "GET", "Circle of Life"));
  d.algorithm = "SHA-256";
  d.qop = "auth-int";
  EXPECT_FALSE(digest_matches(d, "GET", "Circle of Life"));
}

TEST(DigestMatches, AcceptsTheRfc2069FormWithoutQop) {
  // ffmpeg's answer to our capture server's challenge (testdata/ffmpeg_record_digest.bin).
  auto auth = parse_authorization(
      "Digest username=\"alice\", realm=\"weir-capture\", "
      "nonce=\"5f2ab1e0c0ffee0123456789abcdef01\", "
      "uri=\"rtsp://127.0.0.1:43267/live/auth\", response=\"2cb3b17cc962615aa3b44e06f48353b9\", "
      "algorithm=\"MD5\"");
  ASSERT_TRUE(auth);
  EXPECT_TRUE(digest_matches(auth->digest, "OPTIONS", "secret"));
  EXPECT_FALSE(digest_matches(auth->digest, "ANNOUNCE", "secret"));
}

TEST(WwwAuthenticate, WritesChallengesThatParseBack) {
  EXPECT_EQ(www_authenticate_basic("weir"), "Basic realm=\"weir\"");
  EXPECT_EQ(www_authenticate_digest("weir", "abc123"),
            "Digest realm=\"weir\", nonce=\"abc123\", algorithm=MD5");
  auto challenge = parse_www_authenticate(www_authenticate_digest("we\"ir", "abc123", true));
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->scheme, AuthScheme::digest);
  EXPECT_EQ(challenge->realm, "we\"ir");
  EXPECT_EQ(challenge->nonce, "abc123");
  EXPECT_EQ(challenge->algorithm, "MD5");
  EXPECT_EQ(challenge->qop, "auth");
}

TEST(ParseWwwAuthenticate, ReadsCameraChallenges) {
  auto digest = parse_www_authenticate(
      "Digest realm=\"IP Camera(C5231)\", nonce=\"0c4d5e6f\", stale=\"FALSE\", opaque=\"xyz\"");
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->realm, "IP Camera(C5231)");
  EXPECT_EQ(digest->opaque, "xyz");
  EXPECT_FALSE(digest->is_stale);
  auto basic = parse_www_authenticate("Basic realm=\"/\"");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->scheme, AuthScheme::basic);
  EXPECT_EQ(parse_www_authenticate("Negotiate").error().code(), Errc::unsupported);
  EXPECT_EQ(parse_www_authenticate("Digest realm=\"x\"").error().code(), Errc::malformed);
}

TEST(AuthorizationFor, AnswersBasic) {
  auto value = authorization_for(*parse_www_authenticate("Basic realm=\"x\""), "bob", "pa:ss",
                                 "OPTIONS", "rtsp://h/");
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, "Basic Ym9iOnBhOnNz");
}

TEST(AuthorizationFor, AnswersDigestAsTheServerChecksIt) {
  // Without qop: what ffmpeg sent for the same challenge, byte for byte in the response.
  auto challenge = parse_www_authenticate(
      "Digest realm=\"weir-capture\", nonce=\"5f2ab1e0c0ffee0123456789abcdef01\", algorithm=MD5");
  ASSERT_TRUE(challenge);
  auto value = authorization_for(*challenge, "alice", "secret", "OPTIONS",
                                 "rtsp://127.0.0.1:43267/live/auth");
  ASSERT_TRUE(value);
  EXPECT_NE(value->find("response=\"2cb3b17cc962615aa3b44e06f48353b9\""), std::string::npos)
      << *value;
  // With qop=auth: RFC 2617's example, and our own check accepts it.
  auto rfc = parse_www_authenticate(
      "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  ASSERT_TRUE(rfc);
  auto answer =
      authorization_for(*rfc, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b", 1);
  ASSERT_TRUE(answer);
  EXPECT_NE(answer->find("response=\"6629fae49393a05397450978507c4ef1\""), std::string::npos)
      << *answer;
  EXPECT_NE(answer->find("nc=00000001"), std::string::npos);
  auto parsed = parse_authorization(*answer);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(digest_matches(parsed->digest, "GET", "Circle Of Life"));
  EXPECT_EQ(parsed->digest.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
}

TEST(AuthorizationFor, RefusesWhatItCannotAnswer) {
  AuthChallenge challenge;
  challenge.scheme = AuthScheme::digest;
  challenge.realm = "r";
  challenge.nonce = "n";
  challenge.qop = "auth-int";
  EXPECT_EQ(authorization_for(challenge, "u", "p", "GET", "/").error().code(), Errc::unsupported);
  challenge.qop.clear();
  challenge.algorithm = "SHA-512";
  EXPECT_EQ(authorization_for(challenge, "u", "p", "GET", "/").error().code(), Errc::unsupported);
}

}  // namespace
}  // namespace weir::formats::rtsp
