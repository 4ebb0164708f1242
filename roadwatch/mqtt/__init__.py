"""The MQTT bridge (`roadwatch mqtt`): a process of its own that subscribes to a pipeline's ZeroMQ events and
publishes them to an MQTT broker, with retained per-camera state and Home Assistant discovery.

May import roadwatch.events (the subscriber, the live state) and roadwatch.errors; nothing of the pipeline.
"""
