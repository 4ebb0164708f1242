"""Constant-velocity Kalman filter over many boxes at once, in real time (seconds), not frames.

State per track: [cx, cy, w, h, vcx, vcy, vw, vh], positions in pixels, velocities in pixels per second.
Noise scales with box height, as in ByteTrack/DeepSORT, so near and far objects are treated alike.
Process noise grows linearly with the time step, so a dropped frame simply widens the prediction.

The initial covariance, the process noise and the measurement noise are diagonal, and the motion model
couples each coordinate only with its own velocity, so the 8x8 covariance is exactly four independent
2x2 blocks and stays so. Each track's covariance is therefore stored as (4, 3): for each coordinate
[var(position), cov(position, velocity), var(velocity)], and every step is a few elementwise operations
on (N, 4) arrays, with no matrix products or inverses. `full_covariance` rebuilds the 8x8 form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NDIM = 4
MIN_SIZE = 1.0  # pixels
PP, PV, VV = 0, 1, 2  # var(position), cov(position, velocity), var(velocity)
_GAIN_OF_BLOCK = np.array([0, 0, 1])  # per block entry, the gain (position, velocity) and the entry it scales
_COV_OF_BLOCK = np.array([PP, PV, PV])


@dataclass(frozen=True)
class KalmanParams:
    std_position: float = 1.0 / 20  # x box height, per reference step
    std_velocity: float = 30.0 / 160  # x box height, px/s, per reference step (ByteTrack's 1/160 per frame at 30 fps)
    std_measurement: float = 1.0 / 15  # x box height (detector boxes jitter a little more than ByteTrack assumes)
    reference_dt: float = 1.0 / 30  # process noise is given for this step and scaled linearly with dt


# The two box forms as one small matrix product each (rows: input coordinates): a quarter of the time of
# slicing and joining columns, and a single stream's tracker converts boxes five times a frame. Exact and
# the same whatever the number of rows or the BLAS kernel: every product is by 0, 0.5 or 1, so each output is
# one rounding of a two-term sum.
_XYXY_TO_CXCYWH = np.array([[0.5, 0.0, -1.0, 0.0], [0.0, 0.5, 0.0, -1.0], [0.5, 0.0, 1.0, 0.0], [0.0, 0.5, 0.0, 1.0]])
_CXCYWH_TO_XYXY = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0], [-0.5, 0.0, 0.5, 0.0], [0.0, -0.5, 0.0, 0.5]])


def xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    return np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) @ _XYXY_TO_CXCYWH


def cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    return np.asarray(cxcywh, dtype=np.float64).reshape(-1, 4) @ _CXCYWH_TO_XYXY


def full_covariance(cov: np.ndarray) -> np.ndarray:
    """The (N, 8, 8) covariance matrices that (N, 4, 3) block storage stands for."""
    n = len(cov)
    full = np.zeros((n, 2 * NDIM, 2 * NDIM))
    i = np.arange(NDIM)
    full[:, i, i] = cov[:, :, PP]
    full[:, i, i + NDIM] = full[:, i + NDIM, i] = cov[:, :, PV]
    full[:, i + NDIM, i + NDIM] = cov[:, :, VV]
    return full


class KalmanBoxFilter:
    """Stateless maths on stacked means (N, 8) and block covariances (N, 4, 3); the tracker owns the arrays."""

    def __init__(self, params: KalmanParams | None = None) -> None:
        self.p = params or KalmanParams()
        # process noise per block (var(pos), cov(pos, vel), var(vel)), per unit of height^2 x reference steps
        self._process_noise = np.array([self.p.std_position**2, 0.0, self.p.std_velocity**2])

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from (N, 4) cxcywh measurements, at rest, with wide velocity uncertainty."""
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        mean = np.hstack([z, np.zeros_like(z)])
        h = z[:, 3:4]
        cov = np.zeros((len(z), NDIM, 3))
        cov[:, :, PP] = (2 * self.p.std_position * h) ** 2
        cov[:, :, VV] = (10 * self.p.std_velocity * h) ** 2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every track by dt seconds (a scalar or one value per track): per block,
        F P F^T + Q with F = [[1, dt], [0, 1]]."""
        dt = np.asarray(dt, dtype=np.float64)
        dt_col = dt.reshape(-1, 1) if dt.ndim else dt
        new_mean = mean.copy()
        new_mean[:, :NDIM] += dt_col * mean[:, NDIM:]
        # A shrinking box must not turn inside out while coasting: stop its size at MIN_SIZE.
        collapsed = new_mean[:, 2:4] < MIN_SIZE
        if collapsed.any():
            new_mean[:, 2:4][collapsed] = MIN_SIZE
            new_mean[:, 6:8][collapsed] = 0.0

        # Per block, F P F^T + Q: pv' = pv + dt vv, then pp' = pp + 2 dt pv + dt^2 vv = pp + dt (pv + pv'),
        # vv' = vv; the process noise (position and velocity variance, none on their covariance) added at once.
        new_cov = cov.copy()
        new_cov[:, :, PV] += dt_col * cov[:, :, VV]
        new_cov[:, :, PP] += dt_col * (cov[:, :, PV] + new_cov[:, :, PV])
        noise = mean[:, 3:4] ** 2 * (dt_col / self.p.reference_dt)
        new_cov += noise[:, :, None] * self._process_noise
        return new_mean, new_cov

    def update(self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct each track with its matched (N, 4) cxcywh measurement."""
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        s = cov[:, :, PP] + (self.p.std_measurement * mean[:, 3:4]) ** 2  # innovation variance per coordinate
        gain = cov[:, :, PP:VV] / s[:, :, None]  # (N, 4, 2): position and velocity gain per coordinate
        correction = gain * (z - mean[:, :NDIM])[:, :, None]
        new_mean = mean + correction.transpose(0, 2, 1).reshape(-1, 2 * NDIM)  # positions, then velocities
        # P - K S K^T, per block: pp - k_pos pp, pv - k_pos pv, vv - k_vel pv (np.take: half the time of [:, :, list])
        return new_mean, cov - np.take(gain, _GAIN_OF_BLOCK, axis=2) * np.take(cov, _COV_OF_BLOCK, axis=2)
