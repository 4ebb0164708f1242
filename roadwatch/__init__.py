"""roadwatch: wires streams, detector and trackers into a pipeline that publishes events.

The map of its rooms (stage packages, pipeline, events, outputs, tools) is docs/architecture.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("roadwatch")  # written once, in pyproject.toml
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
