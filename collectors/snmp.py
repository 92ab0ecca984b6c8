"""SNMP transport: GET and bulk walk over pysnmp 7, values as plain Python.

v1/v2c go through pysnmp's v1arch dispatcher, which stays fast with many
communities (v3arch slows on each new community; components.md); v3 goes
through a v3arch engine. MIB lookup is off: profiles use numeric OIDs.
The walk is our own loop over GETBULK so that a looping agent or one that
returns non-increasing OIDs ends the walk with an error instead of spinning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from pyasn1.type import univ
from pysnmp.hlapi.v1arch.asyncio import CommunityData, SnmpDispatcher
from pysnmp.hlapi.v1arch.asyncio import UdpTransportTarget as V1Target
from pysnmp.hlapi.v1arch.asyncio import bulk_cmd as v1_bulk
from pysnmp.hlapi.v1arch.asyncio import get_cmd as v1_get
from pysnmp.proto import rfc1902, rfc1905

from inventory.model import SnmpCredentials

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
    return tuple(int(x) for x in oid.strip(".").split("."))


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


class PysnmpTransport:
    """The production transport."""

    def __init__(self) -> None:
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
    """SNMPv3 (USM) through pysnmp's v3arch engine; one engine for every device."""

    def __init__(self) -> None:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

        self.engine = SnmpEngine()

    def close(self) -> None:
        self.engine.close_dispatcher()

    async def request(
        self, target: Target, bulk: bool, oids: Sequence[str]
    ) -> list[tuple[str, Value | _End]]:
        from pysnmp.hlapi.v3arch.asyncio import (
            ContextData,
            ObjectIdentity,
            ObjectType,
            UdpTransportTarget,
            UsmUserData,
            bulk_cmd,
            get_cmd,
        )

        c = target.credentials
        user = UsmUserData(
            c.user,
            authKey=c.auth_key.reveal() if c.auth_key else None,
            privKey=c.priv_key.reveal() if c.priv_key else None,
            authProtocol=_auth_protocol(c.auth_protocol) if c.auth_key else None,
            privProtocol=_priv_protocol(c.priv_protocol) if c.priv_key else None,
        )
        transport = await UdpTransportTarget.create((target.host, target.port), timeout=target.timeout,
                                                    retries=target.retries)
        varbinds = [ObjectType(ObjectIdentity(oid)) for oid in oids]
        if bulk:
            err_ind, err_status, err_index, result = await bulk_cmd(
                self.engine, user, transport, ContextData(), 0, target.max_repetitions, *varbinds,
                lookupMib=False)
        else:
            err_ind, err_status, err_index, result = await get_cmd(
                self.engine, user, transport, ContextData(), *varbinds, lookupMib=False)
        if err_ind:
            raise SnmpError(str(err_ind))
        if err_status and int(err_status):
            raise SnmpError(f"{err_status.prettyPrint()} at index {int(err_index)}")
        return [(".".join(str(x) for x in vb[0]), _wire(vb[1])) for vb in result]


def _auth_protocol(name: str) -> object:
    from pysnmp.hlapi.v3arch import asyncio as v3

    return {
        "MD5": v3.usmHMACMD5AuthProtocol, "SHA": v3.usmHMACSHAAuthProtocol,
        "SHA224": v3.usmHMAC128SHA224AuthProtocol, "SHA256": v3.usmHMAC192SHA256AuthProtocol,
        "SHA384": v3.usmHMAC256SHA384AuthProtocol, "SHA512": v3.usmHMAC384SHA512AuthProtocol,
    }[name]


def _priv_protocol(name: str) -> object:
    from pysnmp.hlapi.v3arch import asyncio as v3

    return {
        "DES": v3.usmDESPrivProtocol, "AES": v3.usmAesCfb128Protocol,
        "AES192": v3.usmAesCfb192Protocol, "AES256": v3.usmAesCfb256Protocol,
    }[name]
