// SPDX-License-Identifier: Apache-2.0
#pragma once
// Downloads of finished recordings over HTTP (mod_http): GET and HEAD of [file] http_prefix +
// the file's path inside record_dir ("/recordings/live/cam-20261204-153000.mp4"), with Range
// (one range: 206 and Content-Range; past the end: 416), ETag / If-None-Match (304),
// Last-Modified, Accept-Ranges. The file is checked on the worker pool (it is inside record_dir
// once symlinks are resolved, a regular file, finished) and its bytes are read there too, paced
// by the client (HttpFileBody). A path with ".." or one that leads out of record_dir is 403; a
// recording still being written is 409.

#include <memory>
#include <string>

#include "file_config.h"
#include "weir/services/http.h"

namespace weir::file {

/// The answer to `request` for the file `relative` (inside config.record_dir); blocking (stat,
/// realpath, the first bytes of the file): the worker pool.
HttpResponse download_response(const FileConfig& config, const HttpRequest& request, const std::string& relative);

/// Adds the routes (GET and HEAD of config.http_prefix) to `http`.
Status route_downloads(HttpService& http, const FileConfig& config, const Logger& logger);

}  // namespace weir::file
