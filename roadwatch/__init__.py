"""roadwatch: wires streams, detector and trackers into a pipeline that publishes events.

Holds the configuration, the pipeline, the event schema and its ZeroMQ I/O, the sinks and the CLI.
"""

__version__ = "0.1.0"
