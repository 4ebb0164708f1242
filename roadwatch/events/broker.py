"""Fan-in: many pipelines publish into one place, many subscribers read from it.

Producers connect their PUB to `frontend` (XSUB), subscribers connect to `backend` (XPUB); pyzmq's steerable
proxy forwards events one way and subscriptions the other, in a thread of its own. With CURVE both sides are
CURVE servers with their own allowlist (ZAP domains "producers" and "subscribers"): a producer without an
allowed key cannot inject events (a keyless PUB once injected forged `line.crossed` events), and a subscriber
without one reads nothing. Both sides bound what a peer may send: a producer's message of more than
MAX_EVENT_BYTES drops it inside libzmq, and subscriptions pass a SubscriptionGate (subscriptions.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

import zmq

from roadwatch.errors import UserError
from roadwatch.events.curve import Allowlists, CurveServerKeys, secure_server
from roadwatch.events.endpoints import check_bind
from roadwatch.events.subscriptions import SubscriptionGate
from roadwatch.events.wire import MAX_EVENT_BYTES


class Broker:
    """`start` binds (so a busy port is a UserError at once); `stop` ends the proxy through its steering socket.
    With `curve` (the broker's key and the subscribers' allowlist), `producers_dir` is the producers' allowlist.
    A key taken out of either allowlist restarts the proxy: every connection is dropped, the allowed peers
    reconnect at once (ZeroMQ reconnects by itself), the revoked one is refused."""

    def __init__(
        self, frontend: str, backend: str, curve: CurveServerKeys | None = None, producers_dir: Path | None = None
    ) -> None:
        if curve is not None and producers_dir is None:
            raise UserError("broker: with CURVE, pass the producers' allowlist too (--producers DIR): "
                            "the producer side would be open to anyone")
        self.frontend, self.backend, self.curve, self.producers_dir = frontend, backend, curve, producers_dir
        self.restarts = 0
        self._context = zmq.Context()
        self._thread: threading.Thread | None = None
        self._steer: zmq.Socket | None = None
        self._lock = threading.Lock()  # start, stop and a revocation's restart, one at a time
        self._allowlists: Allowlists | None = None

    def start(self) -> Broker:
        with self._lock:
            try:
                if self.curve is not None and self._allowlists is None:
                    self._allowlists = Allowlists(self._context)
                self._open()
            except (zmq.ZMQError, UserError) as exc:
                self._end()
                if isinstance(exc, UserError):
                    raise
                raise UserError(f"broker: cannot bind {self.frontend} / {self.backend} ({exc})") from exc
        return self

    def _open(self) -> None:
        xsub, xpub = self._context.socket(zmq.XSUB), self._context.socket(zmq.XPUB)
        xsub.setsockopt(zmq.MAXMSGSIZE, MAX_EVENT_BYTES)
        gate = SubscriptionGate(xpub)  # before the bind: a listener keeps the options it was bound with
        control, self._steer = self._context.socket(zmq.PAIR), self._context.socket(zmq.PAIR)
        self._steer.bind(f"inproc://broker-steer-{id(self)}-{self.restarts}")
        control.connect(f"inproc://broker-steer-{id(self)}-{self.restarts}")
        try:
            if self.curve is not None:
                producers = CurveServerKeys(self.curve.secret_key_file, self.producers_dir)
                secure_server(self._allowlists, xpub, self.curve, "subscribers", on_revoked=self._restart)
                secure_server(self._allowlists, xsub, producers, "producers", on_revoked=self._restart)
            check_bind(self.frontend, self.curve is not None, "broker frontend (producers)")
            check_bind(self.backend, self.curve is not None, "broker backend (subscribers)")
            xsub.bind(self.frontend)
            xpub.bind(self.backend)
        except (zmq.ZMQError, UserError):
            for sock in (xsub, xpub, control):
                sock.close(linger=0)
            raise
        self._thread = threading.Thread(target=self._proxy, args=(xsub, gate, control), name="broker", daemon=True)
        self._thread.start()  # the sockets now belong to that thread

    @staticmethod
    def _proxy(xsub: zmq.Socket, gate: SubscriptionGate, control: zmq.Socket) -> None:
        """Events from producers to subscribers, subscriptions the other way through the gate, until TERMINATE
        (a loop of our own rather than zmq.proxy: that one would apply every subscription unchecked)."""
        xpub = gate.socket
        poller = zmq.Poller()
        for sock in (xsub, xpub, control):
            poller.register(sock, zmq.POLLIN)
        try:
            while True:
                ready = dict(poller.poll())
                if control in ready and control.recv() == b"TERMINATE":
                    return
                if xsub in ready:
                    for _ in range(1000):  # a burst at a time, then the other sockets get their turn
                        try:
                            xpub.send_multipart(xsub.recv_multipart(zmq.NOBLOCK))
                        except zmq.Again:
                            break
                if xpub in ready:
                    message = xpub.recv()
                    if gate.take(message):
                        xsub.send(message)
        except zmq.ContextTerminated:
            pass
        finally:
            for sock in (xsub, xpub, control):
                sock.close(linger=0)

    def running(self) -> bool:
        with self._lock:  # a restart after a revocation is not an end
            return self._thread is not None and self._thread.is_alive()

    def _restart(self) -> None:
        """A key was revoked (called from the allowlist watcher): the proxy and its sockets start over."""
        with self._lock:
            if self._thread is None:
                return
            self._terminate()
            self.restarts += 1
            self._open()

    def _terminate(self, timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self._steer.send(b"TERMINATE")
            self._thread.join(timeout_s)
            self._thread = None
        if self._steer is not None:
            self._steer.close(linger=0)
            self._steer = None

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            self._end(timeout_s)

    def _end(self, timeout_s: float = 5.0) -> None:
        self._terminate(timeout_s)
        if self._allowlists is not None:
            self._allowlists.stop()
            self._allowlists = None
        self._context.term()
