"""Plates to watch for: a file of plates (one a line, `TEXT` or `TEXT,label`; blank lines and # comments
skipped), re-read on SIGHUP, matched against each track's agreed text within `max_edits` (Levenshtein, by
rapidfuzz) so one misread character still finds a watched car, and a plate two characters off does not."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from roadwatch.errors import UserError

log = logging.getLogger(__name__)
NOT_PLATE = re.compile(r"[^A-Z0-9]")


@dataclass(frozen=True)
class WatchMatch:
    plate: str  # as the watchlist has it
    label: str | None
    edits: int


def read_watchlist(path: Path) -> dict[str, str | None]:
    """Watched plate (upper case, letters and digits only) -> its label."""
    watched: dict[str, str | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        text, _, label = line.partition(",")
        plate = NOT_PLATE.sub("", text.upper())
        if plate:
            watched[plate] = label.strip() or None
    return watched


class Watchlist:
    """Thread-safe to reload (a signal handler) while the pipeline matches: the list is swapped whole."""

    def __init__(self, path: str, max_edits: int = 1) -> None:
        self.path = Path(path)
        self.max_edits = max_edits
        self._watched: dict[str, str | None] = {}
        try:
            self._watched = read_watchlist(self.path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"plate watchlist '{path}' cannot be read ({exc.__class__.__name__}: "
                            f"{getattr(exc, 'strerror', None) or exc}); check detector.plates.watchlist") from None

    def reload(self) -> None:
        """Re-read the file; a file that cannot be read leaves the list as it was (logged)."""
        try:
            self._watched = read_watchlist(self.path)
        except (OSError, UnicodeDecodeError) as exc:
            log.error("plate watchlist '%s' not reloaded (%s); the previous list stays", self.path, exc)
            return
        log.warning("plate watchlist reloaded: %d plates", len(self._watched))

    def __len__(self) -> int:
        return len(self._watched)

    def match(self, text: str) -> WatchMatch | None:
        """The nearest watched plate within `max_edits`, if any."""
        watched = self._watched
        found = process.extractOne(text, list(watched), scorer=Levenshtein.distance, score_cutoff=self.max_edits)
        if found is None:
            return None
        plate, edits, _ = found
        return WatchMatch(plate, watched[plate], int(edits))
