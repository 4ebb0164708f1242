"""Who may do what: a read token (look) and an admin token (also add and remove streams).

A token comes as `Authorization: Bearer <token>`, or as `?token=` for what a browser cannot give a header to
(an <img> live view, an EventSource); it is compared in constant time. With no token configured on loopback,
or `http.auth: none`, every request is allowed (roadwatch refuses to start open on any other address).
"""

from __future__ import annotations

import secrets
from enum import IntEnum

from fastapi import HTTPException, Request

from roadwatch.config import HttpConfig


class Role(IntEnum):
    NONE = 0
    READ = 1
    ADMIN = 2


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and secrets.compare_digest(given.encode(), expected.encode())


class TokenCheck:
    def __init__(self, settings: HttpConfig) -> None:
        self.open = settings.open_access
        self.admin_token = settings.token
        self.read_token = settings.read_token

    def role_of(self, request: Request) -> Role:
        if self.open:
            return Role.ADMIN
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            given = request.query_params.get("token", "")
        given = given.strip()
        if not given:
            return Role.NONE
        # both compared every time, so the answer's timing does not say which token it nearly was
        admin, read = _same(given, self.admin_token), _same(given, self.read_token)
        return Role.ADMIN if admin else Role.READ if read else Role.NONE

    def require(self, request: Request, role: Role) -> None:
        """401 without a valid token; 403 with a read token where admin is needed."""
        have = self.role_of(request)
        if have is Role.NONE:
            raise HTTPException(401, "a valid token is needed: Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": "Bearer"})
        if have < role:
            raise HTTPException(403, "the read-only token cannot change streams; use the admin token")
