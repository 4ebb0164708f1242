"""The HTTP API and its page: where it listens and who may use it."""

from __future__ import annotations

import ipaddress
import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from roadwatch.config.base import Section

TOKEN_ENV = "ROADWATCH_HTTP_TOKEN"  # the admin token, when the config does not give one
READ_TOKEN_ENV = "ROADWATCH_HTTP_READ_TOKEN"


def split_listen(listen: str) -> tuple[str, int]:
    """'HOST:PORT' (IPv6 as '[::1]:8080') -> (host, port); ValueError with the reason otherwise."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host:
        raise ValueError(f"listen '{listen}': give HOST:PORT, e.g. 127.0.0.1:8080")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen '{listen}': the port must be a number from 0 to 65535")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """Only this machine can reach it: 127.0.0.0/8, ::1 or localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class HttpConfig(Section):
    """Off unless `listen` is set (or `roadwatch run --http`). On this machine only (loopback) it is open unless a
    token is set; any other address needs a token, or `auth: none` to say in so many words that anyone who can
    reach it may add and remove cameras."""

    listen: str | None = Field(
        None, description="HOST:PORT the API and its page listen on, e.g. 127.0.0.1:8080; off if unset")
    auth: Literal["token", "none"] = Field(
        "token", description="token: requests need a token (required on any address but loopback); none: no "
        "checks at all, even on a public address")
    token: str | None = Field(
        None, min_length=16, description=f"Admin token (read, add and remove streams); or env {TOKEN_ENV}")
    read_token: str | None = Field(
        None, min_length=16, description=f"Read-only token (no add or remove); or env {READ_TOKEN_ENV}")
    live_fps: float = Field(5.0, gt=0, le=30, description="Most frames a second a live view sends one viewer")
    recent_events: int = Field(1000, ge=1, le=100_000, description="Events kept for GET /api/events")

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_listen(value)
        return value

    @model_validator(mode="after")
    def _tokens_from_environment(self) -> HttpConfig:
        self.token = self.token or os.environ.get(TOKEN_ENV) or None
        self.read_token = self.read_token or os.environ.get(READ_TOKEN_ENV) or None
        for name, token in (("token", self.token), ("read_token", self.read_token)):
            if token is not None and len(token) < 16:
                raise ValueError(f"{name} must be at least 16 characters (from the environment too)")
        if self.token is not None and self.token == self.read_token:
            raise ValueError("token and read_token must differ, or the read-only token could add and remove streams")
        return self

    def check_exposure(self) -> None:
        """Before binding: an address other than loopback with no token and auth not `none` is refused
        (ValueError, one line)."""
        if self.listen is None or self.auth == "none":
            return
        host, _ = split_listen(self.listen)
        if not is_loopback(host) and self.token is None and self.read_token is None:
            raise ValueError(
                f"http.listen {self.listen} is reachable from other machines: set http.token (or env {TOKEN_ENV}), "
                "or http.auth: none to allow anyone who can reach it")

    @property
    def open_access(self) -> bool:
        """Every request is allowed: no tokens on loopback, or auth: none."""
        return self.auth == "none" or (self.token is None and self.read_token is None)
