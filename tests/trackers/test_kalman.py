"""Kalman predict/update against values computed by hand from the documented noise model."""

import numpy as np
import pytest

from roadwatch.trackers import KalmanBoxFilter, KalmanParams, cxcywh_to_xyxy, xyxy_to_cxcywh
from roadwatch.trackers.kalman import full_covariance


def test_box_conversions_round_trip():
    xyxy = np.array([[10.0, 20.0, 50.0, 100.0]])
    assert np.allclose(xyxy_to_cxcywh(xyxy), [[30, 60, 40, 80]])
    assert np.allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(xyxy)), xyxy)


def test_initiate_predict_update_match_hand_computed_values():
    params = KalmanParams(std_position=1 / 20, std_velocity=30 / 160, std_measurement=1 / 20, reference_dt=1 / 30)
    kf = KalmanBoxFilter(params)
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 20.0, 40.0]]))
    # h = 40: initial position std 2 * 40/20 = 4, velocity std 10 * 40 * 30/160 = 75
    assert np.allclose(full_covariance(cov)[0], np.diag([16] * 4 + [5625] * 4))

    mean[0, 4:6] = [10.0, -4.0]
    mean, cov = kf.predict(mean, cov, 0.5)
    P = full_covariance(cov)
    assert np.allclose(mean[0], [105, 48, 20, 40, 10, -4, 0, 0])
    # F P F^T: 16 + 0.25 * 5625 = 1422.25, cross 0.5 * 5625 = 2812.5; Q scaled by dt/dt_ref = 15:
    # position (40/20)^2 * 15 = 60, velocity (40 * 30/160)^2 * 15 = 843.75
    assert P[0, 0, 0] == pytest.approx(1482.25)
    assert P[0, 0, 4] == P[0, 4, 0] == pytest.approx(2812.5)
    assert P[0, 4, 4] == pytest.approx(6468.75)
    assert P[0, 0, 1] == 0 and P[0, 0, 5] == 0  # coordinates stay independent

    mean, cov = kf.update(mean, cov, np.array([[115.0, 48.0, 20.0, 40.0]]))
    # S = 1482.25 + (40/20)^2 = 1486.25; gains 1482.25/S for x and 2812.5/S for vx; innovation 10
    assert mean[0, 0] == pytest.approx(105 + 10 * 1482.25 / 1486.25)
    assert mean[0, 4] == pytest.approx(10 + 10 * 2812.5 / 1486.25)
    P = full_covariance(cov)
    assert P[0, 0, 0] == pytest.approx(1482.25 - 1482.25**2 / 1486.25)
    assert P[0, 0, 4] == pytest.approx(2812.5 - 1482.25 * 2812.5 / 1486.25)
    assert P[0, 4, 4] == pytest.approx(6468.75 - 2812.5**2 / 1486.25)


def test_block_form_equals_the_textbook_8x8_filter():
    """The (4, 3) block storage gives exactly what the full F P F^T + Q and P - K S K^T give."""
    rng = np.random.default_rng(1)
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.abs(rng.normal(50, 10, (5, 4))) + 5)
    mean[:, 4:] = rng.normal(0, 20, (5, 4))
    dt = 0.07
    F = np.eye(8)
    F[np.arange(4), np.arange(4) + 4] = dt
    P0 = full_covariance(cov)
    h = mean[:, 3]
    q = np.array(
        [
            np.diag(np.r_[[(kf.p.std_position * hi) ** 2] * 4, [(kf.p.std_velocity * hi) ** 2] * 4])
            * dt
            / kf.p.reference_dt
            for hi in h
        ]
    )
    mean_p, cov_p = kf.predict(mean, cov, dt)
    assert np.allclose(full_covariance(cov_p), F @ P0 @ F.T + q)
    assert np.allclose(mean_p, mean @ F.T)
    z = mean_p[:, :4] + rng.normal(0, 3, (5, 4))
    mean_u, cov_u = kf.update(mean_p, cov_p, z)
    H = np.eye(4, 8)
    P = full_covariance(cov_p)
    R = np.array([np.eye(4) * (kf.p.std_measurement * hi) ** 2 for hi in mean_p[:, 3]])
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    assert np.allclose(mean_u, mean_p + np.einsum("nij,nj->ni", K, z - mean_p[:, :4]))
    assert np.allclose(full_covariance(cov_u), P - K @ S @ K.transpose(0, 2, 1))


def test_predict_is_vectorised_with_a_step_per_track():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[0.0, 0, 10, 10], [0.0, 0, 10, 10]]))
    mean[:, 4] = 100.0
    mean, _ = kf.predict(mean, cov, np.array([0.1, 0.3]))
    assert np.allclose(mean[:, 0], [10.0, 30.0])


def test_coasting_box_never_turns_inside_out():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[50.0, 50, 10, 10]]))
    mean[0, 6:8] = -100.0  # shrinking fast
    mean, _ = kf.predict(mean, cov, 1.0)
    assert (mean[0, 2:4] > 0).all()
