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
