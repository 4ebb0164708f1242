"""The fallback input when none is given: supervision's vehicles sample video, where it can be downloaded."""

from __future__ import annotations

import socket
from pathlib import Path

from roadwatch.errors import UserError

NO_INPUT = (
    "no input given: pass --source PATH_OR_URL (a video file, a folder of images, a camera index or a stream URL)"
)
CACHE_DIR = Path.home() / ".cache" / "roadwatch"


def _online(host: str = "media.roboflow.com", timeout_s: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def sample_video() -> str:
    """Path of the cached sample video, downloading it once; UserError naming --source when offline."""
    from supervision.assets import VideoAssets, download_assets

    cached = CACHE_DIR / VideoAssets.VEHICLES.value
    if cached.is_file():
        return str(cached)
    if not _online():
        raise UserError(NO_INPUT)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    try:
        return str(download_assets(VideoAssets.VEHICLES, directory=CACHE_DIR))
    except Exception as exc:
        raise UserError(f"{NO_INPUT} (the sample video could not be downloaded: {exc})") from exc
