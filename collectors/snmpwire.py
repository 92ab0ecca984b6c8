"""SNMP v1/v2c messages on the wire: a small BER codec and an asyncio UDP client.

Why our own: decoding responses with pyasn1 (inside pysnmp) was 80 % of the
poller's CPU (cProfile, bench/speed.py). v1/v2c messages are simple —
SEQUENCE { version, community, PDU { request-id, error-status, error-index,
var-binds } } — so a direct decoder of exactly that shape is an order of
magnitude cheaper. pysnmp stays the reference: tests encode with pyasn1 and
decode here (and the reverse) for any var-bind hypothesis can make, and
SNMPv3 and traps still go through pysnmp.

Values come out as collectors.snmp.to_python gives them: numbers as int,
strings decoded (UTF-8, else Latin-1), OIDs and IpAddresses dotted, NULL
and noSuch* as None, endOfMibView as END_OF_MIB.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence
from typing import Final

GET: Final = 0xA0
GETNEXT: Final = 0xA1
RESPONSE: Final = 0xA2
GETBULK: Final = 0xA5
ERROR_NAMES: Final = ("noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
                      "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
                      "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
                      "authorizationError", "notWritable", "inconsistentName")


class DecodeError(ValueError):
    """Not a well-formed v1/v2c response: the datagram is dropped, as pysnmp drops it."""


class EndOfMib:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END_OF_MIB"


END: Final = EndOfMib()
Value = int | str | None | EndOfMib

# ---------------------------------------------------------------- encoding


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _len(len(body)) + body


def _int(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def encode_oid(oid: str) -> bytes:
    arcs = [int(x) for x in oid.strip(".").split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an encodable OID: {oid!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


NULL_VALUE: Final = b"\x05\x00"


def encode_request(version: int, community: bytes, pdu_type: int, request_id: int, oids: Sequence[str],
                   non_repeaters: int = 0, max_repetitions: int = 0) -> bytes:
    """A GET/GETNEXT/GETBULK message; for GETBULK the two error fields carry the bulk parameters."""
    varbinds = b"".join(_tlv(0x30, encode_oid(o) + NULL_VALUE) for o in oids)
    second, third = (non_repeaters, max_repetitions) if pdu_type == GETBULK else (0, 0)
    pdu = _tlv(pdu_type, _int(request_id) + _int(second) + _int(third) + _tlv(0x30, varbinds))
    return _tlv(0x30, _int(version) + _tlv(0x04, community) + pdu)


# ---------------------------------------------------------------- decoding


def _header(data: bytes, i: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the TLV at i."""
    if i + 2 > end:
        raise DecodeError("truncated")
    tag, first = data[i], data[i + 1]
    i += 2
    if first & 0x80:
        n = first & 0x7F
        if n == 0 or n > 4 or i + n > end:
            raise DecodeError("bad length")
        length = int.from_bytes(data[i:i + n], "big")
        i += n
    else:
        length = first
    if i + length > end:
        raise DecodeError("truncated")
    return tag, i, i + length


def _head(first: int) -> str:
    return f"0.{first}" if first < 40 else f"1.{first - 40}" if first < 80 else f"2.{first - 80}"


def decode_oid(body: bytes) -> str:
    if not body:
        raise DecodeError("empty OID")
    if max(body) < 0x80:  # every arc fits in one byte: the common case, done in C
        return ".".join((_head(body[0]), *map(str, body[1:])))
    arcs: list[int] = []
    value = 0
    for b in body:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    if body[-1] & 0x80:
        raise DecodeError("truncated OID")
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return ".".join(map(str, (*head, *arcs[1:])))


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _value(tag: int, body: bytes) -> Value:
    if tag == 0x02:
        return int.from_bytes(body, "big", signed=True) if body else 0
    if tag in (0x41, 0x42, 0x43, 0x46):  # Counter32, Gauge32, TimeTicks, Counter64
        return int.from_bytes(body, "big", signed=False)
    if tag in (0x04, 0x44):  # OCTET STRING, Opaque
        return _text(body)
    if tag == 0x06:
        return decode_oid(body)
    if tag == 0x40:
        if len(body) != 4:
            raise DecodeError("bad IpAddress")
        return ".".join(map(str, body))
    if tag == 0x82:
        return END
    if tag in (0x05, 0x80, 0x81):  # NULL, noSuchObject, noSuchInstance
        return None
    raise DecodeError(f"unknown value tag 0x{tag:02x}")


def _integer(data: bytes, i: int, end: int) -> tuple[int, int]:
    tag, s, e = _header(data, i, end)
    if tag != 0x02:
        raise DecodeError("expected INTEGER")
    return int.from_bytes(data[s:e], "big", signed=True), e


def decode_response(data: bytes) -> tuple[int, bytes, int, int, int, list[tuple[str, Value]]]:
    """(version, community, request-id, error-status, error-index, var-binds) of a Response."""
    try:
        tag, i, end = _header(data, 0, len(data))
        if tag != 0x30:
            raise DecodeError("not a SEQUENCE")
        version, i = _integer(data, i, end)
        tag, s, i = _header(data, i, end)
        if tag != 0x04:
            raise DecodeError("expected community")
        community = data[s:i]
        tag, i, pdu_end = _header(data, i, end)
        if tag != RESPONSE:
            raise DecodeError(f"not a Response PDU (0x{tag:02x})")
        request_id, i = _integer(data, i, pdu_end)
        status, i = _integer(data, i, pdu_end)
        index, i = _integer(data, i, pdu_end)
        tag, i, vbs_end = _header(data, i, pdu_end)
        if tag != 0x30:
            raise DecodeError("expected var-bind list")
        varbinds: list[tuple[str, Value]] = []
        while i < vbs_end:
            tag, j, vb_end = _header(data, i, vbs_end)
            if tag != 0x30:
                raise DecodeError("expected var-bind")
            tag, s, j = _header(data, j, vb_end)
            if tag != 0x06:
                raise DecodeError("expected OID")
            name = decode_oid(data[s:j])
            tag, s, e = _header(data, j, vb_end)
            varbinds.append((name, _value(tag, data[s:e])))
            i = vb_end
        return version, community, request_id, status, index, varbinds
    except (IndexError, ValueError) as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(str(exc)) from exc


# ---------------------------------------------------------------- the client


class Timeout(Exception):
    pass


class V2cClient(asyncio.DatagramProtocol):
    """One UDP socket for every device; answers matched by request-id and sender."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[tuple[str, int], asyncio.Future[tuple[int, int, list[tuple[str, Value]]]]]] = {}
        self._ids = itertools.count(random.randrange(1, 2**30))
        self.dropped = 0  # datagrams that were not an answer we wait for

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("0.0.0.0", 0))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        for _, future in self.pending.values():
            if not future.done():
                future.cancel()
        self.pending.clear()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        try:
            _, _, request_id, status, index, varbinds = decode_response(data)
        except DecodeError:
            self.dropped += 1
            return
        waiting = self.pending.get(request_id)
        if waiting is None or waiting[0] != (addr[0], addr[1]) or waiting[1].done():
            self.dropped += 1
            return
        waiting[1].set_result((status, index, varbinds))

    async def request(self, host: str, port: int, version: int, community: bytes, pdu_type: int,
                      oids: Sequence[str], *, max_repetitions: int = 0, timeout: float = 2.0,
                      retries: int = 1) -> list[tuple[str, Value]]:
        if self.transport is None:
            await self.open()
        assert self.transport is not None
        request_id = next(self._ids) & 0x7FFFFFFF
        message = encode_request(version, community, pdu_type, request_id, oids, 0, max_repetitions)
        future: asyncio.Future[tuple[int, int, list[tuple[str, Value]]]] = \
            asyncio.get_running_loop().create_future()
        self.pending[request_id] = ((host, port), future)
        try:
            for _ in range(retries + 1):
                self.transport.sendto(message, (host, port))
                try:
                    status, index, varbinds = await asyncio.wait_for(asyncio.shield(future), timeout)
                    break
                except TimeoutError:
                    continue
            else:
                raise Timeout("No SNMP response received before timeout")
        finally:
            self.pending.pop(request_id, None)
        if status:
            name = ERROR_NAMES[status] if status < len(ERROR_NAMES) else str(status)
            raise ErrorStatus(f"{name} at index {index}")
        return varbinds


class ErrorStatus(Exception):
    pass
