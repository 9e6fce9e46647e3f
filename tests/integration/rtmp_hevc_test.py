#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Enhanced RTMP HEVC through weir.

--case ffmpeg_publish: ffmpeg publishes HEVC in FLV and plays it back with -c copy; the packets must
  be the ones published. FFmpeg before 6.1 cannot put HEVC in FLV: the case then skips, saying so.
--case crafted: our client publishes E-RTMP HEVC built from an elementary stream that libx265 wrote:
  FourCC 'hvc1', a SequenceStart carrying an hvcC record built here, CodedFrames and CodedFramesX,
  SequenceEnd. A player from the start and a late joiner must receive the very same bodies, and the
  bodies turned back into Annex B must decode."""
import argparse
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_cases, Deadline, Weir, parse_framemd5, read_text, run, skip, stop_process  # noqa: E402
from rtmp_client import FOURCC_HEVC, PlayerRecorder, RtmpClient, video_info  # noqa: E402

FPS = 25
# E-RTMP video packet types
SEQUENCE_START, CODED_FRAMES, SEQUENCE_END, CODED_FRAMES_X = 0, 1, 2, 3


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def ffmpeg_can_mux_hevc_flv():
    try:
        r = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                            "testsrc=size=160x120:rate=25", "-t", "1", "-c:v", "libx265", "-x265-params", "log-level=error",
                            "-f", "flv", "-"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    if r.returncode == 0 and r.stdout:
        return True, ""
    err = r.stderr.decode(errors="replace").strip().splitlines()
    return False, err[0] if err else f"exit {r.returncode}"


def ffmpeg_version():
    try:
        return subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=10).stdout.split(" Copyright")[0]
    except (OSError, subprocess.TimeoutExpired):
        return "ffmpeg: not found"


# ---- ffmpeg publishes HEVC in FLV (FFmpeg >= 6.1) ----
def case_ffmpeg_publish(_):
    can, why = ffmpeg_can_mux_hevc_flv()
    if not can:
        skip(f"{ffmpeg_version()} cannot publish HEVC in FLV/RTMP ({why}); Enhanced RTMP muxing came in FFmpeg 6.1. "
             f"The crafted case (--case crafted) covers E-RTMP HEVC with our own client.")
    with Weir(threads=2, rtmp={"play_missing": "wait"}) as w:
        source = w.path("source.flv")
        run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
             "-t", "6", "-c:v", "libx265", "-x265-params", "log-level=error:bframes=0:keyint=25", "-pix_fmt", "yuv420p",
             "-f", "flv", source], timeout=120)
        url = w.rtmp_url("live/hevc")
        played = w.path("played.md5")
        player = w.spawn(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url, "-c", "copy",
                          "-f", "framemd5", played], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", source, "-c", "copy", "-f", "flv", url],
            timeout=60)
        try:
            player.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stop_process(player)
        sent = [(p[4], p[5]) for p in parse_framemd5(
            run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", source, "-c", "copy", "-f", "framemd5", "-"],
                timeout=60).stdout)]
        got = [(p[4], p[5]) for p in parse_framemd5(read_text(played))]
        check(got and got == sent[:len(got)] and len(got) >= len(sent) - 1,
              f"played {len(got)} packets, published {len(sent)}; first difference at "
              f"{next((i for i, (a, b) in enumerate(zip(got, sent)) if a != b), None)}")


# ---- HEVC elementary stream -> E-RTMP ----
def split_annexb(data):
    """Annex B byte stream -> NAL units (without start codes)."""
    nals, i, n = [], 0, len(data)
    starts = []
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        nal = data[s:end]
        while nal.endswith(b"\x00") and k + 1 < len(starts):  # the zero byte of a 4-byte start code
            nal = nal[:-1]
        nals.append(nal)
    return nals


def nal_type(nal):
    return (nal[0] >> 1) & 0x3F


def rbsp(nal):
    """Drops emulation prevention bytes (00 00 03 -> 00 00)."""
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


class Bits:
    def __init__(self, data, bit=0):
        self.data, self.bit = data, bit

    def u(self, n):
        v = 0
        for _ in range(n):
            v = (v << 1) | ((self.data[self.bit // 8] >> (7 - self.bit % 8)) & 1)
            self.bit += 1
        return v

    def ue(self):
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)


def build_hvcc(vps, sps, pps):
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) from the parameter sets."""
    r = rbsp(sps)[2:]  # after the 2-byte NAL header
    max_sub_layers_minus1 = (r[0] >> 1) & 7
    temporal_id_nested = r[0] & 1
    check(max_sub_layers_minus1 == 0, "SPS with sub-layers: this builder reads only the general profile")
    general = r[1:13]  # profile space/tier/idc, 32 compatibility flags, 48 constraint flags, level
    bits = Bits(r, 13 * 8)
    bits.ue()  # sps_seq_parameter_set_id
    chroma_format_idc = bits.ue()
    if chroma_format_idc == 3:
        bits.u(1)
    bits.ue()  # pic_width_in_luma_samples
    bits.ue()  # pic_height_in_luma_samples
    if bits.u(1):  # conformance_window_flag
        for _ in range(4):
            bits.ue()
    bit_depth_luma_minus8 = bits.ue()
    bit_depth_chroma_minus8 = bits.ue()
    out = bytearray([1]) + general
    out += struct.pack(">H", 0xF000)        # reserved + min_spatial_segmentation_idc 0
    out += bytes([0xFC])                     # reserved + parallelismType 0 (unknown)
    out += bytes([0xFC | chroma_format_idc, 0xF8 | bit_depth_luma_minus8, 0xF8 | bit_depth_chroma_minus8])
    out += struct.pack(">H", 0)              # avgFrameRate unknown
    # constantFrameRate 0, numTemporalLayers 1, temporalIdNested, lengthSizeMinusOne 3
    out += bytes([(1 << 3) | (temporal_id_nested << 2) | 3])
    out += bytes([3])
    for nal in (vps, sps, pps):
        out += bytes([0x80 | nal_type(nal)]) + struct.pack(">HH", 1, len(nal)) + nal
    return bytes(out)


def encode_hevc(path, seconds=4):
    run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-t", str(seconds), "-c:v", "libx265", "-pix_fmt", "yuv420p",
         "-x265-params", "log-level=error:bframes=0:keyint=25:min-keyint=25:scenecut=0:aud=1",
         "-f", "hevc", path], timeout=120)


def access_units(nals):
    """Splits at access unit delimiters (type 35); returns [[nal, ...]] without the delimiters."""
    units, current = [], []
    for nal in nals:
        if nal_type(nal) == 35:
            if current:
                units.append(current)
            current = []
        else:
            current.append(nal)
    if current:
        units.append(current)
    return units


def ertmp_video(frame_type, packet_type, body=b"", composition_ms=None):
    out = bytes([0x80 | (frame_type << 4) | packet_type]) + FOURCC_HEVC
    if composition_ms is not None:
        out += struct.pack(">i", composition_ms)[1:]  # SI24
    return out + body


def bodies_to_annexb(bodies):
    """Received E-RTMP bodies -> Annex B (parameter sets from SequenceStart, frames length-prefixed)."""
    out = bytearray()
    for body in bodies:
        info = video_info(body)
        pt = info["packet_type"]
        if pt == SEQUENCE_START:
            hvcc = body[5:]
            pos = 23
            for _ in range(hvcc[22]):
                count = struct.unpack_from(">H", hvcc, pos + 1)[0]
                pos += 3
                for _ in range(count):
                    n = struct.unpack_from(">H", hvcc, pos)[0]
                    out += b"\x00\x00\x00\x01" + hvcc[pos + 2:pos + 2 + n]
                    pos += 2 + n
        elif pt in (CODED_FRAMES, CODED_FRAMES_X):
            data = body[8:] if pt == CODED_FRAMES else body[5:]
            pos = 0
            while pos < len(data):
                n = struct.unpack_from(">I", data, pos)[0]
                out += b"\x00\x00\x00\x01" + data[pos + 4:pos + 4 + n]
                pos += 4 + n
    return bytes(out)


def case_crafted(_):
    with Weir(threads=2, rtmp={"play_missing": "wait"}) as w:
        es = w.path("testsrc.hevc")
        encode_hevc(es)
        with open(es, "rb") as f:
            units = access_units(split_annexb(f.read()))
        params = {nal_type(n): n for unit in units for n in unit if nal_type(n) in (32, 33, 34)}
        check(set(params) == {32, 33, 34}, f"parameter sets in libx265's stream: {sorted(params)}")
        hvcc = build_hvcc(params[32], params[33], params[34])
        messages = [(0, ertmp_video(1, SEQUENCE_START, hvcc))]
        for i, unit in enumerate(units):
            frame = [n for n in unit if nal_type(n) not in (32, 33, 34, 39, 40)]  # no parameter sets, no SEI
            if not frame:
                continue
            is_key = any(16 <= nal_type(n) <= 23 for n in frame)
            body = b"".join(struct.pack(">I", len(n)) + n for n in frame)
            if i % 2:
                messages.append((i * 40, ertmp_video(1 if is_key else 2, CODED_FRAMES_X, body)))
            else:
                messages.append((i * 40, ertmp_video(1 if is_key else 2, CODED_FRAMES, body, composition_ms=0)))
        messages.append((len(units) * 40, ertmp_video(1, SEQUENCE_END)))
        keys = [k for k, (_, body) in enumerate(messages) if video_info(body)["frame_type"] == 1
                and video_info(body)["packet_type"] in (CODED_FRAMES, CODED_FRAMES_X)]
        print(f"{len(units)} access units, key frames at messages {keys}, hvcC {len(hvcc)} bytes")
        check(len(keys) >= 3, f"libx265 made {len(keys)} key frames")

        first = PlayerRecorder(w.rtmp_port, "live/hevc", keep_payloads=True).start()
        pub = RtmpClient("127.0.0.1", w.rtmp_port)
        late = None
        try:
            pub.connect("live")
            sid, status = pub.publish("hevc")
            check(status.get("code") == "NetStream.Publish.Start", f"publish: {status}")
            pub.send_metadata(sid, {"width": 320.0, "height": 240.0, "framerate": 25.0,
                                    "videocodecid": float(int.from_bytes(FOURCC_HEVC, "big")), "encoder": "weir-it"})
            # Half, then a late joiner (served from the GOP cache), then the rest.
            split = keys[1] + 5
            for ts, body in messages[:split]:
                pub.send_video(sid, body, ts)
                time.sleep(0.005)
            deadline = Deadline(15)
            while len(first.video()) < split and deadline.left() and first.error is None:
                time.sleep(0.05)
            late = PlayerRecorder(w.rtmp_port, "live/hevc", keep_payloads=True).start()
            while len(late.video()) < 1 + split - keys[1] and deadline.left() and late.error is None:
                time.sleep(0.05)
            for ts, body in messages[split:]:
                pub.send_video(sid, body, ts)
                time.sleep(0.005)
            deadline = Deadline(15)
            while (len(first.video()) < len(messages) or len(late.video()) < len(messages) - keys[1] + 1) \
                    and deadline.left() and first.error is None and late.error is None:
                time.sleep(0.05)
        finally:
            pub.close()
            first.stop()
            if late:
                late.stop()
        check(first.error is None and late.error is None, f"player errors: {first.error} / {late.error}")

        sent = [body for _, body in messages]
        got = [m[3] for m in first.video()]
        print(f"player from the start: {len(got)} of {len(sent)} video messages")
        check(len(got) == len(sent), f"player from the start got {len(got)} video messages, {len(sent)} were sent")
        for k, (a, b) in enumerate(zip(got, sent)):
            check(a == b, f"video message {k} differs: got {a[:16].hex()}... ({len(a)} bytes), "
                  f"sent {b[:16].hex()}... ({len(b)} bytes)")
        got_ts = [m[2] for m in first.video()]
        sent_ts = [ts for ts, _ in messages]
        # The SequenceStart before any frame has no time of its own; frames keep the publisher's.
        check(got_ts[1:] == [t - sent_ts[1] for t in sent_ts[1:]], f"timestamps: {got_ts[:10]} vs {sent_ts[:10]}")

        late_got = [m[3] for m in late.video()]
        expected_late = [sent[0]] + sent[keys[1]:]
        print(f"late joiner: {len(late_got)} video messages, starting with packet types "
              f"{[video_info(b)['packet_type'] for b in late_got[:3]]}")
        check(late_got[:1] == [sent[0]], "late joiner's first video message is not the SequenceStart sent")
        check(late_got == expected_late,
              f"late joiner got {len(late_got)} messages, expected SequenceStart + {len(sent) - keys[1]} from the key frame "
              f"at {keys[1]}; first difference at "
              f"{next((i for i, (a, b) in enumerate(zip(late_got, expected_late)) if a != b), None)}")

        # What the player received is a decodable HEVC stream, frame for frame.
        annexb = w.path("received.hevc")
        with open(annexb, "wb") as f:
            f.write(bodies_to_annexb(got))
        decoded = run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "hevc", "-i", annexb,
                       "-f", "framemd5", "-"], timeout=60)
        frames = [p for p in parse_framemd5(decoded.stdout) if p[0] == 0]
        check(decoded.stderr.strip() == "", f"decoding what the player received: {decoded.stderr[-2000:]}")
        check(len(frames) == len(units), f"decoded {len(frames)} frames, {len(units)} were sent")
        source = run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "hevc", "-i", es,
                      "-f", "framemd5", "-"], timeout=60)
        check([p[5] for p in frames] == [p[5] for p in parse_framemd5(source.stdout) if p[0] == 0],
              "decoded pictures differ from the source's")
        print(f"decoded {len(frames)} pictures identical to the source's")


CASES = {"ffmpeg_publish": case_ffmpeg_publish, "crafted": case_crafted}


if __name__ == "__main__":
    run_cases(CASES)
