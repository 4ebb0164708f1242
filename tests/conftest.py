"""Fixtures shared by every test folder (helpers are in support/helpers.py), and the e2e marker by folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.helpers import CITY, MODEL, cut_clip, require
from support.rtsp import RtspServer, unavailable_reason


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e runs the real pipeline end to end: marked e2e (`-m "not e2e"` skips it)."""
    for item in items:
        if "e2e" in Path(item.path).parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def model_path() -> Path:
    return require(MODEL)


@pytest.fixture(scope="session")
def city_clip(tmp_path_factory) -> Path:
    """40 frames (1.6 s) of the city-street CCTV clip: cars, a bus, pedestrians."""
    return cut_clip(require(CITY), tmp_path_factory.mktemp("clips") / "city40.mp4", 40)


@pytest.fixture
def rtsp_server():
    """A real RTSP camera on loopback (gst-rtsp-server) replaying the city clip; skipped where it cannot run."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = RtspServer(require(CITY)).start()
    yield server
    server.kill()
