// SPDX-License-Identifier: Apache-2.0
#include "download.h"

#include <sys/stat.h>

#include <charconv>
#include <ctime>
#include <filesystem>

#include "disk_file.h"
#include "weir/text.h"

namespace weir::file {
namespace {

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[64];
  return std::string(buffer, std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm));
}

// "bytes=A-B", "bytes=A-", "bytes=-N" against `size`: true with [first, last] set when it is one
// satisfiable range; `unsatisfiable` when it is one range past the end. Anything else (several
// ranges, another unit, garbage) is ignored: the whole file, as RFC 9110 allows.
bool parse_range(std::string_view header, std::uint64_t size, std::uint64_t& first, std::uint64_t& last,
                 bool& unsatisfiable) {
  unsatisfiable = false;
  if (!header.starts_with("bytes=")) return false;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return false;
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return false;
  auto number = [](std::string_view s, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  };
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {  // the last N bytes
    std::uint64_t n = 0;
    if (!number(b, n)) return false;
    if (n == 0 || size == 0) return unsatisfiable = true, false;
    first = n >= size ? 0 : size - n;
    last = size - 1;
    return true;
  }
  if (!number(a, first)) return false;
  if (b.empty()) {
    last = size - 1;
  } else if (!number(b, last) || last < first) {
    return false;
  }
  if (first >= size) return unsatisfiable = true, false;
  last = std::min(last, size - 1);
  return true;
}

}  // namespace

HttpResponse download_response(const FileConfig& config, const HttpRequest& request, const std::string& relative) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::canonical(config.record_dir, ec);
  if (ec) return text(404, "no recordings (" + config.record_dir + ": " + ec.message() + ")");
  const fs::path path = fs::canonical(root / relative, ec);
  if (ec) return text(404, "no recording " + relative);
  // Symlinks resolved: what is served must still be inside record_dir.
  const std::string inside = path.string(), prefix = root.string() + "/";
  if (inside.compare(0, prefix.size(), prefix) != 0) return text(403, relative + " leads out of the recordings");
  struct stat st {};
  if (::stat(inside.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return text(404, "no recording " + relative);
  if (path.extension() == ".mp4" && !is_finished_file(inside)) return text(409, relative + " is still being recorded");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string etag = format("\"{}-{}\"", size, static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + st.st_mtim.tv_nsec);
  HttpResponse r;
  r.content_type = path.extension() == ".mp4" ? "video/mp4" : "application/octet-stream";
  r.headers = {{"Accept-Ranges", "bytes"}, {"ETag", etag}, {"Last-Modified", http_date(st.st_mtim.tv_sec)}};
  const std::string_view if_none = request.header("if-none-match");
  if (!if_none.empty() && (if_none == etag || if_none == "*")) {
    r.status = 304;
    return r;
  }
  std::uint64_t first = 0, last = size ? size - 1 : 0;
  bool unsatisfiable = false;
  const std::string_view range = request.header("range");
  if (!range.empty() && parse_range(range, size, first, last, unsatisfiable)) {
    r.status = 206;
    r.headers.emplace_back("Content-Range", format("bytes {}-{}/{}", first, last, size));
  } else if (unsatisfiable) {
    r.status = 416;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Content-Range", format("bytes */{}", size));
    return r;
  } else {
    first = 0;
    last = size ? size - 1 : 0;
  }
  r.file = HttpFileBody{inside, first, size ? last - first + 1 : 0};
  return r;
}

Status route_downloads(HttpService& http, const FileConfig& config, const Logger& logger) {
  auto handler = [&config, logger](const HttpRequest& request, std::shared_ptr<HttpResponder> responder) {
    std::string relative = request.path.substr(config.http_prefix.size());
    // Checked here already, before any disk access: no parent segments, no absolute path.
    const bool climbs = relative == ".." || relative.starts_with("../") || relative.find("/../") != std::string::npos ||
                        relative.ends_with("/..") || relative.find('\0') != std::string::npos;
    if (relative.empty() || climbs || relative.front() == '/') {
      logger.info("{} {}: refused (a path outside the recordings)", request.method, request.path);
      return responder->respond(text(climbs ? 403 : 404, "no recording " + relative));
    }
    auto answer = std::make_shared<HttpResponse>();
    responder->group().run_blocking(
        [answer, &config, request, relative] {
          *answer = download_response(config, request, relative);
          return ok();
        },
        [answer, responder](Status) { responder->respond(std::move(*answer)); });
  };
  if (Status s = http.route("GET", config.http_prefix, handler); !s) return s;
  return http.route("HEAD", config.http_prefix, handler);
}

}  // namespace weir::file
