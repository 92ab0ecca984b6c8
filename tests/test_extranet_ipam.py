"""IPAM's promises: one vid and one subnet per agency, the same every time, never twice, never overlapping."""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
from pathlib import Path

import pytest

from dcops.secrets import SecretStore
from inventory import REFERENCE_DIR, load_inventory
from inventory.model import Extranet
from playbooks.ipam import IPAM, IpamError
from playbooks.state import connect


@pytest.fixture(scope="module")
def reference() -> Extranet:
    secrets = SecretStore.from_file(REFERENCE_DIR / "secrets.yml", environ={})
    return load_inventory(REFERENCE_DIR, secrets=secrets).extranet


@pytest.fixture
def ipam(tmp_path: Path, reference: Extranet) -> IPAM:
    return IPAM(connect(tmp_path / "extranet.db"), reference, clock=lambda: 1.0)


def test_first_allocation_skips_reserved_and_pinned(ipam: IPAM) -> None:
    # group jz: 100-109 reserved, 110-112 pinned by live agencies; pool: 10.80.0.0/24 reserved, 3 pins
    a = ipam.allocate("jz-fgw")
    assert (a.group, a.vid, a.pool, a.prefix) == ("jz", 113, "jz", "10.80.1.96/27")
    assert (a.gateway, a.netmask) == ("10.80.1.97", "255.255.255.224")


def test_the_same_agency_always_gets_the_same_allocation(tmp_path: Path, ipam: IPAM, reference: Extranet) -> None:
    first = ipam.allocate("qs-gaj")
    ipam.allocate("qs-jyj")
    assert ipam.allocate("qs-gaj") == first
    again = IPAM(connect(tmp_path / "extranet.db"), reference)  # another process, same file
    assert again.allocate("qs-gaj") == first


def test_pinned_agencies_get_their_pins(ipam: IPAM) -> None:
    a = ipam.allocate("jz-gaj")
    assert (a.vid, a.prefix) == (112, "10.80.1.64/27")


def test_every_live_agency_gets_a_distinct_vid_and_a_disjoint_subnet(ipam: IPAM, reference: Extranet) -> None:
    live = [a.code for a in reference.agencies.values() if a.status != "retired"]
    got = [ipam.allocate(code) for code in live]
    assert len(got) == 176
    assert len({(a.group, a.vid) for a in got}) == 176
    nets = sorted((ipaddress.IPv4Network(a.prefix) for a in got), key=lambda n: int(n.network_address))
    assert all(not x.overlaps(y) for x, y in zip(nets, nets[1:], strict=False))
    for a in got:
        group = reference.groups[a.group]
        assert group.allows(a.vid)
        assert ipaddress.IPv4Network(a.prefix).subnet_of(ipaddress.IPv4Network(reference.pools[a.pool].prefix))
    assert ipam.all() == {a.agency: a for a in got}


def test_dry_run_stores_nothing(ipam: IPAM) -> None:
    planned = ipam.allocate("jz-jyj", dry_run=True)
    assert ipam.get("jz-jyj") is None
    assert ipam.allocate("jz-jyj") == planned


def test_release_on_retire_gives_the_vid_back(ipam: IPAM) -> None:
    a = ipam.allocate("jz-fgw")
    assert ipam.release("jz-fgw") == a
    assert ipam.get("jz-fgw") is None
    assert ipam.allocate("jz-jyj").vid == a.vid
    assert ipam.release("jz-fgw") is None


def test_concurrent_allocations_never_collide(tmp_path: Path, reference: Extranet) -> None:
    codes = [a.code for a in reference.agencies.values() if a.status == "planned" and a.code.startswith("jz-")]
    got: list[tuple[int, str]] = []
    lock = threading.Lock()

    def worker(part: list[str]) -> None:
        mine = IPAM(connect(tmp_path / "extranet.db"), reference)
        for code in part:
            a = mine.allocate(code)
            with lock:
                got.append((a.vid, a.prefix))

    threads = [threading.Thread(target=worker, args=(codes[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == len(codes) == 66
    assert len({v for v, _ in got}) == len({p for _, p in got}) == len(codes)


def _with_group(x: Extranet, name: str, **changes: object) -> Extranet:
    return dataclasses.replace(x, groups={**x.groups, name: dataclasses.replace(x.groups[name], **changes)})


def test_errors(tmp_path: Path, ipam: IPAM, reference: Extranet) -> None:
    with pytest.raises(IpamError, match="^unknown agency 'nope'$"):
        ipam.allocate("nope")
    with pytest.raises(IpamError, match="^agency jz-lsj is retired: it has no VLAN or subnet$"):
        ipam.allocate("jz-lsj")

    small = IPAM(ipam.db, _with_group(reference, "qs", min_vid=108, max_vid=112))
    assert [small.allocate(c).vid for c in ("qs-fgj", "qs-jyj")] == [111, 112]  # 110 is qs-zfb's pin
    with pytest.raises(IpamError) as caught:
        small.allocate("qs-gaj")
    assert str(caught.value) == "VLAN group qs has no free vid in 108-112 (3 allocated or pinned, 2 reserved)"
    assert small.get("qs-gaj") is None

    pools = {**reference.pools, "lx": dataclasses.replace(reference.pools["lx"], prefix="10.82.0.0/26")}
    tiny = IPAM(ipam.db, dataclasses.replace(reference, pools=pools))
    assert tiny.allocate("lx-zfb").prefix == "10.82.0.32/27"  # 10.82.0.0/27 is reserved
    with pytest.raises(IpamError) as caught:
        tiny.allocate("lx-fgj")
    assert str(caught.value) == "prefix pool lx (10.82.0.0/26) has no free /27 left (2 allocated or pinned)"
    assert tiny.get("lx-fgj") is None  # its vid was not kept either: one transaction


def test_a_pin_that_disagrees_with_the_stored_allocation(ipam: IPAM, reference: Extranet) -> None:
    assert ipam.allocate("jz-fgw").vid == 113
    fgw = dataclasses.replace(reference.agencies["jz-fgw"], vid=120)
    jyj = dataclasses.replace(reference.agencies["jz-jyj"], vid=113)
    moved = IPAM(ipam.db, dataclasses.replace(reference, agencies={**reference.agencies, "jz-fgw": fgw,
                                                                   "jz-jyj": jyj}))
    with pytest.raises(IpamError) as caught:
        moved.allocate("jz-fgw")
    assert str(caught.value) == "agency jz-fgw holds vid 113 but the inventory pins vid 120: release it first"
    with pytest.raises(IpamError) as caught:
        moved.allocate("jz-jyj")
    assert str(caught.value) == "vid 113 of VLAN group jz is allocated to agency jz-fgw"


def test_a_pin_that_overlaps_a_stored_allocation(ipam: IPAM, reference: Extranet) -> None:
    """Issue 5's fault "an overlapping prefix" at run time: the inventory now pins a prefix that IPAM gave another
    agency (the loader cannot know: it sees pins, not allocations). Nothing is stored."""
    assert ipam.allocate("jz-fgw").prefix == "10.80.1.96/27"
    jyj = dataclasses.replace(reference.agencies["jz-jyj"], prefix="10.80.1.96/27")
    moved = IPAM(ipam.db, dataclasses.replace(reference, agencies={**reference.agencies, "jz-jyj": jyj}))
    with pytest.raises(IpamError) as caught:
        moved.allocate("jz-jyj")
    assert str(caught.value) == "prefix 10.80.1.96/27 overlaps 10.80.1.96/27, allocated to agency jz-fgw"
    assert moved.get("jz-jyj") is None
