"""IPAM: one VLAN vid and one subnet per agency, allocated atomically and idempotently.

The same agency always gets the same allocation (it is stored); a vid is never
given twice in a VLAN group and prefixes never overlap (primary keys, and the
search skips reserved ranges, pins of other agencies and what is allocated);
allocation runs in one `BEGIN IMMEDIATE` transaction, so two processes never
take the same vid. Release happens when an agency retires. Exhaustion and
conflicts raise IpamError with the reason.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from inventory.model import RETIRED, Agency, Extranet, PrefixPool, VLANGroup


class IpamError(Exception):
    """An allocation that cannot be made; the message says why."""


@dataclass(frozen=True)
class Allocation:
    agency: str
    group: str
    vid: int
    pool: str
    prefix: str

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.prefix)

    @property
    def gateway(self) -> str:
        """The first host address: the agency's default gateway on the group's gateway switch."""
        return str(next(self.network.hosts()))

    @property
    def netmask(self) -> str:
        return str(self.network.netmask)


class IPAM:
    def __init__(self, db: sqlite3.Connection, extranet: Extranet, clock: Callable[[], float] = time.time):
        self.db = db
        self.extranet = extranet
        self.clock = clock

    def agency(self, code: str) -> Agency:
        try:
            return self.extranet.agencies[code]
        except KeyError:
            raise IpamError(f"unknown agency {code!r}") from None

    def get(self, code: str) -> Allocation | None:
        row = self.db.execute(
            "SELECT v.grp, v.vid, p.pool, p.prefix FROM vlan_alloc v JOIN prefix_alloc p USING (agency) "
            "WHERE agency = ?", (code,)).fetchone()
        return Allocation(code, row[0], row[1], row[2], row[3]) if row else None

    def all(self) -> dict[str, Allocation]:
        rows = self.db.execute("SELECT agency, v.grp, v.vid, p.pool, p.prefix FROM vlan_alloc v "
                               "JOIN prefix_alloc p USING (agency) ORDER BY agency")
        return {r[0]: Allocation(*r) for r in rows}

    def allocate(self, code: str, *, dry_run: bool = False) -> Allocation:
        """The agency's allocation: the stored one, or a new one (stored unless `dry_run`)."""
        agency = self.agency(code)
        if agency.status == RETIRED:
            raise IpamError(f"agency {code} is retired: it has no VLAN or subnet")
        group = self.extranet.group_of(agency)
        pool = self.extranet.pools[group.pool]
        with self._transaction(commit=not dry_run):
            held = self.get(code)
            if held is not None:
                self._check_held(agency, held, group, pool)
                return held
            vid = agency.vid if agency.vid is not None else self._free_vid(group, code)
            prefix = agency.prefix if agency.prefix is not None else self._free_prefix(pool, code)
            now = self.clock()
            try:
                self.db.execute("INSERT INTO vlan_alloc VALUES (?, ?, ?, ?)", (group.name, vid, code, now))
            except sqlite3.IntegrityError:
                raise IpamError(f"vid {vid} of VLAN group {group.name} is allocated to agency "
                                f"{self._vid_holder(group.name, vid)}") from None
            for other, held_prefix in self.db.execute("SELECT agency, prefix FROM prefix_alloc WHERE pool = ?",
                                                      (pool.name,)):
                if ipaddress.IPv4Network(held_prefix).overlaps(ipaddress.IPv4Network(prefix)):
                    raise IpamError(f"prefix {prefix} overlaps {held_prefix}, allocated to agency {other}")
            self.db.execute("INSERT INTO prefix_alloc VALUES (?, ?, ?, ?)", (pool.name, prefix, code, now))
            return Allocation(code, group.name, vid, pool.name, prefix)

    def release(self, code: str) -> Allocation | None:
        """Give an agency's vid and subnet back; returns what it held."""
        with self._transaction(commit=True):
            held = self.get(code)
            self.db.execute("DELETE FROM vlan_alloc WHERE agency = ?", (code,))
            self.db.execute("DELETE FROM prefix_alloc WHERE agency = ?", (code,))
            self.db.execute("DELETE FROM onboarded WHERE agency = ?", (code,))
        return held

    # ------------------------------------------------------------ internals

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT" if commit else "ROLLBACK")

    def _vid_holder(self, group: str, vid: int) -> str:
        row = self.db.execute("SELECT agency FROM vlan_alloc WHERE grp = ? AND vid = ?", (group, vid)).fetchone()
        return str(row[0]) if row else "?"

    def _pins(self, code: str) -> list[Agency]:
        """Other live agencies' pinned values are theirs even before they are allocated."""
        return [a for a in self.extranet.agencies.values() if a.code != code and a.status != RETIRED]

    def _free_vid(self, group: VLANGroup, code: str) -> int:
        used = {r[0] for r in self.db.execute("SELECT vid FROM vlan_alloc WHERE grp = ?", (group.name,))}
        used |= {a.vid for a in self._pins(code)
                 if a.vid is not None and self.extranet.switches[a.switch].group == group.name}
        for vid in range(group.min_vid, group.max_vid + 1):
            if vid not in used and vid not in group.reserved:
                return vid
        reserved = sum(1 for v in group.reserved if group.min_vid <= v <= group.max_vid)
        raise IpamError(f"VLAN group {group.name} has no free vid in {group.min_vid}-{group.max_vid} "
                        f"({len(used)} allocated or pinned, {reserved} reserved)")

    def _free_prefix(self, pool: PrefixPool, code: str) -> str:
        taken = [ipaddress.IPv4Network(r[0])
                 for r in self.db.execute("SELECT prefix FROM prefix_alloc WHERE pool = ?", (pool.name,))]
        taken += [ipaddress.IPv4Network(p) for p in pool.reserved]
        taken += [ipaddress.IPv4Network(a.prefix) for a in self._pins(code)
                  if a.prefix is not None and self.extranet.group_of(a).pool == pool.name]
        exact = {str(n) for n in taken if n.prefixlen == pool.length}
        wide = [n for n in taken if n.prefixlen != pool.length]
        for net in ipaddress.IPv4Network(pool.prefix).subnets(new_prefix=pool.length):
            if str(net) not in exact and not any(net.overlaps(w) for w in wide):
                return str(net)
        raise IpamError(f"prefix pool {pool.name} ({pool.prefix}) has no free /{pool.length} left "
                        f"({len(exact)} allocated or pinned)")

    def _check_held(self, agency: Agency, held: Allocation, group: VLANGroup, pool: PrefixPool) -> None:
        if held.group != group.name or held.pool != pool.name:
            raise IpamError(f"agency {agency.code} holds vid {held.vid} in VLAN group {held.group} and "
                            f"{held.prefix} from pool {held.pool}, but its switch is now in group {group.name}: "
                            f"release it first")
        if agency.vid is not None and agency.vid != held.vid:
            raise IpamError(f"agency {agency.code} holds vid {held.vid} but the inventory pins vid {agency.vid}: "
                            f"release it first")
        if agency.prefix is not None and agency.prefix != held.prefix:
            raise IpamError(f"agency {agency.code} holds {held.prefix} but the inventory pins {agency.prefix}: "
                            f"release it first")
