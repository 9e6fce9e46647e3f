#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mod_rtmp against hostile peers while real clients use it: hundreds of connections send garbage,
cut handshakes, broken chunk streams and random AMF, with a fixed seed; an ffmpeg publisher and a
player run throughout. The server must stay up, keep the player's media whole, and log each
connection it closes with a reason.

Cases: --case fuzz_connections, --case declared_length_memory."""
import argparse
import collections
import os
import random
import re
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_cases, Deadline, Weir, ffmpeg_publish, read_text, wait_media  # noqa: E402
from rtmp_client import (MSG_ABORT, MSG_COMMAND_AMF0, MSG_SET_CHUNK_SIZE, PlayerRecorder, RtmpClient,  # noqa: E402
                         amf_encode, basic_header, chunk_message)

SEED = 20261123
FPS = 25


def check(condition, message):
    if not condition:
        raise AssertionError(message)


# ---- random AMF0 ----
def random_amf(rng, depth=0):
    kind = rng.randrange(14 if depth < 3 else 8)
    if kind == 0:
        return b"\x00" + struct.pack(">d", rng.choice([0.0, -1.0, 1e308, float("nan"), float("inf"), rng.uniform(-1e9, 1e9)]))
    if kind == 1:
        return b"\x01" + bytes([rng.randrange(256)])
    if kind in (2, 3):
        s = rng.randbytes(rng.choice([0, 1, 5, 40, 300]))
        return b"\x02" + struct.pack(">H", len(s)) + s
    if kind == 4:
        return b"\x05"
    if kind == 5:
        return b"\x06"
    if kind == 6:  # a string that claims more than follows
        return b"\x02" + struct.pack(">H", rng.randrange(100, 65536)) + rng.randbytes(rng.randrange(10))
    if kind == 7:  # a marker AMF0 has no use for, or AMF3's switch
        return bytes([rng.choice([0x04, 0x07, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0xFF])]) + rng.randbytes(rng.randrange(8))
    if kind in (8, 9):  # object / ECMA array, maybe unterminated
        out = b"\x03" if kind == 8 else b"\x08" + struct.pack(">I", rng.choice([0, 3, 0xFFFFFFFF]))
        for _ in range(rng.randrange(5)):
            key = rng.randbytes(rng.randrange(12))
            out += struct.pack(">H", len(key)) + key + random_amf(rng, depth + 1)
        return out + (b"\x00\x00\x09" if rng.random() < 0.7 else b"")
    if kind == 10:  # strict array with a count that may lie
        items = [random_amf(rng, depth + 1) for _ in range(rng.randrange(4))]
        count = len(items) if rng.random() < 0.6 else rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 1000000])
        return b"\x0a" + struct.pack(">I", count) + b"".join(items)
    if kind == 11:  # long string
        s = rng.randbytes(rng.randrange(50))
        return b"\x0c" + struct.pack(">I", rng.choice([len(s), 0xFFFFFFFF])) + s
    if kind == 12:  # date
        return b"\x0b" + rng.randbytes(rng.choice([10, 3]))
    # deeply nested objects
    return b"\x03" * rng.randrange(1, 200)


def random_command(rng):
    name = rng.choice(["connect", "createStream", "publish", "play", "deleteStream", "closeStream", "FCPublish",
                       "releaseStream", "pause", "seek", "receiveVideo", "getStreamLength", "_checkbw",
                       "x" * rng.randrange(1, 300), ""])
    out = amf_encode(name) + random_amf(rng)
    for _ in range(rng.randrange(5)):
        out += random_amf(rng)
    if rng.random() < 0.3:  # flip some bits
        b = bytearray(out)
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        out = bytes(b)
    if rng.random() < 0.2:
        out = out[:rng.randrange(1, len(out) + 1)]
    return out


# ---- one hostile connection ----
class Hostile:
    """Opens a connection, plays one scenario, and notes whether the server closed it first."""

    def __init__(self, port, category, seed):
        self.port = port
        self.category = category
        self.rng = random.Random(seed)
        self.sock = None
        self.local_port = None
        self.server_closed = False
        self.note = ""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.local_port = self.sock.getsockname()[1]

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.server_closed = True
            raise

    def _handshake(self):
        self._send(b"\x03" + bytes(1536))
        got = b""
        while len(got) < 1 + 2 * 1536:
            chunk = self.sock.recv(8192)
            if not chunk:
                self.server_closed = True
                raise ConnectionError("closed during handshake")
            got += chunk
        self._send(got[1:1537])

    def _connect_app(self, app="live"):
        cmd = amf_encode("connect") + amf_encode(1) + amf_encode({"app": app, "tcUrl": f"rtmp://127.0.0.1/{app}"})
        self._send(chunk_message(3, MSG_COMMAND_AMF0, 0, cmd))

    def _wait_close(self, seconds):
        """Reads (and drops) what the server sends until it closes or `seconds` pass."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                if not self.sock.recv(65536):
                    self.server_closed = True
                    return
            except socket.timeout:
                return
            except (ConnectionResetError, BrokenPipeError):
                self.server_closed = True
                return

    def run(self, wait_s):
        try:
            self._connect()
            getattr(self, "scenario_" + self.category)()
            self._wait_close(wait_s)
        except (ConnectionError, BrokenPipeError, socket.timeout, OSError) as e:
            self.note = f"{type(e).__name__}: {e}"
        finally:
            if self.sock:
                self.sock.close()
        return self

    # Each scenario sends its bytes; run() then waits for the server to close or not.
    def scenario_garbage(self):
        first = self.rng.choice([b for b in range(256) if b not in (3, 6)])
        self._send(bytes([first]) + self.rng.randbytes(self.rng.randrange(0, 4000)))

    def scenario_rtmpe(self):
        self._send(b"\x06" + self.rng.randbytes(1536))

    def scenario_truncated_handshake(self):
        self._send(b"\x03" + self.rng.randbytes(self.rng.randrange(0, 1536)))

    def scenario_truncated_c2(self):
        self._send(b"\x03" + self.rng.randbytes(1536))
        self._send(self.rng.randbytes(self.rng.randrange(0, 1536)))

    def scenario_random_chunks(self):
        self._handshake()
        for _ in range(self.rng.randrange(1, 6)):
            self._send(self.rng.randbytes(self.rng.randrange(1, 3000)))

    def scenario_random_commands(self):
        self._handshake()
        if self.rng.random() < 0.8:
            self._connect_app(self.rng.choice(["live", "app", "x" * 200, "live/deeper"]))
        for _ in range(self.rng.randrange(1, 10)):
            payload = random_command(self.rng)
            msg_type = self.rng.choice([20, 20, 20, 17, 18, 15])
            if msg_type in (17, 15) and payload:
                payload = b"\x00" + payload
            self._send(chunk_message(self.rng.choice([3, 3, 5, 8]), msg_type, self.rng.choice([0, 1, 2, 0xFFFFFFFF]),
                                     payload, chunk_size=128))

    def scenario_huge_length(self):
        self._handshake()
        self._connect_app()
        for _ in range(self.rng.randrange(1, 3)):
            csid = self.rng.randrange(4, 60)
            length = self.rng.choice([0xFFFFFF, 0xFFFFFE, 0x800000])
            msg_type = self.rng.choice([8, 9, 18, 20, 22])
            header = basic_header(0, csid) + b"\x00\x00\x00" + struct.pack(">I", length)[1:] + bytes([msg_type]) \
                + struct.pack("<I", 1)
            self._send(header + self.rng.randbytes(128))

    def scenario_chunk_size_max(self):
        self._handshake()
        self._send(chunk_message(2, MSG_SET_CHUNK_SIZE, 0, struct.pack(">I", 0x7FFFFFFF)))
        self._connect_app()
        # One chunk carries a whole message now; then a bad one: 0 or the top bit set.
        cmd = amf_encode("createStream") + amf_encode(2) + amf_encode(None)
        self._send(chunk_message(3, MSG_COMMAND_AMF0, 0, cmd + b"", chunk_size=0x7FFFFFFF))
        self._send(chunk_message(2, MSG_SET_CHUNK_SIZE, 0, struct.pack(">I", self.rng.choice([0, 0x80000000, 0xFFFFFFFF]))))

    def scenario_abort_random(self):
        self._handshake()
        self._connect_app()
        for _ in range(self.rng.randrange(1, 20)):
            if self.rng.random() < 0.5:  # a partial message to abort
                csid = self.rng.randrange(4, 64)
                body = self.rng.randbytes(300)
                self._send(chunk_message(csid, 9, 1, body, chunk_size=128)[:12 + 128])
            csid = self.rng.choice([0, 1, 2, 3, self.rng.randrange(4, 64), self.rng.randrange(64, 65600),
                                    self.rng.randrange(1 << 32)])
            self._send(chunk_message(2, MSG_ABORT, 0, struct.pack(">I", csid)))
        self._send(chunk_message(3, MSG_COMMAND_AMF0, 0, amf_encode("createStream") + amf_encode(3) + amf_encode(None)))

    def scenario_bad_headers(self):
        self._handshake()
        kind = self.rng.randrange(4)
        if kind == 0:  # fmt 1-3 on a chunk stream never seen
            self._send(bytes([(self.rng.randrange(1, 4) << 6) | self.rng.randrange(4, 64)]) + self.rng.randbytes(20))
        elif kind == 1:  # 3-byte basic header, extended timestamp, then a type 3 chunk lying about it
            self._send(basic_header(0, 65599) + b"\xff\xff\xff" + struct.pack(">I", 300)[1:] + b"\x09" + b"\x01\x00\x00\x00"
                       + b"\xff\xff\xff\xff" + self.rng.randbytes(128) + basic_header(3, 65599) + self.rng.randbytes(200))
        elif kind == 2:  # a new message on a chunk stream whose message is unfinished
            body = self.rng.randbytes(400)
            self._send(chunk_message(7, 9, 1, body)[:12 + 128] + chunk_message(7, 9, 1, body))
        else:  # too many chunk streams
            for csid in range(64, 200):
                self._send(chunk_message(csid, 9, 1, b"\x27\x01" + self.rng.randbytes(200), chunk_size=128)[:20])

    def scenario_publisher_garbage(self):
        """A publisher of its own name sending random audio/video/data bodies, or of the real name."""
        self._handshake()
        self._connect_app()
        self._send(chunk_message(3, MSG_COMMAND_AMF0, 0, amf_encode("createStream") + amf_encode(2) + amf_encode(None)))
        name = "main" if self.rng.random() < 0.3 else f"junk{self.rng.randrange(1000)}"
        self._send(chunk_message(3, MSG_COMMAND_AMF0, 1, amf_encode("publish") + amf_encode(0) + amf_encode(None)
                                 + amf_encode(name) + amf_encode("live")))
        ts = 0
        for _ in range(self.rng.randrange(5, 60)):
            msg_type = self.rng.choice([8, 9, 9, 18, 22])
            body = self.rng.randbytes(self.rng.randrange(0, 5000))
            if msg_type == 9 and body and self.rng.random() < 0.5:
                body = bytes([self.rng.choice([0x17, 0x27, 0x90, 0x91, 0x93, 0x1C])]) + body[1:]
            if msg_type == 22 and body:  # aggregate: FLV tags that may lie about their sizes
                body = bytes([9]) + self.rng.randbytes(10) + body
            ts = (ts + self.rng.choice([0, 40, -1000, 0x7FFFFFFF])) & 0xFFFFFFFF
            self._send(chunk_message(self.rng.choice([4, 6, 8]), msg_type, 1, body, timestamp=ts, chunk_size=128))

    def scenario_player_garbage(self):
        """A player of the real stream that then sends garbage."""
        self._handshake()
        self._connect_app()
        self._send(chunk_message(3, MSG_COMMAND_AMF0, 0, amf_encode("createStream") + amf_encode(2) + amf_encode(None)))
        self._send(chunk_message(3, MSG_COMMAND_AMF0, 1, amf_encode("play") + amf_encode(0) + amf_encode(None)
                                 + amf_encode("main") + amf_encode(-2)))
        self.sock.settimeout(2)
        try:
            self.sock.recv(4096)
        except socket.timeout:
            pass
        self._send(self.rng.randbytes(self.rng.randrange(1, 2000)))


# Scenarios the server must answer by closing the connection (with a reason in its log).
MUST_CLOSE = {"garbage", "rtmpe", "truncated_handshake", "truncated_c2", "chunk_size_max", "bad_headers"}
CATEGORIES = ["garbage", "rtmpe", "truncated_handshake", "truncated_c2", "random_chunks", "random_commands",
              "huge_length", "chunk_size_max", "abort_random", "bad_headers", "publisher_garbage", "player_garbage"]


def close_reasons(log):
    """local port -> reason, from the kernel's 'closed' lines (info level: closed for a reason)."""
    return {int(m.group(1)): m.group(2) for m in
            re.finditer(r"info\s+kernel\.group\d+: conn=\d+ peer=127\.0\.0\.1:(\d+) listener=rtmp closed: ([^\n]*)", log)}


def contiguous(timestamps, step_ms=40, slack_ms=20):
    gaps = [(a, b) for a, b in zip(timestamps, timestamps[1:]) if b - a > step_ms + slack_ms]
    return gaps


def case_fuzz_connections(_):
    per_category = 20  # 12 categories: 240 connections
    with Weir(threads=2, rtmp={"handshake_timeout": "1s"}) as w:
        url = w.rtmp_url("live/main")
        pub = ffmpeg_publish(url, 120, weir=w)
        wait_media(w.rtmp_port, "live/main")
        player = PlayerRecorder(w.rtmp_port, "live/main").start()
        deadline = Deadline(15)
        while len(player.video()) < FPS and deadline.left():
            time.sleep(0.05)
        master = random.Random(SEED)
        jobs = [(cat, master.randrange(1 << 62)) for cat in CATEGORIES for _ in range(per_category)]
        master.shuffle(jobs)
        fuzz_start = time.time()
        with ThreadPoolExecutor(max_workers=8) as pool:
            done = list(pool.map(lambda job: Hostile(w.rtmp_port, job[0], job[1]).run(1.5), jobs, timeout=120))
        fuzz_end = time.time()
        # The stream keeps going after the storm.
        deadline = Deadline(15)
        while len([v for v in player.video() if v[0] > fuzz_end]) < FPS and deadline.left() and player.error is None:
            time.sleep(0.05)
        check(w.alive(), "weir died under hostile connections")
        check(player.error is None, f"the real player lost its connection: {player.error}")
        # A newcomer can still play.
        late = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            late.connect("live")
            _, status = late.play("main")
            check(status.get("code") == "NetStream.Play.Reset", f"play after the fuzzing: {status}")
            late.wait_for(lambda m: m[0] == 9, timeout=10)
        finally:
            late.close()
        player.stop()
        check(pub.poll() is None, f"the real publisher stopped: {read_text(pub.err_path)[-2000:]}")

        video = [v for v in player.video() if not (v[4] == b"\x17\x00")]
        before = [v for v in video if v[0] < fuzz_start]
        after = [v for v in video if v[0] > fuzz_end]
        during = [v for v in video if fuzz_start <= v[0] <= fuzz_end]
        ts = [v[2] for v in video]
        gaps = contiguous(ts)
        print(f"{len(done)} hostile connections in {fuzz_end - fuzz_start:.1f} s; player: {len(before)} video frames "
              f"before, {len(during)} during, {len(after)} after; timestamps {ts[0]}..{ts[-1]} ms")
        check(before and during and after, "the player's video did not flow before, during and after the fuzzing")
        check(not gaps, f"the player lost video frames (timestamp gaps): {gaps[:10]}")
        check(len(video) >= (ts[-1] - ts[0]) / 40 * 0.98, f"{len(video)} video frames for {ts[-1] - ts[0]} ms")
        check(read_text(pub.err_path).strip() == "", f"publisher errors: {read_text(pub.err_path)[-2000:]}")

        time.sleep(0.5)
        log = w.log()
        reasons = close_reasons(log)
        summary = collections.defaultdict(lambda: [0, 0, 0])  # category -> [count, server closed, with reason]
        missing, kept_open = [], []
        for h in done:
            s = summary[h.category]
            s[0] += 1
            if h.server_closed:
                s[1] += 1
                if h.local_port in reasons:
                    s[2] += 1
                else:
                    missing.append((h.category, h.local_port, h.note))
            elif h.category in MUST_CLOSE:
                kept_open.append((h.category, h.local_port, h.note))
        for cat in CATEGORIES:
            print(f"  {cat:20s} {summary[cat][0]:3d} connections, {summary[cat][1]:3d} closed by weir, "
                  f"{summary[cat][2]:3d} with a logged reason")
        examples = collections.OrderedDict()
        for h in done:
            if h.local_port in reasons and h.category not in examples:
                examples[h.category] = reasons[h.local_port]
        for cat, reason in examples.items():
            print(f"  e.g. {cat}: {reason}")
        check(not kept_open, f"weir kept hostile connections open: {kept_open[:10]}")
        check(not missing, f"connections weir closed without a logged reason: {missing[:10]}")


def case_declared_length_memory(_):
    """A message header declaring 16 MiB costs the server nothing until the bytes arrive.
    One connection opens 20 chunk streams, each declaring a 0xFFFFFF-byte message with 128 bytes
    sent (about 3 KiB on the wire); weir's resident memory must not grow by hundreds of MiB."""
    with Weir(threads=2) as w:
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            time.sleep(0.3)
            before = w.rss_kb()
            sent = 0
            refused = False
            try:
                for csid in range(10, 30):
                    msg_type = 20 if csid % 2 else 9
                    header = basic_header(0, csid) + b"\x00\x00\x00" + struct.pack(">I", 0xFFFFFF)[1:] \
                        + bytes([msg_type]) + struct.pack("<I", 1)
                    data = header + bytes(128)
                    c.sendall(data)
                    sent += len(data)
            except (BrokenPipeError, ConnectionResetError):
                refused = True  # the server closed us mid-way: it refused the abuse
            # Either the server answers, or it refused the abuse and closed this connection with a
            # logged reason; in both cases its memory must not have grown.
            t0 = time.time()
            sid = None
            if not refused:
                try:
                    sid = c.create_stream()
                except (ConnectionError, OSError, TimeoutError):
                    refused = True
            if refused:
                deadline = time.time() + 5
                while "unfinished messages would hold" not in w.log() and time.time() < deadline:
                    time.sleep(0.05)
                check("unfinished messages would hold" in w.log(), "connection dropped without a logged reason")
            stalled_s = time.time() - t0
            time.sleep(0.3)
            after = w.rss_kb()
            check(w.alive(), "weir died")
        finally:
            c.close()
        grown_mib = (after - before) / 1024
        print(f"declared 20 x 16 MiB with {sent} bytes sent: weir RSS {before // 1024} -> {after // 1024} MiB "
              f"(+{grown_mib:.0f} MiB); answer after {stalled_s * 1000:.0f} ms (stream {sid}; None: refused and closed)")
        check(grown_mib < 64, f"weir's memory grew by {grown_mib:.0f} MiB for {sent} bytes a peer sent: "
              f"storage for a declared message length is allocated before its bytes arrive")


CASES = {"fuzz_connections": case_fuzz_connections, "declared_length_memory": case_declared_length_memory}


if __name__ == "__main__":
    run_cases(CASES)
