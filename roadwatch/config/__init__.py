"""Configuration: one YAML file validated by pydantic, with CLI flags layered on top.

One module per part of the config (base: what every section shares); this one assembles them into `Config`
and reads the file. Import sections from here.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from roadwatch.config.analytics import CalibrationConfig, RuleConfig
from roadwatch.config.base import MAX_IMGSZ, MAX_WAIT_S, DetectFps, Fraction, Point, Section
from roadwatch.config.detection import DetectorConfig, PlatesConfig, ScheduleConfig
from roadwatch.config.http import HttpConfig
from roadwatch.config.outputs import EventsConfig, OutputConfig
from roadwatch.config.sources import SourceConfig, StreamsConfig
from roadwatch.config.tracking import LineConfig, MaskConfig, TrackerSettings, ZoneConfig
from roadwatch.errors import ConfigError

__all__ = [
    "MAX_IMGSZ", "MAX_WAIT_S", "CalibrationConfig", "Config", "DetectFps", "DetectorConfig", "EventsConfig",
    "Fraction", "HttpConfig", "LineConfig", "MaskConfig", "OutputConfig", "PlatesConfig", "Point", "RuleConfig",
    "ScheduleConfig", "Section", "SourceConfig", "StreamsConfig", "TrackerSettings", "ZoneConfig", "load_config",
]


class Config(Section):
    sources: list[SourceConfig] = Field(default_factory=list)
    streams: StreamsConfig = Field(default_factory=StreamsConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    zones: list[ZoneConfig] = Field(default_factory=list)
    lines: list[LineConfig] = Field(default_factory=list)
    masks: list[MaskConfig] = Field(default_factory=list)
    calibration: list[CalibrationConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)

    @field_validator("sources", mode="before")
    @classmethod
    def _plain_strings_are_uris(cls, value):
        if isinstance(value, list):
            return [{"uri": item} if isinstance(item, (str, int)) else item for item in value]
        return value


    @model_validator(mode="after")
    def _references_hold(self) -> Config:
        """A rule's or a lane line's zone exists (with a direction, for wrong_way); calibrations do not overlap."""
        zones = {z.id: z for z in self.zones}
        for i, rule in enumerate(self.rules):
            if rule.zone is not None and rule.zone not in zones:
                raise ValueError(f"rules.{i}.zone: no zone '{rule.zone}' among zones ({', '.join(zones) or 'none'})")
            if rule.type == "wrong_way" and zones[rule.zone].direction is None:
                raise ValueError(f"rules.{i}.zone: a wrong_way rule needs zone '{rule.zone}' to have a direction")
        for i, line in enumerate(self.lines):
            if line.zone is not None and line.zone not in zones:
                raise ValueError(f"lines.{i}.zone: no zone '{line.zone}' among zones ({', '.join(zones) or 'none'})")
            if line.zone is not None and not _covers(zones[line.zone].streams, line.streams):
                raise ValueError(f"lines.{i}.zone: zone '{line.zone}' is not on every stream the line is on")
        if len({r.id for r in self.rules}) < len(self.rules):
            raise ValueError("rules: two rules have the same id")
        applies_to_all = [i for i, c in enumerate(self.calibration) if c.streams is None]
        if len(self.calibration) > 1 and applies_to_all:
            raise ValueError(f"calibration.{applies_to_all[0]}.streams: with several calibrations each names its "
                             "streams")
        named = [sid for c in self.calibration for sid in (c.streams or [])]
        if len(set(named)) < len(named):
            raise ValueError("calibration: a stream has two calibrations")
        return self


def _covers(outer: list[str] | None, inner: list[str] | None) -> bool:
    """Streams `outer` applies to include all of `inner`'s (None: every stream)."""
    return outer is None or (inner is not None and set(inner) <= set(outer))


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file; every failure is a ConfigError with a one-line message."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config '{path}': no such file; pass --config PATH to a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ConfigError(f"config '{path}': nested too deeply to be a roadwatch config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"config '{path}': not valid YAML{where}: {problem}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config '{path}': cannot read it ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config '{path}': the top level must be a mapping of sections, not {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ") if not where else first["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"config '{path}': {where + ': ' if where else ''}{message}{more}") from exc
