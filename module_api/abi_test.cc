// SPDX-License-Identifier: Apache-2.0
// The module ABI, checked against the record in module_api/abi.lock: the version, a digest of the
// public headers' declarations (comments and spacing do not count) and the size and alignment of
// every type a module and the kernel pass by value or embed. A change to module_api/include fails
// here until someone decides what it is:
//   - an addition only (a new header, function, struct or a virtual at the end of an interface
//     no module implements): record it, WEIR_ABI_RECORD=1 build/module_api/module_api_abi_test;
//   - anything else (a layout, a signature, the order of virtuals): bump kModuleAbiVersion in
//     weir/module.h, then record.
// The record is text, so the review of the change shows what moved.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "weir/services/apps.h"
#include "weir/config.h"
#include "weir/connection.h"
#include "weir/text.h"
#include "weir/services/http.h"
#include "weir/log.h"
#include "weir/services/lua.h"
#include "weir/media.h"
#include "weir/module.h"
#include "weir/owner.h"
#include "weir/pages.h"
#include "weir/per_group.h"
#include "weir/poll_group.h"
#include "weir/query.h"
#include "weir/registrar.h"
#include "weir/sender.h"
#include "weir/shared_objects.h"
#include "weir/stats.h"
#include "weir/services/stats.h"
#include "weir/status.h"
#include "weir/stream.h"
#include "weir/udp.h"
#include "weir/value.h"

namespace weir {
namespace {

namespace fs = std::filesystem;

const fs::path kApiDir = WEIR_MODULE_API_DIR;
const fs::path kRecord = kApiDir / "abi.lock";

// The declarations of a header without its comments and with runs of blanks as one space, so
// that documentation and formatting changes need no record.
std::string declarations(const std::string& text) {
  std::string out;
  bool blank = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "//") == 0) {
      i = text.find('\n', i);
      if (i == std::string::npos) break;
    } else if (text.compare(i, 2, "/*") == 0) {
      i = text.find("*/", i + 2);
      if (i == std::string::npos) break;
      ++i;
      continue;
    }
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

// FNV-1a, 64 bits: a change detector, not a security measure.
std::uint64_t fnv1a(const std::string& bytes, std::uint64_t hash = 14695981039346656037ull) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::string headers_digest() {
  std::vector<fs::path> headers;
  for (const auto& entry : fs::recursive_directory_iterator(kApiDir / "include"))
    if (entry.is_regular_file() && entry.path().extension() == ".h") headers.push_back(entry.path());
  std::sort(headers.begin(), headers.end());
  std::uint64_t hash = fnv1a("");
  for (const fs::path& header : headers) {
    std::ifstream in(header);
    std::stringstream text;
    text << in.rdbuf();
    hash = fnv1a(fs::relative(header, kApiDir).generic_string() + "\n" + declarations(text.str()) + "\n", hash);
  }
  std::ostringstream hex;
  hex << std::hex << std::setw(16) << std::setfill('0') << hash;
  return hex.str();
}

struct Layout {
  std::string type;
  std::size_t size;
  std::size_t align;
};

#define WEIR_ABI_LAYOUT(T) Layout{#T, sizeof(T), alignof(T)}

// Every type that crosses by value or is embedded in one that does (a module compiled against a
// different layout reads the wrong bytes). Interfaces cross by pointer: their virtuals are in
// the digest.
std::vector<Layout> layouts() {
  return {
      WEIR_ABI_LAYOUT(ModuleDescriptor),  WEIR_ABI_LAYOUT(Status),
      WEIR_ABI_LAYOUT(Result<int>),       WEIR_ABI_LAYOUT(Value),
      WEIR_ABI_LAYOUT(Logger),            WEIR_ABI_LAYOUT(ThreadOwner),
      WEIR_ABI_LAYOUT(Page),              WEIR_ABI_LAYOUT(PageRef),
      WEIR_ABI_LAYOUT(PageSlice),         WEIR_ABI_LAYOUT(PageChain),
      WEIR_ABI_LAYOUT(PagePoolStats),     WEIR_ABI_LAYOUT(PageWriter),
      WEIR_ABI_LAYOUT(FrameFlags),        WEIR_ABI_LAYOUT(MediaKind),
      WEIR_ABI_LAYOUT(Codec),             WEIR_ABI_LAYOUT(MediaFrame),
      WEIR_ABI_LAYOUT(StreamKey),         WEIR_ABI_LAYOUT(StreamEvent),
      WEIR_ABI_LAYOUT(DeliveryCounts),    WEIR_ABI_LAYOUT(PublishOptions),
      WEIR_ABI_LAYOUT(SubscribeOptions),  WEIR_ABI_LAYOUT(TrackStats),
      WEIR_ABI_LAYOUT(StreamStats),       WEIR_ABI_LAYOUT(SenderState),
      WEIR_ABI_LAYOUT(SenderLimits),      WEIR_ABI_LAYOUT(SenderStats),
      WEIR_ABI_LAYOUT(StatValue),         WEIR_ABI_LAYOUT(StatsSnapshot),
      WEIR_ABI_LAYOUT(ConnectionInfo),    WEIR_ABI_LAYOUT(TlsOptions),
      WEIR_ABI_LAYOUT(ListenerSpec),      WEIR_ABI_LAYOUT(HttpRequest),
      WEIR_ABI_LAYOUT(HttpResponse),      WEIR_ABI_LAYOUT(AppHook),
      WEIR_ABI_LAYOUT(AppVerdict),        WEIR_ABI_LAYOUT(AppRequest),
      WEIR_ABI_LAYOUT(SharedObjectKey),   WEIR_ABI_LAYOUT(SharedObjectEvent),
      WEIR_ABI_LAYOUT(SharedObjectUpdate), WEIR_ABI_LAYOUT(SharedObjectSnapshot),
      WEIR_ABI_LAYOUT(LogLevel),          WEIR_ABI_LAYOUT(Errc),
      // Added in ABI 3 (weir/udp.h), after the types above were recorded.
      WEIR_ABI_LAYOUT(UdpPeer),           WEIR_ABI_LAYOUT(UdpStats),
      WEIR_ABI_LAYOUT(UdpSpec),
      WEIR_ABI_LAYOUT(ConnectSpec),
  };
}

// The record as this build sees the API. Sizes are those of the platform the record was made
// on (x86-64/aarch64 LP64, libstdc++, NDEBUG as WEIR_ABI_SIGNATURE says).
std::string current_record() {
  std::string out = "# The module ABI (module_api/abi_test.cc explains when and how to record it).\n";
  out += format("abi_version {}\n", kModuleAbiVersion);
  out += format("headers {}\n", headers_digest());
  for (const Layout& layout : layouts()) out += format("layout {} size {} align {}\n", layout.type, layout.size, layout.align);
  return out;
}

std::string read_record() {
  std::ifstream in(kRecord);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string line_of(const std::string& record, const std::string& prefix) {
  std::istringstream in(record);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return line;
  return {};
}

// NDEBUG changes debug-only members (ThreadOwner): the record is of a release build, and a debug
// build checks the version and digest only.
#if defined(NDEBUG)
constexpr bool kCheckLayouts = true;
#else
constexpr bool kCheckLayouts = false;
#endif

TEST(ModuleAbi, PublicHeadersMatchTheRecordForThisVersion) {
  std::string now = current_record();
  if (std::getenv("WEIR_ABI_RECORD")) {
    ASSERT_TRUE(kCheckLayouts) << "record from a release build (NDEBUG): its layouts are the ones modules see";
    std::ofstream(kRecord) << now;
    GTEST_SKIP() << "recorded " << kRecord;
  }
  std::string recorded = read_record();
  ASSERT_FALSE(recorded.empty()) << "no record at " << kRecord;
  std::string recorded_version = line_of(recorded, "abi_version ");
  ASSERT_EQ(line_of(now, "abi_version "), recorded_version)
      << "kModuleAbiVersion changed: record the new version (WEIR_ABI_RECORD=1 " << "module_api_abi_test)";
  EXPECT_EQ(line_of(now, "headers "), line_of(recorded, "headers "))
      << "module_api/include changed since the record of " << recorded_version
      << ". Only additions? Record them (WEIR_ABI_RECORD=1 module_api_abi_test). Anything else: bump "
         "kModuleAbiVersion in weir/module.h, then record.";
  if (kCheckLayouts) {
    for (const Layout& layout : layouts()) {
      std::string prefix = "layout " + layout.type + " ";
      EXPECT_EQ(line_of(now, prefix), line_of(recorded, prefix))
          << layout.type << " changed size or alignment: that is never an addition; bump kModuleAbiVersion";
    }
  }
}

TEST(ModuleAbi, CommentsAndSpacingDoNotCountAsChanges) {
  EXPECT_EQ(declarations("/// doc\nint  f(int x);   // why\n/* block */ struct S { int a; };\n"),
            declarations("int f(int x);\nstruct S {\n  int a;\n};"));
  EXPECT_NE(declarations("int f(int x);"), declarations("int f(long x);"));
  EXPECT_NE(declarations("virtual void a() = 0; virtual void b() = 0;"),
            declarations("virtual void b() = 0; virtual void a() = 0;"));
}

}  // namespace
}  // namespace weir
