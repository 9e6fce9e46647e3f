# SPDX-License-Identifier: Apache-2.0
"""mod_stats against a real weir: figures measured from a stream of known bitrate and frame rate,
players counted as they come and go, /metrics checked with promtool, bad requests and config."""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Weir, ffmpeg_publish_cmd, free_port, read_text, run, run_cases, skip,  # noqa: E402
                     stop_process, wait_media)

MODULES = ("mod_http", "mod_rtmp", "mod_stats")


def stats_server(**sections):
    http_port = free_port()
    sections.setdefault("http", {})["listen"] = f"127.0.0.1:{http_port}"
    w = Weir(modules=MODULES, **sections)
    w.http = f"http://127.0.0.1:{http_port}"
    return w


def get(w, path, expect=200):
    try:
        with urllib.request.urlopen(w.http + path, timeout=10) as r:
            status, body, ctype = r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, body, ctype = e.code, e.read().decode(), e.headers.get("Content-Type", "")
    assert status == expect, f"GET {path}: {status}, expected {expect}: {body[:500]}"
    return json.loads(body) if ctype.startswith("application/json") else body


def post(w, path, token=None, expect=200):
    request = urllib.request.Request(w.http + path, data=b"", method="POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            status, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    assert status == expect, f"POST {path}: {status}, expected {expect}: {body[:500]}"
    return json.loads(body)


def poll(w, path, predicate, timeout=20, what=""):
    """GETs path until predicate(json) holds; returns the last answer."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = get(w, path)
        except AssertionError:
            last = None  # 503 before the first sample, 404 before the stream exists
        if last is not None and predicate(last):
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what or path} not reached within {timeout} s; last answer: {json.dumps(last)[:2000]}")


def flv_truth(path):
    """The true figures of an FLV file, from its tags: payload bytes (tag bodies, sequence headers
    excluded, as the server counts them) over the media duration, and the video frame rate."""
    data = open(path, "rb").read()
    assert data[:3] == b"FLV", path
    pos = struct.unpack(">I", data[5:9])[0] + 4
    tracks = {8: [0, 0, None, None], 9: [0, 0, None, None]}  # bytes, frames, first ts, last ts
    while pos + 11 <= len(data):
        kind = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        body = data[pos + 11:pos + 11 + size]
        pos += 11 + size + 4
        if kind not in tracks or len(body) < 2:
            continue
        if kind == 9 and (body[0] & 0x0F) == 7 and body[1] != 1:
            continue  # AVC sequence header or end of sequence
        if kind == 8 and (body[0] >> 4) == 10 and body[1] == 0:
            continue  # AAC AudioSpecificConfig
        t = tracks[kind]
        t[0] += len(body)
        t[1] += 1
        t[2] = ts if t[2] is None else t[2]
        t[3] = ts
    audio, video = tracks[8], tracks[9]
    return {"audio_bps": audio[0] * 8000 / (audio[3] - audio[2]),
            "video_bps": video[0] * 8000 / (video[3] - video[2]),
            "frame_rate": (video[1] - 1) * 1000 / (video[3] - video[2])}


def make_flv(path, seconds, size, rate, video_kbps):
    # Constant bitrate (x264 HRD with filler) so that any window of the stream has the file's rate.
    run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-g", str(rate), "-b:v", f"{video_kbps}k", "-minrate", f"{video_kbps}k", "-maxrate", f"{video_kbps}k",
         "-bufsize", f"{video_kbps // 2}k", "-x264-params", "nal-hrd=cbr",
         "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-f", "flv", path], timeout=120)


def within(actual, expected, tolerance, what):
    assert abs(actual - expected) <= tolerance * expected, \
        f"{what}: reported {actual}, true {expected:.1f} (more than {tolerance:.0%} apart)"


def case_figures(_):
    with stats_server(stats={"rate_window": "8s"}) as w:
        flv = w.path("known.flv")
        make_flv(flv, 40, "640x360", 30, 1000)
        truth = flv_truth(flv)
        url = w.rtmp_url("live/known")
        w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", flv,
                 "-c", "copy", "-f", "flv", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_media(w.rtmp_port, "live/known")
        # The rate window filled with this publication's media.
        time.sleep(10)
        s = poll(w, "/api/v1/streams/live/known", lambda s: s["video"]["frames"] > 0, what="live/known")
        print(json.dumps({k: s[k] for k in ("video", "audio", "bitrate_in", "players")}), flush=True)
        assert s["app"] == "live" and s["name"] == "known" and s["is_published"], s
        assert s["publisher"]["protocol"] == "rtmp" and s["publisher"]["address"].startswith("127.0.0.1:"), s
        assert s["video"]["codec"] == "h264" and s["audio"]["codec"] == "aac", s
        assert (s["video"]["width"], s["video"]["height"]) == (640, 360), s["video"]
        assert (s["audio"]["sample_rate"], s["audio"]["channels"]) == (44100, 2), s["audio"]
        within(s["video"]["frame_rate"], truth["frame_rate"], 0.05, "frame rate")
        within(s["video"]["bitrate"], truth["video_bps"], 0.05, "video bitrate")
        within(s["audio"]["bitrate"], truth["audio_bps"], 0.05, "audio bitrate")
        within(s["bitrate_in"], truth["video_bps"] + truth["audio_bps"], 0.05, "bitrate in")
        within(s["video"]["key_frame_interval_ms"], 1000, 0.05, "key-frame interval")
        assert s["players"]["total"] == 0, s["players"]

        # Players come and go: rtmpdump reads the stream to /dev/null.
        path = "/api/v1/streams/live/known"
        players = [w.spawn(["rtmpdump", "-q", "--live", "-r", url, "-o", os.devnull],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(3)]
        poll(w, path, lambda s: s["players"]["total"] == 3 and s["players"]["by_protocol"] == {"rtmp": 3},
             what="3 players")
        # Bytes out: each player gets every audio and video payload byte. Once the players' joins
        # (each starts with a cached GOP, ~1 s of media at once) have left the 8 s window, bytes
        # out per wall second are 3 x bytes in per media second. 10%: the window's ends fall on
        # sample ticks (1 s apart) and ffmpeg -re paces in bursts, a few % over 8 s; a per-player
        # or framing error would be 33% or more.
        time.sleep(11)
        s = get(w, path)
        print(json.dumps({k: s[k] for k in ("bitrate_in", "bitrate_out", "bytes_out", "frames_dropped")}), flush=True)
        within(s["bitrate_out"], 3 * s["bitrate_in"], 0.10, "bitrate out of 3 players")
        assert s["frames_dropped"] == 0 and s["bytes_out"] > 3 * 8 * 125000, s
        metrics = get(w, "/metrics")
        m = re.search(r'^weir_stream_sent_bytes_per_second\{app="live",name="known"\} (\S+)$', metrics, re.M)
        assert m and float(m.group(1)) > 0, metrics
        assert 'weir_stream_frames_dropped_total{app="live",name="known"} 0' in metrics, metrics
        stop_process(players.pop())
        poll(w, path, lambda s: s["players"]["total"] == 2, what="2 players")
        for p in players:
            stop_process(p)
        poll(w, path, lambda s: s["players"]["total"] == 0 and s["players"]["by_protocol"] == {}, what="0 players")
        assert s["history"]["bitrate_in"] and len(s["history"]["bitrate_in"]) == len(s["history"]["players"]), s

        listing = get(w, "/api/v1/streams")
        assert [x["name"] for x in listing["streams"]] == ["known"], listing
        server = get(w, "/api/v1/server")
        print(json.dumps({k: server[k] for k in ("connections", "bytes", "process", "pages")}), flush=True)
        assert server["version"] and server["threads"] == 2 and server["streams"] == 1, server
        assert server["uptime_seconds"] > 10, server
        rtmp = server["connections"]["by_listener"]["rtmp"]
        assert rtmp["total"] >= 5 and rtmp["open"] >= 1, server["connections"]
        # The snapshot is up to sample_interval old: the HTTP requests so far are counted, this one maybe not.
        assert server["connections"]["by_listener"]["http"]["total"] >= 5, server["connections"]
        # The publisher sends ~1.07 Mbit/s: bytes in per second is of that order.
        within(server["bytes"]["received_per_second"] * 8, truth["video_bps"] + truth["audio_bps"], 0.25,
               "received bytes per second")
        assert server["process"]["resident_bytes"] > 1 << 20 and server["process"]["cpu_seconds"] > 0, server


def case_metrics_promtool(_):
    with stats_server() as w:
        url = w.rtmp_url("live/m\"etrics")  # a name that needs escaping in a label
        p = w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
                     "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "20",
                     "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "flv", url],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll(w, "/api/v1/streams", lambda s: s["streams"] and s["streams"][0]["video"]["frames"] > 25,
             what="a stream with frames")
        text = get(w, "/metrics")
        path = w.path("metrics.txt")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"promtool check metrics failed ({r.returncode}):\n{r.stdout}{r.stderr}\n{text}"
        for needle in ("# TYPE weir_sent_bytes_total counter", "weir_connections_open ",
                       'weir_stream_received_bytes_per_second{app="live",name="m\\"etrics"} ',
                       "weir_process_resident_memory_bytes ", 'weir_connections_opened_total{listener="rtmp"} '):
            assert needle in text, f"{needle!r} missing from /metrics:\n{text}"
        stop_process(p)


def case_load_shedding(_):
    # One player of a ~1 Mbit/s stream sends far more than 40 KiB/s: the server stops admitting
    # players, says so to the next one and to load balancers, and admits again once it is gone.
    from rtmp_client import RtmpClient
    with stats_server(stats={"max_send_rate": "40k", "rate_window": "2s"}) as w:
        url = w.rtmp_url("live/busy")
        w.spawn(ffmpeg_publish_cmd(url, 60), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_media(w.rtmp_port, "live/busy")
        server = poll(w, "/api/v1/server", lambda s: s["accepting"], what="accepting while only publishing")
        assert server["refusal"] is None and server["limits"]["max_send_rate"] == 40 * 1024, server
        first = w.spawn(["rtmpdump", "-q", "--live", "-r", url, "-o", os.devnull],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = poll(w, "/api/v1/server", lambda s: not s["accepting"], what="accepting: false")
        assert "bytes/s" in server["refusal"] and "40960" in server["refusal"], server
        assert "weir_accepting_players 0" in get(w, "/metrics")
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            _, status = c.play("busy")
        finally:
            c.close()
        assert status.get("code") == "NetStream.Play.Failed", status
        assert status.get("description") == server["refusal"] or "server busy" in status.get("description", ""), status
        refused = poll(w, "/api/v1/server", lambda s: s["counters"]["weir_players_refused_total"] >= 1,
                       what="a refused player counted")
        assert refused["counters"]["weir_players_refused_total"] == 1, refused["counters"]
        # Refused players are counted for their protocol's listener, also in /metrics.
        assert refused["connections"]["by_listener"]["rtmp"]["refused"] == 1, refused["connections"]
        assert refused["connections"]["by_listener"]["http"]["refused"] == 0, refused["connections"]
        assert 'weir_connections_refused_total{listener="rtmp"} 1' in get(w, "/metrics")
        stop_process(first)
        poll(w, "/api/v1/server", lambda s: s["accepting"], timeout=20, what="accepting again")
        wait_media(w.rtmp_port, "live/busy")  # a new player is admitted and gets video


def case_dropped_frames(_):
    # A player that stops reading falls past the soft limit: its non-key video is dropped, counted
    # for it and for the stream, while players that keep up drop nothing. The hard limit is far
    # (past the soft limit only audio is queued), so it stays connected meanwhile.
    from rtmp_client import PlayerRecorder
    with stats_server(threads=1, sender={"soft_limit": "128k", "hard_limit": "64m"}) as w:
        url = w.rtmp_url("live/drop")
        # 3 Mbit/s of constant bitrate: the stalled player's socket buffers fill within a second or two.
        w.spawn(ffmpeg_publish_cmd(url, 60, size="640x360", extra=(
            "-b:v", "3M", "-minrate", "3M", "-maxrate", "3M", "-bufsize", "1M", "-x264-params", "nal-hrd=cbr")),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_media(w.rtmp_port, "live/drop")
        readers = [w.spawn(["rtmpdump", "-q", "--live", "-r", url, "-o", os.devnull],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        slow = PlayerRecorder(w.rtmp_port, "live/drop", rcvbuf=4096, read=False).start()
        try:
            def players(clients):
                return [c for c in clients["clients"] if c["label"] == "play live/drop"]
            clients = poll(w, "/api/v1/clients",
                           lambda c: len(players(c)) == 3 and any(p["frames_dropped"] > 0 for p in players(c)),
                           timeout=30, what="a player dropping frames")
            print(json.dumps(players(clients)), flush=True)
            mine = players(clients)
            dropping = [p for p in mine if p["frames_dropped"] > 0]
            assert len(dropping) == 1, mine
            assert dropping[0]["address"].endswith(f":{slow.client.local_port}"), (dropping, slow.client.local_port)
            assert dropping[0]["sender_state"] != "ready" and dropping[0]["queued_bytes"] >= 128 * 1024, dropping
            # 128 KiB queued of a 3 Mbit/s stream: at least ~340 ms behind live.
            assert dropping[0]["lag_ms"] is not None and dropping[0]["lag_ms"] > 300, dropping
            assert all(p["stream"] == "live/drop" for p in mine), mine
            assert all(p["frames_dropped"] == 0 and p["sender_state"] == "ready" for p in mine if p not in dropping), mine
            publisher = [c for c in clients["clients"] if c["label"] == "publish live/drop"]
            assert publisher and publisher[0]["stream"] == "live/drop", clients
            s = poll(w, "/api/v1/streams/live/drop", lambda s: s["frames_dropped"] > 0, what="the stream's drops")
            assert s["players"]["total"] == 3 and s["bytes_out"] > 0, s
            metrics = get(w, "/metrics")
            m = re.search(r'^weir_stream_frames_dropped_total\{app="live",name="drop"\} (\S+)$', metrics, re.M)
            assert m and float(m.group(1)) > 0, metrics
        finally:
            slow.stop()
            for p in readers:
                stop_process(p)


def chromium(*args, timeout=90):
    profile = tempfile.mkdtemp(prefix="weir-chromium-")
    try:
        return run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", f"--user-data-dir={profile}", *args], timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def case_dashboard(_):
    # The real page in a real browser: the stream appears with a non-zero bitrate; a phone-sized
    # screenshot is kept as an artifact (WEIR_TEST_ARTIFACTS, else the run's folder).
    if not shutil.which("chromium"):
        skip("chromium is not installed")
    with stats_server() as w:
        url = w.rtmp_url("live/dash")
        w.spawn(ffmpeg_publish_cmd(url, 60), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll(w, "/api/v1/streams/live/dash", lambda s: s["bitrate_in"] > 0 and len(s["history"]["bitrate_in"]) >= 3,
             what="live/dash with a bitrate")
        player = w.spawn(["rtmpdump", "-q", "--live", "-r", url, "-o", os.devnull],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll(w, "/api/v1/streams/live/dash", lambda s: s["players"]["total"] == 1 and s["bitrate_out"] > 0,
             what="one player, bytes out")
        page = w.http + "/"
        dom = chromium("--virtual-time-budget=5000", "--dump-dom", page).stdout
        m = re.search(r'<article class="stream" data-stream="live/dash" data-bitrate="([0-9.]+)" data-players="(\d+)"'
                      r' data-bitrate-out="([0-9.]+)" data-frames-dropped="(\d+)"', dom)
        assert m, f"live/dash is not on the dashboard:\n{dom[:4000]}"
        assert float(m.group(1)) > 0 and m.group(2) == "1", m.group(0)
        assert float(m.group(3)) > 0 and m.group(4) == "0", m.group(0)
        assert "<polyline" in dom, "no sparkline drawn"
        assert 'id="accepting" class="badge ok"' in dom, "server state not shown"
        artifacts = os.environ.get("WEIR_TEST_ARTIFACTS") or w.dir
        os.makedirs(artifacts, exist_ok=True)
        shot = os.path.join(artifacts, "dashboard.png")
        chromium("--virtual-time-budget=5000", "--hide-scrollbars", "--window-size=412,915",
                 f"--screenshot={shot}", page)
        with open(shot, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{shot} is not a PNG"
        print(f"screenshot: {shot}", flush=True)
        for path, ctype in (("/dashboard.js", "text/javascript"), ("/dashboard.css", "text/css")):
            with urllib.request.urlopen(w.http + path, timeout=10) as r:
                assert r.headers["Content-Type"].startswith(ctype), (path, r.headers["Content-Type"])
        get(w, "/nothing.html", expect=404)
        stop_process(player)


def case_clients_and_kick(_):
    with stats_server(stats={"token": "s3cret"}) as w:
        url = w.rtmp_url("live/k")
        w.spawn(ffmpeg_publish_cmd(url, 60), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_media(w.rtmp_port, "live/k")
        player = w.spawn(["rtmpdump", "-q", "--live", "-r", url, "-o", os.devnull],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def by_label(clients):
            return {c["label"]: c for c in clients["clients"]}
        clients = poll(w, "/api/v1/clients", lambda c: (by_label(c).get("play live/k") or {}).get("bytes_sent", 0) > 0,
                       what="a player with bytes sent")
        print(json.dumps(clients), flush=True)
        mine = by_label(clients)
        publisher, playing = mine["publish live/k"], mine["play live/k"]
        assert publisher["protocol"] == "rtmp" and publisher["bytes_received"] > 10000, publisher
        assert playing["protocol"] == "rtmp" and playing["address"].startswith("127.0.0.1:"), playing
        assert playing["sender_state"] == "ready" and playing["queued_bytes"] >= 0, playing
        assert any(c["protocol"] == "http" for c in clients["clients"]), "this request's connection is listed"

        kick = f"/api/v1/clients/{playing['id']}/kick"
        e = post(w, kick, expect=401)
        assert "Authorization: Bearer" in e["error"], e
        post(w, kick, token="wrong", expect=401)
        assert player.poll() is None, "kicked without the token"
        assert post(w, kick, token="s3cret") == {"kicked": playing["id"]}
        player.wait(timeout=15)  # rtmpdump ends: its connection was closed
        poll(w, "/api/v1/clients", lambda c: "play live/k" not in by_label(c), what="the player gone")
        poll(w, "/api/v1/streams/live/k", lambda s: s["players"]["total"] == 0, what="no players")
        e = post(w, "/api/v1/clients/999999/kick", token="s3cret", expect=404)
        assert e["error"] == "no client 999999", e
        post(w, "/api/v1/clients/abc/kick", token="s3cret", expect=404)
        assert "kicked by an operator" in w.log()

        # Stopping the stream closes its publisher's connection.
        publisher_proc = w.children[0]
        post(w, "/api/v1/streams/live/k/stop", token="wrong", expect=401)
        assert post(w, "/api/v1/streams/live/k/stop", token="s3cret") == {"stopped": "live/k"}
        publisher_proc.wait(timeout=15)  # ffmpeg ends: the server closed it
        poll(w, "/api/v1/clients", lambda c: "publish live/k" not in by_label(c), what="the publisher gone")
        poll(w, "/api/v1/streams", lambda s: s["streams"] == [], what="no streams")
        e = post(w, "/api/v1/streams/live/k/stop", token="s3cret", expect=404)
        assert e["error"] == "stream live/k is not published", e
        post(w, "/api/v1/streams/live/stop", token="s3cret", expect=404)
        assert "stream stopped by an operator" in w.log()


def case_bad_requests(_):
    with stats_server() as w:
        poll(w, "/api/v1/server", lambda s: True)
        e = get(w, "/api/v1/streams/live/missing", expect=404)
        assert "live/missing" in e["error"], e
        e = get(w, "/api/v1/streams/justapp", expect=404)
        assert "/api/v1/streams/{app}/{name}" in e["error"], e
        get(w, "/api/v1/nothing", expect=404)
        e = post(w, "/api/v1/clients/1/kick", token="", expect=403)  # no [stats] token: actions are off
        assert "[stats] token" in e["error"], e
        assert w.alive(), "weir died"


def refused_config(**stats):
    """Runs weir on a config with these [stats] keys; it must refuse to start. Returns stderr.
    (Not through Weir.__enter__: mod_rtmp's port is bound before mod_stats registers, so waiting
    for the port would race with the exit.)"""
    from harness import WEIR
    w = stats_server(stats=stats)
    try:
        r = run([WEIR, "-c", w.conf_path], timeout=30, check=False)
        assert r.returncode != 0, f"weir started with [stats] {stats}"
        return r.stderr + read_text(w.log_path)
    finally:
        shutil.rmtree(w.dir, ignore_errors=True)


def case_unknown_config_key(_):
    text = refused_config(sample_intervall="1s")
    assert "[stats] sample_intervall: unknown key" in text, text[-2000:]


def case_bad_config_value(_):
    text = refused_config(rate_window="100ms", sample_interval="1s")
    assert "[stats] rate_window: must be at least sample_interval" in text, text[-2000:]


if __name__ == "__main__":
    if not os.path.exists("/usr/bin/promtool") and "promtool" in " ".join(sys.argv):
        skip("promtool (Debian prometheus) is not installed")
    run_cases({"figures": case_figures, "metrics_promtool": case_metrics_promtool,
               "bad_requests": case_bad_requests, "load_shedding": case_load_shedding,
               "dashboard": case_dashboard, "dropped_frames": case_dropped_frames, "clients_and_kick": case_clients_and_kick, "unknown_config_key": case_unknown_config_key,
               "bad_config_value": case_bad_config_value})
