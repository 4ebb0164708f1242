"""uvicorn in a thread of the pipeline's process, on a socket bound here first, so a taken port or a bad
address is a one-line error before the run starts (and port 0 picks a free one: the tests)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from roadwatch.api.app import StreamControl, create_app
from roadwatch.config import HttpConfig
from roadwatch.config.http import split_listen
from roadwatch.errors import UserError
from roadwatch.pipeline import Pipeline

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def control_of(pipeline: Pipeline) -> StreamControl:
    return StreamControl(pipeline.add_source, pipeline.remove_source, pipeline.roster.in_use)


def bind(listen: str) -> socket.socket:
    host, port = split_listen(listen)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise UserError(f"http.listen {listen}: cannot listen there ({exc.strerror or exc})") from None
    sock.setblocking(False)
    return sock


class HttpServer:
    """The API for one pipeline: `start()` before the run (returns once it answers), `close()` after."""

    def __init__(self, pipeline: Pipeline, settings: HttpConfig) -> None:
        try:
            settings.check_exposure()
        except ValueError as exc:
            raise UserError(str(exc)) from None
        self.settings = settings
        self.app = create_app(pipeline.board, control_of(pipeline), pipeline.metrics.registry, settings,
                              pipeline.outputs.out_dir)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) it listens on; the port is the real one where the config asked for 0."""
        host, port = self._socket.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self) -> None:
        self._socket = bind(self.settings.listen)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="roadwatch-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise UserError(f"http.listen {self.settings.listen}: the HTTP server did not start")
            time.sleep(0.01)

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("the HTTP server did not stop within %.0f s; left to end with the process",
                            STOP_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None
