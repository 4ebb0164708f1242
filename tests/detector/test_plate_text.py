"""Plate formats: a reading fitted to the nearest format, as OCR misreads real plates (the cases below are
reads of the shared European plate photos: docs/plates.md)."""

from __future__ import annotations

import pytest

from roadwatch.detector.plate_text import PlateFormats, PlateText

SLOVAK, UK = "[A-Z]{2}[0-9]{3}[A-Z]{2}", "[A-Z]{2}[0-9]{2}[A-Z]{3}"
CZECH = "[0-9][A-Z][0-9ABCDEFHIJKLMNPRSTUVXYZ][0-9]{4}"  # no O among the letters: it would pass for a zero
FORMATS = PlateFormats([SLOVAK, CZECH, UK])


def read(text: str, low: dict[int, float] | None = None) -> PlateText:
    """A reading with confidence 0.99 in each character but those given."""
    return PlateText(text, tuple((low or {}).get(i, 0.99) for i in range(len(text))))


@pytest.mark.parametrize(("got", "low", "fitted"), [
    ("RK857A1", {}, "RK857AI"),  # a letter's place: 1 is I
    ("S1819AK", {}, "SI819AK"),
    ("BA3020Z", {}, "BA302OZ"),
    ("RK099AN", {}, "RK099AN"),  # fits as read: nothing changes
    ("1T483213", {3: 0.52}, "1T43213"),  # the inspection sticker between the groups read as 8, the least sure
    ("3B289485", {3: 0.79}, "3B29485"),  # two 8s: the less confident one goes
    ("BN0626AT", {0: 0.35, 2: 0.85}, "NO626AT"),  # a sure 0 swapped to O costs less than dropping it
    ("BLM010BE", {0: 0.56}, "LM010BE"),  # the EU band read as B
    ("HRK708A1", {0: 0.88}, "RK708AI"),  # a drop and a swap
])
def test_a_misread_is_fitted_to_the_nearest_format(got, low, fitted):
    result = FORMATS.fit(read(got, low))
    assert result.text == fitted and result.formatted
    assert len(result.char_confidences) == len(result.text)


def test_a_reading_no_format_reaches_stays_as_read_and_without_formats_nothing_changes():
    vanity = read("GWAGEN")
    assert FORMATS.fit(vanity) == vanity and not FORMATS.fit(vanity).formatted
    assert PlateFormats().fit(read("RK857A1")).text == "RK857A1"
    assert not PlateFormats()
