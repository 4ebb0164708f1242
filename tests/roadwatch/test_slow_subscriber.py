"""A subscriber that stops reading must cost the publisher nothing: no slowdown, no memory growth."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import psutil
import zmq

from roadwatch.events.schema import EventFactory, EventType
from roadwatch.events.wire import decode
from roadwatch.events.zmq_io import LOSSY_EPISODE, EventPublisher, Subscriber

from support.helpers import free_endpoint


def publish_for(publisher: EventPublisher, factory: EventFactory, seconds: float, sample=None) -> float:
    """Events/s published in `seconds` of publishing as fast as possible."""
    count, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        for _ in range(200):
            publisher.publish(
                factory.make(EventType.STREAM_UP, "cam0", count, 0.0, 0.0, source="x", status="up", reason="r")
            )
            count += 1
        if sample is not None:
            sample(elapsed)
    return count / (time.perf_counter() - t0)


def test_a_stalled_subscriber_neither_slows_the_publisher_nor_grows_its_memory():
    """Two publishers measured in turns under the same load: one whose subscriber reads nothing, one with none.
    Turns, not one baseline then one run: a busy machine slows both alike, and the ratio stays honest."""
    free = EventPublisher(free_endpoint(), send_hwm=1000)
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint, send_hwm=1000)
    factory = EventFactory("p")
    context = zmq.Context()
    stalled = context.socket(zmq.SUB)
    stalled.setsockopt(zmq.RCVHWM, 1000)
    stalled.setsockopt(zmq.SUBSCRIBE, b"")
    stalled.connect(endpoint)
    deadline = time.monotonic() + 30
    while publisher.overflows == 0 and time.monotonic() < deadline:  # until its queues are full: it is stalled
        publish_for(publisher, factory, 0.2)
    assert publisher.overflows > 0, "the stalled subscriber never filled its queue"
    process = psutil.Process()
    rss = {"early": process.memory_info().rss}
    rates: dict[str, list[float]] = {"free": [], "stalled": []}
    for _ in range(6):  # 9 s with the subscriber reading nothing
        rates["free"].append(publish_for(free, factory, 1.5))
        rates["stalled"].append(publish_for(publisher, factory, 1.5))
    rss["late"] = process.memory_info().rss
    free_rate, stalled_rate = max(rates["free"]), max(rates["stalled"])
    # a publisher that blocked on its stalled subscriber would publish next to nothing; the turns' best
    # rates wandered 0.88-1.0 of each other on an idle 2-core machine
    assert stalled_rate >= 0.8 * free_rate, (
        f"{stalled_rate:.0f} events/s with a stalled subscriber vs {free_rate:.0f} without"
    )
    assert rss["late"] - rss["early"] < 20 * 2**20, "memory grew while the subscriber was stalled"
    stalled.close(linger=0)
    context.term()
    publisher.close()
    free.close()


def test_the_publisher_counts_overflows_and_a_reader_that_keeps_up_loses_nothing(tmp_path):
    endpoint = f"ipc://{tmp_path}/events.sock"  # small kernel buffers: a stalled queue fills within a second
    publisher = EventPublisher(endpoint, send_hwm=1000)
    factory = EventFactory("p")
    context = zmq.Context()
    reader = context.socket(zmq.SUB)
    reader.setsockopt(zmq.SUBSCRIBE, b"")
    reader.connect(endpoint)
    while not reader.poll(50):  # heartbeats until the subscription is live
        publisher.publish(factory.heartbeat(interval_s=1.0, fps=0.0, events_sent=0, streams={}))
    while reader.poll(0):
        reader.recv_multipart()
    seqs: list[int] = []

    def bursts(n: int) -> None:
        """Bursts of 500 events, each read in full before the next: the reader's queue never fills."""
        for _ in range(n):
            for i in range(500):
                publisher.publish(
                    factory.make(EventType.STREAM_UP, "cam0", i, 0.0, 0.0, source="x", status="up", reason="r")
                )
            for _ in range(500):
                assert reader.poll(5000), "the reader stopped receiving"
                seqs.append(decode(reader.recv_multipart()[1])["seq"])

    bursts(20)
    assert publisher.overflows == 0
    stalled = context.socket(zmq.SUB)  # subscribes to everything, never reads
    stalled.setsockopt(zmq.RCVHWM, 1000)
    stalled.setsockopt(zmq.SUBSCRIBE, b"")
    stalled.connect(endpoint)
    time.sleep(0.5)
    bursts(100)
    assert publisher.overflows >= 1, "a subscriber's queue overflowed and the publisher did not count it"
    assert seqs == list(range(seqs[0], seqs[0] + 60_000)), "the reader that kept up lost events"
    stalled.close(linger=0)
    reader.close(linger=0)
    context.term()
    publisher.close()


def test_a_reader_that_fell_behind_sees_its_loss_in_seq():
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint, send_hwm=100)
    factory = EventFactory("p")
    subscriber = Subscriber(endpoint, timeout_s=10.0)
    received: list[dict] = []
    first, published, caught_up = threading.Event(), threading.Event(), threading.Event()
    total = 50_000  # far more than both high-water marks hold

    def slow_reader() -> None:
        for event in subscriber:
            received.append(event)
            if len(received) == 1:
                first.set()
                published.wait(60)  # stops reading while the publisher goes on
            elif event["type"] == "heartbeat" and event["seq"] == total:
                caught_up.set()  # the heartbeat that says how far the publisher got
                return

    reader = threading.Thread(target=slow_reader)
    reader.start()
    heartbeat = dict(interval_s=1.0, fps=0.0, events_sent=0, streams={})
    while not first.wait(0.05):  # heartbeats until the subscription is live
        publisher.publish(factory.heartbeat(**heartbeat))
    for i in range(total):
        publisher.publish(factory.make(EventType.STREAM_UP, "cam0", i, 0.0, 0.0, source="x", status="up", reason="r"))
    published.set()
    deadline = time.monotonic() + 30
    while not caught_up.wait(0.1) and reader.is_alive() and time.monotonic() < deadline:
        publisher.publish(factory.heartbeat(**heartbeat))  # says seq 50000; a full queue may drop one, so again
    reader.join(20)
    publisher.close()
    assert caught_up.is_set(), "the reader never heard the heartbeat after the burst"
    seen = {e["seq"] for e in received if e["type"] != "heartbeat"}
    missed = sum(g.last_missing - g.first_missing + 1 for g in subscriber.gaps)
    assert 0 < len(seen) < total
    assert missed > 0 and len(seen) + missed == total


def test_the_pipeline_keeps_its_pace_with_a_stalled_subscriber(tmp_path, model_path):
    """The real pipeline on a real clip, with and without a subscriber that never reads (6 s each, twice);
    the heartbeat reports the stalled one's overflows.

    Memory is checked by the publisher-level test above, where an unbounded queue would show at about
    250 MB/s; at the pipeline's event rate on a CPU (~75 KB/s) it would drown in the allocator's noise."""
    from roadwatch.config import Config
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import SourceSpec, probe

    from support.helpers import CITY, require

    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    spec = SourceSpec.from_uri(str(require(CITY)), "city")
    info = {"city": probe(spec)}

    def frames_per_second(frames: int, stalled: bool, out: Path) -> tuple[float, dict]:
        """Steady frames/s of the run (from its first batch to its last: opening the clip and the first decode
        are not what a subscriber could slow), and the last heartbeat an operator's subscriber saw."""
        out.mkdir()
        cfg = Config.model_validate({"output": {"dir": str(out), "video": False}, "tracker": {"update_interval_s": 0}})
        endpoint = f"ipc://{out}/events.sock"  # small kernel buffers: the stalled queue overflows in seconds
        publisher = EventPublisher(endpoint, send_hwm=100)
        heartbeats: list[dict] = []

        def operate() -> None:
            """Heartbeats until the final one, sent once the run has stopped its capture."""
            for heartbeat in Subscriber(endpoint, types=["heartbeat"], timeout_s=60.0):
                heartbeats.append(heartbeat)
                if heartbeat["streams"]["city"]["status"] == "stopped":
                    return

        operator = threading.Thread(target=operate)
        operator.start()
        context = zmq.Context()
        sub = context.socket(zmq.SUB)
        if stalled:  # connected, subscribed to everything, never reads
            sub.setsockopt(zmq.RCVHWM, 100)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.connect(endpoint)
        time.sleep(0.5)
        pipeline = Pipeline(cfg, [spec], info, detector, publisher, out)
        stop = threading.Event()
        batches: list[tuple[float, int]] = []

        host_costs: list[float] = []  # per batch: seconds a frame of the loop's work after detection

        def on_batch(counts: dict[str, int]) -> None:
            frames_now = sum(counts.values())
            host = pipeline.clock.stage_s["track_and_publish"] + pipeline.clock.stage_s["housekeeping"]
            host_costs.append((host - sum(c * n for c, (_, n) in zip(host_costs, batches))) / frames_now)
            batches.append((time.perf_counter(), frames_now))
            if sum(n for _, n in batches) >= frames:  # a count of frames, not seconds: as long on a busy machine
                stop.set()

        guard = threading.Timer(120, stop.set)  # never hangs, whatever happens
        guard.start()
        pipeline.run(stop, on_batch=on_batch)
        guard.cancel()
        operator.join(60)
        publisher.close()
        sub.close(linger=0)
        context.term()
        assert heartbeats and heartbeats[-1]["streams"]["city"]["status"] == "stopped", "no final heartbeat"
        assert sum(n for _, n in batches) >= frames, "the pipeline stopped short"
        # Besides the whole loop's rate, the loop's own work after detection (tracking, publishing, heartbeats),
        # per frame: all a subscriber could slow, without the forward pass's noise (90 % of the loop on a CPU).
        # Its median over the batches: a run holds only about 0.1 s of it, so one preemption would sway a total.
        steady_fps = sum(n for _, n in batches[1:]) / (batches[-1][0] - batches[0][0])
        return steady_fps, host_costs, heartbeats[-1]

    # Three times each, interleaved, best of three: on a CPU the forward pass's speed wanders by 20 % from one
    # run to the next (noise only ever slows); pairs of whole-run rates failed the 90 % bound on noise alone
    # (34.0 vs 38.0 frames/s once in four full suites; 8.8 vs 10.6 with both cores kept busy), so the bound
    # holds for the loop's work after detection, and the whole loop's steady rate may not fall below 80 %.
    runs: dict[bool, list[tuple[float, float, dict]]] = {False: [], True: []}
    for attempt in range(3):
        for stalled in (False, True):
            runs[stalled].append(
                frames_per_second(160, stalled, tmp_path / f"{'stalled' if stalled else 'free'}{attempt}")
            )
    free_fps, stalled_fps = (max(run[0] for run in runs[k]) for k in (False, True))
    # Per run, the median cost per frame; per mode, the best of its three runs (noise only ever slows). The
    # ratio wanders between 0.87 and 1.0 on an idle 2-core machine, so as a timed bound it only guards against a
    # gross slowdown; the mechanism that keeps a stalled subscriber cheap is checked exactly below.
    free_host, stalled_host = (1 / min(statistics.median(run[1]) for run in runs[k]) for k in (False, True))
    assert stalled_host >= 0.8 * free_host, (
        f"tracking and publishing: {stalled_host:.0f} frames/s with a stalled subscriber vs {free_host:.0f}"
    )
    # The whole loop's rate is 90 % forward passes, whose speed two busy cores sway by more than 20 % (12.0 vs 16.0
    # frames/s once, the after-detection bound above holding): as a whole-loop bound this only catches a publisher
    # that blocks, which would stop the loop once the stalled queue fills.
    assert stalled_fps >= 0.5 * free_fps, f"{stalled_fps:.1f} frames/s with a stalled subscriber vs {free_fps:.1f}"
    assert all(run[2]["subscriber_overflows"] == 0 for run in runs[False])
    assert all(run[2]["subscriber_overflows"] >= 1 for run in runs[True]), (
        "the heartbeat did not report the stalled subscriber's loss"
    )
    # Episodes, not events: after an overflow the next LOSSY_EPISODE events go out without the failed send and
    # the two option changes each once cost (a fifth of this work, 1132 vs 1454 frames/s when it was per event).
    assert all(run[2]["subscriber_overflows"] * LOSSY_EPISODE <= run[2]["events_sent"] + LOSSY_EPISODE
               for run in runs[True])
