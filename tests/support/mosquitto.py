"""A real MQTT broker for tests: Debian's mosquitto on a free loopback port, started and killed at will (the
same port each time, as a broker that restarts)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from support.helpers import wait_until


def mosquitto_path() -> str:
    exe = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if exe is None:
        pytest.skip("mosquitto is missing: apt-get install mosquitto (.ci/run and `make test` do this as root)")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class Mosquitto:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([mosquitto_path(), "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: accepts(self.port), 10, "mosquitto to listen")

    def kill(self) -> None:
        """As a crash: SIGKILL, no goodbye to its clients, nothing kept (persistence is off)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        wait_until(lambda: not accepts(self.port), 10, "mosquitto to be gone")
