"""events.jsonl: every event of a run (or of one input), one JSON object per line."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import BinaryIO

import orjson

from roadwatch.events.schema import Event
from roadwatch.outputs.names import open_new

log = logging.getLogger(__name__)


class EventLog:
    """events.jsonl: one JSON event per line (UTF-8), flushed by the pipeline after every batch.
    orjson, not json: at live rates the json module cost about a fifth of the pipeline's time per frame.

    With `lazy`, opened on the first event (or at close, empty), so inputs waiting their turn in a large
    analysis hold no open file each; else at once, so a previous run's file is replaced from the start.

    A write that fails (a full disk, say) ends the file, not the run: it is cut back to its
    last whole event, `error` says so in one line (the summary and the CLI report it), and later events
    still reach the other sinks and subscribers; a live camera's events matter more than its log.
    """

    def __init__(self, path: Path, lazy: bool = False) -> None:
        self.path = path
        self.error: str | None = None
        self._file: BinaryIO | None = None
        if not lazy:
            try:
                self._file = open_new(path)
            except OSError as exc:
                self._fail(exc)

    def write(self, event: Event) -> None:
        if self.error is not None:
            return
        try:
            if self._file is None:
                self._file = open_new(self.path)
            self._file.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        except OSError as exc:
            self._fail(exc)

    def flush(self) -> None:
        if self._file is not None and self.error is None:
            try:
                self._file.flush()
            except OSError as exc:
                self._fail(exc)

    def close(self) -> None:
        if self.error is not None:
            return
        try:
            if self._file is None:
                self._file = open_new(self.path)  # no event: an empty events.jsonl, as documented
            if self._file.closed:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.error = (f"cannot write '{self.path}': {exc.strerror or exc}; events after that are not in it "
                      "(it ends with a whole event)")
        log.error("%s", self.error)
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # its buffer cannot be written either; the file is closed all the same
        with contextlib.suppress(OSError):
            cut_to_last_line(self.path)


def cut_to_last_line(path: Path, chunk: int = 1 << 16) -> None:
    """Truncate a regular file just after its last newline, so it ends with a whole line (a failed write can
    leave part of one); truncating needs no free space."""
    if not path.is_file():
        return
    with open(path, "r+b") as f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            newline = f.read(pos - start).rfind(b"\n")
            if newline >= 0:
                f.truncate(start + newline + 1)
                return
            pos = start
        f.truncate(0)
