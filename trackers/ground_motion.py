"""Each track's position and velocity on the road, in metres and metres per second, for one calibrated camera.

The point a vehicle touches the road is its box's bottom centre; mapped through the ground plane it gives a
position in metres. Differences of those positions from frame to frame are far too noisy for a speed (a box
edge that jitters by two pixels far from the camera moves the point by metres), so each track has a
constant-velocity Kalman filter on the ground: measurement noise is the box jitter in pixels times the metres a
pixel spans there, so far-away points count for less. As in kalman.py, the covariance is stored as two
independent 2x2 blocks (one per axis), and all tracks are stepped as arrays.
"""

from __future__ import annotations

import numpy as np

from .ground import GroundPlane

PP, PV, VV = 0, 1, 2  # var(position), cov(position, velocity), var(velocity), per axis


class GroundMotion:
    def __init__(self, plane: GroundPlane, box_jitter: float = 1.0 / 15, accel_std: float = 3.0,
                 min_noise_m: float = 0.05) -> None:
        """`box_jitter`: the bottom edge's noise as a fraction of box height (the tracker's measurement noise);
        `accel_std`: m/s^2 a vehicle's speed may change by (driving, not crashing)."""
        self.plane = plane
        self.box_jitter = box_jitter
        self.accel_var = accel_std**2
        self.min_noise_m = min_noise_m
        self._row: dict[int, int] = {}
        self.ids = np.zeros(0, dtype=np.int64)
        self.mean = np.zeros((0, 4))  # X, Y, VX, VY
        self.cov = np.zeros((0, 2, 3))
        self.t = np.zeros(0)

    def update(self, t: float, track_ids: np.ndarray, xyxy: np.ndarray) -> None:
        """Measured boxes of some tracks at media time `t` (seconds): new tracks start at rest with a wide
        velocity; known ones are predicted to `t` and corrected."""
        track_ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        if not len(track_ids):
            return
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        foot = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
        z = self.plane.to_ground(foot)
        noise = np.fmax(self.plane.metres_per_pixel(foot) * self.box_jitter * (xyxy[:, 3] - xyxy[:, 1]),
                        self.min_noise_m)
        ok = np.isfinite(z).all(axis=1) & np.isfinite(noise)
        track_ids, z, noise = track_ids[ok], z[ok], noise[ok]
        known = np.array([i in self._row for i in track_ids.tolist()], dtype=bool)
        if (~known).any():
            self._start(track_ids[~known], z[~known], noise[~known], t)
        if known.any():
            rows = np.array([self._row[i] for i in track_ids[known].tolist()], dtype=np.int64)
            self._predict(rows, t)
            self._correct(rows, z[known], noise[known])

    def velocity(self, track_ids: np.ndarray) -> np.ndarray:
        """(N, 2) m/s of each track; NaN for one never measured."""
        return self._per_track(track_ids, self.mean[:, 2:], np.nan)

    def velocity_std(self, track_ids: np.ndarray) -> np.ndarray:
        """(N,) m/s: how uncertain each track's speed still is (the larger axis); inf for one never measured. A
        track's first measurements start it at rest with a wide velocity: its speed means little until this is
        small."""
        return self._per_track(track_ids, np.sqrt(self.cov[:, :, VV].max(axis=1)), np.inf)

    def position(self, track_ids: np.ndarray) -> np.ndarray:
        """(N, 2) metres, at each track's last measurement; NaN for one never measured."""
        return self._per_track(track_ids, self.mean[:, :2], np.nan)

    def _per_track(self, track_ids: np.ndarray, values: np.ndarray, unknown: float) -> np.ndarray:
        """`values` (one row per filtered track) for each of `track_ids`, `unknown` for a track never measured."""
        rows = np.array([self._row.get(i, -1) for i in np.asarray(track_ids).reshape(-1).tolist()], dtype=np.int64)
        out = np.full((len(rows), *values.shape[1:]), unknown)
        known = rows >= 0
        out[known] = values[rows[known]]
        return out

    def forget(self, track_id: int) -> None:
        row = self._row.pop(track_id, None)
        if row is None:
            return
        keep = np.ones(len(self.ids), dtype=bool)
        keep[row] = False
        self.ids, self.mean, self.cov, self.t = self.ids[keep], self.mean[keep], self.cov[keep], self.t[keep]
        self._row = {i: r for r, i in enumerate(self.ids.tolist())}

    def _start(self, ids: np.ndarray, z: np.ndarray, noise: np.ndarray, t: float) -> None:
        cov = np.zeros((len(ids), 2, 3))
        cov[:, :, PP] = (noise**2)[:, None]
        cov[:, :, VV] = 30.0**2  # up to about 100 km/h either way before the second measurement
        base = len(self.ids)
        self.ids = np.concatenate([self.ids, ids])
        self.mean = np.concatenate([self.mean, np.column_stack([z, np.zeros_like(z)])])
        self.cov = np.concatenate([self.cov, cov])
        self.t = np.concatenate([self.t, np.full(len(ids), t)])
        self._row.update({i: base + k for k, i in enumerate(ids.tolist())})

    def _predict(self, rows: np.ndarray, t: float) -> None:
        dt = np.fmax(t - self.t[rows], 0.0)[:, None]  # (N, 1)
        mean, cov = self.mean[rows], self.cov[rows]
        mean[:, :2] += dt * mean[:, 2:]
        pv = cov[:, :, PV] + dt * cov[:, :, VV]
        cov[:, :, PP] += dt * (cov[:, :, PV] + pv) + self.accel_var * dt**3 / 3
        cov[:, :, PV] = pv + self.accel_var * dt**2 / 2
        cov[:, :, VV] += self.accel_var * dt
        self.mean[rows], self.cov[rows], self.t[rows] = mean, cov, t

    def _correct(self, rows: np.ndarray, z: np.ndarray, noise: np.ndarray) -> None:
        mean, cov = self.mean[rows], self.cov[rows]
        s = cov[:, :, PP] + (noise**2)[:, None]  # (N, 2)
        k_pos, k_vel = cov[:, :, PP] / s, cov[:, :, PV] / s
        innovation = z - mean[:, :2]
        mean[:, :2] += k_pos * innovation
        mean[:, 2:] += k_vel * innovation
        pp, pv, vv = cov[:, :, PP].copy(), cov[:, :, PV].copy(), cov[:, :, VV].copy()
        cov[:, :, PP] = pp - k_pos * pp
        cov[:, :, PV] = pv - k_pos * pv
        cov[:, :, VV] = vv - k_vel * pv
        self.mean[rows], self.cov[rows] = mean, cov
