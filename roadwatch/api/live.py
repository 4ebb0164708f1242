"""What a browser watches: a stream's latest annotated frame (JPEG), its live view (MJPEG, rate capped) and the
live event feed (Server-Sent Events). Frames are kept and encoded only while someone watches (StatusBoard)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import cv2
import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from roadwatch.outputs.overlay import Overlay
from roadwatch.pipeline.status_board import Picture, StatusBoard

FIRST_FRAME_WAIT_S = 3.0  # a latest.jpg asked of a stream nobody watched waits this long for its first frame
POLL_S = 0.05
EVENT_POLL_S = 0.2
KEEPALIVE_S = 15.0  # an SSE comment this often, so proxies do not close a quiet feed
JPEG_QUALITY = 80
BOUNDARY = "roadwatch-frame"

Width = Annotated[int | None, Query(ge=32, le=7680, description="Scale the picture to this width (the page's grid)")]


def encode(picture: Picture, overlays: dict[str, Overlay], stream_id: str, width: int | None) -> bytes:
    """The picture with its tracks drawn (the annotated video's drawing), as JPEG; run in a worker thread."""
    overlay = overlays.get(stream_id)
    if overlay is None:
        overlay = overlays[stream_id] = Overlay(picture.zones.zones, picture.zones.lines)
    canvas = overlay.draw(picture.image, picture.tracks, picture.labels)
    if width is not None and width != canvas.shape[1]:
        height = max(1, round(canvas.shape[0] * width / canvas.shape[1]))
        canvas = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise HTTPException(500, "the frame could not be encoded")
    return jpeg.tobytes()


def sse(event: dict[str, Any]) -> bytes:
    """One event as an SSE message: `id` its seq (a reconnect resumes after it), `data` its JSON (which names its
    type: a plain EventSource `onmessage` gets every kind; `?type=` filters on the server)."""
    return b"id: %d\ndata: %s\n\n" % (event["seq"], orjson.dumps(event))


def live_router(board: StatusBoard, live_fps: float, readers: list, known: Callable[[str], bool]) -> APIRouter:
    """`known(stream_id)`: the stream is on the board now."""
    router = APIRouter(dependencies=readers)
    overlays: dict[str, Overlay] = {}
    every_s = 1.0 / live_fps

    def check(stream_id: str) -> None:
        if not known(stream_id):
            raise HTTPException(404, f"no stream '{stream_id}'")

    @router.get("/api/streams/{stream_id}/latest.jpg", tags=["live"], response_class=Response,
                responses={200: {"content": {"image/jpeg": {}}}})
    async def latest(stream_id: str, width: Width = None) -> Response:
        """The stream's latest frame with its tracks drawn. A stream nobody watched starts being watched (its
        frames kept for 2 s after each request) and its first frame is waited for (503 if none comes in 3 s)."""
        check(stream_id)
        deadline = time.monotonic() + FIRST_FRAME_WAIT_S
        while (picture := board.watch(stream_id)) is None:
            if time.monotonic() > deadline:
                raise HTTPException(503, f"no frame from '{stream_id}' yet: is its camera up?")
            await asyncio.sleep(POLL_S)
        jpeg = await run_in_threadpool(encode, picture, overlays, stream_id, width)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @router.get("/api/streams/{stream_id}/live", tags=["live"], response_class=StreamingResponse,
                responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}})
    async def live(stream_id: str, request: Request, width: Width = None) -> StreamingResponse:
        """A live annotated view (MJPEG: an <img src> shows it), at most `http.live_fps` frames a second; frames
        are encoded only while it is watched, and the view ends when the stream does."""
        check(stream_id)

        async def frames() -> AsyncIterator[bytes]:
            sent_at = None
            while not await request.is_disconnected() and known(stream_id):
                started = time.monotonic()
                picture = board.watch(stream_id)
                if picture is not None and picture.at != sent_at:
                    sent_at = picture.at
                    jpeg = await run_in_threadpool(encode, picture, overlays, stream_id, width)
                    yield (b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                           % (BOUNDARY.encode(), len(jpeg), jpeg))
                await asyncio.sleep(max(POLL_S, every_s - (time.monotonic() - started)))

        return StreamingResponse(frames(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers={"Cache-Control": "no-store"})

    @router.get("/api/events/live", tags=["events"], response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def event_feed(request: Request, stream: str | None = None, type: str | None = None) -> StreamingResponse:
        """Events as they happen, as Server-Sent Events (`id`: seq, `data`: the event's JSON).
        A reconnecting EventSource sends Last-Event-ID and gets what it missed, as far as the recent events
        reach."""
        resume = request.headers.get("last-event-id", "")
        last = int(resume) if resume.isdigit() else None

        def wanted(event: dict[str, Any]) -> bool:
            kind = event["type"]
            return ((stream is None or event.get("stream_id") == stream)
                    and (type is None or kind == type or kind.startswith(type + ".")))

        async def feed() -> AsyncIterator[bytes]:
            after = last if last is not None else max((e["seq"] for e in board.recent()), default=0)
            quiet_since = time.monotonic()
            yield b"retry: 2000\n\n"
            while not await request.is_disconnected():
                fresh = [e for e in board.recent() if e["seq"] > after]
                if fresh:
                    after = fresh[-1]["seq"]
                    quiet_since = time.monotonic()
                    chunk = b"".join(sse(e) for e in fresh if wanted(e))
                    if chunk:
                        yield chunk
                elif time.monotonic() - quiet_since > KEEPALIVE_S:
                    quiet_since = time.monotonic()
                    yield b": keepalive\n\n"
                await asyncio.sleep(EVENT_POLL_S)

        return StreamingResponse(feed(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return router
