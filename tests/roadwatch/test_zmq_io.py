"""Publisher and subscriber over real ZeroMQ sockets."""

import threading
import time

import pytest

from roadwatch.errors import UserError
from roadwatch.events.schema import EventFactory, EventType
from roadwatch.events.zmq_io import EventPublisher, iter_events

from support.helpers import free_endpoint


def collect(endpoint, topics, out, ready):
    ready.set()
    out.extend(iter_events(endpoint, topics, timeout_s=1.5))


def test_topic_prefixes_select_by_type_and_stream():
    endpoint = free_endpoint()
    pub = EventPublisher(endpoint)
    factory = EventFactory("test")
    got_all, got_ended, got_cam1 = [], [], []
    threads = []
    for topics, out in [
        ([""], got_all), (["track.ended/"], got_ended), (["track.started/cam1", "track.ended/cam1"], got_cam1),
    ]:
        ready = threading.Event()
        t = threading.Thread(target=collect, args=(endpoint, topics, out, ready))
        t.start()
        ready.wait()
        threads.append(t)
    time.sleep(0.5)  # let the subscriptions reach the publisher
    sent = []
    for i in range(20):
        type_ = [EventType.TRACK_STARTED, EventType.TRACK_UPDATED, EventType.TRACK_ENDED][i % 3]
        event = factory.make(type_, f"cam{i % 2}", i, time.time(), i / 25)
        pub.publish(event)
        sent.append(event)
    for t in threads:
        t.join(10)
    pub.close()
    assert got_all == sent
    assert got_ended == [e for e in sent if e["type"] == "track.ended"]
    assert got_cam1 == [e for e in sent if e["stream_id"] == "cam1" and e["type"] != "track.updated"]
    assert [e["seq"] for e in sent] == list(range(1, 21))


def test_endpoint_in_use_is_a_user_error():
    endpoint = free_endpoint()
    first = EventPublisher(endpoint)
    try:
        with pytest.raises(UserError, match="cannot bind"):
            EventPublisher(endpoint)
    finally:
        first.close()
