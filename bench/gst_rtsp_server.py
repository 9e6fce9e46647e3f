#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench/gst_rtsp_server.py: GStreamer's RTSP server (gst-rtsp-server, Python GI), the peer of
Weir's mod_rtsp in bench/run's scenario (g) (bench/README.md says why it is set up this way).

    bench/gst_rtsp_server.py --port 8554 --source rtmp://127.0.0.1:1935/live/s --mount /live/s

Serves rtsp://127.0.0.1:PORT/MOUNT from one shared media whose pipeline pulls the RTMP stream that
weir_load's publisher sends to a relay (the same bytes, send-time stamps included, that Weir plays):

    rtmp2src -> flvdemux -+- h264parse -> queue -> rtph264pay name=pay0 (pt 96, SPS/PPS before every IDR)
                          +-------------- queue -> rtpmp4gpay name=pay1 (pt 97, AAC-hbr)

(h264parse only marks the stream as whole access units, which rtph264pay needs and flvdemux does not
say; the NAL units, the send-time stamps' SEI among them, pass as they are.)

The source (rtmp2src, flvdemux, h264parse) runs in threads of its own ("src:src", and rtmp2src's
network loop), apart from the queues' threads ("vq:src", "aq:src") that payload and deliver to the
players, so that bench/run can count the source's CPU apart (/proc/PID/task/*/stat by thread name). TCP interleaved and UDP unicast are both
offered. The media is prepared (the source connected, caps known) before it prints "ready"; it stops
on SIGTERM or SIGINT.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def make_factory(source):
    factory = GstRtspServer.RTSPMediaFactory()
    # The names of the elements matter: rtmp2src, flvdemux and h264parse run in the source's
    # threads ("src:src", rtmp2src's loop), the queues start the delivery threads ("vq:src", "aq:src").
    factory.set_launch(
        f"( rtmp2src name=src location={source} ! flvdemux name=demux "
        "demux.video ! h264parse name=parse ! queue name=vq ! rtph264pay name=pay0 pt=96 config-interval=-1 "
        "demux.audio ! queue name=aq ! rtpmp4gpay name=pay1 pt=97 )")
    # One pipeline for every player, as Weir's one stream for every player.
    factory.set_shared(True)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
    return factory


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--source", required=True, help="rtmp://HOST:PORT/APP/NAME to pull")
    parser.add_argument("--mount", default="/live/s")
    parser.add_argument("--backlog", type=int, default=511,
                        help="listen backlog (gst-rtsp-server's default is 5; nginx-rtmp's is 511)")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    server.set_backlog(args.backlog)

    ok, url = GstRtsp.RTSPUrl.parse(f"rtsp://{args.address}:{args.port}{args.mount}")
    if ok != GstRtsp.RTSPResult.OK:
        print(f"gst_rtsp_server: bad mount {args.mount}", file=sys.stderr)
        return 1
    thread = server.get_thread_pool().get_thread(GstRtspServer.RTSPThreadType.MEDIA, GstRtspServer.RTSPContext())
    # Prepare the shared media now, and hold it: its source then runs from start-up like Weir's
    # stream, which lives while it is published, not only while someone plays it; and players that
    # come just as the last ones leave are not sent to a media being torn down (503 to DESCRIBE).
    # Joining a live RTMP stream at some moments fails the prepare now and then: a fresh factory
    # and media are tried again.
    for attempt in range(1, 6):
        factory = make_factory(args.source)
        media = factory.construct(url)
        prepared = media is not None and media.prepare(thread)
        if prepared:
            break
        print(f"gst_rtsp_server: prepare {attempt} of {args.source} failed", file=sys.stderr)
        if media is not None:
            media.unprepare()
    else:
        print(f"gst_rtsp_server: cannot prepare the media of {args.source}", file=sys.stderr)
        return 1
    server.get_mount_points().add_factory(args.mount, factory)

    # gst-rtsp-server keeps a shared media PAUSED until a player PLAYs; a live source goes on
    # meanwhile, so what it sent piles up and, played out against the clock, stays behind by as long
    # as the media waited: seconds of delay that are the test's set-up, not the server's. So the
    # media plays from now on, as Weir's stream does once published.
    pipeline = media.get_element().get_parent()
    # The sinks it adds per transport (appsink for TCP, multiudpsink for UDP) play out against the
    # clock by default: once delivery has fallen behind (a ramp of new players), the queue before
    # them stays full for good and every frame arrives up to its size (1 s) late. A relay sends
    # what it has as soon as it can, as Weir does: sync off.
    def sync_off(element):
        # a GstBaseSink (sync and max-lateness are its properties), without importing GstBase
        if element.find_property("sync") is not None and element.find_property("max-lateness") is not None:
            element.set_property("sync", False)
            print(f"gst_rtsp_server: sync off on {element.get_name()}", file=sys.stderr, flush=True)
    pipeline.connect("element-added", lambda _bin, element: sync_off(element))
    pipeline.connect("deep-element-added", lambda _bin, _sub, element: sync_off(element))
    pipeline.set_state(Gst.State.PLAYING)

    # Listen only now: a DESCRIBE that comes while the shared media prepares makes the prepare fail.
    if server.attach(None) == 0:
        print(f"gst_rtsp_server: cannot listen on {args.address}:{args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
