"""What an agency needs on each switch: the facts its allocation implies.

On every switch of the layer-2 path from the agency's access switch to its
group's gateway: the VLAN (name = agency code) and the trunk allowance on both
ends of each link; on the access switch the access port; on the gateway the
VLAN interface with the first host address and an inbound ACL that lets the
agency reach the shared services and none of the other agencies' pools.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field

from inventory.model import Agency, Extranet

from .facts import Fact, fact
from .ipam import Allocation


@dataclass
class AgencyIntent:
    agency: Agency
    allocation: Allocation
    facts: dict[str, list[Fact]] = field(default_factory=dict)  # switch → facts, path order

    @property
    def switches(self) -> list[str]:
        return list(self.facts)


def acl_name(code: str) -> str:
    return f"EXT-{code}"


def path_to_gateway(x: Extranet, start: str) -> list[tuple[str, str, str, str]]:
    """Links (switch, port, peer, peer_port) from `start` up to its VLAN group's gateway."""
    group = x.switches[start].group
    goal = x.groups[group].gateway
    links: dict[str, list[tuple[str, str, str]]] = {}
    for sw in x.switches.values():
        for up in sw.uplinks:
            if sw.group == group and up.peer in x.switches and x.switches[up.peer].group == group:
                links.setdefault(sw.name, []).append((up.port, up.peer, up.peer_port))
                links.setdefault(up.peer, []).append((up.peer_port, sw.name, up.port))
    came: dict[str, tuple[str, str, str, str] | None] = {start: None}
    todo = deque([start])
    while todo:
        here = todo.popleft()
        for port, peer, peer_port in sorted(links.get(here, [])):
            if peer not in came:
                came[peer] = (here, port, peer, peer_port)
                todo.append(peer)
    path: list[tuple[str, str, str, str]] = []
    node = goal
    while came.get(node) is not None:
        step = came[node]
        assert step is not None
        path.append(step)
        node = step[0]
    return list(reversed(path))


def acl_rules(x: Extranet, alloc: Allocation) -> tuple[tuple[str, str, str], ...]:
    own = str(alloc.network)
    rules = [("permit", own, s.prefix) for s in x.shared.values()]
    pools = sorted({p.prefix for p in x.pools.values()}, key=lambda p: ipaddress.IPv4Network(p))
    rules += [("deny", own, p) for p in pools]
    rules.append(("permit", "any", "any"))  # the rest of the e-government network
    return tuple(rules)


def agency_intent(x: Extranet, agency: Agency, alloc: Allocation) -> AgencyIntent:
    intent = AgencyIntent(agency, alloc)
    vid = alloc.vid
    vlan = fact("vlan", (vid,), name=agency.code, description=f"extranet {agency.code}")
    intent.facts[agency.switch] = [vlan, fact("access", (agency.port,), vid=vid)]
    for switch, port, peer, peer_port in path_to_gateway(x, agency.switch):
        intent.facts.setdefault(switch, [vlan]).append(fact("trunk", (port, vid)))
        intent.facts.setdefault(peer, [vlan]).append(fact("trunk", (peer_port, vid)))
    gateway = x.groups[alloc.group].gateway
    intent.facts.setdefault(gateway, [vlan]).extend([
        fact("acl", (acl_name(agency.code),), rules=acl_rules(x, alloc)),
        fact("gateway", (vid,), address=alloc.gateway, netmask=alloc.netmask,
             description=f"extranet {agency.code}", acl=acl_name(agency.code)),
    ])
    return intent
