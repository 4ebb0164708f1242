"""A track's plate: its reads agree on one text before it is sent, a misread among them does not win, a read of
something that is no plate is never sent; the watchlist matches within its edits and is re-read. With the real
plate model and OCR on real photos of European cars."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from roadwatch.detector.plates import PlateReading
from roadwatch.errors import UserError
from roadwatch.pipeline.plate_schedule import PlateSchedule
from roadwatch.pipeline.plate_watchlist import Watchlist

from support.helpers import MODEL, PLATE_MODEL, PLATES_EU, require

PHOTO = "test_001"  # a Slovak car, plate PP587AO, 107 px wide
SLOVAK = "[A-Z]{2}[0-9]{3}[A-Z]{2}"


@pytest.fixture(scope="module")
def reads_of_one_car() -> tuple[list[PlateReading], str]:
    """The plate stage's reads of one car over five 'frames': the photo as a camera would vary it (scale,
    brightness, blur)."""
    pytest.importorskip("rapidocr_onnxruntime", reason="plate OCR needs the ocr extra (make installs it)")
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.ocr import RapidPlateOcr
    from roadwatch.detector.plate_text import PlateFormats
    from roadwatch.detector.plates import PlateReader
    from roadwatch.detector.yolo import YoloDetector

    photo = cv2.imread(str(require(PLATES_EU / f"{PHOTO}.jpg")))
    truth = (PLATES_EU / f"{PHOTO}.txt").read_text().split("\t")[-1].strip()
    frames = [photo, cv2.resize(photo, None, fx=1.15, fy=1.15), cv2.convertScaleAbs(photo, alpha=0.8, beta=10),
              cv2.GaussianBlur(photo, (3, 3), 0), cv2.resize(photo, None, fx=1.3, fy=1.3)]
    vehicles = YoloDetector(str(require(MODEL)), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    boxes = []
    for found in vehicles.detect(frames):
        cars = found[found.data["category"] == "vehicle"]
        boxes.append(cars.xyxy[np.argmax(cars.xyxy[:, 2] - cars.xyxy[:, 0])])
    reader = PlateReader(str(require(PLATE_MODEL)), device="cpu", ocr=RapidPlateOcr(), formats=PlateFormats([SLOVAK]))
    reads = reader.read(frames, boxes)
    assert all(r is not None and r.text for r in reads), reads
    return reads, truth


def schedule() -> PlateSchedule:
    return PlateSchedule(every_n_frames=1, min_vehicle_px=1, reads_text=True, min_chars=4, agree_reads=2)


def test_the_reads_of_a_real_plate_agree_on_its_true_text_and_a_misread_does_not_win(reads_of_one_car):
    reads, truth = reads_of_one_car
    good = reads[0]
    misread = PlateReading(good.xyxy, good.confidence, "PP587A8", 0.99, (0.99,) * 7, formatted=False)
    plates = schedule()
    news = [plates.offer(5, r) for r in [misread, good, misread, *reads[1:]]]
    sent = [n for n in news if n is not None]
    assert len(sent) == 1, "one text per plate, sent once"
    assert sent[0].reading.text == truth and sent[0].reads >= 2
    assert plates.text_of(5) == truth
    assert news[0] is None  # one read alone, however sure, is not sent


def test_a_read_of_something_that_is_no_plate_is_never_sent():
    box = np.array([100, 20, 130, 40], dtype=np.float32)  # on a car's roof, read as "I" at 0.51
    plates = schedule()
    assert all(plates.offer(3, PlateReading(box, 0.51, "I", 0.51, (0.51,))) is None for _ in range(6))
    assert plates.text_of(3) is None


def test_the_watchlist_matches_within_its_edits_and_is_re_read(tmp_path):
    path = tmp_path / "watch.txt"
    path.write_text("# stolen\nPP587AO, stolen in May\nRK 857-AI\n")
    watchlist = Watchlist(str(path), max_edits=1)
    assert watchlist.match("PP587AO").edits == 0 and watchlist.match("PP587AO").label == "stolen in May"
    one_off = watchlist.match("PP587A0")
    assert one_off is not None and one_off.plate == "PP587AO" and one_off.edits == 1
    assert watchlist.match("PP537A0") is None  # two edits away
    assert watchlist.match("RK857AI").label is None
    path.write_text("BA302OZ\n")
    watchlist.reload()
    assert watchlist.match("PP587AO") is None and watchlist.match("BA302OZ") is not None
    path.unlink()
    watchlist.reload()  # gone: the list stays as it was, and says so in the log
    assert watchlist.match("BA302OZ") is not None
    with pytest.raises(UserError, match="cannot be read"):
        Watchlist(str(tmp_path / "missing.txt"))


def test_two_plates_in_one_track_are_never_blended_and_the_stronger_one_is_sent():
    """A tracker that swapped two cars' identities gives one track both plates' reads."""
    box = np.array([0, 0, 40, 10], dtype=np.float32)

    def read(text: str) -> PlateReading:
        return PlateReading(box, 0.8, text, 0.95, (0.95,) * len(text), formatted=True)

    plates = schedule()
    sent = [n.reading.text for n in (plates.offer(1, read(t)) for t in ["PP587AO"] * 3 + ["BA302OZ"] * 2) if n]
    assert sent == ["PP587AO"]
    sent += [n.reading.text for n in (plates.offer(1, read("BA302OZ")) for _ in range(2)) if n]
    assert sent == ["PP587AO", "BA302OZ"]  # the other plate outweighs it now: a correction, never a blend
