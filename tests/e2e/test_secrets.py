"""Camera passwords stay inside the process: a real run with credentials in its source URIs, every place a
source can show up read back and searched for the secrets."""

from __future__ import annotations

import json
from pathlib import Path

import msgpack

from roadwatch.events.snapshots import request_snapshot
from roadwatch.streams import SourceSpec
from roadwatch.streams.redact import mask_uri, redact

from support.event_tap import EventTap
from support.helpers import free_endpoint, read_jsonl, spawned, stop, wait_until
from support.rtsp import free_port

SECRETS = ("Sup3rSecretPw", "0therPassw0rd", "QueryT0kenXyz")


def test_mask_uri_hides_userinfo_passwords_and_secret_query_values():
    assert mask_uri("rtsp://admin:PASSWORD@host/live") == "rtsp://admin:***@host/live"
    assert mask_uri("rtsp://admin:p@ss:w@10.0.0.1:554/a?x=1") == "rtsp://admin:***@10.0.0.1:554/a?x=1"
    assert mask_uri("http://cam/video.cgi?user=admin&pwd=s3cret&res=1") == "http://cam/video.cgi?user=admin&pwd=***&res=1"
    assert mask_uri("https://TOKEN123@host?token=abc") == "https://***@host?token=***"
    for plain in ("/videos/a.mp4", "0", "rtsp://127.0.0.1:8554/cam", "replay:/videos/a.mp4"):
        assert mask_uri(plain) == plain
    uri = "rtsp://u:p%40ssword@h/x"
    assert redact(f"cannot open {uri}: auth p@ssword refused (exit code 1)", uri) == (
        "cannot open rtsp://u:***@h/x: auth *** refused (exit code 1)"
    )
    assert "PASSWORD" not in repr(SourceSpec.from_uri("rtsp://a:PASSWORD@h/x", "cam"))



def test_a_password_in_a_source_uri_appears_nowhere_outside_the_process(tmp_path, rtsp_server, model_path):
    """Up, down and failing sources with secrets, an events socket, a snapshot, stdout, stderr and every file."""
    served = rtsp_server.url.replace("rtsp://", f"rtsp://admin:{SECRETS[0]}@")  # the server asks for no auth
    refused = f"rtsp://admin:{SECRETS[1]}@127.0.0.1:{free_port()}/cam"
    query = f"http://127.0.0.1:{free_port()}/video.cgi?user=admin&pwd={SECRETS[2]}"
    events_ep, snapshot_ep = free_endpoint(), free_endpoint()
    cfg = tmp_path / "cams.yaml"
    cfg.write_text(
        f"sources:\n  - {{uri: '{served}', id: door}}\n  - {{uri: '{refused}', id: gate}}\n"
        f"  - {{uri: '{query}', id: yard}}\n"
        f"streams: {{open_timeout_s: 2, stall_timeout_s: 2, reconnect_cap_s: 1}}\n"
        f"events: {{snapshot_endpoint: '{snapshot_ep}', heartbeat_s: 0.5}}\n"
    )
    out = tmp_path / "out"
    tap = EventTap.listening(events_ep)
    raw_payloads: list[bytes] = []
    try:
        with spawned("run", "--config", str(cfg), "--model", str(model_path), "--output", str(out), "--events",
                     events_ep, "--device", "cpu") as proc:
            seen = lambda kind: {e["stream_id"] for e in tap.events if e["type"] == kind}  # noqa: E731
            wait_until(lambda: "door" in seen("stream.up") and {"gate", "yard"} <= seen("stream.down"), 90,
                       "the served camera up and the other two down")
            wait_until(lambda: any(e["type"] == "track.started" for e in tap.events), 60,
                       "a track on the served camera")
            snapshot = request_snapshot(snapshot_ep)
            raw_payloads.append(msgpack.packb(snapshot, use_bin_type=True))
            assert {s["stream_id"] for s in snapshot["streams"]} == {"door", "gate", "yard"}
            stdout, stderr = stop(proc)
    finally:
        tap.stop()
    assert proc.returncode == 0, stderr

    sources = {e["stream_id"]: e["source"] for e in tap.events if e["type"].startswith("stream.")}
    assert sources == {"door": mask_uri(served), "gate": mask_uri(refused), "yard": mask_uri(query)}
    assert "admin:***@" in sources["door"] and "pwd=***" in sources["yard"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["streams"]["gate"]["source"] == mask_uri(refused)
    assert "gate" in stdout  # the status table was printed

    places: dict[str, str] = {"stdout": stdout, "stderr": stderr,
                              "zeromq": repr(tap.events) + repr(tap.topics), "snapshot": repr(raw_payloads)}
    for path in Path(out).rglob("*"):
        if path.is_file():
            places[str(path.relative_to(out))] = path.read_bytes().decode("latin-1")
    assert "events.jsonl" in places and read_jsonl(out / "events.jsonl")
    leaks = [(where, secret) for where, text in places.items() for secret in SECRETS if secret in text]
    assert not leaks, leaks
