"""The console side of a run: progress bars with frames/s and ETA, and the summary table at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


class RunProgress:
    """One bar per stream (with a total for files), frames/s and ETA, and with `overall` a bar for all.

    A stream's bar appears with its first frames, so its frames/s and ETA count from when it started (files
    beyond streams.max_open_files wait their turn). With more streams than `max_bars`, a file's bar goes
    once the file is done, leaving a line, so a folder of hundreds of clips keeps a display that fits.
    """

    def __init__(self, console: Console, totals: dict[str, int], overall: bool = False, max_bars: int = 16) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:>7.1f} frames/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._overall: Task | None = None
        if overall:
            known = all(totals.values())
            self._overall = self._add("all", sum(totals.values()) if known else None)
        self._totals = totals
        self._keep_finished = len(totals) <= max_bars
        self._tasks: dict[str, Task] = {}
        self._ended: set[str] = set()

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self, counts: dict[str, int]) -> None:
        for stream_id, n in counts.items():
            if stream_id not in self._tasks:  # its first frames (or a source added while running)
                self._tasks[stream_id] = self._add(stream_id, self._totals.get(stream_id) or None)
            task = self._tasks[stream_id]
            self._advance(task, n)
            self._drop_if_finished(stream_id, task)
        if self._overall is not None:
            self._advance(self._overall, sum(counts.values()))

    def end(self, stream_id: str) -> None:
        """The stream is done: its bar (and the overall one) completes at the frames it had, which a damaged
        file's header overstates; else the bar would stay short of its total, on screen to the end."""
        if stream_id in self._ended:
            return
        self._ended.add(stream_id)
        task = self._tasks.get(stream_id)
        done = int(task.completed) if task is not None else 0
        short = self._totals.get(stream_id, 0) - done
        if short and self._overall is not None and self._overall.total is not None:
            self._progress.update(self._overall.id, total=self._overall.total - short)
        if task is not None and task.total != done:
            self._progress.update(task.id, total=done)
            self._drop_if_finished(stream_id, task)

    def _drop_if_finished(self, stream_id: str, task: Task) -> None:
        if not self._keep_finished and task.finished:
            rate = task.fields["fps"]
            self._progress.console.print(f"{stream_id}: {int(task.completed)} frames, {rate:.1f} frames/s")
            self._progress.remove_task(task.id)

    def _add(self, description: str, total: int | None) -> Task:
        task_id = self._progress.add_task(description, total=total, fps=0.0)
        return next(task for task in self._progress.tasks if task.id == task_id)

    def _advance(self, task: Task, n: int) -> None:
        self._progress.advance(task.id, n)
        self._progress.update(task.id, fps=task.completed / task.elapsed if task.elapsed else 0.0)


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(
        title=f"roadwatch: {summary['frames']} frames in {summary['elapsed_s']:.1f} s ({summary['fps']:.1f} frames/s)"
    )
    table.add_column("stream")
    table.add_column("frames", justify="right")
    table.add_column("dropped", justify="right")
    table.add_column("status")
    for stream_id, s in summary["streams"].items():
        status = s["status"] + (f" ({s['error']})" if s.get("error") else "")
        status += " (warning)" if s.get("warning") else ""
        table.add_row(stream_id, str(s["frames"]), str(s["dropped"]), status)
    table.add_section()
    for category, n in sorted(summary["tracks"].items()):
        table.add_row(f"tracks: {category}", str(n), "", "")
    for event_type, n in sorted(summary["events"].items()):
        table.add_row(f"events: {event_type}", str(n), "", "")
    return table
