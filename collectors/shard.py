"""Sharding: N pollers split the devices, each polls its own share, together all of them once.

`--shard i/N` (i from 1 to N) keeps the devices whose shard is i. A device's
shard comes from its name by rendezvous (highest-random-weight) hashing:
every shard j scores the name with BLAKE2b(j, name) and the highest score
wins. The hash is fixed (not Python's per-process `hash()`), so every
process, on every machine, agrees; and going from N to N+1 pollers moves
only the devices the new shard wins (about 1/(N+1) of them), so the others
keep their detected profiles and counters where they were.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from inventory.model import Device

_SPEC = re.compile(r"(\d+)/(\d+)")


def _score(shard: int, name: str) -> int:
    digest = hashlib.blake2b(f"{shard}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) that polls the device called `name`."""
    if count < 1:
        raise ValueError(f"a shard count must be at least 1, got {count}")
    return max(range(1, count + 1), key=lambda shard: (_score(shard, name), -shard))


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"{self}: N must be at least 1")
        if not 1 <= self.index <= self.count:
            raise ValueError(f"{self}: i must be between 1 and {self.count}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`i/N`, e.g. `2/3`; a ValueError that says what is wrong otherwise."""
        match = _SPEC.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not i/N (two whole numbers, e.g. 1/3)")
        return cls(int(match[1]), int(match[2]))

    def owns(self, name: str) -> bool:
        return shard_of(name, self.count) == self.index

    def share(self, names: Iterable[str]) -> list[str]:
        """The names of this shard, in their order."""
        return [name for name in names if self.owns(name)]

    def select(self, devices: Iterable[Device]) -> list[Device]:
        """The devices of this shard, in their order."""
        return [device for device in devices if self.owns(device.name)]
