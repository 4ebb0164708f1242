"""What every config section shares: unknown keys are errors, and the bounds that catch typos."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# Upper bounds where a huge number is a typo that would fail later, far from its cause: 1e300 ms as a
# timeout overflows a thread wait, an imgsz of 1e8 asks the detector for petabytes.
MAX_WAIT_S = 24 * 3600.0
MAX_IMGSZ = 8192

DetectFps = Annotated[float, Field(gt=0, le=1000)]
Point = tuple[float, float]


class Section(BaseModel):
    """A config section: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")

