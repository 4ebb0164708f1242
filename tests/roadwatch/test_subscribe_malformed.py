"""`roadwatch subscribe` against a real PUB socket that sends whatever an attacker on the event plane could: every
kind of message that is not an event is skipped, counted and named once, and the events around it still print."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq

from roadwatch.events.schema import EventFactory, EventType
from roadwatch.events.wire import MALFORMED_KINDS, encode, topic_of

from support.helpers import ROOT, free_endpoint

BAD = {  # kind -> the frames of one message of that kind
    "not msgpack": [b"track.started/cam1", b"\xc1\xc1\xc1"],
    "not JSON": [b"track.started/cam1", b"{not json at all"],
    "not an event": [b"track.started/cam1", msgpack.packb([1, 2, 3])],
    "missing fields": [b"track.started/cam1", msgpack.packb({"type": "track.started", "stream_id": "cam1"})],
    "wrong types": [b"track.started/cam1", msgpack.packb({"type": 5, "seq": "x", "producer_id": "p"})],
    "too large": [b"track.started/cam1", msgpack.packb({"type": "track.started", "pad": "x" * (2 << 20)})],
    "empty": [b"track.started/cam1", b""],
    "frames": [b"track.started/cam1", msgpack.packb({"type": "x"}), b"an extra frame"],
}


class Publisher:
    """A bare PUB socket: real events from an EventFactory, or raw frames."""

    def __init__(self) -> None:
        self.endpoint = free_endpoint()
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.bind(self.endpoint)
        self.factory = EventFactory("attacked")
        self.frame = 0

    def event(self, stream_id: str = "cam1") -> dict:
        self.frame += 1
        event = self.factory.make(EventType.TRACK_STARTED, stream_id, self.frame, time.time(), self.frame / 25,
                                  track_id=self.frame, **{"class": "car"}, category="vehicle", confidence=0.9,
                                  bbox=[0, 0, 10, 10])
        self.sock.send_multipart([topic_of(event), encode(event)])
        return event

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


def subscribe(endpoint: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "roadwatch", "subscribe", "--endpoint", endpoint, "--timeout", "3", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


class Output:
    """The subscriber's stdout, read by a thread as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(iter(proc.stdout.readline, "")), daemon=True)
        self._reader.start()

    def joined(self, pub: Publisher) -> Output:
        """Send events until the subscriber prints one: its subscription has reached the publisher."""
        deadline = time.monotonic() + 30
        while not self.lines:
            assert time.monotonic() < deadline and self.proc.poll() is None, "the subscriber printed nothing"
            pub.event()
            time.sleep(0.05)
        return self

    def end(self) -> str:
        """Wait for the subscriber to end by its --timeout; its stderr."""
        self.proc.wait(30)
        self._reader.join(10)
        return self.proc.stderr.read()


@pytest.mark.parametrize("fmt", ["jsonl", "pretty"])
def test_every_kind_of_malformed_message_is_skipped_counted_and_named_once(fmt):
    assert set(BAD) == set(MALFORMED_KINDS)
    pub = Publisher()
    proc = subscribe(pub.endpoint, "--format", fmt)
    try:
        out = Output(proc).joined(pub)
        sent_after = []
        for _ in range(3):  # each kind three times, an event after each message
            for frames in BAD.values():
                pub.sock.send_multipart(frames)
                sent_after.append(pub.event())
        stderr = out.end()  # by --timeout, once the publisher is quiet
    finally:
        if proc.poll() is None:
            proc.kill()
        pub.close()
    assert proc.returncode == 0, stderr
    lines = out.lines
    printed = [line for line in lines if not line.startswith("-- ")]
    if fmt == "jsonl":
        frames_seen = [json.loads(line)["frame"] for line in printed]
    else:
        frames_seen = [int(line.split("#")[1].split()[0]) for line in printed]
    assert frames_seen[-len(sent_after):] == [e["frame"] for e in sent_after]  # every event around them printed
    warnings = [line for line in stderr.splitlines() if "not an event" in line and "skipped a message" in line]
    assert len(warnings) == len(BAD), stderr  # one line per kind, not one per message
    total = [line for line in stderr.splitlines() if line.startswith("roadwatch: warning: skipped 24 malformed")]
    assert total and all(f"{kind} 3" in total[0] for kind in BAD), stderr
    assert "Traceback" not in stderr and "missed events" not in stderr
    if fmt == "pretty":
        assert any(line.startswith("-- 24 malformed message(s) skipped so far") for line in lines)


def test_a_stream_filter_matches_whole_ids():
    pub = Publisher()
    proc = subscribe(pub.endpoint, "--stream", "cam1")
    try:
        out = Output(proc).joined(pub)
        for sid in ("cam10", "cam1x", "cam1", "cam", "cam1"):
            pub.event(sid)
        stderr = out.end()
    finally:
        if proc.poll() is None:
            proc.kill()
        pub.close()
    assert proc.returncode == 0, stderr
    assert {json.loads(line)["stream_id"] for line in out.lines} == {"cam1"}
    assert len(out.lines) >= 3


def test_pretty_lines_say_what_a_clip_and_a_watchlist_match_are():
    from roadwatch.cli_events import _pretty

    clip = {"type": "clip.saved", "ts": 1795568301.5, "stream_id": "cam", "path": "clips/cam/x.mp4",
            "duration_s": 9.25, "event_ids": ["a" * 32, "b" * 32], "closed": "outage"}
    assert _pretty(clip).endswith("clips/cam/x.mp4 9.2 s, 2 events (outage)")
    matched = {"type": "plate.matched", "ts": 1.0, "stream_id": "cam", "track_id": 3, "class": "car",
               "confidence": 0.9, "plate_text": "PP587AO", "watch_plate": "PP587AX", "watch_label": None}
    assert _pretty(matched).endswith("#3 car 0.90 plate_text=PP587AO watch_plate=PP587AX")
