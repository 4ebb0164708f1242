"""Evidence retention: older files go first, then the oldest until the folder fits; never one being written,
never through a link."""

from __future__ import annotations

import os
import time

from roadwatch.outputs.retention import prune_evidence

DAY = 86400.0


def make(folder, name: str, size: int, age_days: float, now: float):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_old_files_go_then_the_oldest_until_the_folder_fits(tmp_path):
    now = time.time()
    snaps = tmp_path / "snapshots"
    files = {age: make(snaps, f"cam{age % 2}/{age}.jpg", 100_000, age, now) for age in (10, 8, 5, 3, 1)}
    writing = make(snaps, "cam0/.9.jpg.x.tmp", 100_000, 20, now)  # half written, and old: left alone
    assert prune_evidence(snaps, days=7, max_gb=None, now=now) == 2
    assert {p.name for p in snaps.rglob("*.jpg")} == {"5.jpg", "3.jpg", "1.jpg"}
    assert prune_evidence(snaps, days=None, max_gb=150_000 / 2**30, now=now) == 2  # 300 kB -> at most 150 kB
    assert [p.name for p in snaps.rglob("*.jpg")] == ["1.jpg"] and writing.exists()
    assert files[1].exists()


def test_a_link_in_the_folder_is_not_followed_and_nothing_set_keeps_all(tmp_path):
    now = time.time()
    outside = make(tmp_path, "precious/keep.jpg", 50_000, 100, now)
    snaps = tmp_path / "snapshots"
    snaps.mkdir()
    (snaps / "link").symlink_to(outside.parent, target_is_directory=True)
    old = make(snaps, "cam/1.jpg", 10, 100, now)
    assert prune_evidence(snaps, days=None, max_gb=None, now=now) == 0 and old.exists()
    assert prune_evidence(snaps, days=1, max_gb=None, now=now) == 1
    assert outside.exists() and not old.exists()


def test_a_runs_outputs_apply_retention_as_they_flush(tmp_path):
    from roadwatch.config import OutputConfig
    from roadwatch.outputs.run_outputs import RunOutputs

    now = time.time()
    old = make(tmp_path / "snapshots", "cam/3.jpg", 10, 3, now)
    new = make(tmp_path / "snapshots", "cam/4.jpg", 10, 0.1, now)
    outputs = RunOutputs(OutputConfig(video=False, snapshots=True, retain={"days": 1}), tmp_path, ["vehicle"])
    outputs.flush()
    assert not old.exists() and new.exists()
    outputs.close(1.0)


def test_clips_and_snapshots_share_one_budget_oldest_first_whatever_the_folder(tmp_path):
    from roadwatch.config import OutputConfig
    from roadwatch.outputs.run_outputs import RunOutputs

    now = time.time()
    clip_old = make(tmp_path / "clips", "cam/a.mp4", 100_000, 3, now)
    snap_mid = make(tmp_path / "snapshots", "cam/b.jpg", 100_000, 2, now)
    clip_new = make(tmp_path / "clips", "cam/c.mp4", 100_000, 1, now)
    part = make(tmp_path / "clips", "cam/d.mp4.part", 100_000, 5, now)  # being written: never counted or deleted
    outputs = RunOutputs(OutputConfig(video=False, retain={"max_gb": 150_000 / 2**30}), tmp_path, ["vehicle"])
    outputs.flush()
    assert not clip_old.exists() and not snap_mid.exists()
    assert clip_new.exists() and part.exists()
    outputs.close(1.0)
