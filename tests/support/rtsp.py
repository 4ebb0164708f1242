"""Start and kill the real RTSP server (tests/support/rtsp_server.py) from the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
MJPEG_SERVER = Path(__file__).with_name("mjpeg_server.py")
INSTALL_HINT = (
    "apt-get install gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad python3-gi "
    "(.ci/run and `make test` do this as root)"
)

_CHECK = """
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ("filesrc", "qtdemux", "h264parse", "rtph264pay") if Gst.ElementFactory.find(e) is None]
assert not missing, missing
"""


def unavailable_reason() -> str | None:
    """Why the RTSP server cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing; {INSTALL_HINT}"
    proc = subprocess.run([SYSTEM_PYTHON, "-c", _CHECK], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"gst-rtsp-server is not usable ({last}); {INSTALL_HINT}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspServer:
    """One server process serving one clip at rtsp://127.0.0.1:PORT/cam; can be killed and restarted on
    the same port, or paused (SIGSTOP: connections stay open, no data flows) to make a real stall."""

    def __init__(self, clip: Path, mount: str = "cam", udp_only: bool = False) -> None:
        self.clip = clip
        self.mount = mount
        self.udp_only = udp_only  # refuses RTSP over TCP, as VLC's server does
        self.port = free_port()
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{self.mount}"

    def command(self) -> list[str]:
        udp = ["udp"] if self.udp_only else []
        return [SYSTEM_PYTHON, str(SERVER), str(self.port), self.mount, str(self.clip), *udp]

    def pause(self) -> None:
        os.kill(self._proc.pid, signal.SIGSTOP)

    def pause_media(self) -> None:
        """The media stops, the server does not: RTSP and RTCP go on, the connection stays open."""
        os.kill(self._proc.pid, signal.SIGUSR1)

    def resume_media(self) -> None:
        os.kill(self._proc.pid, signal.SIGUSR2)

    def resume(self) -> None:
        os.kill(self._proc.pid, signal.SIGCONT)

    def start(self) -> RtspServer:
        self._proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self._proc.stdout.readline()  # "ready", or EOF if it died
        if line.strip() != "ready":
            err = self._proc.stderr.read()
            self.kill()
            raise RuntimeError(f"RTSP server did not start: {err.strip()[-300:]}")
        return self

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc.stdout.close()
            self._proc.stderr.close()
            self._proc = None


class MjpegServer(RtspServer):
    """The same life cycle for an HTTP MJPEG camera at http://127.0.0.1:PORT/cam.mjpg (run by this python)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.mount}.mjpg"

    def command(self) -> list[str]:
        return [sys.executable, str(MJPEG_SERVER), str(self.port), str(self.clip)]
