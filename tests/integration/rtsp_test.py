#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mod_rtsp with real clients: a stream published by ffmpeg over RTMP plays over RTSP in ffmpeg,
GStreamer and VLC (TCP interleaved and UDP), and ffmpeg's and GStreamer's RTSP publish plays over
RTMP. A small RTSP client of our own (RtspClient below) checks what players hide: the SDP field by
field, status codes, the RTP stream's numbering and the RTCP sender reports.

One CTest test per case: rtsp_test.py --case NAME. Nothing here asserts a duration; timeouts only
bound a failing case."""
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (run_cases, Weir, free_port, Deadline, ffmpeg_publish, ffprobe_json, framemd5_media_types,  # noqa: E402
                     framemd5_timebases, parse_framemd5, read_text, run, skip, stop_process, wait_media)

MODULES = ("mod_http", "mod_rtmp", "mod_rtsp", "mod_stats")
FPS = 25


def server(threads=2, **sections):
    """A weir with mod_rtsp (and mod_http + mod_stats on a free port, for the statistics)."""
    http_port = free_port()
    sections.setdefault("http", {})["listen"] = f"127.0.0.1:{http_port}"
    w = Weir(threads=threads, modules=MODULES, **sections)
    w.http_port = http_port
    return w


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class RtspClient:
    """Requests and responses on one TCP connection, and the interleaved frames that follow."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.cseq = 0
        self.session = None

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, method, url, headers=None, body=b""):
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", "User-Agent: weir-test"]
        if self.session:
            lines.append(f"Session: {self.session}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return self.response()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def response(self):
        """The next response (interleaved frames before it are skipped)."""
        while True:
            while self.buf[:1] == b"$":
                while len(self.buf) < 4:
                    self._fill()
                n = struct.unpack(">H", self.buf[2:4])[0]
                while len(self.buf) < 4 + n:
                    self._fill()
                self.buf = self.buf[4 + n:]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        head = self.buf[:end].decode()
        self.buf = self.buf[end + 4:]
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), v.strip())  # the first of repeated headers
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        if "session" in headers:
            self.session = headers["session"].split(";")[0]
        return status, headers, body.decode(errors="replace")

    def interleaved(self, timeout=10):
        """The next interleaved frame: (channel, payload)."""
        self.sock.settimeout(timeout)
        while True:
            if self.buf[:1] == b"$" and len(self.buf) >= 4:
                n = struct.unpack(">H", self.buf[2:4])[0]
                if len(self.buf) >= 4 + n:
                    ch, payload = self.buf[1], self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return ch, payload
            elif self.buf and self.buf[:1] != b"$":
                raise AssertionError(f"expected an interleaved frame, got {self.buf[:40]!r}")
            self._fill()


def parse_sdp(text):
    """{'session': [lines], 'media': [{'m': ..., 'a': {name: value}, 'lines': [...]}, ...]}"""
    out = {"session": [], "media": []}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line.startswith("m="):
            out["media"].append({"m": line[2:], "a": {}, "lines": []})
        target = out["media"][-1] if out["media"] else None
        if target is None:
            out["session"].append(line)
        else:
            target["lines"].append(line)
            if line.startswith("a="):
                name, _, value = line[2:].partition(":")
                target["a"].setdefault(name, value)
    return out


def publish_rtmp(w, name, seconds=60, **kw):
    p = ffmpeg_publish(w.rtmp_url(f"live/{name}"), seconds, weir=w, **kw)
    wait_media(w.rtmp_port, f"live/{name}")
    return p


def framemd5(cmd, timeout):
    r = run(cmd, timeout=timeout)
    return r.stdout


def count_streams(text):
    kinds = framemd5_media_types(text)
    packets = parse_framemd5(text)
    counts = {}
    for p in packets:
        counts[kinds.get(p[0], "?")] = counts.get(kinds.get(p[0], "?"), 0) + 1
    return counts, packets, kinds


def assert_monotonic(packets, what):
    last = {}
    for p in packets:
        check(p[0] not in last or p[1] >= last[p[0]], f"{what}: stream {p[0]} dts went back from {last.get(p[0])} to {p[1]}")
        last[p[0]] = p[1]


def ffmpeg_play(url, transport, seconds=4, extra=()):
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", transport, *extra,
           "-i", url, "-t", str(seconds), "-f", "framemd5", "-"]
    return framemd5(cmd, timeout=40)


# ---- play: RTMP in, RTSP out ----
def check_ffmpeg_plays(transport):
    with server(threads=2) as w:
        publish_rtmp(w, "test")
        text = ffmpeg_play(w.rtsp_url("live/test"), transport)
        counts, packets, _ = count_streams(text)
        print(f"{transport}: {counts}", flush=True)
        # 4 s at 25 fps and 44.1 kHz AAC (43 frames/s): decoded, in order.
        check(counts.get("video", 0) >= 75, f"too few video frames over RTSP/{transport}: {counts}")
        check(counts.get("audio", 0) >= 120, f"too few audio frames over RTSP/{transport}: {counts}")
        assert_monotonic(packets, f"RTSP/{transport}")
        check("playing live/test" in w.log(), "no 'playing' line in the log")


def case_ffmpeg_plays_tcp(_):
    check_ffmpeg_plays("tcp")


def case_ffmpeg_plays_udp(_):
    check_ffmpeg_plays("udp")


def case_ffmpeg_plays_multicast(_):
    """Two players on two groups ask for multicast: the stream leaves once, to its group address."""
    with server(threads=2) as w:
        publish_rtmp(w, "mc")
        # What SETUP answers: the server's group address, this server's ports, the TTL.
        c = RtspClient(w.rtsp_port)
        check(c.request("DESCRIBE", w.rtsp_url("live/mc"))[0] == 200, "DESCRIBE")
        status, headers, _ = c.request("SETUP", w.rtsp_url("live/mc") + "/trackID=1", {"Transport": "RTP/AVP;multicast"})
        check(status == 200, f"SETUP multicast: {status}")
        transport = dict(p.split("=", 1) if "=" in p else (p, "") for p in headers["transport"].split(";"))
        print(headers["transport"], flush=True)
        check("multicast" in transport and transport["destination"].startswith("239.255."), transport)
        check(transport["port"] == f"{w.multicast_port + 2}-{w.multicast_port + 3}", transport)
        check(transport["ttl"] == "1", transport)
        c.close()
        # Both players decode the stream; the log says one group sends it.
        results = [None, None]

        def play(i):
            results[i] = ffmpeg_play(w.rtsp_url("live/mc"), "udp_multicast")

        threads = [threading.Thread(target=play, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for text in results:
            counts, packets, _ = count_streams(text)
            print(f"multicast: {counts}", flush=True)
            check(counts.get("video", 0) >= 50, f"too few video frames over RTSP multicast: {counts}")
            check(counts.get("audio", 0) >= 100, f"too few audio frames over RTSP multicast: {counts}")
            assert_monotonic(packets, "RTSP multicast")
        # One sender for both (they joined within the same run of the stream).
        starts = w.log().count("live/mc multicast to 239.255.")
        check(starts == 1, f"expected one multicast sender for two players, the log has {starts}")


def case_multicast_off(_):
    """multicast_range empty: a client that offers only multicast gets 461, saying why."""
    with server(threads=1, rtsp={"multicast_range": ""}) as w:
        publish_rtmp(w, "nomc")
        c = RtspClient(w.rtsp_port)
        check(c.request("DESCRIBE", w.rtsp_url("live/nomc"))[0] == 200, "DESCRIBE")
        status, _, _ = c.request("SETUP", w.rtsp_url("live/nomc") + "/trackID=0", {"Transport": "RTP/AVP;multicast"})
        check(status == 461, f"SETUP multicast with multicast off: {status}")
        c.close()
        check("multicast is off" in w.log(), "no reason in the log")
        with open(w.conf_path) as f:
            text = f.read().replace("multicast_range = \n", "multicast_range = 10.1.0.0/16\n")
        text = re.sub(r"\nfile = .*\n", "\n", text)  # the run's folder goes with the server
    # A range outside 224.0.0.0/4 is refused at start, naming the key (checked once the server
    # above is gone: --check-config binds the same listeners).
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as bad:
        bad.write(text)
        bad.flush()
        out = subprocess.run([harness.WEIR, "-c", bad.name, "--check-config"], capture_output=True, text=True, timeout=30)
        check(out.returncode == 1 and "multicast_range" in out.stderr and "224.0.0.0/4" in out.stderr,
              f"a bad multicast_range: rc {out.returncode}, {out.stderr[-400:]}")


def case_sdp_fields(_):
    """DESCRIBE's SDP, field by field, against what ffprobe says of the RTMP stream."""
    with server(threads=1) as w:
        publish_rtmp(w, "sdp", size="640x360")
        c = RtspClient(w.rtsp_port)
        status, headers, body = c.request("OPTIONS", w.rtsp_url("live/sdp"))
        check(status == 200 and "DESCRIBE" in headers.get("public", ""), f"OPTIONS: {status} {headers}")
        status, headers, body = c.request("DESCRIBE", w.rtsp_url("live/sdp"), {"Accept": "application/sdp"})
        check(status == 200, f"DESCRIBE: {status}")
        check(headers.get("content-type") == "application/sdp", headers)
        check(headers.get("content-base", "").rstrip("/").endswith("/live/sdp"), headers)
        print(body, flush=True)
        sdp = parse_sdp(body)
        check(sdp["session"][0] == "v=0", sdp["session"])
        check(any(line.startswith("o=") for line in sdp["session"]), "no o= line")
        check("a=control:*" in sdp["session"], "no session control")
        check(len(sdp["media"]) == 2, f"expected video and audio, got {sdp['media']}")
        video, audio = sdp["media"]
        check(video["m"] == "video 0 RTP/AVP 96", video["m"])
        check(video["a"]["rtpmap"] == "96 H264/90000", video["a"])
        check(video["a"]["control"] == "trackID=0", video["a"])
        fmtp = dict(kv.split("=", 1) for kv in video["a"]["fmtp"].split(" ", 1)[1].split(";"))
        check(fmtp["packetization-mode"] == "1", fmtp)
        sps_b64, pps_b64 = fmtp["sprop-parameter-sets"].split(",")
        sps, pps = base64.b64decode(sps_b64), base64.b64decode(pps_b64)
        check(sps[0] & 0x1F == 7 and pps[0] & 0x1F == 8, "sprop-parameter-sets are not SPS, PPS")
        check(fmtp["profile-level-id"].lower() == sps[1:4].hex(), f"profile-level-id {fmtp['profile-level-id']} vs SPS {sps[1:4].hex()}")
        check(audio["m"] == "audio 0 RTP/AVP 97", audio["m"])
        check(audio["a"]["rtpmap"] == "97 MPEG4-GENERIC/44100/1", audio["a"])
        check(audio["a"]["control"] == "trackID=1", audio["a"])
        afmtp = dict(kv.split("=", 1) for kv in audio["a"]["fmtp"].split(" ", 1)[1].split(";"))
        check(afmtp["mode"] == "AAC-hbr" and afmtp["sizelength"] == "13" and afmtp["indexlength"] == "3", afmtp)
        # AAC-LC (2), 44.1 kHz (index 4), mono (1): 0x1208 (ffmpeg adds an SBR sync extension after it).
        check(afmtp["config"].lower().startswith("1208"), afmtp)
        c.close()


def case_rtp_stream(_):
    """Our own client: SETUP both tracks interleaved, PLAY, then read RTP and RTCP: sender reports
    first, sequence numbers from RTP-Info without gaps, a key frame (IDR) first on video."""
    with server(threads=1) as w:
        publish_rtmp(w, "rtp")
        c = RtspClient(w.rtsp_port)
        base = w.rtsp_url("live/rtp")
        status, headers, _ = c.request("DESCRIBE", base)
        check(status == 200, f"DESCRIBE {status}")
        for track, channels in ((0, "0-1"), (1, "2-3")):
            status, headers, _ = c.request("SETUP", f"{base}/trackID={track}",
                                           {"Transport": f"RTP/AVP/TCP;unicast;interleaved={channels}"})
            check(status == 200, f"SETUP {track}: {status}")
            check(f"interleaved={channels}" in headers["transport"], headers["transport"])
        status, headers, _ = c.request("PLAY", base + "/", {"Range": "npt=0.000-"})
        check(status == 200, f"PLAY {status}")
        info = {}
        for part in headers["rtp-info"].split(","):
            fields = dict(f.split("=", 1) for f in part.split(";"))
            info[int(fields["url"].rsplit("=", 1)[1])] = (int(fields["seq"]), int(fields["rtptime"]))
        check(set(info) == {0, 1}, headers["rtp-info"])
        seen_sr, expected, first_video = set(), dict(info), None
        packets = 0
        d = Deadline(15)
        while packets < 400 and d.left():
            ch, payload = c.interleaved()
            if ch % 2 == 1:
                check(payload[1] == 200, f"RTCP on channel {ch} is not a sender report first: type {payload[1]}")
                seen_sr.add(ch // 2)
                continue
            track = ch // 2
            check(track in seen_sr, f"RTP on track {track} before its sender report")
            seq, ts = struct.unpack(">HI", payload[2:8])
            check(seq == expected[track][0] % 65536, f"track {track}: sequence {seq}, expected {expected[track][0]}")
            if packets < 2 and track in info and expected[track] == info[track]:
                check(ts == info[track][1], f"track {track}: first timestamp {ts}, RTP-Info said {info[track][1]}")
            expected[track] = (seq + 1, ts)
            if track == 0 and first_video is None:
                nal = payload[12] & 0x1F
                fu_type = payload[13] & 0x1F if nal == 28 else None
                first_video = nal
                # The GOP starts at its key frame: SPS/PPS in band (or STAP-A holding them), or the IDR.
                check(nal in (7, 24) or fu_type == 5 or nal == 5, f"first video NAL type {nal} (FU type {fu_type})")
            packets += 1
        check(packets >= 400, f"only {packets} RTP packets")
        status, _, _ = c.request("TEARDOWN", base)
        check(status == 200, f"TEARDOWN {status}")
        c.close()


def case_av_sync(_):
    """ffprobe's start times of audio and video over RTSP (synced by RTCP SR) within 50 ms."""
    with server(threads=1) as w:
        publish_rtmp(w, "sync")
        for transport in ("tcp", "udp"):
            info = ffprobe_json(w.rtsp_url("live/sync"), "-rtsp_transport", transport, "-show_entries",
                                "stream=codec_type,start_time")
            starts = {s["codec_type"]: float(s["start_time"]) for s in info["streams"]}
            print(transport, starts, flush=True)
            check(set(starts) == {"video", "audio"}, starts)
            check(abs(starts["video"] - starts["audio"]) <= 0.05, f"{transport}: start times apart: {starts}")


def gst_available(*elements):
    for e in elements:
        if subprocess.run(["gst-inspect-1.0", e], capture_output=True).returncode != 0:
            skip(f"GStreamer element {e} is missing")


def record_with_gstreamer(w, url, protocols, out, seconds=5):
    p = w.spawn(["gst-launch-1.0", "-e", "-q", "rtspsrc", f"location={url}", f"protocols={protocols}", "latency=200",
                 "name=src", "src.", "!", "rtph264depay", "!", "h264parse", "!", "matroskamux", "name=mux", "!",
                 "filesink", f"location={out}",
                 "src.", "!", "rtpmp4gdepay", "!", "aacparse", "!", "mux."],
                stdout=subprocess.DEVNULL, stderr=open(w.path(f"gst-{protocols}.err"), "w"))
    time.sleep(seconds)
    stop_process(p)
    return ffprobe_json(out, "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames")


def check_gstreamer_plays(protocols):
    gst_available("rtspsrc", "rtph264depay", "rtpmp4gdepay", "matroskamux")
    with server(threads=2) as w:
        publish_rtmp(w, "gst")
        info = record_with_gstreamer(w, w.rtsp_url("live/gst"), protocols, w.path(f"gst-{protocols}.mkv"))
        frames = {s["codec_type"]: int(s.get("nb_read_frames", 0)) for s in info["streams"]}
        print(protocols, frames, flush=True)
        check(frames.get("video", 0) >= 50 and frames.get("audio", 0) >= 80, f"GStreamer over {protocols}: {frames}")


def case_gstreamer_plays_tcp(_):
    check_gstreamer_plays("tcp")


def case_gstreamer_plays_udp(_):
    check_gstreamer_plays("udp")


def case_gstreamer_plays_multicast(_):
    check_gstreamer_plays("udp-mcast")


def as_nobody(cmd):
    """VLC refuses to run as root."""
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", *cmd] if os.geteuid() == 0 else cmd


def check_vlc_plays(tcp):
    if not os.path.exists("/usr/bin/cvlc"):
        skip("VLC (vlc-bin) is not installed")
    # VLC's RTSP client is its live555 module; Debian 12 does not package live555, so its VLC has none.
    modules = run(as_nobody(["cvlc", "--list"]), timeout=30, check=False, env={**os.environ, "HOME": "/tmp"}).stdout
    if "live555" not in modules:
        skip("this VLC has no RTSP client (its live555 module is missing: Debian does not package live555)")
    with server(threads=2) as w:
        publish_rtmp(w, "vlc")
        out = w.path("vlc.ts")
        # VLC refuses to run as root: run it as nobody, writing into a folder it may write.
        os.chmod(w.dir, 0o777)
        cmd = ["cvlc", "-q", "--intf", "dummy", "--no-video-title-show", w.rtsp_url("live/vlc"),
               "--sout", f"#std{{access=file,mux=ts,dst={out}}}", "--run-time", "6", "vlc://quit"]
        if tcp:
            cmd.insert(1, "--rtsp-tcp")
        run(as_nobody(cmd), timeout=40, check=False, env={**os.environ, "HOME": w.dir})
        check(os.path.exists(out) and os.path.getsize(out) > 0, f"VLC wrote nothing: {read_text(w.log_path)[-2000:]}")
        info = ffprobe_json(out, "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames")
        frames = {s["codec_type"]: int(s.get("nb_read_frames", 0)) for s in info["streams"]}
        print("vlc", "tcp" if tcp else "udp", frames, flush=True)
        check(frames.get("video", 0) >= 50 and frames.get("audio", 0) >= 80, f"VLC: {frames}")


def case_vlc_plays_tcp(_):
    check_vlc_plays(True)


def case_vlc_plays_udp(_):
    check_vlc_plays(False)


# ---- publish: RTSP in, RTMP out ----
def ffmpeg_rtsp_publish(w, name, transport, seconds=60):
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
           "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
           "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(2 * FPS),
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
           "-f", "rtsp", "-rtsp_transport", transport, w.rtsp_url(f"live/{name}")]
    return w.spawn(cmd, stdout=subprocess.DEVNULL, stderr=open(w.path(f"ffmpeg-rtsp-{name}.err"), "w"))


def check_ffmpeg_publishes(transport):
    with server(threads=2) as w:
        ffmpeg_rtsp_publish(w, "cam", transport)
        w.wait_log(r"publishing live/cam over RTSP")
        wait_media(w.rtmp_port, "live/cam")
        text = framemd5(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", w.rtmp_url("live/cam"),
                         "-t", "4", "-f", "framemd5", "-"], timeout=40)
        counts, packets, _ = count_streams(text)
        print(transport, counts, flush=True)
        check(counts.get("video", 0) >= 75 and counts.get("audio", 0) >= 120, f"RTSP/{transport} publish -> RTMP: {counts}")
        assert_monotonic(packets, "RTMP from an RTSP publisher")
        # And back out over RTSP, to the other transport.
        other = "udp" if transport == "tcp" else "tcp"
        counts, _, _ = count_streams(ffmpeg_play(w.rtsp_url("live/cam"), other, seconds=3))
        check(counts.get("video", 0) >= 50, f"RTSP/{transport} publish -> RTSP/{other}: {counts}")


def case_ffmpeg_publishes_tcp(_):
    check_ffmpeg_publishes("tcp")


def case_ffmpeg_publishes_udp(_):
    check_ffmpeg_publishes("udp")


def case_publish_b_frames(_):
    """`ffmpeg -re -i x.mp4 -c copy -f rtsp` with B-frames: RTP carries presentation times only;
    the decode times Weir rebuilds rise and never pass them, so an RTMP player sees no timestamp
    complaint and every frame."""
    with server(threads=1) as w:
        mp4 = w.path("x.mp4")
        run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size=320x240:rate={FPS}", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
             "-t", "20", "-c:v", "libx264", "-preset", "medium", "-bf", "3", "-g", str(2 * FPS), "-pix_fmt", "yuv420p",
             "-c:a", "aac", mp4], timeout=60)
        w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", mp4, "-c", "copy",
                 "-f", "rtsp", w.rtsp_url("live/bf")], stdout=subprocess.DEVNULL, stderr=open(w.path("bf.err"), "w"))
        w.wait_log(r"publishing live/bf over RTSP")
        time.sleep(3)  # past the first GOP, where decode times settle
        r = run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-i", w.rtmp_url("live/bf"), "-t", "4",
                 "-f", "framemd5", "-"], timeout=40)
        counts, packets, _ = count_streams(r.stdout)
        print(counts, r.stderr[-500:], flush=True)
        check(counts.get("video", 0) >= 95, f"frames lost: {counts}")
        assert_monotonic(packets, "RTMP of an RTSP publisher with B-frames")
        check("Invalid timestamps" not in r.stderr and "Negative cts" not in r.stderr, r.stderr[-2000:])


def case_gstreamer_publishes(_):
    gst_available("rtspclientsink", "x264enc", "avenc_aac")
    with server(threads=2) as w:
        w.spawn(["gst-launch-1.0", "-q", "rtspclientsink", f"location={w.rtsp_url('live/gstcam')}", "protocols=tcp",
                 "name=sink", "videotestsrc", "is-live=true", "!", f"video/x-raw,width=320,height=240,framerate={FPS}/1",
                 "!", "x264enc", "tune=zerolatency", "speed-preset=ultrafast", f"key-int-max={2 * FPS}", "!",
                 "video/x-h264,profile=baseline", "!", "sink.",
                 "audiotestsrc", "is-live=true", "!", "audioconvert", "!", "avenc_aac", "!", "sink."],
                stdout=subprocess.DEVNULL, stderr=open(w.path("gst-publish.err"), "w"))
        w.wait_log(r"publishing live/gstcam over RTSP", timeout=20)
        wait_media(w.rtmp_port, "live/gstcam")
        counts, packets, _ = count_streams(framemd5(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", w.rtmp_url("live/gstcam"), "-t", "3",
             "-f", "framemd5", "-"], timeout=40))
        print("gstreamer publish", counts, flush=True)
        check(counts.get("video", 0) >= 50 and counts.get("audio", 0) >= 80, counts)


def case_codecs_rtsp_in_rtsp_out(_):
    """HEVC + Opus, and H.264 with G.711 A-law and mu-law: published over RTSP, played over RTSP."""
    with server(threads=2) as w:
        for name, video, audio in (("hevc", ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"],
                                    ["-c:a", "libopus", "-ar", "48000"]),
                                   ("alaw", ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1"]),
                                   ("mulaw", ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"])):
            cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
                   "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                   "-t", "30", *video, "-g", str(2 * FPS), "-pix_fmt", "yuv420p", *audio,
                   "-f", "rtsp", "-rtsp_transport", "tcp", w.rtsp_url(f"live/{name}")]
            p = w.spawn(cmd, stdout=subprocess.DEVNULL, stderr=open(w.path(f"ffmpeg-{name}.err"), "w"))
            w.wait_log(rf"publishing live/{name} over RTSP")
            info = ffprobe_json(w.rtsp_url(f"live/{name}"), "-rtsp_transport", "tcp", "-show_entries",
                                "stream=codec_type,codec_name,sample_rate")
            codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
            print(name, codecs, flush=True)
            want = {"hevc": {"video": "hevc", "audio": "opus"}, "alaw": {"video": "h264", "audio": "pcm_alaw"},
                    "mulaw": {"video": "h264", "audio": "pcm_mulaw"}}[name]
            check(codecs == want, f"{name}: {codecs}, expected {want}")
            counts, _, _ = count_streams(ffmpeg_play(w.rtsp_url(f"live/{name}"), "tcp", seconds=3))
            check(counts.get("video", 0) >= 50 and counts.get("audio", 0) >= 50, f"{name}: {counts}")
            stop_process(p)


# ---- bad input and states ----
def case_statuses(_):
    with server(threads=1) as w:
        publish_rtmp(w, "st")
        base = w.rtsp_url("live/st")
        c = RtspClient(w.rtsp_port)
        check(c.request("DESCRIBE", w.rtsp_url("live/nobody"))[0] == 404, "DESCRIBE of a missing stream")
        check(c.request("PLAY", base)[0] == 454, "PLAY without a session")
        check(c.request("FLY", base)[0] == 501, "unknown method")
        check(c.request("DESCRIBE", base)[0] == 200, "DESCRIBE")
        check(c.request("SETUP", base + "/trackID=7", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})[0] == 404,
              "SETUP of a missing track")
        check(c.request("SETUP", base + "/trackID=0", {"Transport": "RTP/AVP;unicast"})[0] == 461,
              "SETUP of UDP without client_port")
        check(c.request("SETUP", base + "/trackID=0", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})[0] == 200,
              "SETUP")
        c.session = "not-ours"
        check(c.request("PLAY", base)[0] == 454, "PLAY of another session")
        c.close()
        # No CSeq: 400, the connection stays usable.
        c = RtspClient(w.rtsp_port)
        c.send_raw(b"OPTIONS * RTSP/1.0\r\n\r\n")
        check(c.response()[0] == 400, "a request without CSeq")
        check(c.request("OPTIONS", "*")[0] == 200, "OPTIONS after a 400")
        c.close()


def case_bad_input_costs_nothing_else(_):
    """Garbage, oversized headers and wrong channels close that connection alone; a player keeps going."""
    with server(threads=1) as w:
        publish_rtmp(w, "bad")
        player = w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
                          "-i", w.rtsp_url("live/bad"), "-t", "8", "-f", "framemd5", w.path("player.md5")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        for junk in (b"\x00\x01\x02garbage that is not RTSP\r\n\r\n", b"DESCRIBE rtsp://x/y RTSP/1.0\r\nCSeq: 1\r\nX: " +
                     b"a" * 70000 + b"\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", b"$\x07\xff\xffshort"):
            s = socket.create_connection(("127.0.0.1", w.rtsp_port), timeout=5)
            try:
                s.sendall(junk)
                s.settimeout(5)
                got = b""
                while True:
                    data = s.recv(4096)
                    if not data:
                        break
                    got += data
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass
            finally:
                s.close()
        # A publisher whose SDP is broken.
        c = RtspClient(w.rtsp_port)
        status, _, _ = c.request("ANNOUNCE", w.rtsp_url("live/broken"), {"Content-Type": "application/sdp"},
                                 b"v=0\r\nm=video nonsense\r\n")
        check(status in (400, 415), f"ANNOUNCE of a broken SDP: {status}")
        c.close()
        player.wait(timeout=30)
        counts, _, _ = count_streams(read_text(w.path("player.md5")))
        check(counts.get("video", 0) >= 150, f"the honest player suffered: {counts}")
        check(w.alive(), "weir died")


def case_session_timeout(_):
    """A client that sets up and never plays is closed after session_timeout."""
    with server(threads=1, rtsp={"session_timeout": "2s"}) as w:
        publish_rtmp(w, "idle")
        c = RtspClient(w.rtsp_port)
        base = w.rtsp_url("live/idle")
        c.request("DESCRIBE", base)
        c.request("SETUP", base + "/trackID=0", {"Transport": "RTP/AVP;unicast;client_port=40000-40001"})
        started = time.time()
        c.sock.settimeout(15)
        try:
            while c.sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        print(f"closed after {time.time() - started:.1f} s", flush=True)
        w.wait_log(r"RTSP session timed out")


def case_auth_from_script(_):
    """scripts/examples/rtsp_auth.lua: no credentials get a 401 with Digest and Basic challenges;
    ffmpeg plays with user:password in the URL (it answers the Digest challenge); a wrong password
    is refused; Basic credentials are checked by the script."""
    examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "examples")
    http_port = free_port()
    with Weir(threads=1, modules=("mod_http", "mod_lua", "mod_rtmp", "mod_rtsp", "mod_stats"),
              http={"listen": f"127.0.0.1:{http_port}"},
              lua={"scripts": examples, "app.live": "rtsp_auth.lua", "env.users": "alice:secret"}) as w:
        publish_rtmp(w, "locked")
        c = RtspClient(w.rtsp_port)
        status, headers, _ = c.request("DESCRIBE", w.rtsp_url("live/locked"))
        check(status == 401, f"DESCRIBE without credentials: {status}")
        check(headers.get("www-authenticate", "").startswith("Digest"), headers)
        basic = base64.b64encode(b"alice:secret").decode()
        status, _, body = c.request("DESCRIBE", w.rtsp_url("live/locked"), {"Authorization": f"Basic {basic}"})
        check(status == 200 and "m=video" in body, f"DESCRIBE with Basic credentials: {status}")
        c.close()
        c = RtspClient(w.rtsp_port)
        wrong = base64.b64encode(b"alice:nope").decode()
        status, _, _ = c.request("DESCRIBE", w.rtsp_url("live/locked"), {"Authorization": f"Basic {wrong}"})
        check(status == 401, f"DESCRIBE with a wrong Basic password: {status}")
        c.close()
        url = w.rtsp_url("live/locked").replace("rtsp://", "rtsp://alice:secret@")
        counts, _, _ = count_streams(ffmpeg_play(url, "tcp", seconds=2))
        check(counts.get("video", 0) >= 25, f"ffmpeg with Digest credentials: {counts}")
        bad = run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
                   "-i", url.replace(":secret@", ":wrong@"), "-t", "1", "-f", "null", "-"], timeout=30, check=False)
        check(bad.returncode != 0 and "401" in bad.stderr, f"ffmpeg with a wrong password: {bad.returncode} {bad.stderr[-300:]}")


def case_stats_list_rtsp(_):
    with server(threads=2) as w:
        publish_rtmp(w, "st")
        players = [w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", t,
                            "-i", w.rtsp_url("live/st"), "-f", "null", "-"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) for t in ("tcp", "udp")]
        d = Deadline(20)
        s = None
        while d.left():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{w.http_port}/api/v1/streams/live/st", timeout=5) as r:
                    s = json.loads(r.read())
                if s["players"]["by_protocol"].get("rtsp") == 2:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        check(s and s["players"]["by_protocol"].get("rtsp") == 2, f"stats: {s and s['players']}")
        for p in players:
            stop_process(p)


# ---- pull: a camera (GStreamer's RTSP server, tests/integration/rtsp_camera.py) pulled on demand ----
CAMERA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtsp_camera.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gi (a pyenv python may lack it)


def start_camera(w, port, digest=None):
    probe = run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"], timeout=20, check=False)
    if probe.returncode != 0:
        skip("no python3-gi with GstRtspServer (Debian: python3-gi, gir1.2-gst-rtsp-server-1.0)")
    gst_available("x264enc", "voaacenc", "rtph264pay", "rtpmp4gpay")  # skips when one is missing
    cmd = [SYSTEM_PYTHON, CAMERA, str(port)] + (["--digest", digest] if digest else [])
    cam = w.spawn(cmd, stdout=subprocess.PIPE, stderr=open(w.path(f"camera-{len(w.children)}.err"), "w"), text=True)
    check(cam.stdout.readline().strip() == "ready", "the camera did not start")
    return cam


def check_pulled_plays(w, url, what, seconds=3):
    counts, packets, _ = count_streams(ffmpeg_play(url, "tcp", seconds=seconds) if url.startswith("rtsp")
                                       else framemd5(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url,
                                                      "-t", str(seconds), "-f", "framemd5", "-"], timeout=40))
    print(what, counts, flush=True)
    check(counts.get("video", 0) >= 10 * seconds and counts.get("audio", 0) >= 20 * seconds, f"{what}: {counts}")
    assert_monotonic(packets, what)


def case_pull_camera(_):
    cam_port = free_port()
    with server(threads=2, rtsp={"pull.live/cam": f"rtsp://127.0.0.1:{cam_port}/live/src", "pull_idle_timeout": "2s"}) as w:
        cam = start_camera(w, cam_port)
        # Nobody publishes live/cam: an RTMP player starts the pull (the kernel's demand hook) and
        # waits for it; after the idle timeout it stops; an RTSP player starts it again.
        check_pulled_plays(w, w.rtmp_url("live/cam"), "RTMP player starting the pull")
        w.wait_log(r"pull live/cam: playing from rtsp://127\.0\.0\.1")
        w.wait_log(r"pull live/cam: stopped: no player for 2000 ms", timeout=30)
        check_pulled_plays(w, w.rtsp_url("live/cam"), "RTSP player starting the pull")
        # An RTSP player keeps it running; an RTMP player plays the same stream meanwhile.
        keeper = w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
                          "-i", w.rtsp_url("live/cam"), "-f", "null", "-"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        wait_media(w.rtmp_port, "live/cam")
        check_pulled_plays(w, w.rtmp_url("live/cam"), "RTMP player of the pull")
        # An RTMP player across the camera's restart: its timestamps keep rising over the gap.
        across_path = w.path("across.framemd5")
        across = w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", w.rtmp_url("live/cam"),
                          "-f", "framemd5", "-flush_packets", "1", across_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        d = Deadline(20)
        while d.left() and count_streams(read_text(across_path))[0].get("video", 0) < 25:
            time.sleep(0.2)
        # The camera goes away and comes back on the same port: the pull reconnects.
        stop_process(cam)
        w.wait_log(r"pull live/cam: camera lost")
        cam = start_camera(w, cam_port)
        w.wait_log(r"pull live/cam: reconnecting to", timeout=40)
        d = Deadline(40)
        while d.left() and len(re.findall(r"pull live/cam: playing from", w.log())) < 3:
            time.sleep(0.2)
        check(len(re.findall(r"pull live/cam: playing from", w.log())) >= 3, "the pull did not play again")
        check_pulled_plays(w, w.rtmp_url("live/cam"), "RTMP player after the reconnect")
        check(keeper.poll() is None, "the RTSP player did not outlive the camera's restart")
        before = count_streams(read_text(across_path))[0].get("video", 0)
        d = Deadline(20)
        while d.left() and count_streams(read_text(across_path))[0].get("video", 0) < before + 25:
            time.sleep(0.2)
        stop_process(across)
        counts, packets, _ = count_streams(read_text(across_path))
        print("RTMP player across the restart", counts, flush=True)
        check(counts.get("video", 0) >= before + 25, f"the RTMP player got no frames after the reconnect: {counts}")
        assert_monotonic(packets, "RTMP player across the camera's restart")
        # The last player leaves: past pull_idle_timeout the pull stops.
        stop_process(keeper)
        d = Deadline(30)
        while d.left() and len(re.findall(r"pull live/cam: stopped: no player for 2000 ms", w.log())) < 2:
            time.sleep(0.2)
        check(len(re.findall(r"pull live/cam: stopped: no player", w.log())) >= 2, "the pull did not stop when idle")
        stop_process(cam)


def case_pull_camera_digest(_):
    cam_port = free_port()
    with server(threads=2, rtsp={"pull.live/cam": f"rtsp://admin:s%40cret@127.0.0.1:{cam_port}/live/src"}) as w:
        start_camera(w, cam_port, digest="admin:s@cret")
        check_pulled_plays(w, w.rtsp_url("live/cam"), "RTSP player of a Digest camera")
        w.wait_log(r"pull live/cam: the camera asks for Digest authentication")
        check("s@cret" not in w.log() and "s%40cret" not in w.log(), "the camera's password is in the log")


def case_pull_from_script(_):
    """scripts/examples/camera_pull.lua: on_stream_not_found names the camera to pull
    (weir.accept{pull = url}); RTMP and RTSP players of the name play it, the pull stops when idle
    and the next player asks again; a name without a camera and a URL nobody pulls are 404s that
    say why."""
    examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "examples")
    cam_port = free_port()
    http_port = free_port()
    cameras = f"door=rtsp://127.0.0.1:{cam_port}/live/src gate=srt://127.0.0.1:9/x"
    with Weir(threads=2, modules=("mod_http", "mod_lua", "mod_rtmp", "mod_rtsp", "mod_stats"),
              http={"listen": f"127.0.0.1:{http_port}"}, rtsp={"pull_idle_timeout": "2s"},
              lua={"scripts": examples, "app.live": "camera_pull.lua", "env.cameras": cameras}) as w:
        start_camera(w, cam_port)
        check_pulled_plays(w, w.rtmp_url("live/door"), "RTMP player of the script's camera")
        w.wait_log(r"pulling door for 127\.0\.0\.1")
        w.wait_log(r"pull live/door: playing from rtsp://127\.0\.0\.1")
        w.wait_log(r"pull live/door: stopped: no player for 2000 ms", timeout=30)
        # The RTSP DESCRIBE of the name asks the script too, and waits for the camera.
        check_pulled_plays(w, w.rtsp_url("live/door"), "RTSP player of the script's camera")
        check(len(re.findall(r"pulling door for", w.log())) == 2, "the second player did not ask the script")
        c = RtspClient(w.rtsp_port)
        status, _, _ = c.request("DESCRIBE", w.rtsp_url("live/window"))
        check(status == 404, f"DESCRIBE of a name without a camera: {status}")
        w.wait_log(r"live/window: 404 window is neither published nor a camera")
        status, _, _ = c.request("DESCRIBE", w.rtsp_url("live/gate"))
        check(status == 404, f"DESCRIBE of a camera nobody can pull: {status}")
        w.wait_log(r"live/gate: 404 stream live/gate is not published, and no module pulls srt://127\.0\.0\.1:9/x")
        c.close()
        r = run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", w.rtmp_url("live/window"),
                 "-t", "1", "-f", "null", "-"], timeout=30, check=False)
        check(r.returncode != 0, "an RTMP player of a name without a camera played")
        w.wait_log(r"window is neither published nor a camera")
        # The camera still plays for the next player.
        check_pulled_plays(w, w.rtmp_url("live/door"), "RTMP player after the refusals", seconds=2)


def case_pull_bad_url(_):
    w = server(threads=1, rtsp={"pull.live/cam": "http://camera/x"})
    with open(w.conf_path) as f:
        check("pull.live/cam" in f.read(), "config not written")
    r = run([harness.WEIR, "-c", w.conf_path], timeout=20, check=False)
    check(r.returncode != 0 and "pull.live/cam" in r.stderr and "weir.conf:" in r.stderr, f"bad pull URL: {r.stderr}")


if __name__ == "__main__":
    run_cases({name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")})
