#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Runs the ffmpeg command given after "--" with {v} and {a} replaced by two free even UDP ports
# (RTP on the port, RTCP on port + 1, as ffmpeg's rtp muxer sends them) and writes each of the
# four flows as it arrived to <prefix>_{video,audio}_{rtp,rtcp}.packets: a 2-byte big-endian length
# then the datagram, one after another.
import select
import socket
import struct
import subprocess
import sys
import time


def bind_pair():
    for base in range(40000, 60000, 2):
        try:
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp.bind(("127.0.0.1", base))
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtcp.bind(("127.0.0.1", base + 1))
            return base, rtp, rtcp
        except OSError:
            continue
    raise SystemExit("no free port pair")


def main():
    prefix = sys.argv[1]
    command = sys.argv[sys.argv.index("--") + 1:]
    vport, vrtp, vrtcp = bind_pair()
    aport, artp, artcp = bind_pair()
    flows = {vrtp: "video_rtp", vrtcp: "video_rtcp", artp: "audio_rtp", artcp: "audio_rtcp"}
    out = {name: open(f"{prefix}_{name}.packets", "wb") for name in flows.values()}
    command = [c.replace("{v}", str(vport)).replace("{a}", str(aport)) for c in command]
    process = subprocess.Popen(command)
    ended_at = None
    while True:
        ready, _, _ = select.select(list(flows), [], [], 0.2)
        for s in ready:
            data = s.recv(65536)
            out[flows[s]].write(struct.pack(">H", len(data)) + data)
        if process.poll() is not None and ended_at is None:
            ended_at = time.monotonic()
        if ended_at is not None and not ready and time.monotonic() - ended_at > 0.5:
            break
    for f in out.values():
        f.close()
    sys.exit(process.returncode)


main()
