"""Bounded subscriptions on an XPUB socket (the pipeline's publisher, the broker's subscriber side).

libzmq keeps every subscription a peer sends in a trie with a node per character: one 32 MB subscription took
a pipeline from 962 MB to 2.4 GB, 300,000 of 1 KB past 13.9 GB. Two bounds here:
- MAXMSGSIZE: a message over MAX_MESSAGE_BYTES drops its peer inside libzmq before it is held. CURVE's
  handshake needs about 300 bytes, so the limit is 512, not the topic's 256.
- Manual mode: each subscription reaches the application, and is applied only if it is a topic roadwatch
  could send (at most MAX_TOPIC_BYTES: "<type>/<stream_id>") while the socket holds fewer than MAX_TOPICS
  distinct ones; others are refused and counted.
What remains: libzmq also records, per peer, every subscription it passes up in manual mode, and no socket
option bounds their number (peers cannot be told apart at this level). A peer sending tens of thousands of
distinct short subscriptions still costs memory; on a network you do not trust, turn CURVE on, so that only
allowed keys connect at all (docs/events.md, threat model).
"""

from __future__ import annotations

from collections import Counter

import zmq

from roadwatch.events.wire import MAX_TOPIC_BYTES

MAX_TOPICS = 10_000  # distinct topics: every event type for hundreds of streams, and then some
MAX_MESSAGE_BYTES = 512
SUBSCRIBE, UNSUBSCRIBE = b"\x01", b"\x00"


class SubscriptionGate:
    """Applies the subscriptions an XPUB receives, within bounds; read its socket with `take` in the socket's
    own thread."""

    def __init__(self, socket: zmq.Socket) -> None:
        self.socket = socket
        socket.setsockopt(zmq.XPUB_MANUAL, 1)
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.refused = 0
        self._topics: Counter[bytes] = Counter()

    def take(self, message: bytes) -> bool:
        """Apply one message received on the socket; True if it was applied (a broker passes it upstream)."""
        kind, topic = message[:1], message[1:]
        if kind == SUBSCRIBE:
            if len(topic) > MAX_TOPIC_BYTES or (topic not in self._topics and len(self._topics) >= MAX_TOPICS):
                self.refused += 1
                return False
            self.socket.setsockopt(zmq.SUBSCRIBE, topic)
            self._topics[topic] += 1
            return True
        if kind == UNSUBSCRIBE and topic in self._topics:
            self.socket.setsockopt(zmq.UNSUBSCRIBE, topic)  # a no-op for a peer that has gone: libzmq dropped it
            self._topics[topic] -= 1
            if self._topics[topic] <= 0:
                del self._topics[topic]
            return True
        return False

    def take_waiting(self) -> None:
        """Every message waiting now (the publisher's way: it never forwards them)."""
        while self.socket.poll(0):
            self.take(self.socket.recv())
