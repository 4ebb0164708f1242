import threading
import time

from roadwatch.streams import BufferPolicy, RingBuffer


def test_drop_oldest_keeps_newest_and_counts_drops():
    buf = RingBuffer(3, BufferPolicy.DROP_OLDEST)
    for i in range(10):
        assert buf.put(i)
    assert buf.dropped == 7
    assert [buf.poll() for _ in range(3)] == [7, 8, 9]
    assert buf.poll() is None


def test_block_policy_waits_for_the_consumer_and_loses_nothing():
    buf = RingBuffer(2, BufferPolicy.BLOCK)
    received = []

    def produce():
        for i in range(50):
            assert buf.put(i)
        buf.close()

    producer = threading.Thread(target=produce)
    producer.start()
    while (item := buf.get(timeout=2)) is not None:
        received.append(item)
        time.sleep(0.001)
    producer.join(2)
    assert received == list(range(50))
    assert buf.dropped == 0
    assert buf.high_water <= 2


def test_block_put_times_out_when_full():
    buf = RingBuffer(1, BufferPolicy.BLOCK)
    assert buf.put("a")
    t0 = time.monotonic()
    assert not buf.put("b", timeout=0.1)
    assert time.monotonic() - t0 >= 0.09
    assert len(buf) == 1


def test_close_wakes_a_blocked_producer_and_refuses_more():
    buf = RingBuffer(1, BufferPolicy.BLOCK)
    buf.put("a")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("put", buf.put("b")))
    t.start()
    time.sleep(0.05)
    buf.close()
    t.join(1)
    assert not t.is_alive() and result["put"] is False
    assert not buf.exhausted  # "a" can still be taken
    assert buf.poll() == "a"
    assert buf.exhausted


def test_on_put_is_called():
    calls = []
    buf = RingBuffer(2, BufferPolicy.DROP_OLDEST, on_put=lambda: calls.append(1))
    buf.put(1)
    buf.put(2)
    assert len(calls) == 2
