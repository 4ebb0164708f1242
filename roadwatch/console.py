"""The console side of a run: progress bars with frames/s and ETA, and the summary table at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


class RunProgress:
    """One bar per stream (with a total for files), frames/s and ETA, and with `overall` a bar for all."""

    def __init__(self, console: Console, totals: dict[str, int], overall: bool = False) -> None:
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
        self._overall: TaskID | None = None
        if overall:
            known = all(totals.values())
            self._overall = self._progress.add_task("all", total=sum(totals.values()) if known else None, fps=0.0)
        self._tasks: dict[str, TaskID] = {
            stream_id: self._progress.add_task(stream_id, total=total or None, fps=0.0)
            for stream_id, total in totals.items()
        }

    def __enter__(self) -> "RunProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self, counts: dict[str, int]) -> None:
        for stream_id, n in counts.items():
            if stream_id not in self._tasks:  # a source added while running
                self._tasks[stream_id] = self._progress.add_task(stream_id, total=None, fps=0.0)
            task_id = self._tasks[stream_id]
            self._progress.advance(task_id, n)
            self._refresh_fps(task_id)
        if self._overall is not None:
            self._progress.advance(self._overall, sum(counts.values()))
            self._refresh_fps(self._overall)

    def _refresh_fps(self, task_id: TaskID) -> None:
        task = self._progress.tasks[task_id]
        self._progress.update(task_id, fps=task.completed / task.elapsed if task.elapsed else 0.0)


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"roadwatch: {summary['frames']} frames in {summary['elapsed_s']:.1f} s ({summary['fps']:.1f} frames/s)")
    table.add_column("stream")
    table.add_column("frames", justify="right")
    table.add_column("dropped", justify="right")
    table.add_column("status")
    for stream_id, s in summary["streams"].items():
        status = s["status"] + (f" ({s['error']})" if s.get("error") else "") + (" (warning)" if s.get("warning") else "")
        table.add_row(stream_id, str(s["frames"]), str(s["dropped"]), status)
    table.add_section()
    for category, n in sorted(summary["tracks"].items()):
        table.add_row(f"tracks: {category}", str(n), "", "")
    for event_type, n in sorted(summary["events"].items()):
        table.add_row(f"events: {event_type}", str(n), "", "")
    return table
