"""CURVE encryption and ZAP authentication for every event socket, with pyzmq's own machinery.

A server (the pipeline's PUB and snapshot socket, the broker's two sides) holds a secret key and accepts only
clients whose public key file is in an allowlist folder; everything on the wire is encrypted. `roadwatch keys
NAME` makes key pairs: NAME.key (public, to hand out or put in an allowlist) and NAME.key_secret (keep it:
written 0600, and refused when group or others can read it, as ssh refuses a private key). An allowlist folder
is watched: a key added lets its client in from then on; a key removed or changed makes the server drop every
connection (`on_revoked`), so the revoked client is out and the others reconnect at once (a short gap in
`seq` for them).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from roadwatch.errors import UserError

WATCH_INTERVAL_S = 1.0


@dataclass(frozen=True)
class CurveServerKeys:
    """A server's (the pipeline's PUB and snapshot socket, the broker) secret key file and the folder of
    client public keys it accepts."""

    secret_key_file: Path
    allowed_clients_dir: Path


@dataclass(frozen=True)
class CurveClientKeys:
    """A client's (a subscriber, a pipeline connecting to a broker) secret key file and its server's public key."""

    secret_key_file: Path
    server_public_key: Path


def create_keys(folder: Path, name: str, force: bool = False) -> tuple[Path, Path]:
    """A new key pair in `folder`; an existing pair of that name is kept unless `force` (its clients would lose
    access, and the old secret could not be recovered)."""
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    existing = [p for p in (public, secret) if p.exists()]
    if existing and not force:
        raise UserError(f"key pair '{name}' exists in '{folder}' ({existing[0].name}); pass --force to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)  # the secret file is never readable by others, not even for an instant
    try:
        made_public, made_secret = zmq.auth.create_certificates(folder, name)
    finally:
        os.umask(old_umask)
    os.chmod(made_secret, 0o600)
    os.chmod(made_public, 0o644)
    return Path(made_public), Path(made_secret)


def _load(path: Path, need_secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"key file '{path}': cannot read it ({exc}); make keys with `roadwatch keys NAME`") from exc
    if need_secret and secret is None:
        raise UserError(f"key file '{path}': holds no secret key; pass the NAME.key_secret file")
    if secret is not None and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise UserError(f"key file '{path}': a secret key readable by group or others is refused; "
                        f"chmod 600 '{path}'")
    return public, secret


def _fingerprint(folder: Path) -> dict[str, tuple[int, int]]:
    """What the allowlist holds now: each public key file with its mtime and size."""
    try:
        return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.key")}
    except OSError:
        return {}


class Allowlists:
    """One ZAP authenticator for a context, with an allowlist folder per ZAP domain, re-read when it changes."""

    def __init__(self, context: zmq.Context) -> None:
        self.authenticator = ThreadAuthenticator(context)
        self.authenticator.start()
        self._folders: dict[str, tuple[Path, Callable[[], None] | None]] = {}
        self._seen: dict[str, dict[str, tuple[int, int]]] = {}
        self.reloads = 0  # allowlist changes applied so far
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="allowlists", daemon=True)
        self._watcher.start()

    def allow(self, domain: str, folder: Path, on_revoked: Callable[[], None] | None = None) -> None:
        if not Path(folder).is_dir():
            raise UserError(f"allowed client keys folder '{folder}': not a folder")
        self._seen[domain] = _fingerprint(folder)
        self.authenticator.configure_curve(domain=domain, location=str(folder))
        self._folders[domain] = (Path(folder), on_revoked)

    def stop(self) -> None:
        self._stop.set()
        self._watcher.join(5)
        self.authenticator.stop()

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            for domain, (folder, on_revoked) in list(self._folders.items()):
                now, before = _fingerprint(folder), self._seen.get(domain, {})
                if now == before:
                    continue
                self._seen[domain] = now
                self.authenticator.configure_curve(domain=domain, location=str(folder))
                self.reloads += 1
                revoked = any(now.get(name) != stamp for name, stamp in before.items())
                if revoked and on_revoked is not None:
                    on_revoked()


def rebind(socket: zmq.Socket, endpoint: str) -> None:
    """Drop every connection of a bound socket: unbind, and bind again as soon as the port is free (libzmq
    closes the listener in its I/O thread, a moment later). Allowed peers reconnect by themselves."""
    socket.unbind(endpoint)
    for _ in range(200):
        try:
            socket.bind(endpoint)
            return
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EADDRINUSE:
                raise
            time.sleep(0.005)
    socket.bind(endpoint)


def secure_server(
    allowlists: Allowlists, socket: zmq.Socket, keys: CurveServerKeys, domain: str = "*",
    on_revoked: Callable[[], None] | None = None,
) -> None:
    """Make `socket` a CURVE server that only clients listed in `keys.allowed_clients_dir` can talk to;
    `on_revoked` is called (from the watcher thread) when a key is taken out of that folder."""
    public, secret = _load(Path(keys.secret_key_file), need_secret=True)
    allowlists.allow(domain, keys.allowed_clients_dir, on_revoked)
    socket.zap_domain = domain.encode()
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True


def secure_client(socket: zmq.Socket, keys: CurveClientKeys) -> None:
    """Make `socket` a CURVE client of the server whose public key is in `keys.server_public_key`."""
    public, secret = _load(Path(keys.secret_key_file), need_secret=True)
    server_public, _ = _load(Path(keys.server_public_key), need_secret=False)
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_serverkey = server_public
