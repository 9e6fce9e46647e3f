// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/message.h"

#include <gtest/gtest.h>

#include "formats/rtsp/test_files.h"

namespace weir::formats::rtsp {
namespace {

using test_support::Bytes;
using test_support::bytes_of;
using test_support::read_all;

TEST(MessageReader, ReadsPipelinedRequestsFromOneFeed) {
  const Bytes bytes = bytes_of(
      "OPTIONS rtsp://127.0.0.1:8554/live/test RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: "
      "Lavf59.27.100\r\n\r\n"
      "DESCRIBE rtsp://127.0.0.1:8554/live/test RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: "
      "2\r\n\r\n");
  const auto items = read_all(bytes);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].kind, ItemKind::request);
  EXPECT_EQ(items[0].request.method, "OPTIONS");
  EXPECT_EQ(items[0].request.uri, "rtsp://127.0.0.1:8554/live/test");
  EXPECT_EQ(cseq(items[0].request), 1u);
  ASSERT_NE(items[0].request.header("user-agent"), nullptr);
  EXPECT_EQ(*items[0].request.header("user-agent"), "Lavf59.27.100");
  EXPECT_EQ(items[1].request.method, "DESCRIBE");
  EXPECT_EQ(cseq(items[1].request), 2u);
  EXPECT_EQ(*items[1].request.header("ACCEPT"), "application/sdp");
}

TEST(MessageReader, ReadsResponsesBodiesAndInterleavedFramesInAnyMix) {
  const Bytes bytes = bytes_of(
      "RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 5\r\n\r\nhello"
      "$\x01\x00\x03"
      "abc"
      "$\x00\x00\x00"
      "RTSP/1.0 454 Session Not Found\r\nCSeq: 4\r\n\r\n");
  const auto items = read_all(bytes);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].kind, ItemKind::response);
  EXPECT_EQ(items[0].response.status, 200);
  EXPECT_EQ(items[0].response.reason, "OK");
  EXPECT_EQ(items[0].response.body, "hello");
  EXPECT_EQ(cseq(items[0].response), 3u);
  EXPECT_EQ(items[1].kind, ItemKind::interleaved);
  EXPECT_EQ(items[1].channel, 1);
  EXPECT_EQ(items[1].payload, bytes_of("abc"));
  EXPECT_EQ(items[2].kind, ItemKind::interleaved);
  EXPECT_EQ(items[2].channel, 0);
  EXPECT_TRUE(items[2].payload.empty());
  EXPECT_EQ(items[3].response.status, 454);
  EXPECT_EQ(items[3].response.reason, "Session Not Found");
}

TEST(MessageReader, GivesTheSameItemsWhereverTheStreamIsCut) {
  const Bytes bytes = bytes_of(
      "ANNOUNCE rtsp://h/live/x RTSP/1.0\r\nContent-Type: application/sdp\r\nCSeq: 2\r\n"
      "Content-Length: 10\r\n\r\nv=0\r\ns=x\r\n"
      "$\x02\x00\x04wxyz\r\n"
      "SETUP rtsp://h/live/x/streamid=0 RTSP/1.0\nTransport: RTP/AVP/TCP;interleaved=0-1\nCSeq: "
      "3\n\n"
      "$\x00\x00\x01Q");
  const auto whole = read_all(bytes);
  ASSERT_EQ(whole.size(), 4u);
  EXPECT_EQ(whole[0].request.body, "v=0\r\ns=x\r\n");
  EXPECT_EQ(whole[2].request.method, "SETUP");
  EXPECT_EQ(whole[3].payload, bytes_of("Q"));
  for (std::size_t step = 1; step < bytes.size(); ++step) {
    const auto cut = read_all(bytes, step);
    ASSERT_EQ(cut.size(), whole.size()) << "step " << step;
    for (std::size_t i = 0; i < cut.size(); ++i) {
      EXPECT_EQ(cut[i].kind, whole[i].kind) << "step " << step;
      EXPECT_EQ(cut[i].request.headers, whole[i].request.headers) << "step " << step;
      EXPECT_EQ(cut[i].request.body, whole[i].request.body) << "step " << step;
      EXPECT_EQ(cut[i].payload, whole[i].payload) << "step " << step;
    }
  }
}

TEST(MessageReader, ReadsWholeMessagesInPlaceAndHoldsNothingAfter) {
  const Bytes bytes = bytes_of(
      "$\x00\x00\x02"
      "ab$\x01\x00\x01"
      "c");
  MessageReader reader;
  reader.feed(bytes);
  Result<Item> first = reader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->payload.data(), bytes.data() + 4);  // a view of the fed bytes, no copy
  Result<Item> second = reader.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->payload.data(), bytes.data() + 10);
  Result<Item> done = reader.next();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->kind, ItemKind::need_more);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  EXPECT_EQ(reader.consumed_bytes(), bytes.size());
}

TEST(MessageReader, TopsUpACutFrameWithOnlyTheBytesItNeeds) {
  const Bytes head = bytes_of(
      "$\x00\x00\x04"
      "ab");
  const Bytes tail = bytes_of("cd$\x01\x00\x02yz");
  MessageReader reader;
  reader.feed(head);
  Result<Item> item = reader.next();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind, ItemKind::need_more);
  EXPECT_EQ(reader.buffered_bytes(), 6u);
  reader.feed(tail);
  item = reader.next();
  ASSERT_TRUE(item);
  EXPECT_EQ(Bytes(item->payload.begin(), item->payload.end()), bytes_of("abcd"));
  item = reader.next();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->channel, 1);
  // The frame after the cut one is read in place: the held copy took only "cd".
  EXPECT_EQ(item->payload.data(), tail.data() + 6);
}

TEST(MessageReader, AcceptsRtsp2AndBareLineFeedsAndBlankLinesBetweenMessages) {
  const auto items =
      read_all(bytes_of("\r\n\r\nOPTIONS * RTSP/2.0\nCSeq: 9\n\n\nRTSP/2.0 200\nCSeq: 9\n\n"));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].request.uri, "*");
  EXPECT_EQ(items[0].request.version_major, 2);
  EXPECT_EQ(items[0].request.version_minor, 0);
  EXPECT_EQ(items[1].response.status, 200);
  EXPECT_EQ(items[1].response.reason, "");
  EXPECT_EQ(items[1].response.version_major, 2);
}

TEST(MessageReader, JoinsAFoldedHeaderLine) {
  const auto items =
      read_all(bytes_of("PLAY rtsp://h/a/b RTSP/1.0\r\nCSeq: 5\r\nX-Long: one\r\n  two\r\n\r\n"));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(*items[0].request.header("x-long"), "one two");
}

TEST(MessageReader, RefusesABadRequestLineNamingItsOffset) {
  Status status;
  const auto items =
      read_all(bytes_of("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\nGET /index.html HTTP/1.1\r\n\r\n"), 0,
               &status);
  EXPECT_EQ(items.size(), 1u);
  EXPECT_EQ(status.code(), Errc::malformed);
  EXPECT_NE(status.message().find("request line"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("offset 31"), std::string::npos) << status.message();
}

TEST(MessageReader, RefusesABadStatusLine) {
  for (const char* text :
       {"RTSP/1.0 000 Zero\r\n\r\n", "RTSP/1.0 20 OK\r\n\r\n", "RTSP/1.0 2000 OK\r\n\r\n",
        "RTSP/1.x 200 OK\r\n\r\n", "RTSP/10.0 200 OK\r\n\r\n"}) {
    Status status;
    read_all(bytes_of(std::string_view(text)), 0, &status);
    EXPECT_EQ(status.code(), Errc::malformed) << text;
  }
}

TEST(MessageReader, FoldsAnEmptyContinuationLineToNothing) {
  const auto items = read_all(bytes_of("OPTIONS * RTSP/1.0\r\nUser-Agent: x\r\n \r\n\r\n"));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(*items[0].request.header("User-Agent"), "x");
}

TEST(MessageReader, RefusesGarbageAtOnceWithoutWaitingForAHeaderBlock) {
  MessageReader reader;
  const Bytes bytes = {0x80, 0x60, 0x12, 0x34};  // an RTP header where a '$' frame should be
  reader.feed(bytes);
  Result<Item> item = reader.next();
  ASSERT_FALSE(item);
  EXPECT_EQ(item.error().code(), Errc::malformed);
  // Sticky: the connection is done.
  EXPECT_EQ(reader.next().error(), item.error());
}

TEST(MessageReader, RefusesAHeaderLineWithoutAColon) {
  Status status;
  read_all(bytes_of("OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n"), 0, &status);
  EXPECT_EQ(status.code(), Errc::malformed);
  EXPECT_NE(status.message().find("CSeq 1"), std::string::npos) << status.message();
}

TEST(MessageReader, RefusesAHeaderBlockOverTheLimitEvenWhenFedByteByByte) {
  MessageLimits limits;
  limits.max_header_bytes = 64;
  const Bytes bytes =
      bytes_of("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Padding: " + std::string(100, 'x'));
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    Status status;
    read_all(bytes, step, &status, limits);
    EXPECT_EQ(status.code(), Errc::limit) << step;
    EXPECT_NE(status.message().find("max_header_bytes (64)"), std::string::npos)
        << status.message();
  }
}

TEST(MessageReader, RefusesABodyOverTheLimitBeforeItArrives) {
  MessageLimits limits;
  limits.max_body_bytes = 100;
  Status status;
  read_all(bytes_of("ANNOUNCE rtsp://h/a/b RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 101\r\n\r\n"), 0,
           &status, limits);
  EXPECT_EQ(status.code(), Errc::limit);
  EXPECT_NE(status.message().find("max_body_bytes (100)"), std::string::npos) << status.message();
}

TEST(MessageReader, RefusesConflictingOrNonNumericContentLength) {
  for (const char* text : {"OPTIONS * RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                           "OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n",
                           "OPTIONS * RTSP/1.0\r\nContent-Length: 0x10\r\n\r\n"}) {
    Status status;
    read_all(bytes_of(text), 0, &status);
    EXPECT_EQ(status.code(), Errc::malformed) << text;
  }
}

TEST(MessageReader, KeepsOrderWhenFedTwiceBeforeRunningDry) {
  const Bytes first = bytes_of(
      "$\x00\x00\x01"
      "a$\x00\x00");
  const Bytes second = bytes_of(
      "\x01"
      "b");
  MessageReader reader;
  reader.feed(first);
  reader.feed(second);
  Result<Item> a = reader.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(Bytes(a->payload.begin(), a->payload.end()), bytes_of("a"));
  Result<Item> b = reader.next();  // a's payload is gone now: valid until the next call only
  ASSERT_TRUE(b);
  EXPECT_EQ(Bytes(b->payload.begin(), b->payload.end()), bytes_of("b"));
}

TEST(Serialize, WritesARequestWithContentLengthFromTheBody) {
  Request request;
  request.method = "ANNOUNCE";
  request.uri = "rtsp://h/live/x";
  request.add_header("CSeq", "2");
  request.body = "v=0\r\n";
  EXPECT_EQ(serialize(request),
            "ANNOUNCE rtsp://h/live/x RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nv=0\r\n");
  request.add_header("content-length", "5");
  EXPECT_EQ(serialize(request),
            "ANNOUNCE rtsp://h/live/x RTSP/1.0\r\nCSeq: 2\r\ncontent-length: 5\r\n\r\nv=0\r\n");
}

TEST(Serialize, WritesAResponseWithTheStandardReasonWhenNoneIsSet) {
  Response response;
  response.status = 461;
  response.add_header("CSeq", "3");
  EXPECT_EQ(serialize(response), "RTSP/1.0 461 Unsupported Transport\r\nCSeq: 3\r\n\r\n");
  response.reason = "Nope";
  EXPECT_EQ(serialize(response), "RTSP/1.0 461 Nope\r\nCSeq: 3\r\n\r\n");
}

TEST(Serialize, WhatItWritesReadsBack) {
  Response response;
  response.status = 200;
  response.add_header("CSeq", "7");
  response.add_header("Content-Type", "application/sdp");
  response.body = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n";
  const std::string text = serialize(response);
  const auto items = read_all(Bytes(text.begin(), text.end()));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].response.body, response.body);
  EXPECT_EQ(cseq(items[0].response), 7u);
}

TEST(ReplyTo, CopiesCseqAndVersion) {
  Request request;
  request.method = "OPTIONS";
  request.uri = "*";
  request.version_major = 2;
  request.add_header("CSeq", "17");
  const Response response = reply_to(request, 454);
  EXPECT_EQ(serialize(response), "RTSP/2.0 454 Session Not Found\r\nCSeq: 17\r\n\r\n");
  EXPECT_TRUE(reply_to(Request{}, 400).headers.empty());
}

TEST(ReasonPhrase, FollowsRfc2326) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(401), "Unauthorized");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(405), "Method Not Allowed");
  EXPECT_EQ(reason_phrase(406), "Not Acceptable");
  EXPECT_EQ(reason_phrase(454), "Session Not Found");
  EXPECT_EQ(reason_phrase(455), "Method Not Valid in This State");
  EXPECT_EQ(reason_phrase(459), "Aggregate Operation Not Allowed");
  EXPECT_EQ(reason_phrase(461), "Unsupported Transport");
  EXPECT_EQ(reason_phrase(505), "RTSP Version Not Supported");
  EXPECT_EQ(reason_phrase(299), "Unknown");
}

TEST(Cseq, IsAbsentWhenMissingOrNotANumber) {
  Request request;
  EXPECT_FALSE(cseq(request));
  request.add_header("CSeq", "x1");
  EXPECT_FALSE(cseq(request));
  request.headers[0].value = "4294967296";
  EXPECT_FALSE(cseq(request));
  request.headers[0].value = "4294967295";
  EXPECT_EQ(cseq(request), 4294967295u);
}

TEST(InterleavedHeader, IsDollarChannelAndBigEndianLength) {
  EXPECT_EQ(interleaved_header(3, 0x1234), (std::array<std::uint8_t, 4>{'$', 3, 0x12, 0x34}));
}

}  // namespace
}  // namespace weir::formats::rtsp
