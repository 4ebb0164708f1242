"""What binding an endpoint must check first: an ipc:// path that is not ours, and an address beyond this
machine without CURVE."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from roadwatch.errors import UserError

log = logging.getLogger(__name__)


def check_bind(endpoint: str, secured: bool, what: str) -> None:
    """Before binding `endpoint`: refuse an ipc:// path holding something other than a socket (libzmq unlinks
    whatever is at the path when it binds: `--events ipc:///path` once deleted a regular file there), and
    warn once when a tcp:// address beyond this machine is bound without CURVE."""
    if endpoint.startswith("ipc://"):
        path = Path(endpoint[len("ipc://"):])
        try:
            mode = path.lstat().st_mode
        except OSError:
            return
        if not stat.S_ISSOCK(mode):
            raise UserError(f"{what} '{endpoint}': '{path}' exists and is not a socket; roadwatch will not delete "
                            "it (binding an ipc endpoint replaces what is at its path): choose another path")
        return
    warn_if_exposed(endpoint, secured, what)


def warn_if_exposed(endpoint: str, secured: bool, what: str) -> None:
    """One warning line when a socket is bound beyond this machine without CURVE: anyone who can reach the
    port can read (or, on a broker's producer side, write) every event."""
    if secured or not endpoint.startswith("tcp://"):
        return
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return
    log.warning("%s %s is bound beyond this machine without CURVE: anyone who can reach it can read it "
                "(set a CURVE key and allowlist, or bind 127.0.0.1)", what, endpoint)
