"""Camera credentials stay inside the process: the one place a source's URI is masked for display.

A source such as `rtsp://admin:PASSWORD@host/live` is opened with its real URI, but wherever it leaves the
capture code (status reasons, events, logs, summaries, tables, snapshots) it appears as
`rtsp://admin:***@host/live`. Masked: the password of the userinfo (a userinfo without a password is
taken for a token and masked whole), and the values of query parameters whose names look secret
(`pwd`, `password`, `token`, `key`, `auth`, `signature`...: many IP cameras take credentials there).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MASK = "***"
SECRET_PARAM = re.compile(r"pass|pwd|token|key|secret|auth|sig|cred|session", re.IGNORECASE)
_AUTHORITY = re.compile(r"([^/?#]*)(.*)", re.DOTALL)  # where the host part of `scheme://...` ends
_QUERY_PAIR = re.compile(r"(?P<name>[^&=;]+)=(?P<value>[^&;]*)")
MIN_FREE_TEXT_SECRET = 4  # shorter secrets are masked inside the URI only: "1" must not vanish from "exit code 1"


def _split(uri: str):
    if "://" not in uri:
        return None
    try:
        return urlsplit(uri)
    except ValueError:  # a malformed URL (bad port, brackets): mask from the text itself
        return None


def _userinfo(netloc: str) -> tuple[str, str | None] | None:
    """(user, password or None) of a netloc, or None without userinfo. The last `@` ends it, as FFmpeg reads it."""
    if "@" not in netloc:
        return None
    info = netloc.rpartition("@")[0]
    user, sep, password = info.partition(":")
    return (user, password) if sep else (user, None)


def mask_uri(uri: str) -> str:
    """The URI as it may be shown anywhere: credentials and secret query values replaced by ***."""
    if "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    authority, path = _AUTHORITY.match(rest).groups()
    info = _userinfo(authority)
    if info is not None:
        user, password = info
        host = authority.rpartition("@")[2]
        authority = f"{user}:{MASK}@{host}" if password is not None else f"{MASK}@{host}"
    before, mark, query = path.partition("?")
    if mark:
        path = before + mark + _QUERY_PAIR.sub(_mask_pair, query)
    return f"{scheme}://{authority}{path}"


def _mask_pair(match: re.Match) -> str:
    return f"{match['name']}={MASK}" if SECRET_PARAM.search(match["name"]) else match[0]


def uri_secrets(uri: str) -> list[str]:
    """The secret strings of a URI (as written and percent-decoded), longest first."""
    parts = _split(uri)
    found: set[str] = set()
    if parts is not None:
        info = _userinfo(parts.netloc)
        if info is not None:
            found.add(info[1] if info[1] is not None else info[0])
        for match in _QUERY_PAIR.finditer(parts.query):
            if SECRET_PARAM.search(match["name"]):
                found.add(match["value"])
    found |= {unquote(s) for s in found}
    return sorted((s for s in found if s), key=len, reverse=True)


def redact(text: str, uri: str) -> str:
    """`text` (a reason, an exception's message) with the URI masked, and any of its secrets of
    MIN_FREE_TEXT_SECRET characters or more that a library quoted on its own."""
    if "://" not in uri:
        return text
    text = text.replace(uri, mask_uri(uri))
    for secret in uri_secrets(uri):
        if len(secret) >= MIN_FREE_TEXT_SECRET:
            text = text.replace(secret, MASK)
    return text

