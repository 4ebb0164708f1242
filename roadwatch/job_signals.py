"""Signals handled from the first moment of a job, not only once the pipeline runs.

Before, Ctrl-C/SIGTERM were taken over only when the run started and SIGHUP only once a config-driven pipeline
existed: a SIGHUP while the model loaded ended the process silently (SIGHUP's default action, exit 129) and a
SIGTERM then ended it without a word (143). Now a stop request at any time is a clean stop (the pipeline sees
`stop` set and finalises its outputs at once), and a SIGHUP is a reload, applied when the pipeline is ready.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class JobSignals:
    """First Ctrl-C or SIGTERM asks for a clean stop (outputs finalised, exit 0); a second Ctrl-C aborts.
    SIGHUP reloads the sources where a config file lists them, else it is ignored with a warning."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._reload: Callable[[], None] | None = None
        self._reload_pending = False
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def reload_with(self, action: Callable[[], None]) -> None:
        """What SIGHUP does from now on; one that came while the job was starting is applied now."""
        self._reload = action
        if self._reload_pending:
            self._reload_pending = False
            action()

    def _on_stop(self, signum: int, _frame) -> None:
        if self.stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop.set()

    def _on_hup(self, _signum: int, _frame) -> None:
        if self._reload is not None:
            self._reload()
        elif not self._reload_pending:
            self._reload_pending = True
            log.warning("SIGHUP: sources are reloaded from a config file's `sources` once the run starts "
                        "(ignored when there is none)")
