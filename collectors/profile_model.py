"""The typed shape of a device profile: what the YAML in collectors/profiles/ turns into.

Every mechanism here is generic (a column that holds a row's divisor, a
column that says whether a row is valid, the index component that names a
row's sensor type, …); a profile says which OIDs play those parts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .snmp import Value

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
DBM_FLOOR = -60.0  # what an optical power of 0 mW reads as (below any receiver's sensitivity)


@dataclass(frozen=True)
class Kind:
    """What a reading is: class (temperature, state, …), metric name, unit, extra scale."""

    cls: str
    metric: str
    unit: str
    scale: float = 1.0
    offset: float = 0.0  # added after scaling (°F → °C: scale 5/9, offset -160/9)


@dataclass(frozen=True)
class Lookup:
    """A label taken from another column of the table (e.g. the sensor's name).

    `prefix` > 0 keys the lookup column by the first `prefix` components of the
    row's index (a measurement indexed pdu.outlet.type named by an outlet
    table indexed pdu.outlet).
    """

    label: str
    oid: str
    prefix: int = 0
    scalar: bool = False  # one instance names every row (e.g. a unit's name for its sensors)


@dataclass(frozen=True)
class KindsBy:
    """The row's kind chosen by a type column (`column`), an index component (`index`) or,
    for every row at once, a scalar (`scalar`: e.g. the device's temperature-unit setting).

    Keys are the type's integer code, or the text a unit column holds ("kW", "deg C");
    `default` is the key used when the device does not answer the type.
    """

    kinds: Mapping[int | str, Kind]
    column: str = ""
    index: int | None = None
    scalar: str = ""
    default: int | str | None = None


@dataclass(frozen=True)
class Exponent:
    """A per-row power of ten: value × 10^(times × (column + offset)), e.g. a decimal-digits column."""

    column: str
    times: float = 1.0
    offset: float = 0.0
    default: float = 0.0


@dataclass(frozen=True)
class ScaleBy:
    """A per-row factor from a column: `multiply` by it, `divide` by it, or `signed` (a negative
    number divides, a positive one multiplies, as Rittal's cmcIIIVarScale says); 0 means 1."""

    column: str
    mode: str = "divide"

    def factor(self, value: float | None) -> float:
        if not value:
            return 1.0
        if self.mode == "multiply" or (self.mode == "signed" and value > 0):
            return value
        return 1.0 / abs(value)


@dataclass(frozen=True)
class When:
    """A row is read only when `column` holds one of `values` (or none of `not_values`)."""

    column: str
    values: frozenset[float] = frozenset()
    not_values: frozenset[float] = frozenset()

    def allows(self, value: float | None) -> bool:
        if self.values:
            return value is not None and value in self.values
        return value is None or value not in self.not_values


@dataclass(frozen=True)
class Reading:
    name: str
    kind: Kind
    oid: str
    table: bool = False
    index: tuple[str, ...] = ()
    scale: float = 1.0
    offset: float = 0.0
    enum: Mapping[int, str] = field(default_factory=dict)
    lookups: tuple[Lookup, ...] = ()
    kinds_by: KindsBy | None = None
    exponents: tuple[Exponent, ...] = ()
    scale_by: tuple[ScaleBy, ...] = ()
    when: tuple[When, ...] = ()
    text: str = ""  # a state's text from this column (the device's own words) instead of `enum`
    parse: bool = False  # take the first number out of a string value ("23.5 C")
    decibels: bool = False  # the scaled value is in mW: report 10·log10(mW) dBm (no light: DBM_FLOOR)
    counter: bool = False

    def walks(self) -> list[str]:
        """The subtrees this reading needs walked (none for a scalar)."""
        if not self.table:
            return []
        roots = [self.oid] + [lk.oid for lk in self.lookups if not lk.scalar]
        if self.kinds_by and self.kinds_by.column:
            roots.append(self.kinds_by.column)
        roots += [e.column for e in self.exponents] + [w.column for w in self.when]
        roots += [b.column for b in self.scale_by] + ([self.text] if self.text else [])
        return list(dict.fromkeys(roots))

    def scalars(self) -> list[str]:
        """The instances this reading GETs (its value and, for a scalar, its helper columns)."""
        flag = [self.kinds_by.scalar] if self.kinds_by and self.kinds_by.scalar else []
        if self.table:
            return flag + [lk.oid for lk in self.lookups if lk.scalar]
        extra = [e.column for e in self.exponents] + [w.column for w in self.when]
        extra += [b.column for b in self.scale_by] + ([self.text] if self.text else [])
        if self.kinds_by and self.kinds_by.column:
            extra.append(self.kinds_by.column)
        return [self.oid, *extra, *flag, *(lk.oid for lk in self.lookups)]


@dataclass(frozen=True)
class Match:
    """One way to recognise a device; every condition given must hold."""

    sysobjectid: tuple[str, ...] = ()
    sysdescr: tuple[re.Pattern[str], ...] = ()
    has_oid: tuple[str, ...] = ()
    has_oid_prefix: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sysobjectid or self.sysdescr or self.has_oid or self.has_oid_prefix)

    def fits(self, facts: Mapping[str, Value], prefixes_present: set[str]) -> bool:
        if not self:
            return False
        oid = str(facts.get(SYS_OBJECT_ID) or "").strip().strip(".")
        if self.sysobjectid and not any(oid == p or oid.startswith(p + ".") for p in self.sysobjectid):
            return False
        descr = str(facts.get(SYS_DESCR) or "")
        if self.sysdescr and not any(rx.search(descr) for rx in self.sysdescr):
            return False
        if any(facts.get(o) is None for o in self.has_oid):
            return False
        return all(p in prefixes_present for p in self.has_oid_prefix)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    readings: tuple[Reading, ...]
    match: tuple[Match, ...] = ()
    replaces: tuple[str, ...] = ()  # profiles this one stands in for when both match

    @property
    def has_oid(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for m in self.match for o in m.has_oid))

    @property
    def has_oid_prefix(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for m in self.match for o in m.has_oid_prefix))

    @property
    def scalars(self) -> list[str]:
        return list(dict.fromkeys(o for r in self.readings for o in r.scalars()))

    @property
    def walks(self) -> list[str]:
        return list(dict.fromkeys(w for r in self.readings for w in r.walks()))

    def matches(self, facts: Mapping[str, Value], prefixes_present: set[str]) -> bool:
        """Do the detection facts (sysObjectID, sysDescr, probe OIDs) fit any of this profile's matches?"""
        return any(m.fits(facts, prefixes_present) for m in self.match)
