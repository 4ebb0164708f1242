"""The event plane's commands: `subscribe` to a pipeline's events, make CURVE `keys`, run a `broker`, bridge
events to `mqtt`. Registered on the `roadwatch` command in cli.py."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import typer

from roadwatch.cli_support import fail, interrupt_on_signals
from roadwatch.errors import UserError


def subscribe(
    endpoint: str = typer.Option("tcp://127.0.0.1:5556", "--endpoint", "-e", help="Publisher's ZeroMQ endpoint"),
    type_: list[str] | None = typer.Option(
        None, "--type", help="Event type prefix, e.g. 'track.' or 'line.crossed'; repeat for several"
    ),
    stream: list[str] | None = typer.Option(None, "--stream", help="Stream id; repeat for several"),
    topic: list[str] | None = typer.Option(
        None, "--topic", "-t", help="Raw topic prefix '<type>/<stream_id>' (instead of --type/--stream)"
    ),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl (one JSON object a line) or pretty"),
    heartbeats: bool = typer.Option(False, "--heartbeats/--no-heartbeats", help="Also print heartbeats"),
    timeout: float | None = typer.Option(None, "--timeout", help="Exit after this many seconds without a message"),
    client_key: Path | None = typer.Option(None, "--client-key", help="CURVE: this client's NAME.key_secret"),
    server_key: Path | None = typer.Option(None, "--server-key", help="CURVE: the publisher's public NAME.key"),
) -> None:
    """Print events as they arrive; warns on stderr when events were missed (a jump in seq) and, once per kind,
    when a message that is not an event was skipped."""
    import zmq

    from roadwatch.events.schema import HEARTBEAT
    from roadwatch.events.zmq_io import Subscriber

    if fmt not in ("jsonl", "pretty"):
        fail(f"format '{fmt}': use jsonl or pretty")
    if (client_key is None) != (server_key is None):
        fail("--client-key and --server-key go together")
    subscriber = Subscriber(endpoint, type_, stream, timeout_s=timeout, topics=topic or None,
                            client_secret_key=client_key, server_public_key=server_key,
                            on_malformed=_warn_once_per_kind)
    interrupt_on_signals()
    reported, skipped = 0, 0
    try:
        for event in subscriber:
            for gap in subscriber.gaps[reported:]:
                print(f"roadwatch: warning: missed events {gap.first_missing}..{gap.last_missing} from "
                      f"{gap.producer_id}",
                      file=sys.stderr, flush=True)
            reported = len(subscriber.gaps)
            if fmt == "pretty" and subscriber.malformed.total() > skipped:
                skipped = subscriber.malformed.total()
                print(f"-- {skipped} malformed message(s) skipped so far: {_kinds(subscriber.malformed)}", flush=True)
            if event["type"] == HEARTBEAT and not heartbeats:
                continue
            print(_pretty(event) if fmt == "pretty" else json.dumps(event, default=repr), flush=True)
    except KeyboardInterrupt:
        pass
    except UserError as exc:
        fail(str(exc))
    except zmq.ZMQError as exc:  # a bad endpoint string, for instance
        fail(f"endpoint '{endpoint}': {exc}")
    finally:
        if subscriber.malformed:
            print(f"roadwatch: warning: skipped {subscriber.malformed.total()} malformed message(s): "
                  f"{_kinds(subscriber.malformed)}", file=sys.stderr, flush=True)


_warned_kinds: set[str] = set()


def _warn_once_per_kind(bad) -> None:
    if bad.kind not in _warned_kinds:
        _warned_kinds.add(bad.kind)
        print(f"roadwatch: warning: skipped a message that is not an event ({bad}); later ones of this kind are "
              "only counted", file=sys.stderr, flush=True)


def _kinds(counts) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.most_common())


def keys(
    name: str = typer.Argument(..., help="Name of the key pair, e.g. the machine or program it is for"),
    folder: Path = typer.Option(Path("keys"), "--dir", help="Folder to write NAME.key and NAME.key_secret in"),
    force: bool = typer.Option(False, "--force", help="Replace an existing pair of that name"),
) -> None:
    """Make a CURVE key pair: NAME.key (public: give it out, or put it in an allowlist folder) and
    NAME.key_secret (keep it private; written 0600)."""
    from roadwatch.events.curve import create_keys

    try:
        public, secret = create_keys(folder, name, force=force)
    except UserError as exc:
        fail(str(exc))
    print(f"public key: {public}\nsecret key: {secret}")


def broker(
    frontend: str = typer.Option(
        "tcp://127.0.0.1:5557", "--frontend", help="Where producers connect (run with events.connect: true)"
    ),
    backend: str = typer.Option("tcp://127.0.0.1:5556", "--backend", help="Where subscribers connect"),
    secret_key: Path | None = typer.Option(None, "--secret-key", help="CURVE: the broker's NAME.key_secret"),
    allowed: Path | None = typer.Option(None, "--allowed", help="CURVE: folder of allowed subscriber public keys"),
    producers: Path | None = typer.Option(
        None, "--producers", help="CURVE: folder of the public keys of the pipelines allowed to publish"
    ),
) -> None:
    """Fan-in: many pipelines publish into one place, many subscribers read from it (until Ctrl-C)."""
    from roadwatch.events.broker import Broker
    from roadwatch.events.curve import CurveServerKeys

    logging.basicConfig(level=logging.WARNING, format="roadwatch: %(levelname)s: %(message)s")
    if len({secret_key is None, allowed is None, producers is None}) > 1:
        fail("--secret-key, --allowed and --producers go together: with CURVE both sides need an allowlist")
    curve = CurveServerKeys(secret_key, allowed) if secret_key is not None else None
    try:
        running = Broker(frontend, backend, curve, producers).start()
    except UserError as exc:
        fail(str(exc))
    print(f"roadwatch broker: producers -> {frontend}, subscribers -> {backend}", file=sys.stderr, flush=True)
    interrupt_on_signals()
    try:
        # Wait in short slices: a signal may land on one of libzmq's threads, and Python runs its
        # handlers only in the main thread, between such slices.
        while running.running():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


def _pretty(event: dict) -> str:
    """One readable line; an event whose fields are not as documented (the envelope was checked, the body
    was not) is printed as JSON rather than ending the subscriber."""
    try:
        return _pretty_line(event)
    except (KeyError, TypeError, ValueError, AttributeError):
        return f"{event['type']} (fields not as documented) {json.dumps(event, default=repr)}"


def _pretty_line(event: dict) -> str:
    """Time, stream, type, then what matters for that type."""
    from roadwatch.events.schema import HEARTBEAT, EventType

    head = f"{event['ts']:.3f} {event.get('stream_id', '-'):<12} {event['type']:<14}"
    if "track_id" in event:
        keys = ("zone_id", "line_id", "direction", "reason", "rule_id", "plate_text", "watch_plate")
        extra = " ".join(f"{k}={event[k]}" for k in keys if event.get(k) is not None)
        return f"{head} #{event['track_id']} {event['class']} {event['confidence']:.2f} {extra}".rstrip()
    if event["type"] == EventType.CLIP_SAVED.value:
        return (f"{head} {event['path']} {event['duration_s']:.1f} s, {len(event['event_ids'])} events "
                f"({event['closed']})")
    if event["type"] == HEARTBEAT:
        overflows = event.get("subscriber_overflows", 0)
        lossy = f", {overflows} subscriber overflows" if overflows else ""
        return f"{head} {event['fps']} frames/s, {len(event['streams'])} streams{lossy}"
    return f"{head} {event.get('status', '')} {event.get('reason', '')}".rstrip()


def mqtt(
    endpoint: str = typer.Option("tcp://127.0.0.1:5556", "--endpoint", "-e", help="The pipeline's ZeroMQ events"),
    broker: str = typer.Option("mqtt://127.0.0.1:1883", "--broker", "-b", help="mqtt://HOST[:PORT] or mqtts://..."),
    username: str | None = typer.Option(None, "--username", "-u", help="Broker user"),
    password: str | None = typer.Option(
        None, "--password", envvar="ROADWATCH_MQTT_PASSWORD",
        help="Broker password; better from env ROADWATCH_MQTT_PASSWORD (not seen in the process list)"
    ),
    tls: bool = typer.Option(False, "--tls", help="Connect with TLS (mqtts:// says so too)"),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="CA certificates for TLS; the system's if unset"),
    prefix: str = typer.Option("roadwatch", "--prefix", help="First level of every topic"),
    discovery_prefix: str = typer.Option("homeassistant", "--discovery-prefix", help="Home Assistant's"),
    discovery: bool = typer.Option(True, "--discovery/--no-discovery", help="Publish Home Assistant discovery"),
    queue: int = typer.Option(10_000, "--queue", min=1, help="Events held while the broker is away (oldest dropped)"),
    client_key: Path | None = typer.Option(None, "--client-key", help="CURVE: this client's NAME.key_secret"),
    server_key: Path | None = typer.Option(None, "--server-key", help="CURVE: the publisher's public NAME.key"),
) -> None:
    """Bridge events to MQTT until Ctrl-C: each event on <prefix>/<stream>/<type>; retained camera status,
    objects in view per category, objects per zone and line crossings; Home Assistant discovery. A broker
    that is away is retried with backoff while events wait in a bounded queue."""
    from roadwatch.detector.categories import DEFAULT_CATEGORIES
    from roadwatch.events.zmq_io import Subscriber
    from roadwatch.mqtt.bridge import Broker, MqttBridge
    from roadwatch.mqtt.topics import Topics, level

    logging.basicConfig(level=logging.WARNING, format="roadwatch mqtt: %(levelname)s: %(message)s")
    if (client_key is None) != (server_key is None):
        fail("--client-key and --server-key go together")
    if any(level(part) != part for part in (*prefix.split("/"), discovery_prefix)):
        fail(f"--prefix '{prefix}' / --discovery-prefix '{discovery_prefix}': no '+', '#' or empty levels")
    try:
        address = Broker.parse(broker, username, password, tls)
    except ValueError as exc:
        fail(str(exc))
    bridge = MqttBridge(address, Topics(prefix, discovery_prefix), list(DEFAULT_CATEGORIES), queue, discovery,
                        str(ca_file) if ca_file else None)
    bridge.start()
    print(f"roadwatch mqtt: events from {endpoint} -> {address} ({prefix}/...)", file=sys.stderr, flush=True)
    interrupt_on_signals()
    try:
        for event in Subscriber(endpoint, client_secret_key=client_key, server_public_key=server_key,
                                on_malformed=_warn_once_per_kind):
            bridge.handle(event)
    except KeyboardInterrupt:
        pass
    finally:
        bridge.stop()
