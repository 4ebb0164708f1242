"""A real pipeline running in a thread, as `roadwatch run` runs it, for tests that talk to it while it runs."""

from __future__ import annotations

import threading


class Running:
    """A pipeline running in a thread until stopped; `summary` is its result once it has ended, `error` what
    killed it, if anything did."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.stop = threading.Event()
        self.summary: dict | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.summary = self.pipeline.run(self.stop)
        except BaseException as exc:  # noqa: BLE001  (the test reports it)
            self.error = exc

    def alive(self) -> bool:
        assert self.error is None, f"the pipeline died: {self.error!r}"
        return self.thread.is_alive()

    def end(self, timeout_s: float = 30) -> dict:
        self.stop.set()
        self.thread.join(timeout_s)
        assert self.error is None, f"the pipeline died: {self.error!r}"
        assert not self.thread.is_alive(), "the pipeline did not stop"
        return self.summary
