// SPDX-License-Identifier: Apache-2.0
#pragma once
// weir.http: an HTTP(S) client for scripts (auth backends, webhooks). The request is read on the
// group, the blocking exchange (Poco) runs on the worker pool, and the answer resumes the hook.
//
//   weir.http{...} --> HttpExchange --run_blocking--> http_exchange (Poco, worker thread)
//        --> {status=, body=, headers={}} or nil, err --> the hook resumes

#include <lua.hpp>

#include <Poco/Net/Context.h>

#include "lua_config.h"
#include "weir/status.h"

namespace weir::lua {

/// weir.http{url=, method=, body=, headers={}, timeout_ms=} (or weir.http(url)): waits for the
/// answer. Only inside a hook.
int weir_http(lua_State* L);

/// The TLS client context of weir.http: the system's CAs plus config.http_ca_file, peer
/// verification and host name check on. Errc::config when the CA file cannot be loaded.
Result<Poco::Net::Context::Ptr> make_https_context(const LuaConfig& config);

}  // namespace weir::lua
