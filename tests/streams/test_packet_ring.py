"""The packet ring that clips are cut from, fed the real packets of a real H.264 clip."""

from __future__ import annotations

import av
import pytest

from roadwatch.streams import CodecTemplate, PacketRing

from support.helpers import CITY, require

FPS = 25.0  # the city clip's rate: packet i arrives at i / FPS on the ring's clock


@pytest.fixture(scope="module")
def packets():
    with av.open(str(require(CITY))) as container:
        stream = container.streams.video[0]
        template = CodecTemplate(stream)
        got = [p for p in container.demux(stream) if p.size > 0]
    return template, got


def fill(ring: PacketRing, packets, count: int) -> None:
    for i, packet in enumerate(packets[:count]):
        ring.push(packet, i / FPS)


def test_the_ring_keeps_keep_s_back_from_the_newest_packet_from_a_keyframe(packets):
    template, got = packets
    ring = PacketRing(keep_s=2.0, max_bytes=1 << 30)
    ring.connected(template)
    fill(ring, got, 400)  # 16 s, keyframes every 128 packets (5.12 s)
    kept = ring.since(0, ring.connection)
    assert kept[0].keyframe
    newest = kept[-1].at
    assert kept[0].at <= newest - 2.0  # covers keep_s ...
    assert kept[0].at > newest - 2.0 - 128 / FPS  # ... with no more than one group of pictures beyond it
    assert [p.seq for p in kept] == list(range(kept[0].seq, kept[-1].seq + 1))  # nothing missing in between
    assert ring.bytes == sum(p.size for p in kept)


def test_a_clip_start_is_the_keyframe_at_or_before_the_time_asked(packets):
    template, got = packets
    ring = PacketRing(keep_s=30.0, max_bytes=1 << 30)
    ring.connected(template)
    fill(ring, got, 400)
    keyframes = [p for p in ring.since(0, ring.connection) if p.keyframe]
    start = ring.start_for(8.0)
    assert start == max(p.seq for p in keyframes if p.at <= 8.0)
    assert ring.start_for(-5.0) == keyframes[0].seq  # before the ring: its oldest keyframe


def test_the_ring_stays_within_its_bytes_by_whole_groups_of_pictures(packets):
    template, got = packets
    group = sum(p.size for p in got[:128])
    ring = PacketRing(keep_s=60.0, max_bytes=group)
    ring.connected(template)
    fill(ring, got, 400)
    kept = ring.since(0, ring.connection)
    assert kept[0].keyframe
    assert ring.bytes <= group + max(p.size for p in got[:400])  # one packet beyond at most, until the next keyframe
    assert ring.high_water_bytes >= ring.bytes


def test_a_new_connection_starts_afresh_and_waits_for_a_keyframe(packets):
    template, got = packets
    ring = PacketRing(keep_s=5.0, max_bytes=1 << 30)
    ring.connected(template)
    fill(ring, got, 50)
    old = ring.connection
    ring.connected(template)
    assert ring.connection == old + 1 and ring.since(0, old) == [] and ring.bytes == 0
    for i, packet in enumerate(got[1:10]):  # no keyframe among them: nothing could decode from these
        ring.push(packet, i / FPS)
    assert ring.since(0, ring.connection) == []
