# SPDX-License-Identifier: Apache-2.0
"""Starts a real weir on free loopback ports with a config made for the test, and stops it."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

WEIR = os.environ.get("WEIR_BINARY", "weir")
MODULE_DIR = os.environ.get("WEIR_MODULE_DIR", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weir exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class Weir:
    """with Weir(threads=2, rtmp={"play_missing": "wait"}) as w: w.rtmp_url("live/x")"""

    def __init__(self, threads=2, modules=("mod_rtmp",), **sections):
        self.dir = tempfile.mkdtemp(prefix="weir-it-")
        self.rtmp_port = free_port()
        self.log_path = os.path.join(self.dir, "weir.log")
        conf = {"server": {"threads": threads, "modules": ", ".join(modules), "shutdown_timeout": "5s"},
                "log": {"level": "info", "file": self.log_path},
                "streams": {"publisher_grace": "2s"},
                "rtmp": {"listen": f"127.0.0.1:{self.rtmp_port}"}}
        if MODULE_DIR:
            conf["server"]["module_dir"] = MODULE_DIR
        for name, values in sections.items():
            conf.setdefault(name, {}).update(values)
        self.conf_path = os.path.join(self.dir, "weir.conf")
        with open(self.conf_path, "w") as f:
            for name, values in conf.items():
                f.write(f"[{name}]\n")
                for k, v in values.items():
                    f.write(f"{k} = {v}\n")
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([WEIR, "-c", self.conf_path], stderr=subprocess.PIPE, text=True)
        wait_port(self.rtmp_port, self.proc)
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise AssertionError("weir did not exit within 15 s of SIGTERM")
        return self.proc.returncode

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def rtmp_url(self, path):
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{path}"


def ffmpeg_publish(url, seconds, size="320x240", rate=25, gop_seconds=2, extra=()):
    """ffmpeg publishing generated H.264/AAC in real time; returns the Popen."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
           "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
           "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
           "-g", str(rate * gop_seconds), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
           *extra, "-f", "flv", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_published(url_port, app_name, timeout=15):
    """Waits until a play of app/name is answered with Play.Start (the publisher is live)."""
    from rtmp_client import RtmpClient
    app, name = app_name.split("/", 1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = RtmpClient("127.0.0.1", url_port)
        try:
            c.connect(app)
            _, status = c.play(name)
            if status.get("code") == "NetStream.Play.Reset" or status.get("code") == "NetStream.Play.Start":
                return
        finally:
            c.close()
        time.sleep(0.2)
    raise TimeoutError(f"{app_name} was not published within {timeout} s")
