#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mod_http against a real weir: routes, errors, keep-alive, pipelining, limits, and that bad
requests cost only their own connection."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

WEIR = os.environ["WEIR_BINARY"]
MODULE_DIR = os.environ["WEIR_MODULE_DIR"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out


def main():
    port, rtmp_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="weir-http-") as tmp:
        conf = os.path.join(tmp, "weir.conf")
        with open(conf, "w") as f:
            f.write(f"[server]\nthreads = 2\nmodules = mod_http, mod_rtmp\nmodule_dir = {MODULE_DIR}\n"
                    f"[http]\nlisten = 127.0.0.1:{port}\nmax_header_size = 4k\nmax_body_size = 1k\nidle_timeout = 2s\n"
                    f"[rtmp]\nlisten = 127.0.0.1:{rtmp_port}\n")
        weir = subprocess.Popen([WEIR, "-c", conf], stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        assert r.status == 200 and r.read() == b"ok\n"
                        assert r.headers["Content-Type"].startswith("text/plain")
                    break
                except OSError:
                    if time.time() > deadline or weir.poll() is not None:
                        raise SystemExit("mod_http did not start")
                    time.sleep(0.1)
            print("GET /healthz: 200 ok")

            for path, method, code in (("/nope", "GET", 404), ("/healthz", "POST", 405)):
                try:
                    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                                                  data=b"" if method == "POST" else None), timeout=5)
                    raise AssertionError(f"{method} {path} succeeded")
                except urllib.error.HTTPError as e:
                    assert e.code == code, (path, e.code)
            print("404 and 405: ok")

            head = raw(port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n"), head
            print("HEAD: headers only")

            two = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert two.count(b"HTTP/1.1 200 OK") == 2 and two.endswith(b"ok\n"), two
            print("pipelined keep-alive requests: both answered in order")

            big = raw(port, b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 8000 + b"\r\n\r\n")
            assert big.startswith(b"HTTP/1.1 431"), big[:80]
            body = raw(port, b"POST /healthz HTTP/1.1\r\nContent-Length: 5000\r\n\r\n")
            assert body.startswith(b"HTTP/1.1 413"), body[:80]
            bad = raw(port, b"NONSENSE\r\n\r\n")
            assert bad.startswith(b"HTTP/1.1 400"), bad[:80]
            version = raw(port, b"GET / HTTP/2.0\r\n\r\n")
            assert version.startswith(b"HTTP/1.1 505"), version[:80]
            chunked = raw(port, b"POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            assert chunked.startswith(b"HTTP/1.1 501"), chunked[:80]
            print("limits and malformed requests: 431, 413, 400, 505, 501")

            idle = socket.create_connection(("127.0.0.1", port), timeout=10)
            started = time.time()
            assert idle.recv(1) == b"", "idle connection was not closed"
            print(f"idle keep-alive connection closed after {time.time() - started:.1f} s")

            garbage_sockets = []
            for i in range(50):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(os.urandom(200 + i * 37) + b"\r\n\r\n")
                garbage_sockets.append(s)
            for s in garbage_sockets:
                s.close()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert r.status == 200
            assert weir.poll() is None, "weir died"
            print("50 connections of random bytes: the server still answers")
        finally:
            weir.send_signal(signal.SIGTERM)
            try:
                _, err = weir.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                weir.kill()
                raise SystemExit("weir did not stop")
        assert weir.returncode == 0, err
        assert "AddressSanitizer" not in err and "runtime error" not in err, err
    print("mod_http: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
