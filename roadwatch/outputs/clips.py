"""Event clips: a camera's own compressed packets copied into an MP4 (never re-encoded), by one writer thread, into
`<name>.mp4.part`, renamed to `<name>.mp4` only when whole; a crash leaves a `.part`, never a broken `.mp4`.

Timestamps are the camera's, moved to start at 0. An RTSP stream's first packets may have none (FFmpeg knows
them only after the first RTCP report): those get their neighbour's, one frame step apart, so the MP4 muxer
sees decode times that always increase and presentation times never before them.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from roadwatch.streams import CodecTemplate, Packet

log = logging.getLogger(__name__)

PART = ".part"


@dataclass
class ClipResult:
    """A clip written whole (`error` None) or given up (its `.part` removed); a clip cut from a file says where
    it starts and ends in the file's time (`span`)."""

    path: Path
    packets: int
    bytes: int
    error: str | None = None
    span: tuple[float, float] | None = None


class ClipFile:
    """One MP4 being written from packets, in the writer thread only."""

    def __init__(self, path: Path, template: CodecTemplate) -> None:
        import av

        self.path = path
        self.part = path.with_name(path.name + PART)
        self._container = av.open(str(self.part), "w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._container.add_stream_from_template(template.stream)
        rate = float(template.rate or 25)
        self._time_base = template.time_base
        self._step = max(1, round(1 / (rate * float(template.time_base))))  # one frame, in the camera's time base
        self._base: int | None = None
        self._last_dts: int | None = None
        self.packets = 0
        self.bytes = 0

    def write(self, packets: list[Packet]) -> None:
        dts_known = [p.dts for p in packets]
        for i, packet in enumerate(packets):
            data = packet.data
            dts = packet.dts
            if dts is None:
                dts = self._fill(dts_known, i)
            pts = packet.pts if packet.pts is not None else dts
            if self._base is None:
                self._base = dts
            dts, pts = dts - self._base, pts - self._base
            if self._last_dts is not None and dts <= self._last_dts:
                dts = self._last_dts + 1
            data.stream = self._stream
            data.time_base = self._time_base  # muxing moved it to the file's: a packet may be in two clips
            data.dts, data.pts = dts, max(pts, dts)
            self._last_dts = dts
            self._container.mux(data)
            self.packets += 1
            self.bytes += packet.size

    def _fill(self, dts_known: list[int | None], i: int) -> int:
        """A missing decode time: one step after the previous packet's, or, at a clip's start, counted back from
        the first packet that has one."""
        if self._last_dts is not None:
            return self._last_dts + (self._base or 0) + self._step
        ahead = next((k for k in range(i + 1, len(dts_known)) if dts_known[k] is not None), None)
        return 0 if ahead is None else dts_known[ahead] - (ahead - i) * self._step

    def finish(self, span: tuple[float, float] | None = None) -> ClipResult:
        self._container.close()
        os.replace(self.part, self.path)
        return ClipResult(self.path, self.packets, self.bytes, span=span)

    def abandon(self, why: str) -> ClipResult:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001  (already broken: the error that matters is `why`)
            pass
        self.part.unlink(missing_ok=True)
        return ClipResult(self.path, self.packets, self.bytes, why)


def cut_file(path: Path, source: str, start_s: float, end_s: float) -> ClipResult:
    """A clip of a video file, from the keyframe at or before `start_s` to the first packet at or after `end_s`
    (seconds of the file's time), its packets copied."""
    import av

    with av.open(source) as container:
        stream = container.streams.video[0]
        base = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        container.seek(max(0, int((start_s + base) / stream.time_base)), stream=stream, backward=True)
        clip = ClipFile(path, CodecTemplate(stream))
        packets: list[Packet] = []
        try:
            for data in container.demux(stream):
                if data.size == 0 or data.dts is None or (not packets and (not data.is_keyframe or data.pts is None)):
                    continue
                at = float(data.pts * stream.time_base) - base if data.pts is not None else packets[-1].at
                packets.append(Packet(len(packets), at, data.is_keyframe, data.size, 0, data.pts, data.dts, data))
                if at >= end_s:
                    break
            if not packets:
                return clip.abandon(f"no packets in {start_s:.2f}-{end_s:.2f} s of '{source}'")
            clip.write(packets)
            return clip.finish((packets[0].at, max(p.at for p in packets)))
        except Exception as exc:  # noqa: BLE001  (PyAV's and the disk's errors alike end only this clip)
            return clip.abandon(f"cannot write clip '{path}': {exc}")


@dataclass
class _Job:
    file: ClipFile | None = None
    error: str | None = None


class ClipWriter:
    """The one thread that writes every clip of a run, in the order asked: open, packets, finish. A clip whose
    file fails (a full disk) is abandoned and its `.part` removed; the others go on."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-writer")

    def open(self, path: Path, template: CodecTemplate) -> _Job:
        job = _Job()
        self._pool.submit(self._open, job, path, template)
        return job

    def write(self, job: _Job, packets: list[Packet]) -> None:
        self._pool.submit(self._write, job, packets)

    def finish(self, job: _Job) -> Future:
        """The ClipResult, once everything asked before is written."""
        return self._pool.submit(self._finish, job)

    def cut(self, path: Path, source: str, start_s: float, end_s: float) -> Future:
        """A clip of a file (`cut_file`), in the writer's turn."""
        return self._pool.submit(self._cut, path, source, start_s, end_s)

    def close(self) -> None:
        """Waits for the clips asked to be finished."""
        self._pool.shutdown(wait=True)

    @staticmethod
    def _open(job: _Job, path: Path, template: CodecTemplate) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            job.file = ClipFile(path, template)
        except Exception as exc:  # noqa: BLE001  (PyAV's and the disk's errors alike end only this clip)
            job.error = f"cannot write clip '{path}': {exc}"

    @staticmethod
    def _cut(path: Path, source: str, start_s: float, end_s: float) -> ClipResult:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return cut_file(path, source, start_s, end_s)
        except Exception as exc:  # noqa: BLE001
            return ClipResult(path, 0, 0, f"cannot cut clip '{path}': {exc}")

    @staticmethod
    def _write(job: _Job, packets: list[Packet]) -> None:
        if job.file is None or job.error is not None:
            return
        try:
            job.file.write(packets)
        except Exception as exc:  # noqa: BLE001
            job.error = f"cannot write clip '{job.file.path}': {exc}"

    @staticmethod
    def _finish(job: _Job) -> ClipResult:
        if job.file is None:
            return ClipResult(Path(), 0, 0, job.error or "not opened")
        if job.error is not None:
            return job.file.abandon(job.error)
        try:
            return job.file.finish()
        except Exception as exc:  # noqa: BLE001
            return job.file.abandon(f"cannot finish clip '{job.file.path}': {exc}")
