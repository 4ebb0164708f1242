"""The current state for late joiners (ZeroMQ guide's Clone pattern): a ROUTER socket answering b"SNAPSHOT"
with the pipeline's LiveState as msgpack, and the client side of it.

The socket lives in a thread of its own, so no client can hold the pipeline's loop: a flood of requests once
froze it for 24 s, answered one by one inside the loop. The loop only builds a snapshot when one is wanted
(`serve`, at most once per batch, however many requests wait), so every reply is a state taken after its
request arrived: a late joiner never gets a snapshot older than the events it has already received. The
thread reads at most `max_per_s` requests a second (the rest wait in libzmq's small per-peer queue, which
pushes back on the sender), answers a request the loop has not served within `deadline_s` with an error,
and with CURVE talks only to allowed clients (the same keys and allowlist as the event socket).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import msgpack
import zmq

from roadwatch.errors import UserError
from roadwatch.events.curve import (
    Allowlists,
    CurveClientKeys,
    CurveServerKeys,
    rebind,
    secure_client,
    secure_server,
)
from roadwatch.events.endpoints import check_bind

REQUEST = b"SNAPSHOT"
MAX_PENDING = 256  # requests waiting for the loop; more are refused at once


class SnapshotServer:
    """Serves snapshots from its own thread; the pipeline's loop calls `serve(make)` once per batch."""

    def __init__(
        self, endpoint: str, curve: CurveServerKeys | None = None, max_per_s: float = 20.0, deadline_s: float = 2.0
    ) -> None:
        self.endpoint = endpoint
        self.max_per_s = max_per_s
        self.deadline_s = deadline_s
        self.answered = 0
        self.refused = 0  # too many waiting, not served within the deadline, or not a snapshot request
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.RCVHWM, 16)  # per peer: a flooding client waits on its own queue
        self._socket.setsockopt(zmq.MAXMSGSIZE, 1024)
        self._allowlists: Allowlists | None = None
        try:
            if curve is not None:
                self._allowlists = Allowlists(self._context)
                secure_server(self._allowlists, self._socket, curve, "snapshots", on_revoked=self._revoke)
            check_bind(endpoint, curve is not None, "snapshot endpoint")
            self._socket.bind(endpoint)
        except (zmq.ZMQError, UserError) as exc:
            self._close()
            if isinstance(exc, UserError):
                raise
            raise UserError(
                f"snapshot endpoint '{endpoint}': cannot bind ({exc}); set another events.snapshot_endpoint"
            ) from exc
        self._revoked = False  # a key left the allowlist: connections are dropped in the server's thread
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._made: tuple[float, bytes] | None = None  # (when the loop built it, packed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
        self._thread.start()

    def _revoke(self) -> None:
        self._revoked = True

    def serve(self, make) -> bool:
        """From the pipeline's loop: build a snapshot with `make()` if a request waits for one."""
        if not self._wanted.is_set():
            return False
        self._wanted.clear()
        built_at = time.monotonic()
        snapshot = make()
        packed = msgpack.packb(snapshot, use_bin_type=True)
        with self._lock:
            self._made = (built_at, packed)
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._close()

    def _close(self) -> None:
        self._socket.close(linger=0)
        if self._allowlists is not None:
            self._allowlists.stop()
        self._context.term()

    def _run(self) -> None:
        pending: deque[tuple[bytes, float]] = deque()  # (client identity, when its request arrived)
        next_read = time.monotonic()
        while not self._stop.is_set():
            if self._revoked:
                self._revoked = False
                rebind(self._socket, self.endpoint)
            now = time.monotonic()
            if now >= next_read and self._socket.poll(20):
                identity, *_, request = self._socket.recv_multipart()
                next_read = time.monotonic() + 1.0 / self.max_per_s
                if request != REQUEST or len(pending) >= MAX_PENDING:
                    self._reply(identity, {"error": "not a snapshot request" if request != REQUEST else "busy"})
                else:
                    pending.append((identity, time.monotonic()))
                    self._wanted.set()
            elif now < next_read:
                time.sleep(min(0.02, next_read - now))
            self._answer(pending)

    def _answer(self, pending: deque[tuple[bytes, float]]) -> None:
        with self._lock:
            made = self._made
        now = time.monotonic()
        while pending:
            identity, arrived = pending[0]
            if made is not None and made[0] >= arrived:
                self._send(identity, made[1])
                self.answered += 1
            elif now - arrived > self.deadline_s:
                self._reply(identity, {"error": f"no snapshot within {self.deadline_s:g} s: the pipeline is busy"})
            else:
                self._wanted.set()  # it arrived after the last one was built: it needs a newer one
                return
            pending.popleft()

    def _reply(self, identity: bytes, error: dict) -> None:
        self.refused += 1
        self._send(identity, msgpack.packb(error, use_bin_type=True))

    def _send(self, identity: bytes, payload: bytes) -> None:
        try:
            self._socket.send_multipart([identity, b"", payload], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the client has gone, or does not read its replies


def request_snapshot(
    endpoint: str, timeout_s: float = 5.0, client_secret_key: Path | None = None,
    server_public_key: Path | None = None,
) -> dict:
    """The publisher's current state (LiveState.to_snapshot()); UserError if it does not answer in time."""
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    try:
        if client_secret_key is not None:
            secure_client(sock, CurveClientKeys(client_secret_key, server_public_key))
        sock.connect(endpoint)
        sock.send(REQUEST)
        if not sock.poll(int(timeout_s * 1000)):
            raise UserError(f"snapshot endpoint '{endpoint}': no answer within {timeout_s:g} s")
        reply = msgpack.unpackb(sock.recv(), raw=False)
        if "error" in reply:
            raise UserError(f"snapshot endpoint '{endpoint}': {reply['error']}")
        return reply
    finally:
        sock.close(linger=0)
        context.term()


def late_join(
    endpoint: str, snapshot_endpoint: str, timeout_s: float | None = None, client_secret_key: Path | None = None,
    server_public_key: Path | None = None,
):
    """Join a running publisher late: yields (LiveState, event) for each new event after the snapshot;
    the LiveState is the publisher's state as of that event. The SUB socket is connected before the
    snapshot is asked for, so no event can fall between the two."""
    from roadwatch.events.live_state import LiveState
    from roadwatch.events.zmq_io import Subscriber

    subscriber = Subscriber(endpoint, timeout_s=timeout_s, client_secret_key=client_secret_key,
                            server_public_key=server_public_key)
    events = iter(subscriber)
    first = next(events, None)  # connects, and waits for the subscription to be live (heartbeats flow)
    state = LiveState.from_snapshot(request_snapshot(snapshot_endpoint, 5.0, client_secret_key, server_public_key))
    if first is not None and state.apply(first):  # applied only if newer than the snapshot
        yield state, first
    for event in events:
        if state.apply(event):
            yield state, event
