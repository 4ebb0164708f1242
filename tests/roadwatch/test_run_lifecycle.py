"""A run's life as an operator sees it: who owns an output folder, and signals that come while it starts."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from support.helpers import CITY, free_endpoint, read_jsonl, require, roadwatch, spawned, stop, wait_until


def one_line_error(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert lines[0].startswith("roadwatch: error: ")
    return lines[0]


def live_run(tmp_path: Path, model_path: Path, out: Path):
    """`roadwatch run` on a replayed camera (it runs until stopped), driven by a config file."""
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(f"sources:\n  - {{uri: 'replay:{require(CITY)}', id: cam}}\n")
    return spawned("run", "--config", str(cfg), "--model", str(model_path), "--output", str(out),
                   "--events", free_endpoint(), "--device", "cpu")


def test_an_output_folder_belongs_to_one_run_at_a_time(tmp_path, model_path, city_clip):
    out = tmp_path / "out"
    with live_run(tmp_path, model_path, out) as first:
        wait_until(lambda: (out / "events.jsonl").exists() and (out / "events.jsonl").stat().st_size > 0, 90,
                 "the first run to write events")
        second = roadwatch("run", "--source", str(city_clip), "--model", str(model_path), "--output", str(out),
                           "--events", free_endpoint(), "--device", "cpu")
        assert f"in use by another roadwatch run (pid {first.pid})" in one_line_error(second)
        _, stderr = stop(first)
    assert first.returncode == 0, stderr
    events = read_jsonl(out / "events.jsonl")  # the first run's file, whole and only its own
    assert len({e["producer_id"] for e in events}) == 1
    again = roadwatch("run", "--source", str(city_clip), "--model", str(model_path), "--output", str(out),
                      "--events", free_endpoint(), "--device", "cpu")  # the folder is free once the owner ended
    assert again.returncode == 0, again.stderr


def test_an_output_folder_that_cannot_be_written_is_one_line_before_the_model_loads(tmp_path):
    unwritable = Path("/proc/1")  # a folder even root cannot create files in
    if not unwritable.is_dir():
        pytest.skip("needs /proc")
    proc = roadwatch("run", "--source", str(require(CITY)), "--output", str(unwritable))
    assert "output folder '/proc/1': cannot write there" in one_line_error(proc)


def test_signals_while_the_run_starts_are_a_reload_and_a_clean_stop(tmp_path, model_path):
    """SIGHUP while the model loads once ended the process silently (129), and SIGTERM then ended it with 143."""
    out = tmp_path / "out"
    with live_run(tmp_path, model_path, out) as proc:
        wait_until(lambda: (out / ".roadwatch.lock").exists(), 60, "the run to claim its output folder")
        proc.send_signal(signal.SIGHUP)  # the model is loading now (torch alone takes seconds)
        wait_until(lambda: (out / "events.jsonl").exists() and any(
            e["type"] == "stream.up" for e in read_jsonl(out / "events.jsonl")), 90, "the camera to come up")
        _, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert "reloaded sources: cam" in stderr  # the SIGHUP was applied once the pipeline was ready

    early = tmp_path / "early"
    with live_run(tmp_path, model_path, early) as proc:
        wait_until(lambda: (early / ".roadwatch.lock").exists(), 60, "the second run to claim its output folder")
        _, stderr = stop(proc, timeout_s=90)
    assert proc.returncode == 0, stderr
    summary = json.loads((early / "summary.json").read_text())
    assert summary["streams"]["cam"]["status"] == "stopped"


def test_a_restart_after_kill_9_never_truncates_or_replaces_the_killed_runs_files(tmp_path, model_path, city_clip):
    out = tmp_path / "out"
    with live_run(tmp_path, model_path, out) as killed:
        wait_until(lambda: (out / "events.jsonl").exists() and len(read_jsonl(out / "events.jsonl")) >= 3, 90,
                   "the first run's events")
        killed.kill()  # kill -9: no clean end, no summary
        killed.wait(30)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".roadwatch.lock"}
    again = roadwatch("run", "--source", str(city_clip), "--model", str(model_path), "--output", str(out),
                      "--events", free_endpoint(), "--device", "cpu")
    assert again.returncode == 0, again.stderr
    assert "beside an earlier run's files: this run's names end in -1" in " ".join(again.stderr.split())
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before  # untouched
    assert json.loads((out / "summary-1.json").read_text())["streams"]["city40"]["frames"] == 40
    assert read_jsonl(out / "events-1.jsonl") and (out / "annotated-1.mp4").stat().st_size > 0


def test_analysing_into_a_folder_twice_keeps_both_analyses(tmp_path, model_path, city_clip):
    out = tmp_path / "out"
    for _ in range(2):
        proc = roadwatch("analyze", str(city_clip), "--output", str(out), "--model", str(model_path),
                         "--device", "cpu")
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "city40", "city40-1", "summary-1.json", "summary.json"]
    assert f"{out / 'city40-1' / 'report.html'}" in proc.stdout
    assert (out / "city40" / "report.html").is_file() and (out / "city40-1" / "events.jsonl").is_file()
