"""Which events get a clip, and when each clip starts and ends: one recorder per camera with clips on, in the
pipeline's thread; the writing itself is the clip writer's (outputs/clips.py).

A trigger (an event of `output.clips.triggers`) with no clip open starts one at the keyframe at or before its
time less `pre_capture_s`; every trigger while it is open moves its end to `post_capture_s` after itself. A
clip closes when the camera's packets pass its end, at `max_clip_s`, when the camera goes down or reconnects
(its packets stop, or start a new connection), when the stream ends, and at shutdown: always as a whole MP4.
Each clip written becomes a `clip.saved` event.

A file (`analyze --clips`) needs no ring: its clips are cut from the file itself once their end is known (a
trigger past it, or the stream's end), from the keyframe at or before the start.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from roadwatch.config.outputs import ClipsConfig
from roadwatch.events.schema import Event, EventFactory, EventType
from roadwatch.outputs.clips import ClipResult, ClipWriter
from roadwatch.outputs.run_outputs import RunOutputs
from roadwatch.streams import PacketRing, SourceKind, SourceSpec

log = logging.getLogger(__name__)

OUTAGES = {EventType.STREAM_DOWN.value, EventType.STREAM_STALLED.value}
RING_SLACK_S = 2.0  # the ring keeps this much more than pre_capture_s: the loop lags the newest packet a little


@dataclass
class OpenClip:
    """A clip being written: its packets so far, its end so far, and what it is evidence of."""

    path: Path
    job: object  # the writer's job (a camera's clip); None for a file's, cut when it closes
    connection: int
    next_seq: int
    start_at: float
    end_at: float
    wall_offset: float  # wall clock minus the camera's live clock, from the first trigger
    last_at: float = 0.0
    frame: int = 0
    reasons: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)


@dataclass
class ClosingClip:
    clip: OpenClip
    stream_id: str
    why: str
    result: Future


def clip_name(start: float, reason: str, live: bool) -> str:
    """A camera's `<UTC start>_<reason>.mp4`, to the millisecond; a file's `<start in the video>s_<reason>.mp4`
    (00012.48s_...): names sort by time."""
    if live:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(start)) + f".{int(start * 1000) % 1000:03d}Z"
    else:
        stamp = f"{start:08.2f}s"
    return f"{stamp}_{reason.replace('.', '_')}.mp4"


class ClipRecorder:
    """One camera's clips, one at a time, from its packet ring."""

    def __init__(self, stream_id: str, ring: PacketRing | None, writer: ClipWriter, folder: Path,
                 config: ClipsConfig, source: str = "", relative_to: Path | None = None) -> None:
        self.stream_id, self.ring, self.writer, self.folder, self.config = stream_id, ring, writer, folder, config
        self.source = source  # a file's path: its clips are cut from it (no ring)
        self.relative_to = relative_to or folder  # clip.saved's paths are relative to this folder
        self.open: OpenClip | None = None
        self.closing: list[ClosingClip] = []

    def trigger(self, event: Event) -> None:
        at = float(event["pts"])
        if self.open is not None and at - self.open.start_at >= self.config.max_clip_s:
            self.close("max_length")
        elif self.open is not None and self.ring is None and at > self.open.end_at:
            self.close("complete")  # a file's clip: its end has passed
        if self.open is None and not self._start(at, event):
            return
        clip = self.open
        clip.end_at = max(clip.end_at, at + self.config.post_capture_s)
        clip.frame = event["frame"]
        if event["type"] not in clip.reasons:
            clip.reasons.append(event["type"])
        clip.event_ids.append(event["event_id"])
        if "track_id" in event and event["track_id"] not in clip.track_ids:
            clip.track_ids.append(event["track_id"])

    def _start(self, at: float, event: Event) -> bool:
        offset = float(event["ts"]) - at
        if self.ring is None:  # a file: cut from it when the clip closes
            start_at = max(0.0, at - self.config.pre_capture_s)
            self.open = OpenClip(self._path(start_at, event), None, 0, 0, start_at, at, offset)
            return True
        ring = self.ring
        start = ring.start_for(at - self.config.pre_capture_s)
        template, connection = ring.template, ring.connection
        first = ring.since(start, connection)[:1] if start is not None else []
        if template is None or not first:
            log.warning("stream %s: no packets yet for a clip of %s", self.stream_id, event["type"])
            return False
        path = self._path(offset + first[0].at, event)
        self.open = OpenClip(path, self.writer.open(path, template), connection, start, first[0].at, at, offset)
        return True

    def _path(self, start: float, event: Event) -> Path:
        path = self.folder / clip_name(start, event["type"], self.ring is not None)
        n = 1
        while path.exists():
            n += 1
            path = path.with_name(f"{path.stem.split('~')[0]}~{n}.mp4")
        return path

    def pump(self) -> None:
        """Hand the writer the packets that came since, up to the clip's end; close it there."""
        clip = self.open
        if clip is None or self.ring is None:
            return
        if self.ring.connection != clip.connection:
            self.close("outage")
            return
        packets = self.ring.since(clip.next_seq, clip.connection)
        if packets and packets[0].seq != clip.next_seq:
            self.close("packets_lost")  # the ring dropped packets not yet written: what was written is whole
            return
        upto = next((i + 1 for i, p in enumerate(packets) if p.at >= clip.end_at), None)
        taken = packets[:upto]
        if taken:
            self.writer.write(clip.job, taken)
            clip.next_seq = taken[-1].seq + 1
            clip.last_at = taken[-1].at
        if upto is not None:
            self.close("complete")

    def close(self, why: str) -> None:
        """The open clip ends: a camera's is finished by the writer, a file's cut from it by the writer."""
        clip = self.open
        if clip is None:
            return
        if self.ring is None:
            end = clip.end_at if why != "max_length" else clip.start_at + self.config.max_clip_s
            done = self.writer.cut(clip.path, self.source, clip.start_at, end)
        else:
            done = self.writer.finish(clip.job)
        self.closing.append(ClosingClip(clip, self.stream_id, why, done))
        self.open = None


class ClipStage:
    """Every stream's recorder, the run's clip writer, and the clip.saved events of clips written."""

    def __init__(self, config: ClipsConfig, outputs: RunOutputs, events: EventFactory) -> None:
        self.config, self.outputs, self.events = config, outputs, events
        self.recorders: dict[str, ClipRecorder] = {}
        self._retired: list[ClipRecorder] = []  # of streams removed and added again: their last clips still due
        self._writer: ClipWriter | None = None
        self._categories = set(config.categories) if config.categories is not None else None

    def ring_for(self, spec: SourceSpec) -> PacketRing | None:
        """A new stream's recorder, if it gets clips (a camera URL or a file, named by `streams` or not
        filtered); a camera's packet ring for its capture to fill."""
        cfg, sid = self.config, spec.stream_id
        kinds = (SourceKind.URL, SourceKind.FILE)
        if not cfg.enabled or spec.kind not in kinds or (cfg.streams is not None and sid not in cfg.streams):
            return None
        if self._writer is None:
            self._writer = ClipWriter()
        ring = PacketRing(cfg.pre_capture_s + RING_SLACK_S, int(cfg.ring_mb * 2**20)) if spec.live else None
        folder, relative_to = self.outputs.clips_folder(sid)
        source = "" if spec.live else spec.uri
        if sid in self.recorders:
            self._retired.append(self.recorders[sid])
        self.recorders[sid] = ClipRecorder(sid, ring, self._writer, folder, cfg, source, relative_to)
        return ring

    def offer(self, event: Event) -> None:
        """Every event of the run, in order: triggers start or extend a clip, an outage closes one."""
        recorder = self.recorders.get(event.get("stream_id", ""))
        if recorder is None:
            return
        kind = event["type"]
        if kind in OUTAGES:
            recorder.close("outage")
        elif kind in self.config.triggers and (
                self._categories is None or "category" not in event or event["category"] in self._categories):
            recorder.trigger(event)

    def end_stream(self, stream_id: str, reason: str) -> list[Event]:
        """The stream ended (`reason` as its tracks': shutdown, removed, end_of_stream): its clip closes. A file's
        clips are waited for, so that their clip.saved is in its events before they close."""
        recorder = self.recorders.get(stream_id)
        if recorder is None:
            return []
        recorder.pump()
        ended = "shutdown" if reason == "shutdown" else "stream_ended"
        recorder.close("complete" if recorder.ring is None and reason == "end_of_stream" else ended)
        return self._collect(recorder, wait=recorder.ring is None)

    def pump(self, wait: bool = False) -> list[Event]:
        """Packets to the writer; clip.saved for each clip written whole since (all of them, with `wait`)."""
        saved: list[Event] = []
        for recorder in self.recorders.values():
            recorder.pump()
            saved += self._collect(recorder, wait)
        for recorder in self._retired:
            saved += self._collect(recorder, wait)
        self._retired = [r for r in self._retired if r.closing]
        return saved

    def _collect(self, recorder: ClipRecorder, wait: bool) -> list[Event]:
        saved, still = [], []
        for closing in recorder.closing:
            if wait or closing.result.done():
                event = self._saved(recorder, closing, closing.result.result())
                if event is not None:
                    saved.append(event)
            else:
                still.append(closing)
        recorder.closing = still
        return saved

    def close(self) -> list[Event]:
        """At shutdown: every open clip closed, written and reported."""
        for recorder in self.recorders.values():
            recorder.close("shutdown")
        events = self.pump(wait=True)
        if self._writer is not None:
            self._writer.close()
        return events

    def _saved(self, recorder: ClipRecorder, closing: ClosingClip, result: ClipResult) -> Event | None:
        if result.error is not None:
            log.error("stream %s: clip not saved: %s", closing.stream_id, result.error)
            return None
        clip = closing.clip
        start, end = result.span or (clip.start_at, clip.last_at)
        return self.events.make(
            EventType.CLIP_SAVED, closing.stream_id, clip.frame, clip.wall_offset + end, end,
            path=result.path.relative_to(recorder.relative_to).as_posix(), start_pts=round(start, 3),
            end_pts=round(end, 3), start_ts=round(clip.wall_offset + start, 3), duration_s=round(end - start, 3),
            closed=closing.why, reasons=clip.reasons, event_ids=clip.event_ids, track_ids=clip.track_ids,
            packets=result.packets, bytes=result.bytes,
        )
