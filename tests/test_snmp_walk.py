"""The SNMP response path under faults: walks that loop, truncate or lie, and garbage on the wire.

A fake agent inside one function's unit test is fine (DESIGN.md); the wire
tests below answer the real transport from a real UDP socket on loopback.
"""

from __future__ import annotations

import asyncio
import bisect
import socket
import threading
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from collectors.snmp import END_OF_MIB, MAX_BULK_VARBINDS, SnmpClient, SnmpError, Target, oid_tuple
from dcops.secrets import Secret
from inventory.model import SnmpCredentials

CREDS = SnmpCredentials("2c", community=Secret("c", "public"))


class FakeAgent(SnmpClient):
    """GETBULK semantics over a dict of OIDs, to test the walk logic alone."""

    def __init__(self, mib: dict[str, object], cap: int = 64) -> None:
        super().__init__()
        self.keys = sorted(mib, key=oid_tuple)
        self.tuples = [oid_tuple(k) for k in self.keys]
        self.mib = mib
        self.cap = cap  # var-binds per response, like snmpsim's 64
        self.requests = 0

    def next_after(self, oid: str) -> tuple[str, object]:
        i = bisect.bisect_right(self.tuples, oid_tuple(oid))
        return (self.keys[i], self.mib[self.keys[i]]) if i < len(self.keys) else (oid, END_OF_MIB)

    async def _request(self, target: Target, bulk: bool, oids: Sequence[str]):  # type: ignore[no-untyped-def, override]
        self.requests += 1
        assert bulk
        out, cursor = [], list(oids)
        for _ in range(target.max_repetitions):
            for j, oid in enumerate(cursor):
                nxt = self.next_after(oid)
                out.append(nxt)
                cursor[j] = nxt[0]
        return out[: self.cap]


def walk_many(agent: SnmpClient, roots: list[str], reps: int = 25) -> dict[str, list[tuple[str, object]]]:
    return asyncio.run(agent.walk_many(Target("127.0.0.1", 1, CREDS, max_repetitions=reps), roots))


oid_parts = st.lists(st.integers(0, 5), min_size=1, max_size=3)
mibs = st.dictionaries(oid_parts.map(lambda p: "1.3.6.1." + ".".join(map(str, p))), st.integers(0, 9),
                       min_size=1, max_size=60)
roots = st.lists(oid_parts.map(lambda p: "1.3.6.1." + ".".join(map(str, p[:2]))), min_size=1, max_size=8,
                 unique=True)


def under(oid: str, root: str) -> bool:
    return oid_tuple(oid)[: len(oid_tuple(root))] == oid_tuple(root) and oid != root


@settings(max_examples=300, deadline=None)
@given(mib=mibs, wanted=roots, reps=st.integers(1, 30), cap=st.integers(1, 64))
def test_walking_several_subtrees_together_returns_exactly_each_subtree_in_order(
    mib: dict[str, int], wanted: list[str], reps: int, cap: int
) -> None:
    agent = FakeAgent(dict(mib), cap=cap)
    got = walk_many(agent, wanted, reps)
    for root in wanted:
        expected = [(k, mib[k]) for k in agent.keys if under(k, root)]
        assert got[root] == expected, root


def test_columns_of_one_table_cost_one_request_per_block_of_rows() -> None:
    table = {f"1.3.6.1.2.1.33.1.4.4.1.{col}.{row}": col * 100 + row for col in (2, 3, 4, 5) for row in (1, 2, 3)}
    agent = FakeAgent(table)
    got = walk_many(agent, [f"1.3.6.1.2.1.33.1.4.4.1.{c}" for c in (2, 3, 4, 5)])
    assert [len(v) for v in got.values()] == [3, 3, 3, 3]
    assert agent.requests == 1
    assert MAX_BULK_VARBINDS <= 64


class Scripted(SnmpClient):
    """Answers whatever the test scripted, ignoring the request: a lying or broken agent."""

    def __init__(self, answers: Iterator[list[tuple[str, object]]]) -> None:
        super().__init__()
        self.answers = answers

    async def _request(self, target, bulk, oids):  # type: ignore[no-untyped-def, override]
        return next(self.answers)


@pytest.mark.parametrize(("answers", "message"), [
    ([[("1.3.6.1.2.1.2.2.1.2.2", "b"), ("1.3.6.1.2.1.2.2.1.2.1", "a")]],
     "agent returned non-increasing OID 1.3.6.1.2.1.2.2.1.2.1 after 1.3.6.1.2.1.2.2.1.2.2"),
    ([[("1.3.6.1.2.1.2.2.1.2.1", "a")]] * 3,
     "agent returned non-increasing OID 1.3.6.1.2.1.2.2.1.2.1 after 1.3.6.1.2.1.2.2.1.2.1"),
], ids=["goes-backwards", "repeats-itself"])
def test_a_looping_agent_ends_the_walk_with_an_error(answers: list[list[tuple[str, object]]], message: str) -> None:
    with pytest.raises(SnmpError) as exc:
        walk_many(Scripted(iter(answers)), ["1.3.6.1.2.1.2.2.1.2"])
    assert str(exc.value) == message


def test_an_agent_that_never_ends_is_cut_at_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("collectors.snmp.MAX_WALK_ROWS", 1000)
    counter = iter(range(1, 10**9))
    endless = ([(f"1.3.6.1.2.1.2.2.1.2.{next(counter)}", "x") for _ in range(25)] for _ in iter(int, 1))
    with pytest.raises(SnmpError, match="walk of 1.3.6.1.2.1.2.2.1.2 exceeded 1000 rows"):
        walk_many(Scripted(endless), ["1.3.6.1.2.1.2.2.1.2"])


garbage_rows = st.lists(st.tuples(
    st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=12).map(lambda p: ".".join(map(str, p))),
    st.one_of(st.integers(), st.text(max_size=5), st.none(), st.just(END_OF_MIB), st.floats(allow_nan=True))),
    max_size=70)


@settings(max_examples=300, deadline=None)
@given(answers=st.lists(garbage_rows, min_size=1, max_size=6))
def test_any_answer_is_rows_or_a_clean_error_never_a_crash(answers: list[list[tuple[str, object]]]) -> None:
    try:
        got = walk_many(Scripted(iter([*answers, []])), ["1.3.6.1.2.1.2", "1.3.6.1.4.1"])
    except SnmpError:
        return
    for root, rows in got.items():
        assert all(under(oid, root) for oid, _ in rows)
        assert [oid_tuple(o) for o, _ in rows] == sorted({oid_tuple(o) for o, _ in rows})


# -- garbage on the wire: the real transport against a real UDP socket -------------------------

class Responder:
    """A UDP 'agent' on loopback that answers each request with bytes made from it."""

    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            reply = self.answer(data)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()


def respond(data: bytes, varbinds: list[tuple[str, object]] | None = None, request_id: int | None = None) -> bytes:
    """A well-formed v2c response to `data`, optionally with other var-binds or request-id."""
    p = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    msg, _ = decoder.decode(data, asn1Spec=p.Message())
    req = p.apiMessage.get_pdu(msg)
    rsp = p.apiPDU.get_response(req)
    if request_id is not None:
        p.apiPDU.set_request_id(rsp, request_id)
    if varbinds is None:
        varbinds = [(str(o), p.Integer(7)) for o, _ in p.apiPDU.get_varbinds(req)]
    p.apiPDU.set_varbinds(rsp, varbinds)
    p.apiMessage.set_pdu(msg, rsp)
    return encoder.encode(msg)  # type: ignore[no-any-return]


WIRE_CASES = {
    "random-bytes": lambda data: b"\x30\x82\xff\xff garbage",
    "truncated-response": lambda data: respond(data)[:-7],
    "wrong-request-id": lambda data: respond(data, request_id=12345),
    "silence": lambda data: None,
}


@pytest.mark.parametrize("case", list(WIRE_CASES))
def test_garbage_on_the_wire_is_a_timeout_not_a_crash(case: str) -> None:
    responder = Responder(WIRE_CASES[case])
    transport = SnmpClient()
    target = Target("127.0.0.1", responder.port, CREDS, timeout=0.3, retries=0)

    async def run() -> None:
        try:
            await transport.get(target, ["1.3.6.1.2.1.1.3.0"])
        finally:
            transport.close()

    try:
        with pytest.raises(SnmpError, match="No SNMP response received before timeout"):
            asyncio.run(run())
    finally:
        responder.close()


def test_a_well_formed_answer_from_the_same_socket_is_read() -> None:
    """The control for the cases above: the responder itself speaks correct SNMP."""
    responder = Responder(respond)
    transport = SnmpClient()

    async def run() -> dict[str, object]:
        try:
            return await transport.get(Target("127.0.0.1", responder.port, CREDS, timeout=1, retries=0),
                                       ["1.3.6.1.2.1.1.3.0"])
        finally:
            transport.close()

    try:
        assert asyncio.run(run()) == {"1.3.6.1.2.1.1.3.0": 7}
    finally:
        responder.close()
