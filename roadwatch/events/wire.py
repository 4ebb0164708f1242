"""An event on the wire: the message is two frames, [topic, payload]; the topic is "<type>/<stream_id>"
("heartbeat/" for heartbeats) and the payload the event as msgpack (default) or UTF-8 JSON.

A reader takes whatever reaches its socket, and with a broker anyone may be a producer: `read_message` turns a
message into an event or raises `MalformedMessage` with the kind of fault (one of `MALFORMED_KINDS`), so a
subscriber counts it, says so once per kind, and goes on. Only the envelope is checked (type, seq,
producer_id, stream_id); docs/events.schema.json describes the rest.
"""

from __future__ import annotations

import msgpack
import orjson

from roadwatch.events.schema import Event

MAX_EVENT_BYTES = 1 << 20  # an event is about 1 KB; a payload of a MiB is not one
MAX_TOPIC_BYTES = 256  # a subscription: "<type>/<stream_id>" with a stream id of at most 128 characters
MALFORMED_KINDS = ("frames", "empty", "too large", "not msgpack", "not JSON", "not an event", "missing fields",
                   "wrong types")
_ENVELOPE = {"type": str, "seq": int, "producer_id": str}


class MalformedMessage(ValueError):
    """A message that is not an event; `kind` says which fault, for counting."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def topic_of(event: Event) -> bytes:
    return f"{event['type']}/{event.get('stream_id', '')}".encode()


def encode(event: Event, fmt: str = "msgpack") -> bytes:
    if fmt == "json":
        return orjson.dumps(event)
    return msgpack.packb(event, use_bin_type=True)


def decode(payload: bytes) -> Event:
    """Either format: a JSON event starts with '{', which no msgpack map does."""
    if payload[:1] == b"{":
        return orjson.loads(payload)
    return msgpack.unpackb(payload, raw=False)


def read_message(frames: list[bytes], max_bytes: int = MAX_EVENT_BYTES) -> Event:
    """The event in a received [topic, payload], or MalformedMessage."""
    if len(frames) != 2:
        raise MalformedMessage("frames", f"{len(frames)} frame(s), not [topic, payload]")
    payload = frames[1]
    if not payload:
        raise MalformedMessage("empty", "an empty payload")
    if len(payload) > max_bytes:
        raise MalformedMessage("too large", f"{len(payload)} bytes (at most {max_bytes})")
    try:
        event = decode(payload)
    except Exception as exc:  # msgpack and orjson raise several kinds; all mean the same here
        kind = "not JSON" if payload[:1] == b"{" else "not msgpack"
        raise MalformedMessage(kind, f"{type(exc).__name__}") from None
    if not isinstance(event, dict) or not all(isinstance(key, str) for key in event):
        raise MalformedMessage("not an event", f"a {type(event).__name__}, not a map of names")
    missing = [name for name in _ENVELOPE if name not in event]
    if missing:
        raise MalformedMessage("missing fields", ", ".join(missing))
    wrong = [name for name, kind in _ENVELOPE.items() if not isinstance(event[name], kind)
             or isinstance(event[name], bool)]
    if not isinstance(event.get("stream_id", ""), str):
        wrong.append("stream_id")
    if wrong:
        raise MalformedMessage("wrong types", ", ".join(wrong))
    return event
