"""`roadwatch bench`: the end-to-end benchmark's contract (a tiny run on CPU; figures are not judged here)."""

import json
import signal
import time

from support.helpers import CITY, MODEL, require, roadwatch, spawn_roadwatch


def test_bench_writes_the_documented_results_file(tmp_path):
    out = tmp_path / "e2e.json"
    proc = roadwatch(
        "bench", "--clip", str(require(CITY)), "--model", str(require(MODEL)), "--device", "cpu", "--streams", "1",
        "--streams", "2", "--frames", "12", "--live-streams", "2", "--live-seconds", "6", "--out", str(out),
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["device"].startswith("cpu")
    file_mode, live_mode = result["file_mode"], result["live_mode"]
    assert [r["streams"] for r in file_mode["runs"]] == [1, 2]
    assert [r["frames"] for r in file_mode["runs"]] == [12, 24]  # files lose no frame
    assert all(r["dropped_frames"] == 0 and r["gpu_utilisation_pct"] is None for r in file_mode["runs"])
    assert file_mode["aggregate_fps"] == max(r["aggregate_fps"] for r in file_mode["runs"]) > 0
    assert file_mode["vs_ultralytics_track"] > 0
    assert {"collect", "detect", "wait", "track_and_publish"} <= set(file_mode["runs"][0]["stage_share"])
    # inline on a CPU: the loop's stages add up to its wall time, without counting a second twice
    assert 0.9 < sum(file_mode["runs"][1]["stage_share"].values()) <= 1.01
    assert all(1 <= r["mean_batch"] <= 8 for r in file_mode["runs"])  # the CPU default max_batch
    assert file_mode["runs"][1]["mean_batch"] > 1  # two files share the forward passes
    for r in file_mode["runs"]:  # the steady rate leaves start-up and shut-down out of the same run
        assert 0 < r["startup_s"] < r["wall_s"] and r["steady_fps"] > 0
        # the detecting thread's own CPU time: some, and never more than the wall time of its detect stage
        assert 0 < r["detect_thread_cpu_share"] <= r["stage_share"]["detect"] + 0.01
    assert result["complete"] is True
    live = live_mode["runs"][0]
    assert live_mode["streams"] == live["streams"] == 2
    assert live["latency_samples"] > 0 and 0 < live["p50_latency_ms"] <= live_mode["p99_latency_ms"]
    assert live_mode["max_buffer_depth"] <= live["buffer_capacity"]  # a live buffer never grows past its bound
    assert live["processed_fps"] > 0 and live["dropped_frames"] >= 0
    assert live["host_rss_mb"]["end"] > 0 and live["gpu_memory_mb"] is None
    assert "model.track" in proc.stdout and "live mode" in proc.stdout


def test_bench_with_a_missing_clip_is_one_line(tmp_path):
    proc = roadwatch("bench", "--clip", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "e2e.json"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--clip" in proc.stderr
    assert not (tmp_path / "e2e.json").exists()


def test_a_bench_cut_off_keeps_the_runs_it_finished(tmp_path):
    """The GPU machine's time limit can end a benchmark mid-way: what finished before must be in the file."""
    out = tmp_path / "e2e.json"
    proc = spawn_roadwatch(
        "bench", "--clip", str(require(CITY)), "--model", str(require(MODEL)), "--device", "cpu", "--streams", "1",
        "--frames", "8", "--live-streams", "1", "--live-seconds", "120", "--out", str(out),
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_file() and json.loads(out.read_text())["file_mode"]["runs"]:
                break
            time.sleep(0.2)
        time.sleep(2)  # into the live run
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 2 and "the runs that had finished are in" in stderr
    result = json.loads(out.read_text())
    assert result["complete"] is False and result["live_mode"]["runs"] == []
    assert [r["frames"] for r in result["file_mode"]["runs"]] == [8] and result["ultralytics_track_fps"] > 0


def test_a_live_only_bench_skips_the_baseline(tmp_path):
    """Only file mode's figures are ratios to model.track: a live-only run (the GPU session's last step) skips it."""
    out = tmp_path / "e2e.json"
    proc = roadwatch(
        "bench", "--clip", str(require(CITY)), "--model", str(require(MODEL)), "--device", "cpu", "--streams", "0",
        "--live-streams", "1", "--live-seconds", "3", "--out", str(out), timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["ultralytics_track_fps"] is None and "model.track" not in proc.stdout
    assert result["file_mode"]["runs"] == [] and [r["streams"] for r in result["live_mode"]["runs"]] == [1]
    assert result["complete"] is True


def test_capacity_writes_each_modes_runs_and_largest_held_count(tmp_path):
    """A tiny capacity run (one camera of the small city clip per mode, 4 s): the contract of the results file;
    whether the machine holds it is not judged here, only that each mode's verdict follows from its figures."""
    out = tmp_path / "capacity.json"
    proc = roadwatch(
        "capacity", "--clip", str(require(CITY)), "--model", str(require(MODEL)), "--seconds", "4", "--most", "1",
        "--out", str(out), timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["complete"] is True
    assert list(result["largest_held"]) == ["every frame", "detect_fps 5", "gated, detect_fps 5"]
    by_mode = {r["mode"]: r for r in result["runs"]}
    assert set(by_mode) == set(result["largest_held"])
    for name, run in by_mode.items():
        assert run["cameras"] == 1 and result["largest_held"][name] == (1 if run["held"] else 0)
        assert run["max_buffer_depth"] <= run["buffer_capacity"]
        held = run["processed_share_min"] >= 0.9 and (run["p99_latency_ms"] or 0) < 1000
        assert run["held"] == (held and (name.startswith("gated") or min(run["detections_per_s_each"]) >= (
            0.9 * (25 if name == "every frame" else 5))))
    # the fixed rate is the rate asked for; the whole frame every time, no regions
    fixed = by_mode["detect_fps 5"]
    assert 4 <= fixed["detections_per_s_each"][0] <= 6.5 and fixed["regions_per_s"] == 0
    assert by_mode["every frame"]["detections_per_s_each"][0] > fixed["detections_per_s_each"][0]
    assert "largest number of cameras held" in proc.stdout
