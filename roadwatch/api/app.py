"""The FastAPI application: routes over the status board and the stream controls. OpenAPI docs at /docs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field, field_validator

from roadwatch.api.auth import Role, TokenCheck
from roadwatch.api.live import live_router
from roadwatch.api.metrics import BoardCollector, metrics_text
from roadwatch.config import HttpConfig
from roadwatch.pipeline.status_board import StatusBoard
from roadwatch.streams import SourceSpec, check_stream_id
from roadwatch.streams.redact import mask_uri

PAGE = Path(__file__).parent / "static"
SNAPSHOT_NAME = re.compile(r"[0-9]+(_frame)?\.jpg")
CLIP_NAME = re.compile(r"([0-9]{8}T[0-9]{6}\.[0-9]{3}Z|[0-9]{5,}\.[0-9]{2}s)_[a-z_]+(~[0-9]+)?\.mp4")  # camera, file
ALIVE_WITHIN_S = 5.0  # the loop posts every 0.25 s while it runs; silence this long means it is stuck or over


@dataclass(frozen=True)
class StreamControl:
    """What the API may ask of the pipeline: thread-safe requests carried out by the pipeline's own thread."""

    add: Callable[[str, str | None], str]  # (uri, id or None) -> the stream id it will have
    remove: Callable[[str], None]
    running: Callable[[str], bool]  # a stream by that id is being read now


class NewStream(BaseModel):
    uri: str = Field(min_length=1, max_length=4096, description="File, folder or glob, camera index, or rtsp/http URL")
    id: str | None = Field(None, description="Stream id; derived from the uri if unset")

    @field_validator("uri")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("the uri has control characters")
        return value.strip()

    @field_validator("id")
    @classmethod
    def _id_names_files(cls, value: str | None) -> str | None:
        return check_stream_id(value) if value is not None else None


def _missing_file(uri: str) -> str | None:
    """Why a local path cannot be read, at once (a URL or camera is tried by its capture and reported there)."""
    spec = SourceSpec.from_uri(uri, "check")
    if spec.live or any(c in uri for c in "*?["):
        return None
    return None if Path(spec.uri).exists() else f"'{spec.shown}': no such file or folder"


def create_app(
    board: StatusBoard, control: StreamControl, loop_metrics: CollectorRegistry, settings: HttpConfig,
    run_dir: Path | None = None,
) -> FastAPI:
    """`loop_metrics`: the pipeline's histograms, served beside the board's counts; `run_dir`: the run's output
    folder, whose snapshots/ the API serves."""
    app = FastAPI(title="roadwatch", summary="Live road-camera detection, tracking and events",
                  version="1", docs_url="/docs", redoc_url=None)
    tokens = TokenCheck(settings)
    registry = CollectorRegistry()  # this app's own: the pipeline's registry is left as it is
    registry.register(BoardCollector(board))
    registry.register(loop_metrics)

    def reader(request: Request) -> None:
        tokens.require(request, Role.READ)

    def admin(request: Request) -> None:
        tokens.require(request, Role.ADMIN)

    readers = [Depends(reader)]

    @app.get("/api/health", tags=["status"])
    def health() -> JSONResponse:
        """Liveness (the loop posted within 5 s while running) and readiness (alive, and some stream is up).
        Open without a token: it says nothing about the cameras. 503 when not alive."""
        post, now = board.current(), time.time()
        alive = post.running and now - post.at < ALIVE_WITHIN_S
        body = {
            "alive": alive, "ready": alive and any(s["status"] == "up" for s in post.streams.values()),
            "running": post.running,
            "last_batch_age_s": round(now - post.last_batch_at, 3) if post.last_batch_at else None,
            "streams": len(post.streams),
        }
        return JSONResponse(body, status_code=200 if alive else 503)

    @app.get("/api/streams", tags=["streams"], dependencies=readers)
    def streams() -> list[dict[str, Any]]:
        """Every stream being read: status, frames/s, frames, drops, buffer depth, age of the last frame, error."""
        return list(board.current().streams.values())

    @app.post("/api/streams", tags=["streams"], status_code=202, dependencies=[Depends(admin)])
    def add_stream(body: NewStream) -> dict[str, str]:
        """Start reading another source. 202: it starts in the pipeline's thread; watch GET /api/streams for its
        status (a camera that cannot be opened shows as down or failed there, with the reason)."""
        if body.id is not None and control.running(body.id):
            raise HTTPException(409, f"stream id '{body.id}' is in use")
        missing = _missing_file(body.uri)
        if missing:
            raise HTTPException(422, missing)
        stream_id = control.add(body.uri, body.id)
        return {"id": stream_id, "source": mask_uri(body.uri)}

    @app.delete("/api/streams/{stream_id}", tags=["streams"], status_code=204, dependencies=[Depends(admin)])
    def remove_stream(stream_id: str) -> Response:
        """Stop reading a stream: its open tracks end with reason `removed`; the others go on."""
        if not control.running(stream_id):
            raise HTTPException(404, f"no running stream '{stream_id}'")
        control.remove(stream_id)
        return Response(status_code=204)

    @app.get("/api/tracks", tags=["tracks"], dependencies=readers)
    def tracks(stream: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Active tracks per stream: each track's latest event (docs/events.md)."""
        by_stream = board.current().tracks
        if stream is not None:
            if stream not in by_stream:
                raise HTTPException(404, f"no stream '{stream}'")
            return {stream: by_stream[stream]}
        return by_stream

    @app.get("/api/events", tags=["events"], dependencies=readers)
    def events(
        stream: str | None = None,
        type: Annotated[str | None, Query(description="An event type, or its family: `zone` for zone.*")] = None,
        after_seq: Annotated[int, Query(ge=0, description="Only events with a greater seq")] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """Recent events (the newest `http.recent_events` kept), oldest first; the newest `limit` that match."""
        def wanted(event: dict[str, Any]) -> bool:
            kind = event["type"]
            return (event["seq"] > after_seq and (stream is None or event.get("stream_id") == stream)
                    and (type is None or kind == type or kind.startswith(type + ".")))

        return [e for e in board.recent() if wanted(e)][-limit:]

    @app.get("/api/summary", tags=["status"], dependencies=readers)
    def summary() -> dict[str, Any]:
        """The run so far, as summary.json will have it: tracks per category, events per type, zone and line
        counts, per-stream entries."""
        return board.current().counts

    def evidence(kind: str, stream_id: str, name: str, pattern: re.Pattern, media_type: str) -> FileResponse:
        """A file of the run's snapshots/ or clips/ folder as an event names it; nothing outside it, links
        included (a stream id of '..' would leave the folder)."""
        missing = HTTPException(404, f"no {kind[:-1]} '{stream_id}/{name}'")
        if run_dir is None or not pattern.fullmatch(name):
            raise missing
        folder = (run_dir / kind).resolve()
        path = (folder / stream_id / name).resolve()  # links followed: where it leads must still be in there
        if path.parent.parent != folder or not path.is_file():
            raise missing
        return FileResponse(path, media_type=media_type)

    @app.get("/api/snapshots/{stream_id}/{name}", tags=["tracks"], dependencies=readers, response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}}}})
    def snapshot(stream_id: str, name: str) -> FileResponse:
        """A track's best picture, as a `track.ended` event names it (`snapshot`: snapshots/<stream>/<id>.jpg;
        `snapshot_frame`: <id>_frame.jpg), with `output.snapshots` on."""
        return evidence("snapshots", stream_id, name, SNAPSHOT_NAME, "image/jpeg")

    @app.get("/api/clips/{stream_id}/{name}", tags=["tracks"], dependencies=readers, response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}}}})
    def clip(stream_id: str, name: str) -> FileResponse:
        """An event clip, as `clip.saved` names it (clips/<stream>/<UTC start>_<trigger>.mp4), with
        `output.clips` on; whole files only (a clip being written is a .part)."""
        return evidence("clips", stream_id, name, CLIP_NAME, "video/mp4")

    @app.get("/metrics", tags=["status"], dependencies=readers)
    def metrics() -> Response:
        """Prometheus text format: frames, drops, reconnects, stream up, events by type, tracks, zone and line
        counts, latency and batch histograms."""
        return Response(metrics_text(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(live_router(board, settings.live_fps, readers, lambda sid: sid in board.current().streams))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The live page: plain HTML, JS and CSS shipped in the package (no build step, nothing from a CDN)."""
        return FileResponse(PAGE / "index.html")

    app.mount("/static", StaticFiles(directory=PAGE), name="static")
    return app
