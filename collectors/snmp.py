"""SNMP transport: GET and bulk walk over pysnmp 7, values as plain Python.

v1/v2c go through pysnmp's v1arch dispatcher, which stays fast with many
communities (v3arch slows on each new community; components.md); v3 goes
through a v3arch engine. MIB lookup is off: profiles use numeric OIDs.
The walk is our own loop over GETBULK so that a looping agent or one that
returns non-increasing OIDs ends the walk with an error instead of spinning.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pyasn1.type import univ
from pysnmp.hlapi.v1arch.asyncio import CommunityData, SnmpDispatcher
from pysnmp.hlapi.v1arch.asyncio import UdpTransportTarget as V1Target
from pysnmp.hlapi.v1arch.asyncio import bulk_cmd as v1_bulk
from pysnmp.hlapi.v1arch.asyncio import get_cmd as v1_get
from pysnmp.proto import rfc1902, rfc1905

from inventory.model import SnmpCredentials

from .snmpwire import END, GET, GETBULK, ErrorStatus, V2cClient
from .snmpwire import Timeout as WireTimeout

Value = int | float | str | None


class _End:
    """endOfMibView: the agent has nothing after this OID."""


END_OF_MIB = _End()


class SnmpError(Exception):
    """A request that failed: timeout, error status, a broken walk."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    credentials: SnmpCredentials
    timeout: float = 2.0
    retries: int = 1
    max_repetitions: int = 25


class SnmpTransport(Protocol):
    async def get(self, target: Target, oids: Sequence[str]) -> dict[str, Value]: ...

    async def walk(self, target: Target, root: str) -> list[tuple[str, Value]]: ...

    async def walk_many(self, target: Target, roots: Sequence[str]) -> dict[str, list[tuple[str, Value]]]: ...


def oid_tuple(oid: str) -> tuple[int, ...]:
    return tuple(map(int, oid.strip(".").split(".")))


def to_python(value: object) -> Value:
    """Convert a pysnmp value: numbers to int, strings to str, OIDs dotted; absent → None."""
    if isinstance(value, (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView,
                          univ.Null)):
        return None  # absent (or recorded as NULL): no reading
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(x) for x in value)
    if isinstance(value, univ.OctetString):
        raw = value.asOctets()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if isinstance(value, univ.Integer):
        return int(value)
    return str(value)


def _wire(value: object) -> Value | _End:
    return END_OF_MIB if isinstance(value, rfc1905.EndOfMibView) else to_python(value)


MAX_GET_VARBINDS = 50  # snmpsim answers at most 64 var-binds; many agents fewer
MAX_WALK_ROWS = 100_000
# var-binds asked in one GETBULK (columns x repetitions); snmpsim answers at most 64
MAX_BULK_VARBINDS = 60


class SnmpClient:
    """The production transport.

    v1/v2c go over our own codec and UDP client (collectors/snmpwire.py) by
    default: pyasn1's decoding was 80 % of the poller's CPU. `wire="pysnmp"`
    selects pysnmp's v1arch instead (the reference the codec is tested
    against). SNMPv3 always goes through pysnmp.
    """

    def __init__(self, wire: str = "native") -> None:
        if wire not in ("native", "pysnmp"):
            raise ValueError(f"unknown SNMP wire {wire!r} (native or pysnmp)")
        self.wire = wire
        self._native: V2cClient | None = None
        self._addresses: dict[str, str] = {}
        self._dispatcher: SnmpDispatcher | None = None
        self._v3: V3Client | None = None
        self.oids_returned = 0  # values that get() and walk() gave back, for benchmarks
        # Creating a target resolves its address in a thread; do it once per target, not per request.
        self._targets: dict[tuple[str, int, float, int], V1Target] = {}

    @property
    def dispatcher(self) -> SnmpDispatcher:
        if self._dispatcher is None:
            self._dispatcher = SnmpDispatcher()
        return self._dispatcher

    def close(self) -> None:
        if self._native is not None:
            self._native.close()
            self._native = None
        if self._dispatcher is not None:
            self._dispatcher.transport_dispatcher.close_dispatcher()
            self._dispatcher = None
        if self._v3 is not None:
            self._v3.close()
            self._v3 = None

    def _v3client(self) -> V3Client:
        if self._v3 is None:
            self._v3 = V3Client()
        return self._v3

    async def _v1_request(
        self, target: Target, bulk: bool, oids: Sequence[str]
    ) -> list[tuple[str, Value | _End]]:
        creds = target.credentials
        if creds.community is None:
            raise SnmpError("no community configured")
        if self.wire == "native":
            return await self._native_request(target, bulk, oids)
        auth = CommunityData(creds.community.reveal(), mpModel=0 if creds.version == "1" else 1)
        key = (target.host, target.port, target.timeout, target.retries)
        transport = self._targets.get(key)
        if transport is None:
            transport = await V1Target.create((target.host, target.port), timeout=target.timeout,
                                              retries=target.retries)
            self._targets[key] = transport
        varbinds = [(oid, univ.Null()) for oid in oids]
        if bulk:
            err_ind, err_status, err_index, result = await v1_bulk(
                self.dispatcher, auth, transport, 0, target.max_repetitions, *varbinds, lookupMib=False)
        else:
            err_ind, err_status, err_index, result = await v1_get(
                self.dispatcher, auth, transport, *varbinds, lookupMib=False)
        if err_ind:
            raise SnmpError(str(err_ind))
        if err_status and int(err_status):
            raise SnmpError(f"{err_status.prettyPrint()} at index {int(err_index)}")
        return [(".".join(str(x) for x in name), _wire(val)) for name, val in result]

    async def _native_request(
        self, target: Target, bulk: bool, oids: Sequence[str]
    ) -> list[tuple[str, Value | _End]]:
        assert target.credentials.community is not None
        if self._native is None:
            self._native = V2cClient()
        address = self._addresses.get(target.host)
        if address is None:  # answers come from an address: resolve names once
            infos = await asyncio.get_running_loop().getaddrinfo(target.host, target.port, family=socket.AF_INET,
                                                                 type=socket.SOCK_DGRAM)
            address = self._addresses[target.host] = str(infos[0][4][0])
        try:
            varbinds = await self._native.request(
                address, target.port, 0 if target.credentials.version == "1" else 1,
                target.credentials.community.reveal().encode(), GETBULK if bulk else GET, oids,
                max_repetitions=target.max_repetitions, timeout=target.timeout, retries=target.retries)
        except (WireTimeout, ErrorStatus) as exc:
            raise SnmpError(str(exc)) from None
        return [(oid, END_OF_MIB if value is END else value) for oid, value in varbinds]  # type: ignore[misc]

    async def _request(
        self, target: Target, bulk: bool, oids: Sequence[str]
    ) -> list[tuple[str, Value | _End]]:
        if target.credentials.version == "3":
            return await self._v3client().request(target, bulk, oids)
        if bulk and target.credentials.version == "1":
            raise SnmpError("SNMPv1 has no GETBULK")
        return await self._v1_request(target, bulk, oids)

    async def get(self, target: Target, oids: Sequence[str]) -> dict[str, Value]:
        out: dict[str, Value] = {}
        for i in range(0, len(oids), MAX_GET_VARBINDS):
            for oid, value in await self._request(target, False, oids[i:i + MAX_GET_VARBINDS]):
                out[oid] = None if value is END_OF_MIB else value  # type: ignore[assignment]
        self.oids_returned += sum(1 for v in out.values() if v is not None)
        return out

    async def walk(self, target: Target, root: str) -> list[tuple[str, Value]]:
        return (await self.walk_many(target, [root]))[root]

    async def walk_many(self, target: Target, roots: Sequence[str]) -> dict[str, list[tuple[str, Value]]]:
        """Walk several subtrees together, one GETBULK carrying a var-bind per unfinished subtree.

        A table's columns (or a device's tables) then cost one round trip per
        block of rows instead of one per column. Each subtree ends on its own:
        when the agent leaves it or says endOfMibView. An OID that does not
        increase within a subtree is an error (a looping agent), as is a walk
        past MAX_WALK_ROWS.
        """
        rows: dict[str, list[tuple[str, Value]]] = {r: [] for r in roots}
        prefix = {r: oid_tuple(r) for r in roots}
        last = dict(prefix)
        cursor = {r: r.strip(".") for r in roots}  # unfinished subtrees and where each stands
        while cursor:
            active = list(cursor)[:MAX_BULK_VARBINDS]
            reps = max(1, min(target.max_repetitions, MAX_BULK_VARBINDS // len(active)))
            batch = await self._request(replace(target, max_repetitions=reps), True,
                                        [cursor[r] for r in active])
            if not batch:
                break
            for i, (oid, value) in enumerate(batch):
                root = active[i % len(active)]
                if root not in cursor:
                    continue  # this subtree ended earlier in the block
                parts = oid_tuple(oid)
                if parts[: len(prefix[root])] != prefix[root] or value is END_OF_MIB:
                    del cursor[root]
                    continue
                if parts <= last[root]:
                    raise SnmpError(f"agent returned non-increasing OID {oid} after "
                                    f"{'.'.join(map(str, last[root]))}")
                last[root] = parts
                cursor[root] = oid
                if value is not None:
                    rows[root].append((oid, value))  # type: ignore[arg-type]
                    if len(rows[root]) > MAX_WALK_ROWS:
                        raise SnmpError(f"walk of {root} exceeded {MAX_WALK_ROWS} rows")
        self.oids_returned += sum(len(r) for r in rows.values())
        return rows


class V3Client:
    """SNMPv3 (USM) through pysnmp's v3arch engine.

    One engine per distinct USM user (name, protocols, keys): pysnmp keys its
    user table by name, so two devices with the same user name but different
    keys would overwrite each other's keys on a shared engine mid-request.
    Sites usually have one or a few v3 users, so this is a handful of engines.
    """

    def __init__(self) -> None:
        self._engines: dict[tuple[str, str, str, str, str], Any] = {}
        self._targets: dict[tuple[str, int, float, int], Any] = {}

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close_dispatcher()
        self._engines.clear()
        self._targets.clear()

    def _engine(self, c: SnmpCredentials) -> Any:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

        key = (c.user, c.auth_protocol, c.auth_key.reveal() if c.auth_key else "",
               c.priv_protocol, c.priv_key.reveal() if c.priv_key else "")
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = SnmpEngine()
        return engine

    async def _target(self, target: Target) -> Any:
        from pysnmp.hlapi.v3arch.asyncio import UdpTransportTarget

        key = (target.host, target.port, target.timeout, target.retries)
        transport = self._targets.get(key)
        if transport is None:
            transport = await UdpTransportTarget.create((target.host, target.port), timeout=target.timeout,
                                                        retries=target.retries)
            self._targets[key] = transport
        return transport

    async def request(
        self, target: Target, bulk: bool, oids: Sequence[str]
    ) -> list[tuple[str, Value | _End]]:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, bulk_cmd, get_cmd

        c = target.credentials
        if not c.user:
            raise SnmpError("no SNMPv3 user configured")
        user = usm_user(c)
        engine = self._engine(c)
        transport = await self._target(target)
        context = ContextData(contextName=c.context) if c.context else ContextData()
        varbinds = [ObjectType(ObjectIdentity(oid)) for oid in oids]
        if bulk:
            err_ind, err_status, err_index, result = await bulk_cmd(
                engine, user, transport, context, 0, target.max_repetitions, *varbinds, lookupMib=False)
        else:
            err_ind, err_status, err_index, result = await get_cmd(
                engine, user, transport, context, *varbinds, lookupMib=False)
        if err_ind:
            raise SnmpError(v3_reason(err_ind, c.user))
        if err_status and int(err_status):
            raise SnmpError(f"{err_status.prettyPrint()} at index {int(err_index)}")
        return [(".".join(str(x) for x in vb[0]), _wire(vb[1])) for vb in result]


def usm_user(c: SnmpCredentials, engine_id: str | None = None) -> Any:
    """pysnmp's UsmUserData for these credentials (noAuthNoPriv, authNoPriv or authPriv)."""
    from pysnmp.hlapi.v3arch.asyncio import UsmUserData

    extra: dict[str, Any] = {}
    if engine_id:
        extra["securityEngineId"] = univ.OctetString(hexValue=engine_id)
    return UsmUserData(
        c.user,
        authKey=c.auth_key.reveal() if c.auth_key else None,
        privKey=c.priv_key.reveal() if c.priv_key else None,
        authProtocol=auth_protocol(c.auth_protocol) if c.auth_key else None,
        privProtocol=priv_protocol(c.priv_protocol) if c.priv_key else None,
        **extra,
    )


# pysnmp's error indications for USM failures, as an operator would say them
_V3_REASONS = {
    "WrongDigest": "authentication failed for SNMPv3 user {user!r} (wrong auth key or auth protocol)",
    "DecryptionError": "decryption failed for SNMPv3 user {user!r} (wrong privacy key or privacy protocol)",
    "UnknownUserName": "the agent does not know SNMPv3 user {user!r}",
    "UnsupportedSecurityLevel": "the agent refuses this security level for SNMPv3 user {user!r}",
    "NotInTimeWindow": "the agent's SNMPv3 clock check failed for user {user!r} (not in time window)",
}


def v3_reason(err_ind: object, user: str) -> str:
    template = _V3_REASONS.get(type(err_ind).__name__)
    return template.format(user=user) if template else str(err_ind)


def auth_protocol(name: str) -> object:
    from pysnmp.hlapi.v3arch import asyncio as v3

    return {
        "MD5": v3.usmHMACMD5AuthProtocol, "SHA": v3.usmHMACSHAAuthProtocol,
        "SHA224": v3.usmHMAC128SHA224AuthProtocol, "SHA256": v3.usmHMAC192SHA256AuthProtocol,
        "SHA384": v3.usmHMAC256SHA384AuthProtocol, "SHA512": v3.usmHMAC384SHA512AuthProtocol,
    }[name]


def priv_protocol(name: str) -> object:
    from pysnmp.hlapi.v3arch import asyncio as v3

    return {
        "DES": v3.usmDESPrivProtocol, "AES": v3.usmAesCfb128Protocol,
        "AES192": v3.usmAesCfb192Protocol, "AES256": v3.usmAesCfb256Protocol,
    }[name]

