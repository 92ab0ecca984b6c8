"""The trap and inform receiver: notifications from known devices become events.

pysnmp's NotificationReceiver does the protocol work (v1 and v2c traps,
v2c and v3 informs, which it acknowledges, and v3 traps from devices whose
snmpEngineID the inventory gives). A notification is tied to a device by its
source address; when several devices share an address (the lab serves all
of them from 127.0.0.1) the community, or the v3 user, tells them apart.
The rules (collectors/profiles/traps/*.yml) say what it means; the event is
handed to every `on_event` callback: the store, the poller's confirming poll.

Nothing a sender does stops the receiver: a notification from an unknown
source, a wrong community or key, a malformed datagram is counted by result
and logged, and the next datagram is read as usual.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv

from dcops.types import TrapEvent
from inventory.model import Device, Inventory

from .snmp import auth_protocol, priv_protocol, to_python
from .trap_rules import OTHER, SNMP_TRAP_OID, Rule, classify, load_rules

log = logging.getLogger(__name__)

OnEvent = Callable[[TrapEvent], None]

# results of a datagram, the `result` label of dcops_trap_datagrams_total
EVENT = "event"
UNKNOWN_SOURCE = "unknown_source"
NO_TRAP_OID = "no_trap_oid"
NOT_A_NOTIFICATION = "not_a_notification"
RESULTS_BY_COUNTER = (  # pysnmp's statistics counters: which one moved says why a datagram was dropped
    ("__SNMPv2-MIB", "snmpInASNParseErrs", "malformed"),
    ("__SNMPv2-MIB", "snmpInBadVersions", "malformed"),
    ("__SNMP-MPD-MIB", "snmpInvalidMsgs", "malformed"),
    ("__SNMP-MPD-MIB", "snmpUnknownSecurityModels", "malformed"),
    ("__SNMPv2-MIB", "snmpInBadCommunityNames", "bad_community"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames", "unknown_user"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests", "wrong_digest"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors", "decryption_error"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels", "unsupported_security_level"),
    # an inform's engine discovery and clock synchronisation: a normal step, not a refusal
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownEngineIDs", "discovery"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsNotInTimeWindows", "discovery"),
)
WHY = {
    "malformed": "not a valid SNMP message",
    "bad_community": "unknown community",
    "unknown_user": "unknown SNMPv3 user (or, for a v3 trap, an engine ID the inventory does not give)",
    "wrong_digest": "wrong SNMPv3 authentication key",
    "decryption_error": "SNMPv3 decryption failed (wrong privacy key)",
    "unsupported_security_level": "unsupported SNMPv3 security level",
    NOT_A_NOTIFICATION: "not a notification",
}


class TrapReceiverError(Exception):
    """The receiver cannot start (its port is taken, say)."""


@dataclass
class _Datagram:
    """What is known about the datagram being processed."""

    address: tuple[str, int]
    community: str | None = None
    delivered: bool = False


class TrapReceiver:
    """Receive notifications on host:port for `inventory`'s devices; call `on_event` with each event."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        host: str = "127.0.0.1",
        port: int = 1162,
        rules: Sequence[Rule] | None = None,
        on_event: Sequence[OnEvent] = (),
        request_poll: Callable[[str], object] | None = None,
        communities: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inventory = inventory
        self.host, self.port = host, port
        self.rules = list(rules if rules is not None else load_rules())
        self.on_event = list(on_event)
        self.request_poll = request_poll  # the confirming poll: Poller.request_poll
        self.extra_communities = list(communities)  # trap communities besides the devices' own
        self.clock = clock
        self.results: Counter[str] = Counter()  # datagrams by result
        self.events: Counter[tuple[str, str]] = Counter()  # (device, kind)
        self._lock = threading.Lock()
        self._engine: Any = None
        self._current: _Datagram | None = None
        self._by_address: dict[str, list[Device]] = {}

    # ------------------------------------------------------------- life cycle

    def start(self) -> None:
        """Bind and configure; call in the event loop that will serve it. TrapReceiverError if it cannot bind."""
        sock = self._bind()
        self._engine = snmp_engine = engine.SnmpEngine()
        transport = _Transport(self)
        config.add_transport(snmp_engine, udp.DOMAIN_NAME, transport.open_server_mode(sock=sock))
        self._configure_security(snmp_engine)
        snmp_engine.observer.register_observer(self._community_seen, "rfc2576.processIncomingMsg")
        ntfrcv.NotificationReceiver(snmp_engine, self._notification)
        snmp_engine.transport_dispatcher.job_started(1)  # a receiver has no end
        self._by_address = self._index()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.transport_dispatcher.job_finished(1)
            self._engine.close_dispatcher()
            self._engine = None

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise TrapReceiverError(f"cannot receive traps on {self.host}:{self.port}: {exc.strerror}") from exc
        sock.setblocking(False)
        return sock

    def _configure_security(self, snmp_engine: Any) -> None:
        communities = {d.snmp.community.reveal() for d in self._snmp_devices()
                       if d.snmp.version in ("1", "2c") and d.snmp.community is not None}
        for i, community in enumerate(sorted(communities | set(self.extra_communities))):
            config.add_v1_system(snmp_engine, f"dcops-{i}", community)
        users: dict[str, tuple[str, ...]] = {}
        for d in self._snmp_devices():
            c = d.snmp
            if c.version != "3" or not c.user:
                continue
            keys = (c.auth_protocol, c.auth_key.reveal() if c.auth_key else "",
                    c.priv_protocol, c.priv_key.reveal() if c.priv_key else "")
            args = (auth_protocol(c.auth_protocol) if c.auth_key else config.USM_AUTH_NONE, keys[1] or None,
                    priv_protocol(c.priv_protocol) if c.priv_key else config.USM_PRIV_NONE, keys[3] or None)
            if c.user not in users:  # informs: the receiver is the authoritative engine
                users[c.user] = keys
                config.add_v3_user(snmp_engine, c.user, *args)
            elif users[c.user] != keys:
                log.warning("devices use SNMPv3 user %r with different keys: informs are accepted with the "
                            "keys of the first only (%s is not); give each its own user", c.user, d.name)
            if c.engine_id:  # traps: the sender is authoritative, its keys are localised to its engine ID
                config.add_v3_user(snmp_engine, c.user, *args,
                                   securityEngineId=univ.OctetString(hexValue=c.engine_id))

    def _snmp_devices(self) -> Iterator[Device]:
        return (d for d in self.inventory.devices.values() if d.modbus is None)

    def _index(self) -> dict[str, list[Device]]:
        out: dict[str, list[Device]] = {}
        for d in self._snmp_devices():
            try:
                infos = socket.getaddrinfo(d.host, None, type=socket.SOCK_DGRAM)
            except OSError as exc:
                log.warning("%s: cannot resolve %s (%s): its notifications will not be recognised",
                            d.name, d.host, exc)
                continue
            for address in {str(info[4][0]) for info in infos}:
                out.setdefault(address, []).append(d)
        return out

    # ------------------------------------------------------------- per datagram

    def _datagram(self, transport: _Transport, address: tuple[str, int], data: bytes) -> None:
        current = self._current = _Datagram(address=(str(address[0]), int(address[1])))
        before = self._statistics()
        try:
            transport.deliver(address, data)
        except Exception as exc:  # a sender must never stop the receiver
            log.warning("dropped a datagram from %s:%s: %s: %s", *current.address, type(exc).__name__, exc)
            self._count("malformed")  # counted after the log line: whoever watches the count sees both
            return
        finally:
            self._current = None
        if not current.delivered:
            after = self._statistics()
            moved = [result for (_, _, result), b, a in zip(RESULTS_BY_COUNTER, before, after, strict=True) if a > b]
            result = next((r for r in moved if r != "discovery"), "discovery" if moved else NOT_A_NOTIFICATION)
            if result != "discovery":
                log.warning("dropped a datagram from %s:%s: %s", *current.address, WHY[result])
                self._count(result)

    def _statistics(self) -> list[int]:
        builder = self._engine.get_mib_builder()
        return [int(builder.import_symbols(mib, name)[0].syntax) for mib, name, _ in RESULTS_BY_COUNTER]

    def _community_seen(self, snmp_engine: Any, execpoint: str, variables: dict[str, Any], ctx: Any) -> None:
        if self._current is not None and variables.get("communityName") is not None:
            self._current.community = str(variables["communityName"])

    def _notification(self, snmp_engine: Any, state: Any, context_engine: Any, context_name: Any,
                      varbinds: Sequence[tuple[Any, Any]], ctx: Any) -> None:
        current = self._current
        if current is None:
            return
        current.delivered = True
        try:
            request = snmp_engine.observer.get_execution_context("rfc3412.receiveMessage:request")
            user = str(request["securityName"]) if int(request["securityModel"]) == 3 else None
            pairs = tuple((".".join(str(x) for x in oid), _text(value)) for oid, value in varbinds)
            self.receive(current.address, pairs, community=current.community, user=user)
        except Exception:
            log.exception("a notification from %s:%s could not be read", *current.address)
            self._count("malformed")

    def receive(self, address: tuple[str, int], varbinds: Sequence[tuple[str, str]], *,
                community: str | None = None, user: str | None = None) -> TrapEvent | None:
        """Turn one accepted notification into an event (None when it is not from a known device)."""
        source = f"{address[0]}:{address[1]}"
        trap_oid = dict(varbinds).get(SNMP_TRAP_OID)
        if not trap_oid:
            log.warning("a notification from %s has no snmpTrapOID.0: ignored", source)
            self._count(NO_TRAP_OID)
            return None
        device = self.device_for(address[0], community=community, user=user)
        if device is None:
            log.warning("notification %s from %s matches no device in the inventory (%s)", trap_oid, source,
                        f"SNMPv3 user {user!r}" if user is not None else "community not shown")
            self._count(UNKNOWN_SOURCE)
            return None
        rule = classify(self.rules, trap_oid, varbinds)
        event = TrapEvent(
            device=device.name, ts=self.clock(),
            kind=rule.kind_for(device.device_class) if rule else OTHER,
            severity=rule.severity if rule else "info",
            notification=rule.name if rule else trap_oid, oid=trap_oid, source=source,
            varbinds=tuple(varbinds))
        with self._lock:
            self.events[(event.device, event.kind)] += 1
        log.info("%s: %s %s (%s from %s)", event.device, event.kind, event.severity, event.notification, source)
        for callback in self.on_event:
            try:
                callback(event)
            except Exception:  # one broken consumer must not stop the others
                log.exception("event consumer %r failed for %s", callback, event.device)
        if self.request_poll is not None and rule is not None and rule.poll:
            try:
                self.request_poll(device.name)
            except Exception:
                log.exception("could not ask for a confirming poll of %s", device.name)
        self._count(EVENT)  # last: whoever watches the count sees the event stored and the poll asked for
        return event

    def device_for(self, address: str, *, community: str | None = None, user: str | None = None) -> Device | None:
        """The device at `address`; when several share it, the one whose community or v3 user this is."""
        candidates = self._by_address.get(address, [])
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        if user is not None:
            chosen = [d for d in candidates if d.snmp.version == "3" and d.snmp.user == user]
        else:
            chosen = [d for d in candidates if d.snmp.community is not None and d.snmp.community.reveal() == community]
        return chosen[0] if len(chosen) == 1 else None

    def _count(self, result: str) -> None:
        with self._lock:
            self.results[result] += 1

    # ------------------------------------------------------------- exposition

    def collector(self) -> Collector:
        return _ReceiverCollector(self)


def _text(value: object) -> str:
    v = to_python(value)
    return "" if v is None else str(v)


class _Transport(udp.UdpAsyncioTransport):  # type: ignore[misc]
    """pysnmp's UDP server transport, with each datagram handed through the receiver for accounting."""

    def __init__(self, receiver: TrapReceiver) -> None:
        super().__init__()
        self.receiver = receiver

    def datagram_received(self, datagram: bytes, transportAddress: Any) -> None:  # noqa: N803 - pysnmp's name
        self.loop.call_soon(self.receiver._datagram, self, transportAddress, datagram)

    def deliver(self, address: Any, data: bytes) -> None:
        self._callback_function(self, address, data)


class _ReceiverCollector(Collector):
    def __init__(self, receiver: TrapReceiver) -> None:
        self.receiver = receiver

    def collect(self) -> Iterator[Metric]:
        with self.receiver._lock:
            results = dict(self.receiver.results)
        family = CounterMetricFamily("dcops_trap_datagrams", "datagrams the trap receiver read, by what became "
                                     "of them", labels=["result"])
        for result in sorted({EVENT, UNKNOWN_SOURCE, *results}):
            family.add_metric([result], float(results.get(result, 0)))
        yield family


class TrapReceiverThread:
    """Run a TrapReceiver in its own thread and event loop (for `dcops run` and `dcops demo`)."""

    def __init__(self, receiver: TrapReceiver) -> None:
        self.receiver = receiver
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="dcops-traps", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        try:
            self.receiver.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            self.receiver.close()

    def start(self) -> TrapReceiverThread:
        """Start serving; raise what stopped the receiver from starting (TrapReceiverError)."""
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)
