"""CURVE encryption and ZAP authentication for the event sockets, with pyzmq's own machinery.

A server (the pipeline's PUB, the broker's XPUB) holds a secret key and accepts only clients whose public
key file is in an allowlist folder; everything on the wire is encrypted. `roadwatch keys NAME` makes key
pairs: NAME.key (public, to hand out or put in an allowlist) and NAME.key_secret (keep it).
"""

from __future__ import annotations

from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from roadwatch.errors import UserError


def create_keys(folder: Path, name: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(folder, name)
    return Path(public), Path(secret)


def _load(path: Path, need_secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"key file '{path}': cannot read it ({exc}); make keys with `roadwatch keys NAME`") from exc
    if need_secret and secret is None:
        raise UserError(f"key file '{path}': holds no secret key; pass the NAME.key_secret file")
    return public, secret


def secure_server(
    context: zmq.Context, socket: zmq.Socket, secret_key_file: Path, allowed_dir: Path
) -> ThreadAuthenticator:
    """Make `socket` a CURVE server that only clients listed in `allowed_dir` can talk to. Returns the
    authenticator thread, to be stopped when the socket closes."""
    if not Path(allowed_dir).is_dir():
        raise UserError(f"allowed client keys folder '{allowed_dir}': not a folder")
    public, secret = _load(Path(secret_key_file), need_secret=True)
    authenticator = ThreadAuthenticator(context)
    authenticator.start()
    authenticator.configure_curve(domain="*", location=str(allowed_dir))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True
    return authenticator


def secure_client(socket: zmq.Socket, client_secret_file: Path, server_public_file: Path) -> None:
    """Make `socket` a CURVE client of the server whose public key is in `server_public_file`."""
    public, secret = _load(Path(client_secret_file), need_secret=True)
    server_public, _ = _load(Path(server_public_file), need_secret=False)
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_serverkey = server_public
