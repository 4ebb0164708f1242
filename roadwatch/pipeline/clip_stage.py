"""Which events get a clip, and when each clip starts and ends: one recorder per camera with clips on, in the
pipeline's thread; the writing itself is the clip writer's (outputs/clips.py).

A trigger (an event of `output.clips.triggers`) with no clip open starts one at the keyframe at or before its
time less `pre_capture_s`; every trigger while it is open moves its end to `post_capture_s` after itself. A
clip closes when the camera's packets pass its end, at `max_clip_s`, when the camera goes down or reconnects
(its packets stop, or start a new connection), when the stream ends, and at shutdown: always as a whole MP4.
Each clip written becomes a `clip.saved` event.
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
from roadwatch.streams import PacketRing, SourceKind, SourceSpec

log = logging.getLogger(__name__)

OUTAGES = {EventType.STREAM_DOWN.value, EventType.STREAM_STALLED.value}
RING_SLACK_S = 2.0  # the ring keeps this much more than pre_capture_s: the loop lags the newest packet a little


@dataclass
class OpenClip:
    """A clip being written: its packets so far, its end so far, and what it is evidence of."""

    path: Path
    job: object
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


def clip_name(wall: float, reason: str) -> str:
    """`<UTC start>_<reason>.mp4`, the start to the millisecond: names sort by time."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(wall)) + f".{int(wall * 1000) % 1000:03d}Z"
    return f"{stamp}_{reason.replace('.', '_')}.mp4"


class ClipRecorder:
    """One camera's clips, one at a time."""

    def __init__(self, stream_id: str, ring: PacketRing, writer: ClipWriter, folder: Path,
                 config: ClipsConfig) -> None:
        self.stream_id, self.ring, self.writer, self.folder, self.config = stream_id, ring, writer, folder, config
        self.open: OpenClip | None = None
        self.closing: list[ClosingClip] = []

    def trigger(self, event: Event) -> None:
        at = float(event["pts"])
        if self.open is not None and at - self.open.start_at >= self.config.max_clip_s:
            self.close("max_length")
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
        ring = self.ring
        start = ring.start_for(at - self.config.pre_capture_s)
        template, connection = ring.template, ring.connection
        first = ring.since(start, connection)[:1] if start is not None else []
        if template is None or not first:
            log.warning("stream %s: no packets yet for a clip of %s", self.stream_id, event["type"])
            return False
        offset = float(event["ts"]) - at
        path = self.folder / clip_name(offset + first[0].at, event["type"])
        n = 1
        while path.exists():
            n += 1
            path = path.with_name(f"{path.stem.split('~')[0]}~{n}.mp4")
        self.open = OpenClip(path, self.writer.open(path, template), connection, start, first[0].at, at, offset)
        return True

    def pump(self) -> None:
        """Hand the writer the packets that came since, up to the clip's end; close it there."""
        clip = self.open
        if clip is None:
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
        if self.open is not None:
            self.closing.append(ClosingClip(self.open, self.stream_id, why, self.writer.finish(self.open.job)))
            self.open = None


class ClipStage:
    """Every camera's recorder, the run's clip writer, and the clip.saved events of clips written."""

    def __init__(self, config: ClipsConfig, out_dir: Path, events: EventFactory) -> None:
        self.config, self.out_dir, self.events = config, out_dir, events
        self.recorders: dict[str, ClipRecorder] = {}
        self._writer: ClipWriter | None = None
        self._categories = set(config.categories) if config.categories is not None else None

    def ring_for(self, spec: SourceSpec) -> PacketRing | None:
        """A new stream's packet ring, if it gets clips (a camera URL, named by `streams` or not filtered)."""
        cfg = self.config
        wanted = cfg.enabled and spec.kind is SourceKind.URL and (cfg.streams is None or spec.stream_id in cfg.streams)
        if not wanted:
            return None
        if self._writer is None:
            self._writer = ClipWriter()
        ring = PacketRing(cfg.pre_capture_s + RING_SLACK_S, int(cfg.ring_mb * 2**20))
        sid = spec.stream_id
        self.recorders[sid] = ClipRecorder(sid, ring, self._writer, self.out_dir / "clips" / sid, cfg)
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

    def end_stream(self, stream_id: str, reason: str) -> None:
        """The stream ended (`reason` as its tracks': shutdown, removed, end_of_stream): its clip closes."""
        recorder = self.recorders.get(stream_id)
        if recorder is not None:
            recorder.pump()
            recorder.close("shutdown" if reason == "shutdown" else "stream_ended")

    def pump(self, wait: bool = False) -> list[Event]:
        """Packets to the writer; clip.saved for each clip written whole since (all of them, with `wait`)."""
        saved: list[Event] = []
        for recorder in self.recorders.values():
            recorder.pump()
            still = []
            for closing in recorder.closing:
                if wait or closing.result.done():
                    event = self._saved(closing, closing.result.result())
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

    def _saved(self, closing: ClosingClip, result: ClipResult) -> Event | None:
        if result.error is not None:
            log.error("stream %s: clip not saved: %s", closing.stream_id, result.error)
            return None
        clip = closing.clip
        return self.events.make(
            EventType.CLIP_SAVED, closing.stream_id, clip.frame, clip.wall_offset + clip.last_at, clip.last_at,
            path=result.path.relative_to(self.out_dir).as_posix(), start_pts=round(clip.start_at, 3),
            end_pts=round(clip.last_at, 3), start_ts=round(clip.wall_offset + clip.start_at, 3),
            duration_s=round(clip.last_at - clip.start_at, 3), closed=closing.why, reasons=clip.reasons,
            event_ids=clip.event_ids, track_ids=clip.track_ids, packets=result.packets, bytes=result.bytes,
        )
