import threading
import time

from roadwatch.detector import Batcher
from roadwatch.streams import BufferPolicy, RingBuffer


def _buffers(batcher, n, capacity=16):
    bufs = []
    for i in range(n):
        b = RingBuffer(capacity, BufferPolicy.BLOCK, batcher.wake)
        batcher.add(f"s{i}", b)
        bufs.append(b)
    return bufs


def test_batch_fills_up_to_max_batch_fairly_across_streams():
    batcher = Batcher(max_batch=4, max_wait_s=1.0)
    a, b = _buffers(batcher, 2)
    for i in range(5):
        a.put(("a", i))
        b.put(("b", i))
    batch = batcher.next_batch()
    assert len(batch) == 4
    assert sorted(batch) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]


def test_per_stream_order_is_kept_across_batches():
    batcher = Batcher(max_batch=3, max_wait_s=0.01)
    (a,) = _buffers(batcher, 1)
    for i in range(7):
        a.put(i)
    a.close()
    seen = []
    while (batch := batcher.next_batch()) is not None:
        seen += batch
    assert seen == list(range(7))


def test_a_partial_batch_leaves_after_max_wait_without_waiting_for_a_silent_stream():
    batcher = Batcher(max_batch=8, max_wait_s=0.05)
    fast, _silent = _buffers(batcher, 2)
    fast.put("x")
    t0 = time.monotonic()
    batch = batcher.next_batch()
    waited = time.monotonic() - t0
    assert batch == ["x"]
    assert 0.04 <= waited < 0.5


def test_batcher_wakes_on_put_from_another_thread():
    batcher = Batcher(max_batch=1, max_wait_s=0.0)
    (a,) = _buffers(batcher, 1)
    threading.Timer(0.05, lambda: a.put("late")).start()
    t0 = time.monotonic()
    assert batcher.next_batch() == ["late"]
    assert time.monotonic() - t0 < 0.5


def test_none_when_all_buffers_are_exhausted_or_stop_is_set():
    batcher = Batcher(max_batch=2, max_wait_s=0.01)
    a, b = _buffers(batcher, 2)
    a.close()
    stop = threading.Event()
    stop.set()
    assert batcher.next_batch(stop) is None
    b.close()
    assert batcher.next_batch() is None


def test_a_live_buffer_gives_only_its_newest_frame_per_batch_and_counts_the_rest_dropped():
    batcher = Batcher(max_batch=8, max_wait_s=0.05)
    live = RingBuffer(4, BufferPolicy.DROP_OLDEST, batcher.wake)
    file = RingBuffer(16, BufferPolicy.BLOCK, batcher.wake)
    batcher.add("cam", live, newest_only=True)
    batcher.add("file", file)
    for i in range(3):
        live.put(("cam", i))
    for i in range(5):
        file.put(("file", i))
    batch = batcher.next_batch()
    assert [item for item in batch if item[0] == "cam"] == [("cam", 2)]
    assert [item for item in batch if item[0] == "file"] == [("file", i) for i in range(5)]
    assert live.dropped == 2 and len(live) == 0


def test_a_batch_of_live_streams_leaves_once_each_gave_a_frame_without_waiting_out_max_wait():
    batcher = Batcher(max_batch=8, max_wait_s=2.0)
    cams = [RingBuffer(4, BufferPolicy.DROP_OLDEST, batcher.wake) for _ in range(3)]
    for i, cam in enumerate(cams):
        batcher.add(f"cam{i}", cam, newest_only=True)
        cam.put(i)
    t0 = time.monotonic()
    assert sorted(batcher.next_batch()) == [0, 1, 2]
    assert time.monotonic() - t0 < 0.5
