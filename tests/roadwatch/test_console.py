"""The run's progress display: a bar per stream from its first frames, and one that fits with hundreds of files."""

from __future__ import annotations

import io

from rich.console import Console

from roadwatch.console import RunProgress


def descriptions(progress: RunProgress) -> list[str]:
    return [task.description for task in progress._progress.tasks]


def test_a_bar_appears_with_a_streams_first_frames_and_a_few_stay_when_done():
    console = Console(file=io.StringIO(), force_terminal=False, width=120)
    with RunProgress(console, {"a": 3, "b": 3}, overall=True) as progress:
        assert descriptions(progress) == ["all"]  # b waits its turn: no bar yet, no clock running for it
        progress.advance({"a": 3})
        assert descriptions(progress) == ["all", "a"]
        progress.advance({"b": 3})
        assert descriptions(progress) == ["all", "a", "b"]  # two files: finished bars stay
        assert progress._progress.tasks[0].completed == 6


def test_with_hundreds_of_files_a_finished_files_bar_gives_way_to_a_line():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    totals = {f"clip{i:03d}": 5 for i in range(200)}
    with RunProgress(console, totals, overall=True) as progress:
        for i in range(200):
            progress.advance({f"clip{i:03d}": 2})
            progress.advance({f"clip{i:03d}": 3})
            assert len(descriptions(progress)) <= 2  # "all" and at most the file in progress
        assert progress._progress.tasks[0].completed == 1000
    lines = [line for line in out.getvalue().splitlines() if line.startswith("clip")]
    assert len(lines) == 200 and lines[0].startswith("clip000: 5 frames")


def test_a_damaged_files_bar_completes_at_the_frames_it_had():
    console = Console(file=io.StringIO(), force_terminal=False, width=120)
    with RunProgress(console, {"damaged": 682, "whole": 50, "unreadable": 30}, overall=True) as progress:
        progress.advance({"damaged": 341, "whole": 50})
        progress.end("damaged")  # its header announced 682 frames; decoding ended at 341
        progress.end("whole")
        progress.end("unreadable")  # ended before any frame: no bar, yet the overall total no longer counts it
        progress.end("damaged")  # told twice: no change
        tasks = {task.description: task for task in progress._progress.tasks}
        assert tasks["damaged"].total == 341 and tasks["damaged"].finished
        assert tasks["whole"].total == 50 and tasks["whole"].finished
        assert "unreadable" not in tasks
        assert tasks["all"].total == 391 and tasks["all"].finished


def test_with_many_files_a_damaged_files_bar_gives_way_to_a_line_when_it_ends():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    totals = {f"clip{i:02d}": 10 for i in range(20)}
    with RunProgress(console, totals) as progress:
        progress.advance({"clip00": 4})
        progress.end("clip00")
        assert descriptions(progress) == []
    assert "clip00: 4 frames" in out.getvalue()
