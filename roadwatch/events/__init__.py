"""The event plane: the schema every event follows, the live state a late subscriber rebuilds, and the
ZeroMQ I/O (publisher, subscriber, broker, snapshots) with its CURVE security.

Imports the trackers' track arrays (the schema reads them) and nothing else of roadwatch.
"""
