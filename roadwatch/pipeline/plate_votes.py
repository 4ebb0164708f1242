"""One plate text per track, agreed over its reads: no read is believed alone.

Each read of a track's plate is a vote. The reads are grouped by likeness first (within `SAME_PLATE_EDITS` of
the group's first read: a tracker that swapped two cars' identities gives two groups, not one blend), then by
length (a read with a character too many or too few does not line up with the others); the group, then the
length, whose reads carry the most confidence wins, and each position takes the character with the most
confidence summed over those reads. The agreed text stands once
`agree_reads` reads are that text exactly (a read of one frame, and a misread, never make an event on their
own). Reads shorter than `min_chars` are no plate (a roof sign read as "I"); where plate formats are set, a read
that fits one outvotes any that fits none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

from roadwatch.detector.plates import PlateReading

SAME_PLATE_EDITS = 2  # reads this close are of one plate


def _mass(read: PlateReading) -> float:
    """How much a read weighs: the sum of its characters' confidences."""
    return sum(read.char_confidences) or (read.text_confidence or 0.0) * len(read.text)


@dataclass
class PlateVotes:
    """The text reads of one track's plate, and the agreed text."""

    min_chars: int = 4
    agree_reads: int = 2
    reads: list[PlateReading] = field(default_factory=list)

    def add(self, reading: PlateReading) -> None:
        if reading.text is not None and len(reading.text) >= self.min_chars:
            self.reads.append(reading)

    def agreed(self) -> tuple[str, int, float] | None:
        """(text, reads that are exactly it, their mean text confidence) once it stands; None before."""
        reads = self.reads
        if any(r.formatted for r in reads):
            reads = [r for r in reads if r.formatted]
        if len(reads) < self.agree_reads:
            return None
        groups: list[list[PlateReading]] = []
        for r in reads:
            group = next((g for g in groups if Levenshtein.distance(g[0].text, r.text) <= SAME_PLATE_EDITS), None)
            if group is None:
                groups.append([r])
            else:
                group.append(r)
        reads = max(groups, key=lambda g: sum(map(_mass, g)))
        mass: dict[int, float] = defaultdict(float)
        for r in reads:
            mass[len(r.text)] += _mass(r)
        length = max(mass, key=mass.get)
        votes = [defaultdict(float) for _ in range(length)]
        for r in reads:
            if len(r.text) == length:
                confidences = r.char_confidences or (r.text_confidence or 0.0,) * length
                for position, (char, confidence) in enumerate(zip(r.text, confidences)):
                    votes[position][char] += confidence
        text = "".join(max(v, key=v.get) for v in votes)
        exact = [r for r in reads if r.text == text]
        if len(exact) < self.agree_reads:
            return None
        return text, len(exact), sum(r.text_confidence or 0.0 for r in exact) / len(exact)
