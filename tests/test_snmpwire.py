"""Our v1/v2c codec against pysnmp's (pyasn1) as the reference, for anything hypothesis can make."""

from __future__ import annotations

import asyncio

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905

from collectors.poller import Poller, PollerSettings
from collectors.snmp import END_OF_MIB, SnmpClient, _wire
from collectors.snmpwire import END, GET, GETBULK, DecodeError, decode_response, encode_request
from lab import LabRunner

P = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]

arcs = st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=12)
oids = st.builds(lambda first, second, rest: ".".join(map(str, (first, second, *rest))),
                 st.integers(0, 2), st.integers(0, 39), arcs)
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(rfc1902.Integer32),
    st.binary(max_size=300).map(rfc1902.OctetString),
    st.text(max_size=40).map(lambda t: rfc1902.OctetString(t.encode())),
    oids.map(rfc1902.ObjectIdentifier),
    st.binary(min_size=4, max_size=4).map(rfc1902.IpAddress),
    st.integers(0, 2**32 - 1).map(rfc1902.Counter32),
    st.integers(0, 2**32 - 1).map(rfc1902.Gauge32),
    st.integers(0, 2**32 - 1).map(rfc1902.TimeTicks),
    st.integers(0, 2**64 - 1).map(rfc1902.Counter64),
    st.just(rfc1902.Null("")),
    st.just(rfc1905.noSuchObject), st.just(rfc1905.noSuchInstance), st.just(rfc1905.endOfMibView),
)


def reference_response(community: bytes, request_id: int, status: int, index: int,
                       varbinds: list[tuple[str, object]]) -> bytes:
    pdu = P.ResponsePDU()
    P.apiPDU.set_defaults(pdu)
    P.apiPDU.set_request_id(pdu, request_id)
    P.apiPDU.set_error_status(pdu, status)
    P.apiPDU.set_error_index(pdu, index)
    P.apiPDU.set_varbinds(pdu, varbinds)
    msg = P.Message()
    P.apiMessage.set_defaults(msg)
    P.apiMessage.set_community(msg, community)
    P.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)  # type: ignore[no-any-return]


@settings(max_examples=500, deadline=None)
@given(community=st.binary(max_size=40), request_id=st.integers(0, 2**31 - 1),
       status=st.integers(0, 18), index=st.integers(0, 60),
       varbinds=st.lists(st.tuples(oids, values), max_size=70))
def test_responses_decode_as_pysnmp_reads_them(community: bytes, request_id: int, status: int, index: int,
                                               varbinds: list[tuple[str, object]]) -> None:
    data = reference_response(community, request_id, status, index, varbinds)
    version, got_community, got_id, got_status, got_index, got = decode_response(data)
    assert (version, got_community, got_id, got_status, got_index) == (1, community, request_id, status, index)
    expected = [(".".join(map(str, rfc1902.ObjectName(o))), _wire(v)) for o, v in varbinds]
    assert [(o, END_OF_MIB if v is END else v) for o, v in got] == expected


@settings(max_examples=300, deadline=None)
@given(version=st.sampled_from([0, 1]), community=st.binary(max_size=40), request_id=st.integers(0, 2**31 - 1),
       bulk=st.booleans(), reps=st.integers(0, 100), names=st.lists(oids, min_size=1, max_size=60))
def test_requests_encode_as_pysnmp_reads_them(version: int, community: bytes, request_id: int, bulk: bool,
                                              reps: int, names: list[str]) -> None:
    assume(not (bulk and version == 0))  # SNMPv1 has no GETBULK (the transport refuses it before)
    data = encode_request(version, community, GETBULK if bulk else GET, request_id, names, 0, reps)
    module = api.PROTOCOL_MODULES[version]
    msg, rest = decoder.decode(data, asn1Spec=module.Message())
    assert rest == b""
    assert int(module.apiMessage.get_version(msg)) == version
    assert bytes(module.apiMessage.get_community(msg)) == community
    pdu = module.apiMessage.get_pdu(msg)
    assert int(module.apiPDU.get_request_id(pdu)) == request_id
    assert pdu.tagSet == (module.GetBulkRequestPDU.tagSet if bulk else module.GetRequestPDU.tagSet)
    if bulk:
        assert int(module.apiBulkPDU.get_max_repetitions(pdu)) == reps
    assert [".".join(map(str, o)) for o, _ in module.apiPDU.get_varbinds(pdu)] == \
        [".".join(map(str, rfc1902.ObjectName(n))) for n in names]


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_decode_or_raise_decode_error_only(data: bytes) -> None:
    try:
        decode_response(data)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(varbinds=st.lists(st.tuples(oids, values), min_size=1, max_size=20), cut=st.integers(1, 400))
def test_a_truncated_response_is_a_decode_error(varbinds: list[tuple[str, object]], cut: int) -> None:
    data = reference_response(b"public", 7, 0, 0, varbinds)
    cut = min(cut, len(data) - 1)
    try:
        decode_response(data[:-cut])
    except DecodeError:
        return
    raise AssertionError("a truncated message decoded")


def test_both_wires_read_the_same_room(running_room: LabRunner) -> None:
    inventory = running_room.room.inventory
    readings = {}
    for wire in ("pysnmp", "native"):
        poller = Poller(inventory, transport=SnmpClient(wire), settings=PollerSettings(timeout=2, retries=1))

        async def run(p: Poller = poller) -> list:  # type: ignore[type-arg]
            try:
                return await p.poll_once()
            finally:
                p.transport.close()  # type: ignore[attr-defined]

        results = asyncio.run(run())
        assert all(r.up for r, _ in results), [r for r, _ in results if not r.up]
        readings[wire] = sorted((s.device, s.metric, s.labels, s.value, s.text) for _, ss in results for s in ss
                                if s.metric != "agent_uptime_seconds")
    assert readings["native"] == readings["pysnmp"]
    assert len(readings["native"]) > 200
