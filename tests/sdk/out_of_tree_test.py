#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Installs the build into a temporary prefix, builds examples/mod_hello against it with
find_package(Weir), starts the installed weir with that module and checks it greets and echoes."""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def run(*cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--build-type", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="weir-sdk-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        run("cmake", "--install", args.build_dir, "--prefix", prefix)
        hello_build = os.path.join(tmp, "hello")
        run("cmake", "-S", os.path.join(args.source_dir, "examples", "mod_hello"), "-B", hello_build,
            "-G", "Ninja", f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_BUILD_TYPE={args.build_type}")
        run("cmake", "--build", hello_build)
        port = free_port()
        conf = os.path.join(tmp, "weir.conf")
        with open(conf, "w") as f:
            f.write(f"[server]\nthreads = 2\nmodules = mod_hello\nmodule_dir = {hello_build}\n"
                    f"[hello]\nlisten = 127.0.0.1:{port}\ngreeting = hi there\n")
        weir = subprocess.Popen([os.path.join(prefix, "bin", "weir"), "-c", conf],
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                    break
                except OSError:
                    if time.time() > deadline or weir.poll() is not None:
                        raise SystemExit("weir with mod_hello did not start listening")
                    time.sleep(0.1)
            with sock:
                greeting = sock.makefile("rb").readline().decode()
                assert greeting.startswith("hi there (conn "), greeting
                # Written with the installed formats/amf: marker 0x02, 16-bit length, the bytes.
                expected_amf0 = (b"\x02" + len(b"hi there").to_bytes(2, "big") + b"hi there").hex()
                assert greeting.rstrip("\n").endswith(f" amf0={expected_amf0}"), greeting
                sock.sendall(b"ping 12345\n")
                got = b""
                while len(got) < 11:
                    chunk = sock.recv(64)
                    assert chunk, "connection closed before the echo"
                    got += chunk
                assert got == b"ping 12345\n", got
        finally:
            weir.send_signal(signal.SIGTERM)
            try:
                _, err = weir.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                weir.kill()
                raise SystemExit("weir did not exit within 20 s of SIGTERM")
            print(err)
        assert weir.returncode == 0, f"weir exited with {weir.returncode}"
        assert "loaded mod_hello 0.1.0" in err, err
    print("out-of-tree module: built against the installed SDK, loaded, greeted and echoed")


if __name__ == "__main__":
    sys.exit(main())
