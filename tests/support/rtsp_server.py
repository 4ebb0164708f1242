#!/usr/bin/python3
"""A real RTSP server on loopback for the tests: gst-rtsp-server (Debian's gir1.2-gst-rtsp-server-1.0,
run by the system python3 with python3-gi) serving an H.264 MP4 clip at its own frame rate.

usage: rtsp_server.py PORT MOUNT CLIP [udp]  prints "ready" once it listens on rtsp://127.0.0.1:PORT/MOUNT
                                            with "udp", refuses RTSP over TCP (461), as VLC's server does

SIGUSR1 pauses the media (the server goes on answering RTSP and RTCP, connections stay open: a camera whose
encoder stopped), SIGUSR2 plays it again.
"""

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> None:
    port, mount, clip = sys.argv[1], sys.argv[2].strip("/"), sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{clip}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(True)
    if sys.argv[4:] == ["udp"]:
        factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)
    medias = []
    factory.connect("media-configure", lambda _factory, media: medias.append(media))

    def set_state(state) -> bool:
        for media in medias:
            media.set_pipeline_state(state)
        return True  # keep the handler

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGUSR1, set_state, Gst.State.PAUSED)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGUSR2, set_state, Gst.State.PLAYING)
    server.get_mount_points().add_factory(f"/{mount}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
