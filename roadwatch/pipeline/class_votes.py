"""Each track's class decided over its life: the class most of its confident detections gave.

A detector often hesitates between neighbouring classes (car and truck, bus and truck) from frame to frame.
Events, labels and counts use the track's voted class, so such a vehicle keeps one class and is counted once,
as that class; a detection below `min_confidence` does not vote (a weak one is the likeliest to be wrong).
"""

from __future__ import annotations

from collections import Counter

from roadwatch.trackers import TrackArrays, TrackView

MIN_VOTE_CONFIDENCE = 0.5


class ClassVotes:
    def __init__(self, min_confidence: float = MIN_VOTE_CONFIDENCE) -> None:
        self.min_confidence = min_confidence
        self._votes: dict[int, Counter[int]] = {}

    def observe(self, tracks: TrackArrays, t: float) -> None:
        """The frame's tracks at media time `t`: those matched to a detection now, confident enough, vote."""
        voting = (tracks.last_seen == t) & (tracks.confidence >= self.min_confidence)
        for track_id, class_id in zip(tracks.track_id[voting].tolist(), tracks.class_id[voting].tolist()):
            self._votes.setdefault(track_id, Counter())[class_id] += 1

    def class_of(self, track: TrackView) -> int:
        """The most voted class; on a tie the one voted first (a class does not flip on every tie); with no vote
        yet, the latest detection's."""
        votes = self._votes.get(track.track_id)
        if not votes:
            return track.class_id
        return max(votes, key=votes.__getitem__)  # max keeps the first of equals: insertion order, first voted

    def forget(self, track_id: int) -> None:
        self._votes.pop(track_id, None)
