"""One colour per category, shared by the annotated video and the HTML report."""

from __future__ import annotations

# by category index: vehicle, pedestrian, sign, plate (the default map's order), then any extra categories
CATEGORY_HEX = ("#3b82f6", "#f97316", "#22c55e", "#eab308", "#a855f7", "#ec4899")
DEFAULT_ORDER = ("vehicle", "pedestrian", "sign", "plate")


def colour_of(category: str) -> str | None:
    """The colour of a category named in an event (the report has names, not indices); None for others."""
    return CATEGORY_HEX[DEFAULT_ORDER.index(category)] if category in DEFAULT_ORDER else None
