"""`roadwatch calibrate`: a frame of the camera with its calibration points and a metre grid drawn on it, so a
person can check the plane before trusting its speeds: the grid's lines must run along the lane markings and
its squares stay square on the road wherever they are in the picture."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from roadwatch.config import CalibrationConfig, Config
from roadwatch.errors import UserError
from roadwatch.trackers import GroundPlane

GRID_BGR, POINT_BGR = (0, 220, 255), (255, 80, 255)


def calibration_for(config: Config, stream_id: str | None) -> tuple[CalibrationConfig, str | None]:
    """The calibration that applies to `stream_id` (or the only one); UserError naming what is missing."""
    if not config.calibration:
        raise UserError("the config has no calibration: add a calibration entry (image and ground points)")
    if stream_id is None:
        if len(config.calibration) > 1:
            raise UserError("the config has several calibrations: say which stream with --stream")
        only = config.calibration[0]
        return only, (only.streams or [None])[0]
    for calibration in config.calibration:
        if calibration.streams is None or stream_id in calibration.streams:
            return calibration, stream_id
    raise UserError(f"no calibration applies to stream '{stream_id}'")


def first_frame(uri: str) -> np.ndarray:
    from roadwatch.streams import SourceSpec, open_reader

    reader = open_reader(SourceSpec.from_uri(uri, "calibrate"))
    try:
        got = reader.read()
    finally:
        reader.close()
    if got is None:
        raise UserError(f"source '{SourceSpec.from_uri(uri, 'calibrate').shown}': no frame could be read")
    return got[0]


def draw(image: np.ndarray, plane: GroundPlane, step_m: float = 1.0) -> np.ndarray:
    """The grid every `step_m` metres over the calibrated area and half as much again around it (every 5th line
    thicker and labelled), and the calibration points numbered with their metres."""
    canvas = image.copy()
    lo, hi = plane.ground_points.min(axis=0), plane.ground_points.max(axis=0)
    margin = 0.5 * (hi - lo)
    lo, hi = np.floor((lo - margin) / step_m) * step_m, np.ceil((hi + margin) / step_m) * step_m
    for axis in (0, 1):
        for value in np.arange(lo[axis], hi[axis] + step_m / 2, step_m):
            start, end = (lo.copy(), hi.copy())
            start[axis] = end[axis] = value
            along = np.linspace(start, end, 200)  # sampled: the part beyond the horizon is left out
            pixels = plane.to_image(along)
            pixels = pixels[np.isfinite(pixels).all(axis=1) & (np.abs(pixels) < 1e5).all(axis=1)]
            if len(pixels) < 2:
                continue
            bold = round(value / step_m) % 5 == 0
            cv2.polylines(canvas, [pixels.astype(np.int32)], False, GRID_BGR, 2 if bold else 1, cv2.LINE_AA)
            if bold:
                x, y = pixels[0].astype(int)
                cv2.putText(canvas, f"{'x' if axis == 0 else 'y'}={value:g} m", (x + 3, y - 3),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.45, GRID_BGR, 1, cv2.LINE_AA)
    for n, ((x, y), (gx, gy)) in enumerate(zip(plane.image_points, plane.ground_points), start=1):
        cv2.circle(canvas, (int(x), int(y)), 7, POINT_BGR, 2, cv2.LINE_AA)
        cv2.putText(canvas, f"{n}: ({gx:g}, {gy:g}) m", (int(x) + 9, int(y) - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                    POINT_BGR, 2, cv2.LINE_AA)
    return canvas


def calibrate(config: Config, stream_id: str | None, source: str | None, output: Path) -> Path:
    calibration, stream_id = calibration_for(config, stream_id)
    if source is None:
        configured = [s for s in config.sources if s.id == stream_id] if stream_id else config.sources[:1]
        if not configured:
            raise UserError("no source to draw on: pass --source, or --stream naming one of the config's sources")
        source = configured[0].uri
    canvas = draw(first_frame(source), calibration.plane())
    output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(output), canvas):
        raise UserError(f"cannot write '{output}'")
    return output
