#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mod_file recordings with real clients: ffmpeg publishes over RTMP, the recording is an MP4
that ffprobe reads and ffmpeg decodes; a kill -9 mid-recording loses at most ~a second once the
next start repaired it; a disk that cannot be written stops that recording alone."""
import glob
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Weir, ffmpeg_publish, ffprobe_json, run, run_cases, stop_process, wait_media  # noqa: E402

MODULES = ("mod_rtmp", "mod_file")


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def recordings(directory):
    return sorted(glob.glob(os.path.join(directory, "**", "*.mp4"), recursive=True))


def probe(path):
    """(video frames, audio frames, duration s, decode errors) of a file."""
    info = ffprobe_json(path, "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames:format=duration")
    frames = {s["codec_type"]: int(s.get("nb_read_frames", 0)) for s in info["streams"]}
    decode = run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"], timeout=60, check=False)
    return frames.get("video", 0), frames.get("audio", 0), float(info["format"]["duration"]), decode.stderr.strip()


def case_record_ffmpeg_publish(_):
    """[file] record = live: a 4 s publish is one MP4 named by record_file, finished when the
    publisher leaves (and its grace period ends), with every frame in it."""
    directory = tempfile.mkdtemp(prefix="weir-rec-")
    with Weir(modules=MODULES, file={"record": "live", "record_dir": directory,
                                     "record_file": "{app}/{name}-{start:%Y%m%d}.mp4"}) as w:
        pub = ffmpeg_publish(w.rtmp_url("live/cam"), 4, weir=w)
        w.wait_log(r"recording live/cam to .*live/cam-\d{8}\.mp4")
        check(pub.wait(timeout=30) == 0, "ffmpeg publish failed")
        m = w.wait_log(r"recording live/cam to (\S+) ended \(the stream was unpublished\): (\d+) frames", timeout=20)
        path, frames = m.group(1), int(m.group(2))
        check(os.path.exists(path), f"no file {path}")
        video, audio, duration, errors = probe(path)
        print(f"{path}: {video} video, {audio} audio frames, {duration:.2f} s, log says {frames} frames", flush=True)
        check(video >= 95 and audio >= 165, f"frames: {video} video, {audio} audio")
        check(video + audio == frames, f"the file has {video + audio} frames, the log said {frames}")
        check(3.8 <= duration <= 4.3, f"duration {duration}")
        check(errors == "", f"ffmpeg decode errors: {errors}")
        # Another stream of the app is recorded too; one of another app is not.
        pub2 = ffmpeg_publish(w.rtmp_url("other/cam"), 1, weir=w)
        check(pub2.wait(timeout=30) == 0, "ffmpeg publish failed")
        time.sleep(0.5)
        check("recording other/cam" not in w.log(), "a stream of another app was recorded")
    shutil.rmtree(directory, ignore_errors=True)


def case_publisher_back_within_grace_one_file(_):
    """A publisher that drops and comes back within [streams] publisher_grace goes on in the same
    file, its timestamps (restarting at 0) moved to follow the first part's."""
    directory = tempfile.mkdtemp(prefix="weir-rec-")
    with Weir(modules=MODULES, streams={"publisher_grace": "5s"}, file={"record": "live", "record_dir": directory}) as w:
        for _ in range(2):
            pub = ffmpeg_publish(w.rtmp_url("live/cam"), 3, weir=w)
            check(pub.wait(timeout=30) == 0, "ffmpeg publish failed")
        w.wait_log(r"recording live/cam to \S+ ended \(the stream was unpublished\)", timeout=20)
        check(w.log().count("recording live/cam to ") == 2, "not one file (a start line and an end line)")
    files = recordings(directory)
    check(len(files) == 1, f"recordings: {files}")
    video, audio, duration, errors = probe(files[0])
    print(f"{files[0]}: {video} video, {audio} audio frames, {duration:.2f} s", flush=True)
    check(video >= 145 and 5.5 <= duration <= 7.5, f"{video} video frames, {duration} s: both parts, one after the other")
    check(errors == "", f"ffmpeg decode errors: {errors}")
    shutil.rmtree(directory, ignore_errors=True)


def case_segments_and_retention(_):
    """segment_duration = 2s: a 7 s publish is files of ~2 s, each starting at a key frame and
    playing on its own; retention_size then keeps the newest within the limit, logging each
    deletion."""
    directory = tempfile.mkdtemp(prefix="weir-rec-")
    limit = 400 * 1024
    with Weir(modules=MODULES, file={"record": "live", "record_dir": directory, "segment_duration": "2s",
                                     "retention_size": limit}) as w:
        pub = ffmpeg_publish(w.rtmp_url("live/cam"), 7, weir=w)
        check(pub.wait(timeout=30) == 0, "ffmpeg publish failed")
        w.wait_log(r"recording live/cam to \S+ ended \(the stream was unpublished\)", timeout=20)
        segments = w.log().count("ended (the segment is complete)")
        check(segments >= 2, f"{segments} segments ended")
        w.wait_log(r"retention: deleted \S+ \(\d+ bytes; past \[file\] retention_size\)", timeout=10)
        time.sleep(0.5)  # the last pass after the last file
    files = recordings(directory)
    sizes = [os.path.getsize(f) for f in files]
    print(f"{segments + 1} files written, kept {len(files)}: {sizes} (limit {limit})", flush=True)
    check(0 < len(files) < segments + 1 and sum(sizes) <= limit, f"kept {sizes}")
    for path in files:
        video, _, duration, errors = probe(path)
        first = ffprobe_json(path, "-select_streams", "v", "-show_frames", "-read_intervals", "%+#1",
                             "-show_entries", "frame=key_frame")["frames"][0]
        print(f"{os.path.basename(path)}: {video} video frames, {duration:.2f} s, first key={first['key_frame']}", flush=True)
        check(first["key_frame"] == 1, f"{path} does not start at a key frame")
        check(errors == "", f"{path}: ffmpeg decode errors: {errors}")
        check(duration <= 2.6, f"{path}: {duration} s, longer than a segment")
    shutil.rmtree(directory, ignore_errors=True)


def http_get(port, path, headers=None, method="GET"):
    """(status, headers (lower-case names), body) of one request, the path sent as it is."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def case_download_range_head_etag(_):
    """GET /recordings/APP/FILE of a finished recording: the bytes of the file; Range gives 206
    with the exact bytes, past the end 416; HEAD the headers alone; If-None-Match 304; ffprobe
    plays it over HTTP (it seeks to the moov at the end with a Range); a recording still being
    written is 409; a path out of record_dir (.., encoded dots, a symlink) is 403, a missing one 404."""
    directory = tempfile.mkdtemp(prefix="weir-rec-")
    http_port = harness.free_port()
    with Weir(modules=("mod_http",) + MODULES, http={"listen": f"127.0.0.1:{http_port}"},
              file={"record": "live", "record_dir": directory, "record_file": "{app}/{name}.mp4"}) as w:
        pub = ffmpeg_publish(w.rtmp_url("live/cam"), 3, weir=w)
        w.wait_log(r"recording live/cam to ")
        wait_media(w.rtmp_port, "live/cam")
        status, _, body = http_get(http_port, "/recordings/live/cam.mp4")
        check(status == 409, f"a recording being written: {status} {body[:80]}")
        check(pub.wait(timeout=30) == 0, "ffmpeg publish failed")
        w.wait_log(r"recording live/cam to \S+ ended", timeout=20)
        with open(os.path.join(directory, "live", "cam.mp4"), "rb") as f:
            data = f.read()
        size = len(data)
        status, headers, body = http_get(http_port, "/recordings/live/cam.mp4")
        check(status == 200 and body == data, f"GET: {status}, {len(body)} of {size} bytes, equal: {body == data}")
        check(headers.get("content-type") == "video/mp4" and headers.get("accept-ranges") == "bytes", headers)
        etag = headers.get("etag", "")
        check(etag.startswith('"') and headers.get("last-modified", "").endswith("GMT"), headers)
        for rng, first, last in (("bytes=100-199", 100, 199), ("bytes=-50", size - 50, size - 1),
                                 (f"bytes={size - 10}-", size - 10, size - 1), (f"bytes=0-{size + 100}", 0, size - 1)):
            status, headers, body = http_get(http_port, "/recordings/live/cam.mp4", {"Range": rng})
            check(status == 206 and body == data[first:last + 1], f"{rng}: {status}, {len(body)} bytes")
            check(headers.get("content-range") == f"bytes {first}-{last}/{size}", f"{rng}: {headers}")
        status, headers, _ = http_get(http_port, "/recordings/live/cam.mp4", {"Range": f"bytes={size}-"})
        check(status == 416 and headers.get("content-range") == f"bytes */{size}", f"past the end: {status} {headers}")
        status, headers, body = http_get(http_port, "/recordings/live/cam.mp4", method="HEAD")
        check(status == 200 and body == b"" and headers.get("content-length") == str(size), f"HEAD: {status} {headers}")
        status, _, body = http_get(http_port, "/recordings/live/cam.mp4", {"If-None-Match": etag})
        check(status == 304 and body == b"", f"If-None-Match: {status}")
        url = f"http://127.0.0.1:{http_port}/recordings/live/cam.mp4"
        video, audio, duration, errors = probe(url)
        print(f"over HTTP: {video} video, {audio} audio frames, {duration:.2f} s", flush=True)
        check(video >= 70 and errors == "", f"ffprobe over HTTP: {video} frames, errors: {errors}")
        # A large file: many portions of pages read on the workers, paced by the client; a range
        # across page boundaries.
        big = os.urandom(24 * 1024 * 1024 + 12345)
        with open(os.path.join(directory, "live", "big.bin"), "wb") as f:
            f.write(big)
        status, headers, body = http_get(http_port, "/recordings/live/big.bin")
        check(status == 200 and body == big and headers.get("content-type") == "application/octet-stream",
              f"a large file: {status}, {len(body)} of {len(big)} bytes")
        status, _, body = http_get(http_port, "/recordings/live/big.bin", {"Range": "bytes=70000-9000000"})
        check(status == 206 and body == big[70000:9000001], f"a range of the large file: {status}, {len(body)} bytes")
        os.symlink(w.conf_path, os.path.join(directory, "live", "evil.mp4"))
        for path, expected in (("/recordings/../weir.conf", 403), ("/recordings/live/%2e%2e/%2e%2e/etc/passwd", 403),
                               ("/recordings/live/evil.mp4", 403), ("/recordings/live/none.mp4", 404)):
            status, _, body = http_get(http_port, path)
            check(status == expected, f"{path}: {status} {body[:100]}")
    shutil.rmtree(directory, ignore_errors=True)


def case_chromium_plays_download(_):
    """Headless Chromium plays a recording through <video> from /recordings/ (its own Range
    requests): currentTime passes 3 s."""
    if not shutil.which("chromium"):
        harness.skip("no chromium (Debian: chromium)")
    directory = tempfile.mkdtemp(prefix="weir-rec-")
    http_port = harness.free_port()
    with Weir(modules=("mod_http",) + MODULES, http={"listen": f"127.0.0.1:{http_port}"},
              file={"record": "live", "record_dir": directory, "record_file": "{app}/{name}.mp4"}) as w:
        pub = ffmpeg_publish(w.rtmp_url("live/cam"), 5, weir=w)
        check(pub.wait(timeout=30) == 0, "ffmpeg publish failed")
        w.wait_log(r"recording live/cam to \S+ ended", timeout=20)
        # --dump-dom reads the page at its load event: an image that takes 6 s holds it while the
        # video plays in real time.
        import http.server
        import threading

        class Slow(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(6)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        slow = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        threading.Thread(target=slow.serve_forever, daemon=True).start()
        page = w.path("play.html")
        with open(page, "w") as f:
            f.write(f"""<html><body><img src="http://127.0.0.1:{slow.server_port}/slow">
<video id="v" muted autoplay src="http://127.0.0.1:{http_port}/recordings/live/cam.mp4"></video>
<script>
const v = document.getElementById("v");
v.onerror = () => {{ document.title = "error:" + (v.error && v.error.code); }};
setInterval(() => {{ if (v.currentTime > 3) document.title = "played:" + v.currentTime.toFixed(2); }}, 100);
</script></body></html>""")
        profile = w.path("chromium-profile")
        r = run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}",
                 "--dump-dom", "file://" + page], timeout=90, check=False)
        slow.shutdown()
        title = r.stdout.split("<title>", 1)[1].split("</title>", 1)[0] if "<title>" in r.stdout else ""
        print(f"chromium: {title!r}", flush=True)
        check(title.startswith("played:"), f"chromium did not play past 3 s: {title!r} {r.stderr[-500:]}")
    shutil.rmtree(directory, ignore_errors=True)


def case_sigterm_finishes(_):
    """A server stopped (SIGTERM) while a stream is recorded finishes the file on its way out:
    it plays without a repair."""
    directory = tempfile.mkdtemp(prefix="weir-rec-")
    with Weir(modules=MODULES, file={"record": "live", "record_dir": directory}) as w:
        pub = ffmpeg_publish(w.rtmp_url("live/cam"), 20, weir=w)
        w.wait_log(r"recording live/cam to ")
        wait_media(w.rtmp_port, "live/cam")
        time.sleep(3)
        check(w.stop() == 0, "weir did not exit cleanly")
        w.wait_log(r"recording live/cam to \S+ ended \(the server is stopping\)")
    files = recordings(directory)
    check(len(files) == 1, f"recordings: {files}")
    video, audio, duration, errors = probe(files[0])
    print(f"{files[0]}: {video} video, {audio} audio frames, {duration:.2f} s", flush=True)
    check(video >= 60 and duration >= 2.5, f"{video} video frames, {duration} s")
    check(errors == "", f"ffmpeg decode errors: {errors}")
    shutil.rmtree(directory, ignore_errors=True)


def case_kill9_repaired(_):
    """kill -9 ten seconds into a recording: the next start repairs the file, which plays and
    lost at most 1.5 s of what was published."""
    directory = tempfile.mkdtemp(prefix="weir-rec-")
    conf = {"record": "live", "record_dir": directory}
    w = Weir(modules=MODULES, file=conf)
    w.__enter__()  # not `with`: this server dies by SIGKILL, not SIGTERM
    try:
        pub = ffmpeg_publish(w.rtmp_url("live/cam"), 30, weir=w)
        w.wait_log(r"recording live/cam to ")
        wait_media(w.rtmp_port, "live/cam")
        started = time.time()
        time.sleep(10)
        w.proc.send_signal(signal.SIGKILL)
        published = time.time() - started
        w.proc.wait(timeout=10)
    finally:
        if w.proc.poll() is None:
            w.proc.kill()
        for p in w.children:
            stop_process(p)
        print(f"---- killed weir's log tail ----\n{w.log()[-3000:]}", flush=True)
        shutil.rmtree(w.dir, ignore_errors=True)
    files = recordings(directory)
    check(len(files) == 1, f"recordings: {files}")
    r = run(["ffprobe", "-v", "error", files[0]], timeout=30, check=False)
    check(r.returncode != 0, "the file played before its repair: it was finished?")
    with Weir(modules=MODULES, file=conf) as w2:
        w2.wait_log(r"repaired .*\.mp4: an unfinished recording, (\d+) ms of it kept", timeout=30)
    video, audio, duration, errors = probe(files[0])
    print(f"published {published:.1f} s; repaired: {video} video, {audio} audio frames, {duration:.2f} s", flush=True)
    check(duration >= published - 1.5, f"kept {duration:.2f} s of {published:.1f} s")
    check(errors == "", f"ffmpeg decode errors: {errors}")
    shutil.rmtree(directory, ignore_errors=True)


def case_disk_error_costs_nothing_else(_):
    """record_dir that cannot be created (a file is in the way): that recording stops with one
    line naming the path and why; the stream still plays."""
    blocker = tempfile.mkstemp(prefix="weir-not-a-dir-")[1]
    with Weir(modules=MODULES, file={"record": "live", "record_dir": os.path.join(blocker, "rec")}) as w:
        pub = ffmpeg_publish(w.rtmp_url("live/cam"), 6, weir=w)
        w.wait_log(r"recording live/cam stopped: create the directory of .*weir-not-a-dir-\w+/rec/live/cam-.*\.mp4: ")
        wait_media(w.rtmp_port, "live/cam")
        check(pub.poll() is None, "the publisher was disturbed")
        stop_process(pub)
    os.remove(blocker)


def case_bad_config(_):
    for key, value, says in (("record_file", "{app}/{nmae}.mp4", "unknown field {nmae}"),
                             ("record_file", "../{name}.mp4", "inside record_dir"),
                             ("record_format", "flv", "only mp4"),
                             ("flush_interval", "1ms", "at least 10ms")):
        w = Weir(modules=MODULES, file={key: value})
        r = run([harness.WEIR, "-c", w.conf_path, "--check-config"], timeout=20, check=False)
        check(r.returncode != 0 and key in r.stderr and says in r.stderr and "weir.conf:" in r.stderr,
              f"{key} = {value}: {r.returncode} {r.stderr}")


if __name__ == "__main__":
    run_cases({name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")})
