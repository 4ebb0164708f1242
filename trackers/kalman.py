"""Constant-velocity Kalman filter over many boxes at once, in real time (seconds), not frames.

State per track: [cx, cy, w, h, vcx, vcy, vw, vh], positions in pixels, velocities in pixels per second.
Noise scales with box height, as in ByteTrack/DeepSORT, so near and far objects are treated alike.
Process noise grows linearly with the time step, so a dropped frame simply widens the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NDIM = 4
MIN_SIZE = 1.0  # pixels


@dataclass(frozen=True)
class KalmanParams:
    std_position: float = 1.0 / 20  # x box height, per reference step
    std_velocity: float = 30.0 / 160  # x box height, px/s, per reference step (ByteTrack's 1/160 per frame at 30 fps)
    std_measurement: float = 1.0 / 20  # x box height
    reference_dt: float = 1.0 / 30  # process noise is given for this step and scaled linearly with dt


def xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.hstack([xyxy[:, :2] + wh / 2, wh])


def cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    cxcywh = np.asarray(cxcywh, dtype=np.float64).reshape(-1, 4)
    half = cxcywh[:, 2:] / 2
    return np.hstack([cxcywh[:, :2] - half, cxcywh[:, :2] + half])


class KalmanBoxFilter:
    """Stateless maths on stacked means (N, 8) and covariances (N, 8, 8); the tracker owns the arrays."""

    def __init__(self, params: KalmanParams | None = None) -> None:
        self.p = params or KalmanParams()
        self._H = np.eye(NDIM, 2 * NDIM)

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from (N, 4) cxcywh measurements, at rest, with wide velocity uncertainty."""
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        mean = np.hstack([z, np.zeros_like(z)])
        h = z[:, 3:4]
        std = np.hstack([2 * self.p.std_position * h.repeat(4, 1), 10 * self.p.std_velocity * h.repeat(4, 1)])
        cov = np.einsum("ni,ij->nij", std**2, np.eye(2 * NDIM))
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every track by dt seconds (a scalar or one value per track)."""
        n = len(mean)
        dt = np.broadcast_to(np.asarray(dt, dtype=np.float64), (n,))
        F = np.tile(np.eye(2 * NDIM), (n, 1, 1))
        F[:, np.arange(NDIM), np.arange(NDIM) + NDIM] = dt[:, None]
        h = mean[:, 3:4]
        std = np.hstack([self.p.std_position * h.repeat(4, 1), self.p.std_velocity * h.repeat(4, 1)])
        q = std**2 * (dt / self.p.reference_dt)[:, None]
        Q = np.einsum("ni,ij->nij", q, np.eye(2 * NDIM))
        new_mean = np.einsum("nij,nj->ni", F, mean)
        # A shrinking box must not turn inside out while coasting: stop its size at MIN_SIZE.
        collapsed = new_mean[:, 2:4] < MIN_SIZE
        new_mean[:, 2:4] = np.where(collapsed, MIN_SIZE, new_mean[:, 2:4])
        new_mean[:, 6:8] = np.where(collapsed, 0.0, new_mean[:, 6:8])
        new_cov = F @ cov @ F.transpose(0, 2, 1) + Q
        return new_mean, new_cov

    def update(self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct each track with its matched (N, 4) cxcywh measurement."""
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        r = (self.p.std_measurement * mean[:, 3:4]).repeat(4, 1) ** 2
        S = cov[:, :NDIM, :NDIM] + np.einsum("ni,ij->nij", r, np.eye(NDIM))
        K = cov[:, :, :NDIM] @ np.linalg.inv(S)  # (N, 8, 4)
        innovation = z - mean[:, :NDIM]
        new_mean = mean + np.einsum("nij,nj->ni", K, innovation)
        new_cov = cov - K @ S @ K.transpose(0, 2, 1)
        return new_mean, new_cov
