"""The HTTP API against a real pipeline: a real HTTP client (httpx) over a real socket to uvicorn in the pipeline's
process, the real detector, live replay cameras from the shared clips."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from roadwatch.api import HttpServer
from roadwatch.config import Config, HttpConfig
from roadwatch.pipeline import Pipeline
from roadwatch.streams import SourceSpec

from support.browser import Browser
from support.helpers import CITY, ROOT, require, wait_until
from support.running import Running

ADMIN, READER = "admin-token-0123456789", "read-token-0123456789"


@pytest.fixture(scope="module")
def detector(model_path):
    """The real model at 320 px: enough to track the city clip's cars, cheap enough for two cameras."""
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=320)


class Served:
    """A pipeline running with its HTTP server, and a client for it; `close()` stops both."""

    def __init__(self, tmp_path, detector, http: dict, sources: dict[str, str]) -> None:
        cfg = Config.model_validate({
            "output": {"dir": str(tmp_path), "video": False, "snapshots": True},
            "streams": {"open_timeout_s": 2, "stall_timeout_s": 2, "reconnect_base_s": 0.2, "reconnect_cap_s": 1},
            "http": {"listen": "127.0.0.1:0", **http},
        })
        specs = [SourceSpec.from_uri(uri, sid) for sid, uri in sources.items()]
        self.pipeline = Pipeline(cfg, specs, {}, detector, None, tmp_path)
        self.server = HttpServer(self.pipeline, cfg.http)
        self.server.start()
        self.client = httpx.Client(base_url=self.server.url, timeout=10)
        self.running = Running(self.pipeline)

    def close(self) -> None:
        try:
            if self.running.alive():
                self.running.end()
        finally:
            self.client.close()
            self.server.close()


@pytest.fixture
def served(tmp_path, detector):
    made: list[Served] = []

    def make(http: dict | None = None, sources: dict[str, str] | None = None) -> Served:
        made.append(Served(tmp_path, detector, http or {}, sources or {"base": f"replay:{require(CITY)}"}))
        return made[-1]

    yield make
    for s in made:
        s.close()


def stream(client: httpx.Client, sid: str) -> dict | None:
    return next((s for s in client.get("/api/streams").json() if s["id"] == sid), None)


def events_of(client: httpx.Client, **params) -> list[dict]:
    response = client.get("/api/events", params={"limit": 10_000, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_stream_added_by_post_runs_shows_events_and_delete_ends_its_tracks(served, tmp_path):
    s = served()
    c = s.client
    wait_until(lambda: (stream(c, "base") or {}).get("frames", 0) > 0, 30, "the first camera on /api/streams")
    assert c.get("/api/health").json()["alive"] is True

    added = c.post("/api/streams", json={"uri": f"replay:{require(CITY)}", "id": "added"})
    assert added.status_code == 202, added.text
    assert added.json()["id"] == "added"
    wait_until(lambda: (stream(c, "added") or {}).get("frames", 0) > 10, 30, "frames of the added stream")
    entry = stream(c, "added")
    assert entry["status"] == "up" and entry["live"] is True and entry["buffer_depth"] >= 0
    seen: list[dict] = []

    def tracks_on_added() -> bool:
        seen[:] = c.get("/api/tracks", params={"stream": "added"}).json()["added"]
        return bool(seen)

    wait_until(tracks_on_added, 60, "a track on the added stream")
    kinds = {e["type"] for e in events_of(c, stream="added")}
    assert {"stream.up", "track.started"} <= kinds

    assert c.delete("/api/streams/added").status_code == 204
    wait_until(lambda: stream(c, "added") is None, 10, "the removed stream to leave /api/streams")
    wait_until(lambda: stream(c, "base") is not None and s.running.alive(), 5, "the other camera to go on")
    started = {e["track_id"] for e in events_of(c, stream="added", type="track.started")}
    ended = {e["track_id"]: e["reason"] for e in events_of(c, stream="added", type="track.ended")}
    assert started == set(ended), "every track of the removed stream ended"
    assert "removed" in ended.values() and seen[0]["track_id"] in ended
    pictures = [e[k] for e in events_of(c, stream="added", type="track.ended") for k in ("snapshot", "snapshot_frame")]
    assert pictures and all(p.startswith("snapshots/added/") for p in pictures)
    for path in pictures:  # each, as the event names it, from the API
        got = c.get("/api/" + path)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg" and got.content[:2] == b"\xff\xd8"
    for bad in ("/api/snapshots/added/1.png", "/api/snapshots/..%2F..%2Fetc/1.jpg", "/api/snapshots/added/999.jpg"):
        assert c.get(bad).status_code == 404, bad
    assert c.get("/api/tracks").json().get("added") is None

    summary = s.running.end()
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert summary["events"] == on_disk["events"]
    metrics = {m.name: m for m in text_string_to_metric_families(c.get("/metrics").text)}

    def samples(name: str, label: str) -> dict[str, float]:
        return {x.labels[label]: x.value for x in metrics[name].samples if x.name == name + "_total"}

    assert samples("roadwatch_events", "type") == {k: float(v) for k, v in on_disk["events"].items()}
    assert samples("roadwatch_tracks", "category") == {k: float(v) for k, v in on_disk["tracks"].items()}
    frames = samples("roadwatch_frames_processed", "stream")
    assert frames == {sid: float(e["frames"]) for sid, e in on_disk["streams"].items()}
    assert frames["added"] > 10  # a removed stream keeps its count
    latency = next(x for x in metrics["roadwatch_capture_to_event_seconds"].samples if x.name.endswith("_count"))
    assert latency.value == sum(frames.values()), "every tracked frame's latency was observed"
    assert c.get("/api/health").status_code == 503, "a run that is over is not alive"


def test_bad_requests_get_a_reason_and_unknown_ids_404(served):
    c = served().client
    wait_until(lambda: stream(c, "base") is not None, 30, "the first camera")
    missing = c.post("/api/streams", json={})
    assert missing.status_code == 422 and "uri" in missing.text
    bad_id = c.post("/api/streams", json={"uri": str(CITY), "id": "../evil"})
    assert bad_id.status_code == 422 and "stream id" in bad_id.text
    no_file = c.post("/api/streams", json={"uri": "/no/such/clip.mp4"})
    assert no_file.status_code == 422 and "no such file" in no_file.json()["detail"]
    assert c.post("/api/streams", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    assert c.post("/api/streams", json={"uri": str(CITY), "id": "base"}).status_code == 409
    assert c.delete("/api/streams/nope").status_code == 404
    assert c.get("/api/tracks", params={"stream": "nope"}).status_code == 404
    assert c.get("/api/events", params={"limit": 0}).status_code == 422


def test_tokens_read_cannot_change_streams_and_none_or_wrong_is_401(served):
    c = served(http={"token": ADMIN, "read_token": READER}).client
    # liveness is open: it says nothing of the cameras
    wait_until(lambda: c.get("/api/health").status_code == 200, 30, "the loop to run")
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {ADMIN}"}):
        for path in ("/api/streams", "/api/tracks", "/api/events", "/metrics"):
            assert c.get(path, headers=headers).status_code == 401, (path, headers)
    read = {"Authorization": f"Bearer {READER}"}
    assert c.get("/api/streams", headers=read).status_code == 200
    assert c.get("/metrics", params={"token": READER}).status_code == 200  # for what cannot send a header
    body = {"uri": f"replay:{require(CITY)}", "id": "more"}
    assert c.post("/api/streams", json=body, headers=read).status_code == 403
    assert c.delete("/api/streams/base", headers=read).status_code == 403
    assert c.post("/api/streams", json=body, headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 202


def test_a_camera_password_shows_in_no_answer_no_log_and_no_file(served, tmp_path, caplog):
    s = served()
    c = s.client
    secret_uri = "rtsp://viewer:hunter2secret@127.0.0.1:9/live"  # port 9: nothing listens, the camera is down
    answer = c.post("/api/streams", json={"uri": secret_uri, "id": "door"})
    assert answer.status_code == 202
    wait_until(lambda: (stream(c, "door") or {}).get("status") in ("down", "failed"), 30, "the camera reported down")
    wait_until(lambda: events_of(c, stream="door", type="stream"), 10, "its stream event")
    texts = [answer.text] + [c.get(p).text for p in ("/api/streams", "/api/tracks", "/api/events", "/metrics")]
    assert stream(c, "door")["source"] == "rtsp://viewer:***@127.0.0.1:9/live"
    for text in texts + [caplog.text]:
        assert "hunter2secret" not in text
    s.running.end()  # summary.json and the events file are written whole
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "summary.json" for p in written) and any(p.name.startswith("events") for p in written)
    for path in written:
        assert b"hunter2secret" not in path.read_bytes(), f"the password is in {path.name}"


def test_any_address_but_loopback_needs_a_token_or_auth_none(tmp_path):
    with pytest.raises(ValueError, match="set http.token"):
        HttpConfig(listen="0.0.0.0:8080").check_exposure()
    HttpConfig(listen="0.0.0.0:8080", auth="none").check_exposure()
    HttpConfig(listen="0.0.0.0:8080", token=ADMIN).check_exposure()
    HttpConfig(listen="[::1]:8080").check_exposure()
    with pytest.raises(ValueError, match="HOST:PORT"):
        HttpConfig(listen="8080")
    run = subprocess.run(
        [sys.executable, "-m", "roadwatch", "run", "--source", str(CITY), "--http", "0.0.0.0:0", "-o", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("roadwatch: error: http.listen 0.0.0.0:0")


def test_the_live_page_shows_moving_cameras_and_fills_its_event_list(served, tmp_path):
    """Headless Chromium on the page: a card per camera whose live view changes, the event list filling, and
    a screenshot that is not blank. The page samples each live view into a canvas every second and counts
    the changes (it flags a frozen view that way); the test reads those counts."""
    s = served(sources={"north": f"replay:{require(CITY)}", "south": f"replay:{require(CITY)}"})
    wait_until(lambda: len(s.client.get("/api/streams").json()) == 2, 30, "both cameras on /api/streams")
    with Browser(tmp_path / "chromium") as browser:
        browser.open(s.server.url + "/")
        cards = "document.querySelectorAll('.camera').length"
        wait_until(lambda: browser.evaluate(cards) == 2, 30, "a card per camera")
        changes = "Math.min(...[...document.querySelectorAll('.camera')].map(c => Number(c.dataset.changes)))"
        wait_until(lambda: browser.evaluate(changes) >= 1, 30, "both live views to show a picture")
        first = browser.evaluate(changes)
        wait_until(lambda: browser.evaluate(changes) >= first + 2, 10, "both live views to change over 3 s")
        wait_until(lambda: browser.evaluate("document.querySelectorAll('#events li').length") >= 3, 30,
                   "the event list to fill")
        assert browser.evaluate("document.querySelector('.camera .badge').textContent") == "up"
        assert browser.evaluate("document.getElementById('run').textContent") == "alive"
        shot = cv2.imdecode(np.frombuffer(browser.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    assert shot is not None and shot.std() > 20, "the screenshot is blank"
    cv2.imwrite(str(tmp_path / "page.png"), shot)
