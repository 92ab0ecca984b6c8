"""SNMPv3 authPriv (SHA and SHA-256 with AES) and v2c against two real agents: snmpsim and net-snmp's snmpd.

snmpsim serves the virtual room's recordings to v3 users given on its command
line (it picks the recording by contextName); snmpd is configured with
`createUser` and started on a free port by the test. Wrong keys and unknown
users are SnmpErrors that say which user and what went wrong.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from collectors.poller import Poller, PollerSettings
from collectors.snmp import SnmpClient, SnmpError, Target
from conftest import copy_reference, free_port, missing, require_command
from dcops.secrets import Secret
from inventory import InventoryError, load_inventory
from inventory.model import SnmpCredentials
from lab import VirtualRoom, free_udp_port
from lab.snmpsim import SnmpSim, SnmpSimError, V3User, responder_path, snmp_get

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYSTEM = "1.3.6.1.2.1.1"
UPS_CHARGE = "1.3.6.1.2.1.33.1.2.4.0"  # upsEstimatedChargeRemaining

# (user, auth protocol as dcops/snmpsim name it, net-snmp's name, auth key, priv key)
USERS = [
    ("dcops-sha", "SHA", "SHA", "auth-key-sha-1", "priv-key-sha-1"),
    ("dcops-sha256", "SHA256", "SHA-256", "auth-key-sha-256", "priv-key-sha-256"),
]


def v3(user: str, auth: str, auth_key: str, priv_key: str, context: str = "",
       priv: str = "AES") -> SnmpCredentials:
    return SnmpCredentials(version="3", user=user, auth_protocol=auth, auth_key=Secret("auth", auth_key),
                           priv_protocol=priv, priv_key=Secret("priv", priv_key), context=context)


def run(coro_fn: Any, *args: Any) -> Any:
    """Run one transport call on a fresh transport, closing it after."""
    async def main() -> Any:
        transport = SnmpClient()
        try:
            return await coro_fn(transport, *args)
        finally:
            transport.close()

    return asyncio.run(main())


async def _get(t: SnmpClient, target: Target, oids: Sequence[str]) -> dict[str, Any]:
    return await t.get(target, oids)


async def _walk(t: SnmpClient, target: Target, root: str) -> list[tuple[str, Any]]:
    return await t.walk(target, root)


def failure(target: Target) -> str:
    with pytest.raises(SnmpError) as caught:
        run(_get, target, [SYS_DESCR])
    return str(caught.value)


# ---------------------------------------------------------------- snmpsim


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SnmpSim, VirtualRoom, int]]:
    """The reference room's recordings served by snmpsim to both v3 users (and v2c communities)."""
    if not responder_path().exists():
        missing("snmpsim (snmpsim-command-responder)")
    work = tmp_path_factory.mktemp("v3sim")
    port = free_udp_port()
    inventory = load_inventory(copy_reference(work, port))
    room = VirtualRoom(inventory, work)
    room.render()
    users = [V3User(u, auth_key=ak, auth_protocol=a, priv_key=pk, priv_protocol="AES")
             for u, a, _, ak, pk in USERS]
    agent = SnmpSim(room.data_dir, [("127.0.0.1", port)], work, probe_community="lab-ups-a", v3_users=users)
    try:
        agent.start()
    except SnmpSimError as exc:
        pytest.fail(str(exc))
    try:
        yield agent, room, port
    finally:
        agent.stop()


def test_the_v3_options_come_before_the_data_dir_in_snmpsims_order(tmp_path: Path) -> None:
    agent = SnmpSim(tmp_path, [("127.0.0.1", 1161)], tmp_path,
                    v3_users=[V3User("u", auth_key="a" * 8, auth_protocol="SHA256", priv_key="p" * 8)])
    args = agent.command()[1:]
    assert args[:6] == ["--v3-engine-id=auto", "--v3-user=u", "--v3-auth-key=aaaaaaaa", "--v3-auth-proto=SHA256",
                        "--v3-priv-key=pppppppp", "--v3-priv-proto=AES"]
    assert args[6].startswith("--data-dir=")
    assert "--v3-engine-id=auto" not in SnmpSim(tmp_path, [("127.0.0.1", 1161)], tmp_path).command()


@pytest.mark.parametrize(("user", "auth", "auth_key", "priv_key"), [(u, a, ak, pk) for u, a, _, ak, pk in USERS],
                         ids=["SHA+AES", "SHA256+AES"])
def test_snmpsim_answers_authpriv_get_and_walk(sim: tuple[SnmpSim, VirtualRoom, int], user: str, auth: str,
                                               auth_key: str, priv_key: str) -> None:
    _, room, port = sim
    target = Target("127.0.0.1", port, v3(user, auth, auth_key, priv_key, context="lab-ups-a"), timeout=2.0)
    values = run(_get, target, [SYS_DESCR, UPS_CHARGE])
    state = room.state
    assert state is not None
    assert values[UPS_CHARGE] == round(state.readings["ups-a"].charge_percent)  # type: ignore[union-attr]
    rows = run(_walk, target, SYSTEM)
    assert [oid for oid, _ in rows][:3] == ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0"]


def test_the_context_picks_the_device_recording(sim: tuple[SnmpSim, VirtualRoom, int]) -> None:
    _, _, port = sim
    user, auth, _, ak, pk = USERS[1]
    ups = run(_get, Target("127.0.0.1", port, v3(user, auth, ak, pk, context="lab-ups-a")), [UPS_CHARGE])
    crac = run(_get, Target("127.0.0.1", port, v3(user, auth, ak, pk, context="lab-crac-1")), [UPS_CHARGE])
    assert ups[UPS_CHARGE] is not None and crac[UPS_CHARGE] is None  # a CRAC has no UPS-MIB


def test_the_poller_polls_a_v3_device_with_its_profile(sim: tuple[SnmpSim, VirtualRoom, int],
                                                       tmp_path: Path) -> None:
    _, room, port = sim
    user, auth, _, ak, pk = USERS[1]
    device = dataclasses.replace(room.inventory.devices["ups-a"],
                                 snmp=v3(user, auth, ak, pk, context="lab-ups-a"))
    poller = Poller(room.inventory, devices=[device], settings=PollerSettings(timeout=2.0))

    async def poll() -> Any:
        try:
            return await poller.poll_device(device)
        finally:
            poller.transport.close()  # type: ignore[attr-defined]

    report, samples = asyncio.run(poll())
    assert report.up, report.error
    assert "ups-mib" in report.profiles
    charge = [s for s in samples if s.oid == UPS_CHARGE]
    assert len(charge) == 1 and charge[0].value > 0


def test_two_users_on_one_transport_do_not_mix_their_keys(sim: tuple[SnmpSim, VirtualRoom, int]) -> None:
    _, _, port = sim
    targets = [Target("127.0.0.1", port, v3(u, a, ak, pk, context="lab-ups-a")) for u, a, _, ak, pk in USERS]

    async def both(t: SnmpClient) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(t.get(x, [SYS_UPTIME]) for x in targets * 3)))

    answers = run(both)
    assert all(a[SYS_UPTIME] is not None for a in answers)


@pytest.mark.parametrize(("creds", "expected"), [
    (v3("dcops-sha", "SHA", "wrong-auth-key", "priv-key-sha-1", context="lab-ups-a"),
     "authentication failed for SNMPv3 user 'dcops-sha' (wrong auth key or auth protocol)"),
    (v3("dcops-sha", "SHA256", "auth-key-sha-1", "priv-key-sha-1", context="lab-ups-a"),
     "authentication failed for SNMPv3 user 'dcops-sha' (wrong auth key or auth protocol)"),
    (v3("dcops-sha", "SHA", "auth-key-sha-1", "wrong-priv-key", context="lab-ups-a"),
     "decryption failed for SNMPv3 user 'dcops-sha' (wrong privacy key or privacy protocol)"),
    (v3("nobody", "SHA", "auth-key-sha-1", "priv-key-sha-1", context="lab-ups-a"),
     "the agent does not know SNMPv3 user 'nobody'"),
    (SnmpCredentials(version="3"), "no SNMPv3 user configured"),
], ids=["wrong auth key", "wrong auth protocol", "wrong priv key", "unknown user", "no user"])
def test_snmpsim_refusals_say_which_user_and_why(sim: tuple[SnmpSim, VirtualRoom, int], creds: SnmpCredentials,
                                                 expected: str) -> None:
    _, _, port = sim
    assert failure(Target("127.0.0.1", port, creds, timeout=1.0, retries=0)) == expected


# ---------------------------------------------------------------- net-snmp's snmpd


SNMPD_CONF = """\
agentAddress udp:127.0.0.1:{port}
rocommunity public 127.0.0.1
createUser dcops-sha SHA "auth-key-sha-1" AES "priv-key-sha-1"
createUser dcops-sha256 SHA-256 "auth-key-sha-256" AES "priv-key-sha-256"
rouser dcops-sha authPriv
rouser dcops-sha256 authPriv
sysDescr dcops test agent
master no
"""


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Debian's snmpd on a free port, unprivileged of systemd (components.md), stopped after."""
    exe = require_command("snmpd")
    work = tmp_path_factory.mktemp("snmpd")
    port = free_port(kind=2)  # SOCK_DGRAM
    (work / "snmpd.conf").write_text(SNMPD_CONF.format(port=port), encoding="ascii")
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(work / "persist")}  # createUser keys live here
    proc = subprocess.Popen([exe, "-f", "-C", "-c", str(work / "snmpd.conf"), "-I", "-smux", "-m", "",
                             "-Lf", str(work / "snmpd.log"), "-p", str(work / "snmpd.pid")],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                snmp_get("127.0.0.1", port, "public", [SYS_UPTIME], timeout=0.3)
                break
            except (TimeoutError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (work / "snmpd.log").read_text(errors="replace") if (work / "snmpd.log").exists() else ""
                    pytest.fail(f"snmpd did not answer on 127.0.0.1:{port}: {log}")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("user", "auth", "auth_key", "priv_key"), [(u, a, ak, pk) for u, a, _, ak, pk in USERS],
                         ids=["SHA+AES", "SHA256+AES"])
def test_snmpd_answers_authpriv_get_and_walk(snmpd: int, user: str, auth: str, auth_key: str,
                                             priv_key: str) -> None:
    target = Target("127.0.0.1", snmpd, v3(user, auth, auth_key, priv_key), timeout=2.0)
    assert run(_get, target, [SYS_DESCR]) == {SYS_DESCR: "dcops test agent"}
    rows = dict(run(_walk, target, SYSTEM))
    assert rows[SYS_DESCR] == "dcops test agent" and "1.3.6.1.2.1.1.3.0" in rows


def test_snmpd_v3_and_v2c_read_the_same_values(snmpd: int) -> None:
    user, auth, _, ak, pk = USERS[0]
    v2c = Target("127.0.0.1", snmpd, SnmpCredentials(version="2c", community=Secret("c", "public")))
    secure = Target("127.0.0.1", snmpd, v3(user, auth, ak, pk))
    names = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0"]
    assert run(_get, v2c, names) == run(_get, secure, names)


def test_net_snmp_tools_agree_with_dcops_on_the_v3_agent(snmpd: int) -> None:
    """The same credentials work from net-snmp's own snmpget: the agent, not our client, is the reference."""
    exe = require_command("snmpget")
    user, _, net_snmp_auth, ak, pk = USERS[1]
    out = subprocess.run([exe, "-v3", "-l", "authPriv", "-u", user, "-a", net_snmp_auth, "-A", ak, "-x", "AES",
                          "-X", pk, "-On", "-Oqv", f"127.0.0.1:{snmpd}", SYS_DESCR],
                         capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    assert out.strip('"') == "dcops test agent"


@pytest.mark.parametrize(("creds", "expected"), [
    (v3("dcops-sha256", "SHA256", "not-the-key", "priv-key-sha-256"),
     "authentication failed for SNMPv3 user 'dcops-sha256' (wrong auth key or auth protocol)"),
    (v3("dcops-sha256", "SHA", "auth-key-sha-256", "priv-key-sha-256"),
     "authentication failed for SNMPv3 user 'dcops-sha256' (wrong auth key or auth protocol)"),
    (v3("ghost", "SHA", "auth-key-sha-1", "priv-key-sha-1"), "the agent does not know SNMPv3 user 'ghost'"),
], ids=["wrong auth key", "wrong auth protocol", "unknown user"])
def test_snmpd_refusals_say_which_user_and_why(snmpd: int, creds: SnmpCredentials, expected: str) -> None:
    assert failure(Target("127.0.0.1", snmpd, creds, timeout=1.0, retries=0)) == expected


def test_snmpd_does_not_answer_a_wrong_privacy_key(snmpd: int) -> None:
    """snmpd drops a message it cannot decrypt without a report: the client sees a timeout."""
    creds = v3("dcops-sha", "SHA", "auth-key-sha-1", "wrong-priv-key")
    assert failure(Target("127.0.0.1", snmpd, creds, timeout=0.5, retries=0)) in (
        "No SNMP response received before timeout",
        "decryption failed for SNMPv3 user 'dcops-sha' (wrong privacy key or privacy protocol)",
    )


# ---------------------------------------------------------------- the inventory's v3 keys

UPS_A_SNMP = "  snmp:\n    version: 2c\n    community:\n      secret: community-ups-a\n"
UPS_A_V3 = ("  snmp:\n    version: 3\n    user: dcops\n    auth_protocol: SHA256\n"
            "    auth_key:\n      secret: community-ups-a\n    priv_key:\n      secret: community-ups-b\n")


def edited(tmp_path: Path, old: str, new: str) -> Path:
    site = copy_reference(tmp_path)
    path = site / "devices.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return site


def errors(site: Path) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(site)
    return [f"{Path(e.file).name}:{e.line}: {e.key}: {e.message}" for e in caught.value.errors]


def test_a_v3_device_names_its_context_and_engine_id(tmp_path: Path) -> None:
    site = edited(tmp_path, UPS_A_SNMP, UPS_A_V3 + "    context: lab-ups-a\n    engine_id: '0x80001f8880c1'\n")
    snmp = load_inventory(site).devices["ups-a"].snmp
    assert (snmp.version, snmp.user, snmp.auth_protocol, snmp.priv_protocol) == ("3", "dcops", "SHA256", "AES")
    assert (snmp.context, snmp.engine_id) == ("lab-ups-a", "80001f8880c1")


@pytest.mark.parametrize(("new", "expected"), [
    (UPS_A_V3 + "    context: " + "c" * 33 + "\n",
     "devices.yml:14: devices[0] (ups-a).snmp.context: '" + "c" * 33
     + "' is longer than 32 characters (an SNMPv3 context name)"),
    (UPS_A_V3 + "    engine_id: 80zz\n",
     "devices.yml:14: devices[0] (ups-a).snmp.engine_id: '80zz' is not an SNMP engine ID "
     "(10 to 64 hex digits, 0x optional)"),
    (UPS_A_V3 + "    engine_id: 0x8000\n",
     "devices.yml:14: devices[0] (ups-a).snmp.engine_id: '0x8000' is not an SNMP engine ID "
     "(10 to 64 hex digits, 0x optional)"),
    (UPS_A_SNMP + "    context: lab-ups-a\n",
     "devices.yml:10: devices[0] (ups-a).snmp.context: only used with SNMP v3, not v2c"),
    (UPS_A_SNMP + "    engine_id: 80001f8880c1\n",
     "devices.yml:10: devices[0] (ups-a).snmp.engine_id: only used with SNMP v3, not v2c"),
    (UPS_A_V3.replace("SHA256", "SHA-256"),
     "devices.yml:9: devices[0] (ups-a).snmp.auth_protocol: 'SHA-256' is not one of: "
     "MD5, SHA, SHA224, SHA256, SHA384, SHA512"),
], ids=["context too long", "engine id not hex", "engine id too short", "context with v2c",
        "engine id with v2c", "net-snmp's protocol spelling"])
def test_bad_v3_keys_name_file_line_and_key(tmp_path: Path, new: str, expected: str) -> None:
    assert errors(edited(tmp_path, UPS_A_SNMP, new)) == [expected]
