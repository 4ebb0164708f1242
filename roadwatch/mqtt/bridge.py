"""The bridge: ZeroMQ events in, MQTT messages out (paho-mqtt), in a process of its own, so a slow or absent
broker never slows the pipeline (the pipeline's publisher drops for a subscriber that does not keep up).

paho's network thread connects and reconnects with backoff. Events wait in a bounded outbox while the broker
is away (the oldest dropped and counted, the count published retained when it is back); the retained state
and the discovery configs are published whole on every connection, so a broker that restarted empty gets
them again.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as mqtt

from roadwatch.mqtt.state import Message, RetainedState
from roadwatch.mqtt.topics import Topics
from roadwatch.streams.redact import mask_uri

log = logging.getLogger(__name__)

QOS = 1
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
# paho's own queue (messages handed over, not yet acknowledged) is bounded too, for a broker that is gone but not
# yet noticed (up to a keepalive); the headroom covers a (re)connection's burst of retained state and discovery
PAHO_HEADROOM = 50_000


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str, username: str | None = None, password: str | None = None, tls: bool = False) -> Broker:
        """mqtt://host[:1883] or mqtts://host[:8883] (user:password@ in the URL too); ValueError, one line."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker '{mask_uri(url)}': give mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        tls = tls or parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"broker '{mask_uri(url)}': the port must be a number from 1 to 65535") from None
        user = username or (unquote(parts.username) if parts.username else None)
        secret = password or (unquote(parts.password) if parts.password else None)
        return cls(parts.hostname, port, tls, user, secret)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def payload(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else orjson.dumps(value)


class MqttBridge:
    def __init__(self, broker: Broker, topics: Topics, categories: list[str], queue: int = 10_000,
                 discovery: bool = True, ca_file: str | None = None, client_id: str | None = None) -> None:
        self.broker, self.topics, self.discovery = broker, topics, discovery
        self.state = RetainedState(topics, categories)
        self.dropped = 0  # events dropped from a full outbox
        self.published = 0
        self._outbox: deque[Message] = deque(maxlen=queue)
        self._lock = threading.Lock()  # the outbox and the state, between this thread and paho's
        self._connected = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "")
        if broker.username is not None:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self.client.tls_set(ca_certs=ca_file)
        self.client.will_set(topics.bridge_status, "offline", qos=QOS, retain=True)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.max_queued_messages_set(queue + PAHO_HEADROOM)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        """Connect in the background: an absent broker is retried with backoff, never an error."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        """Say offline (retained) and disconnect cleanly: a clean disconnect does not fire the last will."""
        if self._connected:
            self.client.publish(self.topics.bridge_status, "offline", qos=QOS, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    def handle(self, event: dict[str, Any]) -> None:
        """One event from ZeroMQ (this thread): retained state updated, the event queued, sent if connected."""
        with self._lock:
            changed = self.state.apply(event)
            if event["type"] != "heartbeat":
                if len(self._outbox) == self._outbox.maxlen:
                    self.dropped += 1
                self._outbox.append((self.topics.event(event), event))
            if not self._connected:
                return
            events = self._take_outbox()
        self._send(changed, retain=True)
        self._send(events, retain=False)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker %s refused the connection: %s", self.broker, reason_code)
            return
        with self._lock:
            self._connected = True
            retained, events, dropped = self.state.everything(), self._take_outbox(), self.dropped
        log.warning("connected to MQTT broker %s (%d events waiting, %d dropped so far)", self.broker, len(events),
                    dropped)
        client.publish(self.topics.bridge_status, "online", qos=QOS, retain=True)
        self._send(retained, retain=True)
        client.publish(self.topics.bridge_dropped, str(dropped), qos=QOS, retain=True)
        self._send(events, retain=False)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self._connected = False
        if reason_code.is_failure:
            log.warning("lost the MQTT broker %s (%s); reconnecting with backoff, holding up to %d events",
                        self.broker, reason_code, self._outbox.maxlen)

    def _take_outbox(self) -> list[Message]:
        events = list(self._outbox)
        self._outbox.clear()
        return events

    def _send(self, messages: list[Message], retain: bool) -> None:
        """To paho (never under our lock: its thread calls back into us); what its full queue refuses counts as
        dropped."""
        for topic, value in messages:
            if retain and not self.discovery and topic.startswith(self.topics.discovery_prefix + "/"):
                continue
            if self.client.publish(topic, payload(value), qos=QOS, retain=retain).rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                with self._lock:
                    self.dropped += 1
            elif not retain:
                self.published += 1
