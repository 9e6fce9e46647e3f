# SPDX-License-Identifier: Apache-2.0
"""Server-side applications in Lua (mod_lua + mod_rtmp) against real clients: ffmpeg publishing
with and without the right token (a secret, or an HTTP backend run by the test), our RTMP client
calling Lua methods with AMF0 and AMF3 values and answering the script's client:call, the example
scripts of scripts/examples, and scripts that fail (a runaway loop, a syntax error at startup and
at a SIGHUP reload) while the server keeps serving everyone else."""
import http.server
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Weir, Deadline, ffmpeg_publish, ffmpeg_publish_cmd, free_port, run, run_cases,  # noqa: E402
                     wait_media, wait_published)
from rtmp_client import (MSG_COMMAND_AMF0, RemoteSharedObject, RtmpClient, amf_decode_all, amf_encode)  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "scripts", "examples")
TEST_SCRIPTS = os.path.join(HERE, "lua")
MODULES = ("mod_lua", "mod_rtmp")
MSG_COMMAND_AMF3 = 17


def lua_weir(scripts=TEST_SCRIPTS, threads=2, **lua):
    return Weir(threads=threads, modules=MODULES, lua={"scripts": scripts, **lua})


def call(client, method, *args, timeout=10):
    txn = client.command(method, None, *args)
    return client.wait_result(txn, timeout=timeout)


def raw_connect(client, app, tc_url=None):
    """connect without asserting success: returns the _result or _error values."""
    client.handshake()
    txn = client.command("connect", {"app": app, "flashVer": "LNX 9,0,124,2",
                                     "tcUrl": tc_url or f"rtmp://127.0.0.1/{app}", "objectEncoding": 0})
    return client.wait_result(txn)


# ---- AMF3, written here from the spec (the server's codec is not used to test itself) ----
def u29(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return bytes([(n >> 7) | 0x80, n & 0x7F])
    if n < 0x200000:
        return bytes([(n >> 14) | 0x80, ((n >> 7) & 0x7F) | 0x80, n & 0x7F])
    return bytes([(n >> 22) | 0x80, ((n >> 15) & 0x7F) | 0x80, ((n >> 8) & 0x7F) | 0x80, n & 0xFF])


def amf3_string_body(s):
    data = s.encode()
    return u29(len(data) << 1 | 1) + data


class Amf3Date:
    def __init__(self, ms):
        self.ms = ms


def amf3_encode(v):
    if v is None:
        return b"\x01"
    if v is False:
        return b"\x02"
    if v is True:
        return b"\x03"
    if isinstance(v, int) and -(1 << 28) <= v < (1 << 28):
        return b"\x04" + u29(v & 0x1FFFFFFF)
    if isinstance(v, (int, float)):
        return b"\x05" + struct.pack(">d", float(v))
    if isinstance(v, str):
        return b"\x06" + amf3_string_body(v)
    if isinstance(v, Amf3Date):
        return b"\x08" + u29(1) + struct.pack(">d", float(v.ms))
    if isinstance(v, list):
        return b"\x09" + u29(len(v) << 1 | 1) + b"\x01" + b"".join(amf3_encode(x) for x in v)
    if isinstance(v, dict):  # anonymous dynamic object: traits inline, no sealed members
        out = b"\x0a" + u29(0b1011) + b"\x01"
        for k, x in v.items():
            out += amf3_string_body(k) + amf3_encode(x)
        return out + b"\x01"
    raise TypeError(type(v))


# ---- cases ----
def case_ffmpeg_token_secret(_):
    with Weir(threads=2, modules=MODULES,
              lua={"scripts": EXAMPLES, "app.live": "token_auth.lua", "env.secret": "s3cret"}) as w:
        wrong = run(ffmpeg_publish_cmd(w.rtmp_url("live/cam?token=nope"), 3), timeout=60, check=False)
        assert wrong.returncode != 0, "ffmpeg published with a wrong token"
        w.wait_log(r"publish live/cam rejected by the application: token rejected")
        none = run(ffmpeg_publish_cmd(w.rtmp_url("live/cam"), 3), timeout=60, check=False)
        assert none.returncode != 0, "ffmpeg published without a token"
        ffmpeg_publish(w.rtmp_url("live/cam?token=s3cret"), 30, weir=w)
        wait_media(w.rtmp_port, "live/cam?token=s3cret", video_frames=5, timeout=30)
        # A player needs the token too.
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            _, status = c.play("cam?token=wrong")
            assert status.get("code") == "NetStream.Play.Failed", status
            assert status.get("description") == "token rejected", status
        finally:
            c.close()


class AuthBackend(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        fields = dict(p.split("=", 1) for p in body.split("&") if "=" in p)
        AuthBackend.seen.append(fields)
        self.send_response(200 if fields.get("token") == "good" else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def case_ffmpeg_token_http_backend(_):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AuthBackend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/auth"
    try:
        with Weir(threads=2, modules=MODULES,
                  lua={"scripts": EXAMPLES, "app.live": "token_auth.lua", "env.auth_url": url}) as w:
            wrong = run(ffmpeg_publish_cmd(w.rtmp_url("live/cam?token=bad"), 3), timeout=60, check=False)
            assert wrong.returncode != 0, "ffmpeg published with a token the backend refused"
            assert {"action": "publish", "app": "live", "name": "cam", "token": "bad"}.items() <= \
                AuthBackend.seen[0].items(), AuthBackend.seen
            ffmpeg_publish(w.rtmp_url("live/cam?token=good"), 30, weir=w)
            wait_media(w.rtmp_port, "live/cam?token=good", video_frames=5, timeout=30)
            assert any(s.get("action") == "play" and s.get("token") == "good" for s in AuthBackend.seen)
    finally:
        server.shutdown()
        server.server_close()
    # The backend is gone: the script fails closed.
    with Weir(threads=1, modules=MODULES,
              lua={"scripts": EXAMPLES, "app.live": "token_auth.lua", "env.auth_url": url}) as w:
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            _, status = c.publish("cam?token=good")
            assert status.get("code") == "NetStream.Publish.Denied", status
            assert status.get("description") == "the auth backend is unavailable", status
        finally:
            c.close()


def case_rpc_amf0(_):
    with lua_weir(**{"app.live": "rpc.lua"}) as w:
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            assert call(c, "add", 2, 3.5)[3] == 5.5
            nested = {"user": {"name": "ana", "tags": ["a", "b"], "none": None}, "n": -1}
            result = call(c, "echo", nested, [1, [2, 3]], "x", True)
            assert result[0] == "_result", result
            echo = result[3]
            assert echo["args"] == [{"n": -1, "user": {"name": "ana", "none": None, "tags": ["a", "b"]}},
                                    [1, [2, 3]], "x", True], echo
            assert echo["app"] == "live" and echo["when"] == 1700000000000 and echo["none"] is None, echo
            failed = call(c, "fails")
            assert failed[0] == "_error" and failed[3]["code"] == "NetConnection.Call.Failed", failed
            assert failed[3]["description"] == "Method failed (fails)", failed
            refused = call(c, "refuses")
            assert refused[0] == "_error" and refused[3]["code"] == "App.Refused", refused
            assert refused[3]["description"] == "not for you", refused
            missing = call(c, "nothing_here")
            assert missing[0] == "_error" and "Method not found" in missing[3]["description"], missing
            assert call(c, "add", 1, 1)[3] == 2  # the connection goes on after errors
        finally:
            c.close()
        w.wait_log(r"methods\.fails failed \(internal\), rejected: rpc\.lua:\d+: this method always fails")
        assert "stack traceback" in w.log()


def case_rpc_amf3(_):
    with lua_weir(**{"app.live": "rpc.lua"}) as w:
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            value = {"list": [1, "two", None, [3.25]], "when": Amf3Date(1234567890123), "big": 1 << 40, "flag": False}
            payload = b"\x00" + amf_encode("echo") + amf_encode(7) + amf_encode(None) + b"\x11" + amf3_encode(value)
            c.send_message(3, MSG_COMMAND_AMF3, 0, payload)
            result = c.wait_result(7)
            assert result[0] == "_result", result
            arg = result[3]["args"][0]
            assert arg == {"big": float(1 << 40), "flag": False, "list": [1, "two", None, [3.25]],
                           "when": 1234567890123}, arg
        finally:
            c.close()


def case_client_call_and_lifetime(_):
    with lua_weir(**{"app.live": "rpc.lua"}) as w:
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            txn = c.command("callback", None, 42)
            asked = c.wait_for(lambda m: m[0] == MSG_COMMAND_AMF0 and amf_decode_all(m[3])[0] == "whoami")
            name, server_txn, _, x = amf_decode_all(asked[3])
            assert x == 42 and server_txn > 0
            c.command("_result", None, {"me": "test client"}, txn=server_txn)
            result = c.wait_result(txn)
            assert result[3] == {"answer": {"me": "test client"}}, result
        finally:
            c.close()
        # on_connect asks the client before it accepts it.
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.handshake()
            txn = c.command("connect", {"app": "live", "tcUrl": "rtmp://127.0.0.1/live?ask=1"})
            asked = c.wait_for(lambda m: m[0] == MSG_COMMAND_AMF0 and amf_decode_all(m[3])[0] == "whoami")
            c.command("_result", None, {"me": "early bird"}, txn=amf_decode_all(asked[3])[1])
            assert c.wait_result(txn)[0] == "_result"
            assert call(c, "who")[3] == "early bird"
        finally:
            c.close()
        # Rejected at connect: the client sees the script's description.
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            result = raw_connect(c, "live", tc_url="rtmp://127.0.0.1/live?deny=1")
            assert result[0] == "_error" and result[3]["code"] == "NetConnection.Connect.Rejected", result
            assert result[3]["description"] == "denied by rpc.lua", result
        finally:
            c.close()
        # Redirected at connect: the rejection carries ex.code 302 and ex.redirect.
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            result = raw_connect(c, "live", tc_url="rtmp://127.0.0.1/live?redirect=1")
            assert result[0] == "_error" and result[3]["code"] == "NetConnection.Connect.Rejected", result
            assert result[3]["description"] == "go to edge2", result
            assert result[3]["ex"] == {"code": 302, "redirect": "rtmp://edge2.example/live"}, result
        finally:
            c.close()
        # A lifetime: the server closes the connection when it ends.
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live", tc_url="rtmp://127.0.0.1/live?lifetime=300")
            d = Deadline(10)
            closed = False
            while d.left() and not closed:
                try:
                    c.next_message(timeout=d.left())
                except (ConnectionError, OSError, EOFError):
                    closed = True
            assert closed, "the connection outlived its lifetime"
        finally:
            c.close()
        w.wait_log(r"lifetime of 300 ms ended")


def case_disconnect_while_waiting(_):
    """Clients that leave while their hook waits: the hook finishes, its answer goes nowhere, and
    the server (an ASan build included) serves on and exits clean."""
    with lua_weir(**{"app.live": "rpc.lua"}) as w:
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        c.connect("live")
        c.command("slow", None, 300)
        c.close()
        w.wait_log(r"slow done, client open: false")
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        c.connect("live")
        c.command("callback", None, 1)
        c.wait_for(lambda m: m[0] == MSG_COMMAND_AMF0 and amf_decode_all(m[3])[0] == "whoami")
        c.close()  # never answers
        w.wait_log(r"callback: the client disconnected")
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        c.handshake()
        c.command("connect", {"app": "live", "tcUrl": "rtmp://127.0.0.1/live?sleep=300"})
        c.command("createStream", None)  # queued behind the hook, then dropped with the connection
        c.close()
        other = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            other.connect("live")
            assert call(other, "add", 1, 2)[3] == 3
            time.sleep(0.5)  # the slow connect's hook ends while the server runs
            assert call(other, "add", 2, 2)[3] == 4
        finally:
            other.close()


def case_runaway_script(_):
    with lua_weir(**{"app.spin": "spin.lua", "app.live": "rpc.lua", "instruction_limit": "2000000"}) as w:
        spinner = RtmpClient("127.0.0.1", w.rtmp_port)
        other = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            result = raw_connect(spinner, "spin")
            assert result[0] == "_error" and result[3]["code"] == "NetConnection.Connect.Rejected", result
            other.connect("live")
            assert call(other, "add", 20, 22)[3] == 42
            # Apps without a script keep the default behaviour.
            plain = RtmpClient("127.0.0.1", w.rtmp_port)
            try:
                plain.connect("plain")
                _, status = plain.publish("cam")
                assert status.get("code") == "NetStream.Publish.Start", status
            finally:
                plain.close()
        finally:
            spinner.close()
            other.close()
        w.wait_log(r"app=spin script=spin\.lua on_connect failed \(limit\), rejected: stopped after \d+ instructions")


def case_syntax_error_at_startup(_):
    w = lua_weir(**{"app.live": "broken.lua"})
    try:
        w.__enter__()
    except RuntimeError as e:
        assert "broken.lua:5:" in str(e), str(e)
        return
    finally:
        if w.proc and w.proc.poll() is None:
            w.__exit__(None, None, None)
    raise AssertionError("weir started with a script that does not compile")


def case_reload(_):
    scripts = tempfile.mkdtemp(prefix="weir-lua-")
    try:
        path = os.path.join(scripts, "app.lua")
        shutil.copy(os.path.join(TEST_SCRIPTS, "rpc.lua"), path)
        with lua_weir(scripts=scripts, **{"app.live": "app.lua"}) as w:
            c = RtmpClient("127.0.0.1", w.rtmp_port)
            try:
                c.connect("live")
                assert call(c, "add", 2, 3)[3] == 5
                with open(path, "w") as f:
                    f.write("methods = {add = function(c, a, b) return a * b end\n")  # unclosed
                w.proc.send_signal(signal.SIGHUP)
                w.wait_log(r"reload: \[lua\] app\.live: app\.lua:\d+: .*keeping the running scripts")
                assert call(c, "add", 2, 3)[3] == 5  # the old script serves on
                with open(path, "w") as f:
                    f.write("methods = {add = function(c, a, b) return a * b end}\n")
                w.proc.send_signal(signal.SIGHUP)
                w.wait_log(r"reloaded 1 script")
                d = Deadline(15)
                while call(c, "add", 2, 3)[3] != 6:  # each group reloads in its own turn
                    assert d.left(), "the reloaded script never answered"
                    time.sleep(0.1)
                assert w.alive()
            finally:
                c.close()
    finally:
        shutil.rmtree(scripts, ignore_errors=True)


def http_fetch(url, data=None, method=None):
    """(status, headers, body) of one request; error statuses too."""
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def case_http_route(_):
    port = free_port()
    with Weir(threads=2, modules=("mod_http",) + MODULES, http={"listen": f"127.0.0.1:{port}"},
              lua={"scripts": TEST_SCRIPTS, "app.live": "rpc.lua", "app.spin": "spin.lua"}) as w:
        base = f"http://127.0.0.1:{port}/apps"
        status, headers, body = http_fetch(f"{base}/live/hello?name=ana%20b")
        assert (status, body, headers.get("x-app")) == (200, "hello ana b", "live"), (status, body)
        status, headers, body = http_fetch(f"{base}/live/echo", data=b"payload", method="POST")
        assert (status, body, headers.get("content-type")) == (201, "POST:payload", "application/octet-stream")
        assert http_fetch(f"{base}/live/slow")[::2] == (200, "slept")
        assert http_fetch(f"{base}/live/private")[::2] == (401, "who are you?\n")
        assert http_fetch(f"{base}/live/broken")[::2] == (500, "application error\n")
        assert http_fetch(f"{base}/spin/x")[0] == 404  # spin.lua has no on_http_request
        assert http_fetch(f"{base}/nobody/x")[0] == 404
        assert http_fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200
        w.wait_log(r"app=live script=rpc\.lua on_http_request failed \(internal\), rejected: rpc\.lua:\d+: broken route")


def case_stream_not_found(_):
    with lua_weir(**{"app.live": "rpc.lua"}) as w:
        publisher = RtmpClient("127.0.0.1", w.rtmp_port)
        player = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            publisher.connect("live")
            _, status = publisher.publish("fallback")
            assert status.get("code") == "NetStream.Publish.Start", status
            player.connect("live")
            _, _, start = player.play_start("missing")
            assert start.get("code") == "NetStream.Play.Start", start
            _, status = player.play("other")
            assert status.get("code") == "NetStream.Play.StreamNotFound", status
            assert status.get("description") == "nothing called other", status
        finally:
            publisher.close()
            player.close()


def case_update(_):
    with lua_weir(update_interval="100ms", **{"app.live": "rpc.lua"}) as w:
        steady = RtmpClient("127.0.0.1", w.rtmp_port)
        limited = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            steady.connect("live")
            limited.connect("live", tc_url="rtmp://127.0.0.1/live?updates=3")
            w.wait_log(r"disconnected by the application's on_update: enough updates \(3\)")
            d = Deadline(15)
            while call(steady, "updates")[3] < 4:  # on_update goes on for the others
                assert d.left(), "on_update stopped"
                time.sleep(0.1)
        finally:
            steady.close()
            limited.close()


def case_stream_keys(_):
    with Weir(threads=2, modules=MODULES,
              lua={"scripts": EXAMPLES, "app.live": "stream_keys.lua",
                   "env.stream_keys": "sk_7f3a9c=studio, sk_e21b04=news"}) as w:
        unknown = run(ffmpeg_publish_cmd(w.rtmp_url("live/sk_wrong"), 3), timeout=60, check=False)
        assert unknown.returncode != 0, "ffmpeg published with an unknown key"
        ffmpeg_publish(w.rtmp_url("live/sk_7f3a9c"), 30, weir=w)
        wait_media(w.rtmp_port, "live/studio", video_frames=5, timeout=30)
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            _, status = c.play("sk_7f3a9c")
            assert status.get("code") == "NetStream.Play.StreamNotFound", status
        finally:
            c.close()
        w.wait_log(r"publisher 127\.0\.0\.1:\d+ streams as studio")


def case_player_limit(_):
    with Weir(threads=2, modules=MODULES,
              lua={"scripts": EXAMPLES, "app.live": "player_limit.lua", "env.max_players": "2"}) as w:
        publisher = RtmpClient("127.0.0.1", w.rtmp_port)
        players = []
        try:
            publisher.connect("live")
            _, status = publisher.publish("cam")
            assert status.get("code") == "NetStream.Publish.Start", status
            for _ in range(3):
                p = RtmpClient("127.0.0.1", w.rtmp_port)
                players.append(p)
                p.connect("live")
            codes = [p.play_start("cam")[2].get("code") for p in players]
            assert codes == ["NetStream.Play.Start", "NetStream.Play.Start", "NetStream.Play.Failed"], codes
            assert call(players[0], "players")[3] == 2
            players[0].close()
            # The slot comes back once the server has seen the disconnect.
            d = Deadline(15)
            while True:
                late = RtmpClient("127.0.0.1", w.rtmp_port)
                players.append(late)
                late.connect("live")
                code = late.play_start("cam")[2].get("code")
                if code == "NetStream.Play.Start":
                    break
                assert d.left(), f"no slot came back: {code}"
                late.close()
                time.sleep(0.2)
        finally:
            publisher.close()
            for p in players:
                p.close()


def make_certificate(folder, name="localhost", alt="DNS:localhost,IP:127.0.0.1"):
    """A self-signed certificate for `name`: (key path, certificate path)."""
    key, cert = os.path.join(folder, f"{name}.key"), os.path.join(folder, f"{name}.pem")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName={alt}"], timeout=60)
    return key, cert


def read_file(path):
    with open(path) as f:
        return f.read()


def tls_server(key, cert):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TlsBackend)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class TlsBackend(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = f"hello over tls {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def case_server_start_and_https(_):
    if not shutil.which("openssl"):
        sys.exit(77)
    folder = tempfile.mkdtemp(prefix="weir-tls-")
    key, cert = make_certificate(folder)
    # A second backend whose certificate is trusted too but names another host.
    other_key, other_cert = make_certificate(folder, "elsewhere.example", "DNS:elsewhere.example")
    bundle = os.path.join(folder, "trusted.pem")
    with open(bundle, "w") as out:
        out.write(read_file(cert) + read_file(other_cert))
    server, other = tls_server(key, cert), tls_server(other_key, other_cert)
    backend = f"https://localhost:{server.server_address[1]}"
    fetch = "/live/fetch?url=" + urllib.parse.quote(backend + "/x", safe="")
    try:
        port = free_port()
        with Weir(threads=2, modules=("mod_http",) + MODULES, http={"listen": f"127.0.0.1:{port}"},
                  lua={"scripts": TEST_SCRIPTS, "app.live": "lifecycle.lua", "env.backend": backend,
                       "http_ca_file": bundle}) as w:
            # on_server_start ran once (two groups), and its https call was verified with the CA file.
            w.wait_log(r"server start of live #1")
            w.wait_log(r"backend at start: 200 hello over tls /started")
            base = f"http://127.0.0.1:{port}/apps"
            assert http_fetch(base + fetch)[::2] == (200, "200 hello over tls /x")
            # A trusted certificate for another name is refused: the host name is checked.
            wrong_host = urllib.parse.quote(f"https://localhost:{other.server_address[1]}/x", safe="")
            status, _, body = http_fetch(f"{base}/live/fetch?url={wrong_host}")
            assert status == 502 and "weir.http GET" in body, (status, body)
            w.proc.send_signal(signal.SIGHUP)
            w.wait_log(r"group=1 reloaded 1 script")
            w.wait_log(r"group=0 reloaded 1 script")
            assert http_fetch(f"{base}/live/starts")[::2] == (200, "1")  # a reload is no start
            assert len(re.findall(r"server start of live", w.log())) == 1, w.log()
        # Without the CA file the self-signed certificate is refused: verification is on by default.
        with Weir(threads=1, modules=("mod_http",) + MODULES, http={"listen": f"127.0.0.1:{port}"},
                  lua={"scripts": TEST_SCRIPTS, "app.live": "lifecycle.lua", "env.backend": backend}) as w:
            w.wait_log(r"(?i)backend at start: weir\.http GET .*certificate verify failed")
            status, _, body = http_fetch(f"http://127.0.0.1:{port}/apps" + fetch)
            assert status == 502 and "certificate verify failed" in body, (status, body)
        # A CA file that cannot be read stops startup, naming the key.
        bad = Weir(threads=1, modules=MODULES, lua={"scripts": TEST_SCRIPTS, "app.live": "lifecycle.lua",
                                                    "http_ca_file": os.path.join(folder, "missing.pem")})
        try:
            bad.__enter__()
            raise AssertionError("weir started with an unreadable http_ca_file")
        except RuntimeError as e:
            assert "http_ca_file" in str(e), str(e)
        finally:
            if bad.proc and bad.proc.poll() is None:
                bad.__exit__(None, None, None)
    finally:
        for s in (server, other):
            s.shutdown()
            s.server_close()
        shutil.rmtree(folder, ignore_errors=True)


def case_no_readers(_):
    with lua_weir(**{"app.live": "lifecycle.lua"}) as w:
        publisher = RtmpClient("127.0.0.1", w.rtmp_port)
        players = [RtmpClient("127.0.0.1", w.rtmp_port) for _ in range(2)]
        try:
            publisher.connect("live")
            _, status = publisher.publish("keep")
            assert status.get("code") == "NetStream.Publish.Start", status
            for p in players:
                p.connect("live")
                assert p.play_start("keep")[2].get("code") == "NetStream.Play.Start"
            # Each group reports its players to the publisher's group by message; a player on the
            # other group whose report is still on its way when the first one leaves makes the
            # count fall 1 -> 0 -> 1 -> 0 (two hooks, rightly). Let both reports land first.
            time.sleep(0.3)
            players[0].close()
            players[1].close()
            w.wait_log(r"no readers of live/keep")
            # Once, for the last of the two; the publisher stays (the script keeps "keep").
            publisher.create_stream()
            assert len(re.findall(r"no readers of live/keep", w.log())) == 1, w.log()
        finally:
            publisher.close()
            for p in players:
                p.close()
        # ffmpeg publishes live/pull1; the script drops it when its only player (ours) has left.
        ffmpeg = ffmpeg_publish(w.rtmp_url("live/pull1"), 60, weir=w)
        wait_media(w.rtmp_port, "live/pull1", video_frames=5, timeout=30)
        w.wait_log(r"no readers of live/pull1")
        w.wait_log(r"nobody watches pull1")
        d = Deadline(30)
        while ffmpeg.poll() is None:
            assert d.left(), "ffmpeg was not disconnected"
            time.sleep(0.1)
        assert ffmpeg.returncode != 0, "ffmpeg ended as if it had published to the end"


def case_no_readers_delay(_):
    with lua_weir(no_readers_delay="1s", **{"app.live": "lifecycle.lua"}) as w:
        publisher = RtmpClient("127.0.0.1", w.rtmp_port)
        first, second = RtmpClient("127.0.0.1", w.rtmp_port), RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            publisher.connect("live")
            assert publisher.publish("keep")[1].get("code") == "NetStream.Publish.Start"
            first.connect("live")
            second.connect("live")
            assert first.play_start("keep")[2].get("code") == "NetStream.Play.Start"
            first.close()
            # A player comes back within the delay and stays past it: the app is not asked.
            assert second.play_start("keep")[2].get("code") == "NetStream.Play.Start"
            time.sleep(2.5)
            assert "no readers of live/keep" not in w.log(), w.log()
            second.close()
            w.wait_log(r"no readers of live/keep")
            publisher.create_stream()  # the publisher stays
        finally:
            publisher.close()
            first.close()
            second.close()


def chat_user(w, name):
    """A client of examples/chat.lua named `name`, subscribed to the shared object "chat"."""
    c = RtmpClient("127.0.0.1", w.rtmp_port)
    c.connect("chat", tc_url=f"rtmp://127.0.0.1/chat?name={name}")
    so = RemoteSharedObject(c, "chat")
    so.connect()
    so.wait(lambda s: s.connected)
    return c, so


def chat_users(so):
    return sorted(v for k, v in so.data.items() if k.startswith("user_"))


def chat_history(so):
    """(seq, from, text) of the messages the object holds, oldest first."""
    return sorted((int(v["seq"]), v["from"], v["text"]) for k, v in so.data.items() if k.startswith("msg_"))


def chat_messages(so):
    return [(args[0]["from"], args[0]["text"]) for handler, args in so.calls if handler == "message"]


def case_chat_room(_):
    """examples/chat.lua on two poll groups: each client sees the other's messages (sent and kept
    in the history slots), join and leave notices, and a late joiner gets the history."""
    with Weir(threads=2, modules=MODULES, log={"level": "debug"},
              lua={"scripts": EXAMPLES, "app.chat": "chat.lua", "env.chat_history": "3"}) as w:
        ana, so_ana = chat_user(w, "ana")
        bob, so_bob = chat_user(w, "bob")
        so_ana.wait(lambda s: ("notice", ["bob joined"]) in s.calls and chat_users(s) == ["ana", "bob"])
        assert call(ana, "say", "hello from ana")[3] == 1
        assert call(bob, "say", "hi ana")[3] == 2
        both = [(1, "ana", "hello from ana"), (2, "bob", "hi ana")]
        for so in (so_ana, so_bob):
            so.wait(lambda s: chat_history(s) == both and len(chat_messages(s)) == 2)
            assert chat_messages(so) == [(f, t) for _, f, t in both], so.calls
        bad = call(ana, "say", "")
        assert bad[0] == "_error" and bad[3]["code"] == "Chat.BadMessage", bad
        # History: a ring of env.chat_history slots; history() reads it on the object's owner.
        for i in range(3):
            call(ana, "say", f"m{i}")
        kept = [(3, "ana", "m0"), (4, "ana", "m1"), (5, "ana", "m2")]
        history = call(bob, "history")[3]
        assert [(int(h["seq"]), h["from"], h["text"]) for h in history] == kept, history
        cleo, so_cleo = chat_user(w, "cleo")  # joins late: the history comes in its first onSync
        so_cleo.wait(lambda s: chat_history(s) == kept and chat_users(s) == ["ana", "bob", "cleo"])
        assert so_cleo.syncs[0][0] == {"code": "clear"}, so_cleo.syncs[0]
        refused = RtmpClient("127.0.0.1", w.rtmp_port)
        result = raw_connect(refused, "chat", tc_url="rtmp://127.0.0.1/chat?name=no%20spaces")
        assert result[0] == "_error" and "a name is" in result[3]["description"], result
        refused.close()
        bob.close()
        for so in (so_ana, so_cleo):
            so.wait(lambda s: ("notice", ["bob left"]) in s.calls and chat_users(s) == ["ana", "cleo"])
        ana.close()
        cleo.close()
        w.stop()
        log = w.log()
        groups = {int(m.group(2)): int(m.group(1))
                  for m in re.finditer(r"kernel\.group(\d+): conn=(\d+) peer=\S+ listener=rtmp closed", log)}
        conns = [int(x) for x in re.findall(r"conn=(\d+) peer=\S+ connect app=chat", log)]
        assert len({groups.get(x) for x in conns[:2]}) == 2, f"ana and bob were not on two groups: {groups} {conns}"


def case_stats_from_lua(_):
    """mod_stats adds weir.stats.* through the lua service (mod_lua is listed before it); a route
    of the script answers the player count of a stream ffmpeg publishes."""
    port = free_port()
    with Weir(threads=2, modules=("mod_http", "mod_lua", "mod_rtmp", "mod_stats"),
              http={"listen": f"127.0.0.1:{port}"}, stats={"sample_interval": "100ms"},
              lua={"scripts": TEST_SCRIPTS, "app.live": "stats.lua"}) as w:
        base = f"http://127.0.0.1:{port}/apps/live"
        d = Deadline(15)
        while http_fetch(f"{base}/server")[0] != 200:  # the first sample
            assert d.left(), "no figures from weir.stats.server()"
            time.sleep(0.1)
        assert http_fetch(f"{base}/server")[::2] == (200, "threads=2 accepting=true")
        assert http_fetch(f"{base}/players?name=cam")[::2] == (404, "no such stream")
        assert http_fetch(f"{base}/bad")[::2] == (200, "nil weir.stats.stream(app, name): two strings")
        ffmpeg_publish(w.rtmp_url("live/cam"), 60, weir=w)
        wait_published(w.rtmp_port, "live/cam")
        players = [RtmpClient("127.0.0.1", w.rtmp_port) for _ in range(2)]
        try:
            for p in players:
                p.connect("live")
                assert p.play_start("cam")[2].get("code") == "NetStream.Play.Start"
            d = Deadline(15)
            while http_fetch(f"{base}/players?name=cam")[::2] != (200, "2"):
                assert d.left(), f"players never 2: {http_fetch(f'{base}/players?name=cam')}"
                time.sleep(0.1)
            assert http_fetch(f"{base}/streams")[::2] == (200, "live/cam")
            players[0].close()
            d = Deadline(15)
            while http_fetch(f"{base}/players?name=cam")[::2] != (200, "1"):
                assert d.left(), f"players never back to 1: {http_fetch(f'{base}/players?name=cam')}"
                time.sleep(0.1)
        finally:
            for p in players:
                p.close()


if __name__ == "__main__":
    run_cases({
        "ffmpeg_token_secret": case_ffmpeg_token_secret,
        "ffmpeg_token_http_backend": case_ffmpeg_token_http_backend,
        "rpc_amf0": case_rpc_amf0,
        "rpc_amf3": case_rpc_amf3,
        "client_call_and_lifetime": case_client_call_and_lifetime,
        "http_route": case_http_route,
        "disconnect_while_waiting": case_disconnect_while_waiting,
        "runaway_script": case_runaway_script,
        "syntax_error_at_startup": case_syntax_error_at_startup,
        "reload": case_reload,
        "stream_keys": case_stream_keys,
        "stream_not_found": case_stream_not_found,
        "update": case_update,
        "player_limit": case_player_limit,
        "server_start_and_https": case_server_start_and_https,
        "no_readers": case_no_readers,
        "no_readers_delay": case_no_readers_delay,
        "chat_room": case_chat_room,
        "stats_from_lua": case_stats_from_lua,
    })
