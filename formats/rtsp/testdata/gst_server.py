#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# GStreamer's RTSP server with one test stream (H.264 + AAC, or H.265 + Opus), for capture.py proxy.
#   gst_server.py PORT h264|h265
import sys

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINES = {
    "h264": "( videotestsrc is-live=1 ! video/x-raw,width=320,height=240 ! openh264enc ! h264parse"
            " ! rtph264pay name=pay0 pt=96 config-interval=-1"
            " audiotestsrc is-live=1 ! avenc_aac ! aacparse ! rtpmp4gpay name=pay1 pt=97 )",
    "h265": "( videotestsrc is-live=1 ! video/x-raw,width=320,height=240 ! x265enc ! h265parse"
            " ! rtph265pay name=pay0 pt=96 config-interval=-1"
            " audiotestsrc is-live=1 ! opusenc ! rtpopuspay name=pay1 pt=97 )",
}

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(PIPELINES[sys.argv[2]])
factory.set_shared(True)
server.get_mount_points().add_factory("/test", factory)
server.attach(None)
GLib.MainLoop().run()
