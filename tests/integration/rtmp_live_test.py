#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mod_rtmp with real clients: ffmpeg, ffprobe and rtmpdump publish and play through a real weir,
and our own client (rtmp_client.py) checks what they cannot see (statuses, message order).

One CTest test per case: rtmp_live_test.py --case NAME. Nothing here asserts a duration; timeouts
only bound a failing case, and measured times are printed for reading."""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (run_cases, Weir, Background, Deadline, ffmpeg_publish, ffprobe_json, framemd5_media_types,  # noqa: E402
                     framemd5_timebases, parse_framemd5, read_text, run, stop_process, wait_media)
from rtmp_client import (MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO, PlayerRecorder, RtmpClient, amf_decode_all,  # noqa: E402
                         is_avc_sequence_header, is_key_frame)

FPS = 25


def log_time(stamp):
    """A log line's '2026-11-23T12:30:15.669Z' -> seconds."""
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def ffmpeg_play_cmd(url, *outputs):
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url, *outputs]


def video_lines(text):
    """(packets of the video stream, its time base) from framemd5 output."""
    kinds = framemd5_media_types(text)
    video = [s for s, k in kinds.items() if k == "video"]
    check(video, f"no video stream in framemd5 output:\n{text[:2000]}")
    tb = framemd5_timebases(text)[video[0]]
    return [p for p in parse_framemd5(text) if p[0] == video[0]], tb


def assert_monotonic_dts(packets, what):
    last = {}
    for p in packets:
        stream, dts = p[0], p[1]
        check(stream not in last or dts >= last[stream],
              f"{what}: stream {stream} dts went back from {last.get(stream)} to {dts}")
        last[stream] = dts


# ---- 1 ----
def case_ffmpeg_publish_and_play(_):
    """ffmpeg publishes H.264/AAC; ffmpeg plays it decoding; ffprobe reads codecs and metadata."""
    with Weir(threads=2) as w:
        url = w.rtmp_url("live/one")
        pub = ffmpeg_publish(url, 30, weir=w)
        wait_media(w.rtmp_port, "live/one")
        dec, pkt = w.path("decoded.md5"), w.path("packets.md5")
        play = Background(run, ffmpeg_play_cmd(url, "-t", "4", "-f", "framemd5", dec,
                                               "-t", "4", "-c", "copy", "-f", "framemd5", pkt), 40)
        play.start()
        probe = ffprobe_json(url, "-show_streams", "-show_format")
        played = play.join_result(45)
        check(played.stderr.strip() == "", f"ffmpeg player reported errors:\n{played.stderr[-3000:]}")

        # Decoded video: every frame of the played span, in order.
        text = read_text(dec)
        frames, (num, den) = video_lines(text)
        check(len(frames) > 50, f"only {len(frames)} decoded video frames in 4 s")
        pts = [f[2] for f in frames]
        check(all(b > a for a, b in zip(pts, pts[1:])), f"decoded frame pts not increasing: {pts[:50]}")
        span_s = (pts[-1] - pts[0]) * num / den
        expected = span_s * FPS + 1
        print(f"decoded {len(frames)} video frames over {span_s:.3f} s (expected {expected:.1f})")
        check(abs(len(frames) - expected) <= 0.02 * expected,
              f"{len(frames)} decoded frames, expected {expected:.1f} (within 2%) for {span_s:.3f} s")
        check(any(k == "audio" for k in framemd5_media_types(text).values()), "no audio decoded")

        # Packets as received (no decoding): dts never goes back on any stream.
        packets = parse_framemd5(read_text(pkt))
        check(len(packets) > 100, f"only {len(packets)} packets copied")
        assert_monotonic_dts(packets, "ffmpeg -c copy")

        # What ffprobe sees on the live URL: the codecs and the publisher's metadata.
        streams = {s["codec_type"]: s for s in probe["streams"]}
        check("video" in streams and "audio" in streams, f"ffprobe streams: {probe['streams']}")
        v, a = streams["video"], streams["audio"]
        check((v["codec_name"], v["width"], v["height"]) == ("h264", 320, 240), f"video stream: {v}")
        check(a["codec_name"] == "aac", f"audio stream: {a}")
        tags = probe["format"].get("tags", {})
        print(f"ffprobe format tags: {tags}")
        check(tags.get("encoder", "").startswith("Lavf"), f"onMetaData 'encoder' missing from the played stream: {tags}")
        check(pub.poll() is None, "publisher stopped during the test")


# ---- 2 ----
def case_rtmpdump_plays(_):
    """rtmpdump (librtmp: another client stack) records the live stream; ffprobe/ffmpeg read it."""
    with Weir(threads=2) as w:
        url = w.rtmp_url("live/dump")
        ffmpeg_publish(url, 30, weir=w)
        wait_media(w.rtmp_port, "live/dump")
        out = w.path("dump.flv")
        # rtmpdump's --stop becomes play's duration argument, which weir ignores for live streams
        # (see the report); so it records until interrupted: SIGINT makes it close the file cleanly.
        dump = w.spawn(["rtmpdump", "-q", "-r", url, "--live", "-o", out], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
        time.sleep(5)
        code = stop_process(dump)
        err = dump.stderr.read()
        # 0: complete; 2: incomplete (interrupted: a live stream has no end).
        check(code in (0, 2), f"rtmpdump exited with {code}: {err[-2000:]}")
        check(os.path.getsize(out) > 10000, f"rtmpdump wrote only {os.path.getsize(out)} bytes")
        probe = ffprobe_json(out, "-show_streams")
        codecs = sorted((s["codec_type"], s["codec_name"]) for s in probe["streams"])
        check(codecs == [("audio", "aac"), ("video", "h264")], f"streams in rtmpdump's FLV: {codecs}")
        decoded = run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", out, "-f", "framemd5", "-"],
                      timeout=40)
        check(decoded.stderr.strip() == "", f"decoding rtmpdump's FLV: {decoded.stderr[-3000:]}")
        frames, _ = video_lines(decoded.stdout)
        print(f"rtmpdump: {os.path.getsize(out)} bytes, {len(frames)} video frames decoded")
        check(len(frames) >= 50, f"only {len(frames)} video frames decoded from rtmpdump's FLV")


# ---- 3 ----
def group_of_connections(log):
    """conn id -> poll group, from the kernel's per-group 'closed' lines."""
    return {int(m.group(2)): int(m.group(1))
            for m in re.finditer(r"kernel\.group(\d+): conn=(\d+) peer=\S+ listener=rtmp closed", log)}


def case_two_groups_identical_media(_):
    """Two ffmpeg players on different poll groups get the same packets, byte for byte."""
    with Weir(threads=2, log={"level": "debug"}) as w:
        url = w.rtmp_url("live/two")
        ffmpeg_publish(url, 30, weir=w)
        wait_media(w.rtmp_port, "live/two")
        time.sleep(0.5)  # the probes' connections leave their groups: publisher alone on one group
        outs = [w.path("p0.md5"), w.path("p1.md5")]
        players = [Background(run, ffmpeg_play_cmd(url, "-t", "6", "-c", "copy", "-f", "framemd5", o), 40)
                   for o in outs]
        for p in players:
            p.start()
        for p in players:
            r = p.join_result(45)
            check(r.stderr.strip() == "", f"ffmpeg player: {r.stderr[-2000:]}")
        texts = [read_text(o) for o in outs]
        w.stop()
        log = w.log()
        # Which groups the players were on: their 'playing' lines give conn ids, 'closed' lines groups.
        playing = [int(c) for c in re.findall(r"rtmp: conn=(\d+) peer=\S+ playing live/two", log)]
        groups = group_of_connections(log)
        player_groups = [groups.get(c) for c in playing[-2:]]
        print(f"player connections {playing[-2:]} on groups {player_groups}")
        check(len(playing) >= 2 and None not in player_groups, f"cannot tell the players' groups from the log")
        check(player_groups[0] != player_groups[1], f"both players on group {player_groups[0]}: the test needs two")

        for stream_kind in ("video", "audio"):
            seqs = []
            for text in texts:
                kinds = framemd5_media_types(text)
                s = [i for i, k in kinds.items() if k == stream_kind][0]
                seqs.append([(p[1], p[4], p[5]) for p in parse_framemd5(text) if p[0] == s])
            a, b = seqs
            check(a and b, f"no {stream_kind} packets: {len(a)} / {len(b)}")
            # Align on the later player's first packet (for video: its first key frame, from the cache).
            first_b = b[0][2]
            hashes_a = [x[2] for x in a]
            if first_b in hashes_a:
                ia, ib = hashes_a.index(first_b), 0
            else:
                ia, ib = 0, [x[2] for x in b].index(a[0][2]) if a[0][2] in [x[2] for x in b] else -1
            check(ib >= 0, f"{stream_kind}: the players share no packet")
            n = min(len(a) - ia, len(b) - ib)
            print(f"{stream_kind}: {len(a)} and {len(b)} packets, {n} compared from offsets {ia}/{ib}")
            check(n >= (3 * FPS if stream_kind == "video" else 100), f"{stream_kind}: only {n} packets overlap")
            for k in range(n):
                pa, pb = a[ia + k], b[ib + k]
                check(pa[1:] == pb[1:], f"{stream_kind} packet {k}: {pa} vs {pb}")
                check(pa[0] - a[ia][0] == pb[0] - b[ib][0],
                      f"{stream_kind} packet {k}: relative dts {pa[0] - a[ia][0]} vs {pb[0] - b[ib][0]}")


# ---- 4 ----
def case_second_publisher_bad_name(_):
    """A second publisher of a live name is refused with BadName; the first one goes on."""
    with Weir(threads=2) as w:
        url = w.rtmp_url("live/taken")
        pub = ffmpeg_publish(url, 10, weir=w)
        wait_media(w.rtmp_port, "live/taken")
        player = PlayerRecorder(w.rtmp_port, "live/taken", keep_payloads=True).start()
        intruder = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            intruder.connect("live")
            sid, status = intruder.publish("taken")
            print(f"second publisher: {status}")
            check(status.get("code") == "NetStream.Publish.BadName", f"second publish answered {status}")
            check(status.get("level") == "error", f"BadName level: {status}")
            # Media it sends anyway must not reach anyone.
            marker = b"\x27\x01\x00\x00\x00" + b"INTRUDER" * 16
            for i in range(5):
                intruder.send_video(sid, marker, 1000 + 40 * i)
            count_after = len(player.video())
            deadline = Deadline(15)
            while len(player.video()) < count_after + 2 * FPS and deadline.left() and player.error is None:
                time.sleep(0.1)
        finally:
            intruder.close()
        player.stop()
        check(player.error is None, f"player lost its connection: {player.error}")
        videos = player.video()
        check(len(videos) >= count_after + 2 * FPS,
              f"player got {len(videos) - count_after} video frames after the second publish, expected >= {2 * FPS}")
        check(not any(b"INTRUDER" in m[3] for m in videos), "the refused publisher's media reached a player")
        check(pub.wait(timeout=30) == 0, f"first publisher failed: {read_text(pub.err_path)[-2000:]}")
        check(read_text(pub.err_path).strip() == "", f"first publisher's errors: {read_text(pub.err_path)[-2000:]}")


# ---- 5 ----
def case_play_missing_not_found(_):
    with Weir(threads=2) as w:
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            _, status = c.play("nobody")
            print(f"play of a missing stream: {status}")
            check(status.get("code") == "NetStream.Play.StreamNotFound", f"answered {status}")
            check(status.get("level") == "error", f"StreamNotFound level: {status}")
        finally:
            c.close()


def case_play_missing_wait(_):
    """play_missing=wait: the player plays first (Play.Start), the publisher comes later, media flows."""
    with Weir(threads=2, rtmp={"play_missing": "wait"}) as w:
        player = PlayerRecorder(w.rtmp_port, "live/later").start()
        deadline = Deadline(15)
        while "NetStream.Play.Start" not in player.codes() and deadline.left() and player.error is None:
            time.sleep(0.05)
        check("NetStream.Play.Start" in player.codes(), f"no Play.Start while waiting: {player.codes()} {player.error}")
        check(not player.video() and not player.audio(), "audio/video before anyone published")
        time.sleep(1.0)  # the player really waits
        ffmpeg_publish(w.rtmp_url("live/later"), 20, weir=w)
        deadline = Deadline(20)
        while len(player.video()) < 2 * FPS and deadline.left() and player.error is None:
            time.sleep(0.1)
        player.stop()
        check(player.error is None, f"player error: {player.error}")
        videos = player.video()
        check(len(videos) >= 2 * FPS, f"waiting player got {len(videos)} video frames")
        check(len(player.audio()) > 10, f"waiting player got {len(player.audio())} audio frames")
        start_at = [t for t, code in player.statuses if code == "NetStream.Play.Start"][0]
        check(min(videos[0][0], player.audio()[0][0]) >= start_at, "media arrived before Play.Start")
        check(is_avc_sequence_header(videos[0][4]), f"first video message is not the AVC sequence header: {videos[0][4]!r}")
        print(f"statuses: {player.codes()}; {len(videos)} video, {len(player.audio())} audio messages")


# ---- 6 ----
def case_late_joiner_starts_at_key_frame(_):
    """A player joining mid-GOP gets the sequence headers and then a key frame at once (GOP cache)."""
    with Weir(threads=2) as w:
        url = w.rtmp_url("live/late")
        ffmpeg_publish(url, 30, weir=w, gop_seconds=4)
        wait_media(w.rtmp_port, "live/late")
        time.sleep(2.5)  # mid-GOP (key frames every 4 s)
        c = RtmpClient("127.0.0.1", w.rtmp_port)
        try:
            c.connect("live")
            sid = c.create_stream()
            t0 = time.time()
            c.command("play", None, "late", -2, stream_id=sid, txn=0)
            seen = []
            key_at = None
            deadline = Deadline(15)
            while deadline.left():
                msg = c.next_message(timeout=deadline.left())
                if msg[0] in (MSG_AUDIO, MSG_VIDEO, MSG_DATA_AMF0):
                    seen.append(msg)
                if msg[0] == MSG_VIDEO and is_key_frame(msg[3]):
                    key_at = time.time()
                    break
            check(key_at is not None, "no key frame")
            videos = [m for m in seen if m[0] == MSG_VIDEO]
            check(is_avc_sequence_header(videos[0][3]), f"first video message {videos[0][3][:2]!r}, not the AVC sequence header")
            check(len(videos) == 2, f"{len(videos) - 1} video messages before the key frame: {[v[3][:2] for v in videos]}")
            check(videos[1][3][0] >> 4 == 1 and videos[1][3][1] == 1, f"second video message {videos[1][3][:2]!r}")
            audio = [m for m in seen if m[0] == MSG_AUDIO]
            check(audio and audio[0][3][0] >> 4 == 10 and audio[0][3][1] == 0, "AAC sequence header not first audio")
            data = [amf_decode_all(m[3])[0] for m in seen if m[0] == MSG_DATA_AMF0]
            check("onMetaData" in data, f"no onMetaData before the key frame: {data}")
            # The cached GOP follows at once: frames with timestamps older than the live edge.
            burst = [c.next_message(timeout=10) for _ in range(20)]
            burst_video = [m for m in burst if m[0] == MSG_VIDEO]
            print(f"play_to_key_frame_ms={(key_at - t0) * 1000:.1f}")
            print(f"key frame timestamp {videos[1][2]} ms; next video timestamps {[m[2] for m in burst_video][:10]}")
        finally:
            c.close()


# ---- 7 ----
def case_publisher_reconnect_within_grace(_):
    """Publisher #1 ends, #2 takes the name within 1 s: the player keeps playing, no UnpublishNotify.
    #2 then drops without returning: UnpublishNotify after the grace period (2 s)."""
    with Weir(threads=2) as w:
        url = w.rtmp_url("live/relay")
        pub1 = ffmpeg_publish(url, 5, weir=w, frequency=440)
        wait_media(w.rtmp_port, "live/relay")
        player = PlayerRecorder(w.rtmp_port, "live/relay").start()
        check(pub1.wait(timeout=30) == 0, f"publisher 1 failed: {read_text(pub1.err_path)}")
        gone1 = time.time()
        pub2 = ffmpeg_publish(url, 60, weir=w, frequency=880)
        started2 = time.time()
        print(f"publisher 2 started {(started2 - gone1) * 1000:.0f} ms after publisher 1 exited")
        deadline = Deadline(20)
        while deadline.left() and player.error is None and \
                len([m for m in player.video() if m[0] > started2]) < 3 * FPS:
            time.sleep(0.1)
        after2 = [m for m in player.video() if m[0] > started2]
        # The precondition, from the server's own clock: publisher 2 came back within the grace period.
        stamps = {kind: log_time(m.group(1)) for kind, m in (
            ("gone", re.search(r"^(\S+) info\s+rtmp: conn=\d+ unpublished live/relay", w.log(), re.M)),
            ("back", list(re.finditer(r"^(\S+) info\s+rtmp: conn=\d+ peer=\S+ publishing live/relay", w.log(), re.M))[-1]))}
        gap = stamps["back"] - stamps["gone"]
        print(f"weir saw publisher 2 {gap * 1000:.0f} ms after publisher 1 unpublished")
        check(gap < 1.5, f"test precondition: publisher 2 took {gap:.2f} s to come back (grace 2 s); machine too slow?")
        check(player.error is None, f"player disconnected across the publisher change: {player.error}")
        check(len(after2) >= 3 * FPS, f"player got {len(after2)} video frames from publisher 2")
        check("NetStream.Play.UnpublishNotify" not in player.codes(),
              f"UnpublishNotify although the publisher came back within the grace period: {player.codes()}")
        # Across the change each track's timeline goes on forward (the player is not told of the change).
        for kind, track in (("video", player.video()), ("audio", player.audio())):
            ts = [m[2] for m in track if not (m[4][1:2] == b"\x00" and m[4][:1] in (b"\x17", b"\xaf"))]
            backs = [(a, b) for a, b in zip(ts, ts[1:]) if b < a]
            check(not backs, f"{kind} timestamps went back across the publisher change: {backs[:5]}")

        # Publisher 2 drops (killed: no deleteStream) and does not return.
        pub2.kill()
        pub2.wait(timeout=10)
        dropped = time.time()
        deadline = Deadline(15)
        while "NetStream.Play.UnpublishNotify" not in player.codes() and deadline.left() and player.error is None:
            time.sleep(0.05)
        player.stop()
        notify = [t for t, code in player.statuses if code == "NetStream.Play.UnpublishNotify"]
        check(notify, f"no UnpublishNotify after the publisher left: {player.codes()} {player.error}")
        waited = notify[0] - dropped
        print(f"unpublish_notify_after_ms={waited * 1000:.0f} (grace 2000 ms)")
        # Not a timing bound: the notice must not come before the grace period even began to run out.
        check(waited >= 1.0, f"UnpublishNotify {waited:.2f} s after the publisher left: grace is 2 s")


# ---- 8 ----
def case_slow_player_disconnected(_):
    """A player that stops reading is closed at the hard limit; another player and the publisher go on.
    Audio is PCM (1.4 Mbit/s): past the soft limit only audio is queued for a stalled player, so the
    audio rate decides how soon it reaches the hard limit."""
    with Weir(threads=2, sender={"soft_limit": "256k", "hard_limit": "1m"}) as w:
        url = w.rtmp_url("live/fat")
        pub = ffmpeg_publish(url, 60, weir=w, size="1280x720", audio="pcm",
                             extra=("-b:v", "6M", "-maxrate", "6M", "-bufsize", "2M"))
        wait_media(w.rtmp_port, "live/fat")
        good = PlayerRecorder(w.rtmp_port, "live/fat").start()
        slow = PlayerRecorder(w.rtmp_port, "live/fat", rcvbuf=4096, read=False).start()
        t0 = time.time()
        m = w.wait_log(rf"peer=127\.0\.0\.1:{slow.client.local_port} listener=rtmp closed: [^\n]*too slow[^\n]*",
                       timeout=60)
        print(f"slow player closed after {time.time() - t0:.1f} s: {m.group(0)}")
        closed_at = time.time()
        deadline = Deadline(20)
        while deadline.left() and good.error is None and len([v for v in good.video() if v[0] > closed_at]) < 2 * FPS:
            time.sleep(0.1)
        after = [v for v in good.video() if v[0] > closed_at]
        good.stop()
        slow.stop()
        check(good.error is None, f"the reading player was disconnected too: {good.error}")
        check(len(after) >= 2 * FPS, f"the reading player got {len(after)} video frames after the slow one was closed")
        sizes = [v[3] for v in good.video()]
        print(f"reading player: {len(good.video())} video frames, {sum(sizes) * 8 / 1e6:.1f} Mbit of video, "
              f"{len(good.audio())} audio frames")
        check(pub.poll() is None, f"publisher stopped: {read_text(pub.err_path)[-2000:]}")
        check(read_text(pub.err_path).strip() == "", f"publisher errors: {read_text(pub.err_path)[-2000:]}")


def case_players_joining_apart_share_framing(_):
    """Players of one group that joined at different times have their own timelines, yet most of
    them send each frame with the same chunk headers (mod_rtmp reuses one player's framing for
    the next one in step). Each player's chunk stream, parsed independently by our own client,
    must still carry the same payloads with timestamps that differ only by that player's offset."""
    with Weir(threads=1) as w:
        url = w.rtmp_url("live/apart")
        ffmpeg_publish(url, 60, weir=w)
        wait_media(w.rtmp_port, "live/apart")
        recorders = []
        for pause in (0, 1.3, 0.7, 0.45):
            time.sleep(pause)
            recorders.append(PlayerRecorder(w.rtmp_port, "live/apart", keep_payloads=True).start())
        time.sleep(4)
        for r in recorders:
            r.stop()
        for r in recorders:
            check(r.error is None, f"a player failed: {r.error}")
        for kind, name in ((MSG_VIDEO, "video"), (MSG_AUDIO, "audio")):
            seqs = [[(m[2], m[3]) for m in r.media if m[1] == kind] for r in recorders]
            first = seqs[0]
            for i, other in enumerate(seqs[1:], 1):
                # Align on the later player's first frame after its start (past headers and the cache).
                payloads = [p for _, p in first]
                start = next((k for k, (_, p) in enumerate(other) if p in payloads and k > 2), None)
                check(start is not None, f"{name}: player {i} shares no frame with player 0")
                ia = payloads.index(other[start][1])
                n = min(len(first) - ia, len(other) - start)
                check(n >= (2 * FPS if kind == MSG_VIDEO else 80), f"{name}: players 0 and {i} overlap by {n} frames")
                offset = first[ia][0] - other[start][0]
                for k in range(n):
                    ta, pa = first[ia + k]
                    tb, pb = other[start + k]
                    check(pa == pb, f"{name} frame {k} of players 0 and {i}: payloads differ")
                    check(ta - tb == offset, f"{name} frame {k}: player 0 at {ta} ms, player {i} at {tb} ms, "
                                             f"expected a constant offset of {offset} ms")
                print(f"{name}: players 0 and {i}: {n} frames alike, timelines {offset} ms apart")


def metric_total(http, name):
    """The sum of a counter's samples in /metrics (every label set)."""
    import urllib.request
    with urllib.request.urlopen(http + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def case_one_write_per_video_frame(_):
    """With the default sender settings a player gets one write per video frame: audio between
    video frames waits for the next one ([sender] hold) instead of making writes of its own.
    25 fps video with 44.1 kHz AAC (43 frames/s) is ~68 messages/s; one write per loop turn gave
    ~2 writes per video frame. Audio must still arrive whole and in order."""
    from harness import free_port
    http_port = free_port()
    players = 4
    with Weir(threads=1, modules=("mod_http", "mod_rtmp", "mod_stats"),
              http={"listen": f"127.0.0.1:{http_port}"}, stats={"sample_interval": "100ms"}) as w:
        http = f"http://127.0.0.1:{http_port}"
        url = w.rtmp_url("live/paced")
        pub = ffmpeg_publish(url, 60, weir=w)
        wait_media(w.rtmp_port, "live/paced")
        recorders = [PlayerRecorder(w.rtmp_port, "live/paced").start() for _ in range(players)]
        time.sleep(3)  # past the GOP replay and the start-up
        t0, writes0 = time.time(), metric_total(http, "weir_write_calls_total")
        time.sleep(6)
        t1, writes1 = time.time(), metric_total(http, "weir_write_calls_total")
        for r in recorders:
            r.stop()
        check(pub.poll() is None, f"publisher stopped: {read_text(pub.err_path)[-2000:]}")
        seconds = t1 - t0
        per_player = (writes1 - writes0) / seconds / players
        video = [len([m for m in r.video() if t0 <= m[0] <= t1]) / seconds for r in recorders]
        audio = [len([m for m in r.audio() if t0 <= m[0] <= t1]) / seconds for r in recorders]
        print(f"writes per player per second: {per_player:.1f}; video frames/s {min(video):.1f}..{max(video):.1f}, "
              f"audio frames/s {min(audio):.1f}..{max(audio):.1f}")
        for r in recorders:
            check(r.error is None, f"a player failed: {r.error}")
            stamps = [m[2] for m in r.audio()]
            check(stamps == sorted(stamps), "audio timestamps went back")
        check(min(video) >= 0.8 * FPS, f"players got {min(video):.1f} video frames/s, expected ~{FPS}")
        check(min(audio) >= 0.8 * 44100 / 1024, f"players got {min(audio):.1f} audio frames/s, expected ~43")
        # The window's writes include the publisher's acknowledgements and the /metrics answers: a few.
        check(per_player <= 1.25 * FPS,
              f"{per_player:.1f} writes per player per second for {FPS} video frames/s: audio did not ride with video")


# ---- 11 ----
def case_play_start_latency(_):
    """Time from play to NetStream.Play.Start, and to the first key frame (printed, not asserted)."""
    with Weir(threads=2) as w:
        url = w.rtmp_url("live/fast")
        ffmpeg_publish(url, 30, weir=w)
        wait_media(w.rtmp_port, "live/fast")
        starts, keys = [], []
        for _ in range(5):
            c = RtmpClient("127.0.0.1", w.rtmp_port)
            try:
                c.connect("live")
                sid = c.create_stream()
                t0 = time.perf_counter()
                c.command("play", None, "fast", -2, stream_id=sid, txn=0)
                status = c.wait_status_code("NetStream.Play.Start")
                t1 = time.perf_counter()
                c.wait_for(lambda m: m[0] == MSG_VIDEO and is_key_frame(m[3]), timeout=15)
                t2 = time.perf_counter()
                check(status.get("level") == "status", f"Play.Start: {status}")
                starts.append((t1 - t0) * 1000)
                keys.append((t2 - t0) * 1000)
            finally:
                c.close()
        for s, k in zip(starts, keys):
            print(f"play_start_ms={s:.2f} first_key_frame_ms={k:.2f}")
        print(f"play_start_ms median={statistics.median(starts):.2f}; first key frame median={statistics.median(keys):.2f}")


def case_rtmps_publish_and_play(_):
    """RTMPS: a certificate made here; ffmpeg publishes over rtmps:// and plays over rtmps:// and
    plain rtmp://, decoding without errors."""
    from harness import free_port
    with Weir(threads=2) as probe_dir:
        cert, key = probe_dir.path("cert.pem"), probe_dir.path("key.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
             "-days", "2", "-subj", "/CN=localhost"], timeout=60)
        tls_port = free_port()
        with Weir(threads=2, rtmp={"tls_listen": f"127.0.0.1:{tls_port}", "tls_certificate": cert,
                                   "tls_private_key": key}) as w:
            secure = f"rtmps://127.0.0.1:{tls_port}/live/tls"
            pub = ffmpeg_publish(secure, 30, weir=w)
            wait_media(w.rtmp_port, "live/tls")
            for i, url in enumerate((secure, w.rtmp_url("live/tls"))):
                dec = w.path(f"tls-{i}.md5")
                played = run(ffmpeg_play_cmd(url, "-t", "2", "-f", "framemd5", dec), timeout=40)
                check(played.stderr.strip() == "", f"ffmpeg {url}: {played.stderr[-2000:]}")
                frames, _ = video_lines(read_text(dec))
                print(f"{url}: {len(frames)} video frames decoded")
                check(len(frames) >= 40, f"{url}: only {len(frames)} frames in 2 s")
            check(pub.poll() is None, "the RTMPS publisher stopped early")
            check("listening on 127.0.0.1:%d (rtmps, TLS)" % tls_port in w.log(), "no TLS listener in the log")


CASES = {
    "rtmps_publish_and_play": case_rtmps_publish_and_play,
    "ffmpeg_publish_and_play": case_ffmpeg_publish_and_play,
    "rtmpdump_plays": case_rtmpdump_plays,
    "two_groups_identical_media": case_two_groups_identical_media,
    "second_publisher_bad_name": case_second_publisher_bad_name,
    "play_missing_not_found": case_play_missing_not_found,
    "play_missing_wait": case_play_missing_wait,
    "late_joiner_starts_at_key_frame": case_late_joiner_starts_at_key_frame,
    "publisher_reconnect_within_grace": case_publisher_reconnect_within_grace,
    "slow_player_disconnected": case_slow_player_disconnected,
    "play_start_latency": case_play_start_latency,
    "one_write_per_video_frame": case_one_write_per_video_frame,
    "players_joining_apart_share_framing": case_players_joining_apart_share_framing,
}


if __name__ == "__main__":
    run_cases(CASES)
