"""What `pip install .` puts in site-packages: one top-level `roadwatch`, the stage packages under it, so that
Roboflow's `trackers` (a PyPI package that supervision's docs import from) can be installed beside it."""

from __future__ import annotations

import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("streams", "detector", "trackers")


def pip(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=240)


def test_a_plain_install_has_no_top_level_stage_packages_and_lives_beside_roboflow_trackers(tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    # roadwatch's own dependencies come from the test run's environment (a path entry: its .pth files, among
    # them the editable install of this checkout, are not read), so only the two packages below are installed
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    ours = pip(python, str(ROOT), cwd=tmp_path)
    if ours.returncode != 0:
        pytest.skip(f"cannot build roadwatch in a fresh venv (package registry unreachable?): {ours.stderr[-300:]}")
    theirs = pip(python, "trackers", cwd=tmp_path)
    if theirs.returncode != 0:
        pytest.skip(f"cannot install Roboflow's trackers from the registry: {theirs.stderr[-300:]}")

    top_level = {p.name for p in site.iterdir()}
    record = next(site.glob("roadwatch-*.dist-info")) / "RECORD"
    installed = {line.split(",")[0].split("/")[0] for line in record.read_text().splitlines()}
    assert not installed & set(STAGES), f"roadwatch installed top-level {installed & set(STAGES)}"
    assert "roadwatch" in top_level and "trackers" in top_level  # the latter is Roboflow's
    check = (
        "import importlib.util, pathlib, sys\n"
        "import roadwatch.detector, roadwatch.streams, roadwatch.trackers\n"
        "from roadwatch.trackers import MultiStreamTracker\n"
        "from roadwatch.pipeline import Pipeline\n"
        "import roadwatch.api, roadwatch.config.http\n"
        "page = pathlib.Path(roadwatch.api.__file__).parent / 'static'\n"
        "assert all((page / n).is_file() for n in ('index.html', 'app.js', 'style.css')), 'the live page is missing'\n"
        "theirs = pathlib.Path(importlib.util.find_spec('trackers').origin)\n"
        "assert theirs.parent.name == 'trackers' and 'roadwatch' not in theirs.parts, theirs\n"
        "for stage in ('streams', 'detector'):\n"
        "    assert importlib.util.find_spec(stage) is None, stage\n"
        "print(pathlib.Path(roadwatch.trackers.__file__).parent.parent.name)\n"
    )
    out = subprocess.run([str(python), "-c", check], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "roadwatch"  # roadwatch.trackers is ours, inside the installed roadwatch
    cli = subprocess.run([str(env / "bin" / "roadwatch"), "--help"], capture_output=True, text=True, cwd=tmp_path,
                         timeout=60)
    assert cli.returncode == 0 and "subscribe" in cli.stdout, cli.stderr
