# SPDX-License-Identifier: Apache-2.0
"""Starts a real weir on free loopback ports with a config made for the test, and stops it; runs
the real clients (ffmpeg, ffprobe, rtmpdump) with time limits and reads what they print.

Every subprocess here has a timeout, and Weir.__exit__ fails the test when the server's stderr or
log shows a sanitizer report, so an ASan/UBSan build of the server checks itself under real load."""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

WEIR = os.environ.get("WEIR_BINARY", "weir")
MODULE_DIR = os.environ.get("WEIR_MODULE_DIR", "")
# Set WEIR_IT_KEEP=1 to keep each run's folder (config, log, stderr, client outputs) for reading.
KEEP = os.environ.get("WEIR_IT_KEEP", "") not in ("", "0")

# What sanitizers print when they find something (ASan, LSan, UBSan, TSan).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer")

# CTest's SKIP_RETURN_CODE for these tests (see CMakeLists.txt).
SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_block(count):
    """An even port with `count` free UDP ports from it (mod_rtsp's per-group RTP/RTCP pairs)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1] & ~1
        if base + count > 65535:
            continue
        held = []
        try:
            for port in range(base, base + count):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(u)
                u.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
        finally:
            for u in held:
                u.close()
    raise RuntimeError(f"no block of {count} free UDP ports")


def wait_port(port, proc, err_path, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            with open(err_path, errors="replace") as f:
                raise RuntimeError(f"weir exited with {proc.returncode}: {f.read()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class Weir:
    """with Weir(threads=2, rtmp={"play_missing": "wait"}) as w: w.rtmp_url("live/x")

    Sections given as keyword arguments are merged over the defaults below ([streams]
    publisher_grace = 2s so that grace-period tests stay short)."""

    def __init__(self, threads=2, modules=("mod_rtmp",), **sections):
        self.dir = tempfile.mkdtemp(prefix="weir-it-")
        self.rtmp_port = free_port()
        self.log_path = os.path.join(self.dir, "weir.log")
        self.stderr_path = os.path.join(self.dir, "weir.stderr")
        conf = {"server": {"threads": threads, "modules": ", ".join(modules), "shutdown_timeout": "5s"},
                "log": {"level": "info", "file": self.log_path},
                "streams": {"publisher_grace": "2s"},
                "rtmp": {"listen": f"127.0.0.1:{self.rtmp_port}"}}
        if "mod_rtsp" in modules:
            self.rtsp_port = free_port()
            self.rtp_port = free_udp_block(2 * max(int(threads), 1) if int(threads) else 2 * (os.cpu_count() or 1))
            # Multicast: ports and a group address of this server's own, so tests running at once
            # never hear each other's streams.
            self.multicast_port = free_udp_block(4)
            conf["rtsp"] = {"listen": f"127.0.0.1:{self.rtsp_port}", "rtp_port": self.rtp_port,
                            "multicast_port": self.multicast_port,
                            "multicast_range": f"239.255.{random.randint(0, 255)}.{random.randint(0, 63) * 4}/30"}
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
        self._stderr = None
        self.children = []  # client processes to end with the server

    def __enter__(self):
        self._stderr = open(self.stderr_path, "w")
        # detect_leaks: the server must also shut down clean; abort_on_error off so that the
        # report lands in stderr and the test names it.
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen([WEIR, "-c", self.conf_path], stderr=self._stderr, env=env)
        try:
            wait_port(self.rtmp_port, self.proc, self.stderr_path)
        except BaseException:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None
        try:
            for p in self.children:
                stop_process(p)
            code = self.stop()
            reports = self.sanitizer_reports()
            if reports and not failed:
                raise AssertionError("sanitizer report from weir:\n" + "\n".join(reports[:40]))
            if code not in (0, None) and not failed:
                raise AssertionError(f"weir exited with {code} after SIGTERM\n{self.stderr()[-4000:]}")
        except BaseException:
            failed = True
            raise
        finally:
            if failed:
                print(f"---- weir log tail ({self.log_path}) ----\n{self.log()[-6000:]}", file=sys.stderr)
                print(f"---- weir stderr tail ----\n{self.stderr()[-6000:]}", file=sys.stderr)
            if self._stderr:
                self._stderr.close()
            if KEEP:
                print(f"kept {self.dir}", file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("weir did not exit within 20 s of SIGTERM")
        return self.proc.returncode if self.proc else None

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        return read_text(self.log_path)

    def stderr(self):
        return read_text(self.stderr_path)

    def sanitizer_reports(self):
        lines = []
        for text in (self.stderr(), self.log()):
            for line in text.splitlines():
                if any(mark in line for mark in SANITIZER_MARKS):
                    lines.append(line)
        return lines

    def wait_log(self, pattern, timeout=15):
        """Waits until the log matches the regex; returns the match. No timing asserted: the
        timeout only bounds a failing test."""
        deadline = time.time() + timeout
        while True:
            m = re.search(pattern, self.log())
            if m:
                return m
            if time.time() > deadline:
                raise AssertionError(f"log never matched /{pattern}/ within {timeout} s")
            if not self.alive():
                raise AssertionError(f"weir died while waiting for /{pattern}/")
            time.sleep(0.1)

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def rtmp_url(self, path):
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{path}"

    def rtsp_url(self, path):
        return f"rtsp://127.0.0.1:{self.rtsp_port}/{path}"

    def spawn(self, cmd, **kw):
        """A client process ended (at the latest) when the server stops."""
        p = subprocess.Popen(cmd, **kw)
        self.children.append(p)
        return p


def stop_process(p, timeout=10):
    """Ends one process we started: SIGINT (ffmpeg finishes its output), then SIGKILL."""
    if p.poll() is not None:
        return p.returncode
    p.send_signal(signal.SIGINT)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait(timeout=10)


def run(cmd, timeout, check=True, **kw):
    """Runs a client to completion (bounded); returns CompletedProcess with text output."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{cmd[0]} ran past {timeout} s: {' '.join(cmd)}\n"
                             f"{(e.stderr or b'')[-3000:] if isinstance(e.stderr, bytes) else (e.stderr or '')[-3000:]}")
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited with {r.returncode}:\n{r.stderr[-3000:]}")
    return r


def ffmpeg_publish_cmd(url, seconds, size="320x240", rate=25, gop_seconds=2, audio="aac", frequency=440,
                       extra=(), video_filter=None, loglevel="error"):
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", loglevel, "-re",
           "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
           "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=44100"]
    if video_filter:
        cmd += ["-vf", video_filter]
    cmd += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", str(rate * gop_seconds), "-pix_fmt", "yuv420p"]
    if audio == "aac":
        cmd += ["-c:a", "aac", "-b:a", "64k"]
    elif audio == "pcm":  # FLV sound format 3: 1.4 Mbit/s that a slow player cannot shed
        cmd += ["-c:a", "pcm_s16le", "-ac", "2"]
    cmd += [*extra, "-f", "flv", url]
    return cmd


def ffmpeg_publish(url, seconds, size="320x240", rate=25, gop_seconds=2, extra=(), weir=None, **kw):
    """ffmpeg publishing generated H.264/AAC in real time; returns the Popen (stderr piped to a
    file-like text stream only when weir is None, else to a file in the run's folder)."""
    cmd = ffmpeg_publish_cmd(url, seconds, size=size, rate=rate, gop_seconds=gop_seconds, extra=extra, **kw)
    if weir is not None:
        err = open(weir.path(f"ffmpeg-publish-{len(weir.children)}.err"), "w")
        p = weir.spawn(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
        p.err_path = err.name
        return p
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


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
            if status.get("code") in ("NetStream.Play.Reset", "NetStream.Play.Start"):
                return
        finally:
            c.close()
        time.sleep(0.2)
    raise TimeoutError(f"{app_name} was not published within {timeout} s")


def wait_media(url_port, app_name, video_frames=3, timeout=15):
    """Waits until a player of app/name receives video frames (the publisher is live and sending)."""
    from rtmp_client import RtmpClient
    app, name = app_name.split("/", 1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = RtmpClient("127.0.0.1", url_port)
        try:
            c.connect(app)
            _, status = c.play(name)
            if status.get("code") in ("NetStream.Play.Reset", "NetStream.Play.Start"):
                for _ in range(video_frames):
                    c.wait_for(lambda m: m[0] == 9, timeout=max(0.1, deadline - time.time()))
                return
        except (TimeoutError, ConnectionError, socket.timeout):
            pass
        finally:
            c.close()
        time.sleep(0.2)
    raise TimeoutError(f"no video from {app_name} within {timeout} s")


def ffprobe_json(target, *args, timeout=30):
    r = run(["ffprobe", "-v", "error", "-of", "json", *args, target], timeout=timeout)
    return json.loads(r.stdout)


def parse_framemd5(text):
    """framemd5/framecrc lines -> [(stream, dts, pts, duration, size, hash)]; '#' lines skipped."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            continue
        out.append((int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), parts[5]))
    return out


def framemd5_timebases(text):
    """'#tb 0: 1/1000' lines -> {stream: (num, den)}."""
    tbs = {}
    for m in re.finditer(r"^#tb (\d+): (\d+)/(\d+)", text, re.M):
        tbs[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    return tbs


def framemd5_media_types(text):
    """'#media_type 0: video' lines -> {stream: 'video'}."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^#media_type (\d+): (\w+)", text, re.M)}


class Deadline:
    """A bound on a whole step: `while d.left(): ...`."""

    def __init__(self, seconds):
        self.end = time.time() + seconds

    def left(self):
        return max(0.0, self.end - time.time())

    def expired(self):
        return time.time() >= self.end


class Background(threading.Thread):
    """Runs fn in a thread; join() re-raises its exception."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.error, self.result = fn, args, None, None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 - handed to the joiner
            self.error = e

    def join_result(self, timeout):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"{self.fn.__name__} still running after {timeout} s")
        if self.error:
            raise self.error
        return self.result


def run_cases(cases):
    """The entry point of a test script: runs the case named by --case (one CTest test each)."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(cases))
    args = ap.parse_args()
    started = time.time()
    cases[args.case](args)
    print(f"{args.case}: ok in {time.time() - started:.1f} s")
