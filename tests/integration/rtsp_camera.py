#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in camera for the pull tests: GStreamer's RTSP server (python3 GI, Debian's python3-gi
with gir1.2-gst-rtsp-server-1.0) serving live H.264 + AAC at rtsp://127.0.0.1:PORT/live/src.

    rtsp_camera.py PORT [--digest USER:PASS]

With --digest every request must carry Digest credentials (401 with a challenge otherwise).
Runs until killed; prints "ready" once listening."""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

PIPELINE = ("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
            "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! video/x-h264,profile=baseline "
            "! rtph264pay name=pay0 pt=96 config-interval=1 "
            "audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=44100,channels=1 ! voaacenc bitrate=64000 "
            "! rtpmp4gpay name=pay1 pt=97 )")


def main():
    Gst.init(None)
    port = sys.argv[1]
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    if "--digest" in sys.argv:
        user, password = sys.argv[sys.argv.index("--digest") + 1].split(":", 1)
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_digest(user, password, token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/live/src", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
