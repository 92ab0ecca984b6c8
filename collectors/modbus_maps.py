"""Modbus register maps: YAML profiles (collectors/profiles/modbus/*.yml), read strictly, and their decoding.

A map lists readings: which table (holding or input registers, coils,
discrete inputs), the 0-based protocol address (register 40001 is holding
address 0), the data type (int16, uint16, int32, uint32, float32, or bool for
coils and discrete inputs; `bit` picks one bit of a 16-bit register), the
word order of 32-bit values (big: high word first, as the Modbus spec
orders bytes; little: low word first, as many controllers do), scale, unit,
enumeration and fixed labels. No device logic lives in Python.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dcops.types import UNITS, Sample
from inventory.strict import TAG_INT, InventoryError, LoadError, Reader

MODBUS_DIR = Path(__file__).parent / "profiles" / "modbus"
METRIC_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
TABLES = ("holding", "input", "coil", "discrete")
BIT_TABLES = ("coil", "discrete")
# type -> (registers, struct format of the big-endian bytes)
TYPES: dict[str, tuple[int, str]] = {"int16": (1, ">h"), "uint16": (1, ">H"), "int32": (2, ">i"),
                                     "uint32": (2, ">I"), "float32": (2, ">f"), "bool": (1, "")}
WORD_ORDERS = ("big", "little")
MAX_ADDRESS = 65535
MAX_REGISTERS_PER_READ = 125  # the Modbus spec's limit for function codes 3 and 4
MAX_BITS_PER_READ = 2000  # and for 1 and 2
MAX_GAP = 16  # read across a gap of up to this many unlisted addresses rather than send another request
READING_KEYS = {"name", "class", "metric", "unit", "table", "address", "type", "word_order", "bit", "scale",
                "enum", "labels"}


@dataclass(frozen=True)
class Register:
    """One reading of a register map."""

    name: str
    cls: str
    metric: str
    unit: str
    table: str
    address: int
    type: str = "uint16"
    word_order: str = "big"
    bit: int | None = None
    scale: float = 1.0
    enum: Mapping[int, str] = field(default_factory=dict)
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        return TYPES[self.type][0]

    def decode(self, words: Sequence[int]) -> float:
        """The value from the register words (or bits) at this reading's address."""
        if self.table in BIT_TABLES:
            return float(bool(words[0]))
        if self.bit is not None:
            return float((words[0] >> self.bit) & 1)
        ordered = list(words[: self.size])
        if self.word_order == "little":
            ordered.reverse()
        raw = b"".join(struct.pack(">H", w & 0xFFFF) for w in ordered)
        return float(struct.unpack(TYPES[self.type][1], raw)[0])


@dataclass(frozen=True)
class RegisterMap:
    name: str
    description: str
    readings: tuple[Register, ...]

    def blocks(self) -> list[tuple[str, int, int]]:
        """(table, first address, count) reads covering every reading, few and within the spec's limits."""
        out: list[tuple[str, int, int]] = []
        for table in TABLES:
            spans = sorted((r.address, r.address + r.size) for r in self.readings if r.table == table)
            limit = MAX_BITS_PER_READ if table in BIT_TABLES else MAX_REGISTERS_PER_READ
            start = end = None
            for a, b in spans:
                if start is not None and end is not None and a <= end + MAX_GAP and max(end, b) - start <= limit:
                    end = max(end, b)
                    continue
                if start is not None and end is not None:
                    out.append((table, start, end - start))
                start, end = a, b
            if start is not None and end is not None:
                out.append((table, start, end - start))
        return out

    def evaluate(self, device: str, values: Mapping[tuple[str, int], int], ts: float) -> list[Sample]:
        """Samples from what the device answered: {(table, address): word or bit}."""
        out: list[Sample] = []
        for r in self.readings:
            words = [values.get((r.table, r.address + i)) for i in range(r.size)]
            if any(w is None for w in words):
                continue
            num = r.decode([w for w in words if w is not None])
            if num != num:  # a float32 NaN: the controller says "no value"
                continue
            oid = f"modbus:{r.table}:{r.address}" + (f".{r.bit}" if r.bit is not None else "")
            if r.enum or r.unit == "state":
                out.append(Sample(device, r.metric, num, ts, "state", r.labels, oid,
                                  text=r.enum.get(int(num), str(int(num)))))
            else:
                out.append(Sample(device, r.metric, round(num * r.scale, 9), ts, r.unit, r.labels, oid))
        return out


# ---------------------------------------------------------------- loading


def _reading(r: Reader, node: yaml.Node, path: str, map_order: str) -> Register | None:
    m = r.mapping(node, path, READING_KEYS, {"name", "class", "metric", "table", "address"})
    if m is None:
        return None
    name = r.name(m["name"], f"{path}.name") if "name" in m else None
    if name:
        path = f"{path} ({name})"
    cls = r.name(m["class"], f"{path}.class") if "class" in m else None
    metric = r.string(m["metric"], f"{path}.metric", pattern=METRIC_RE) if "metric" in m else None
    table = r.string(m["table"], f"{path}.table", choices=TABLES) if "table" in m else None
    address = r.integer(m["address"], f"{path}.address", 0, MAX_ADDRESS) if "address" in m else None
    default_type = "bool" if table in BIT_TABLES else "uint16"
    kind = r.string(m["type"], f"{path}.type", choices=list(TYPES)) if "type" in m else default_type
    order = r.string(m["word_order"], f"{path}.word_order", choices=WORD_ORDERS) if "word_order" in m else map_order
    bit = r.integer(m["bit"], f"{path}.bit", 0, 15) if "bit" in m else None
    scale = r.number(m["scale"], f"{path}.scale", -1e9, 1e9) if "scale" in m else 1.0
    enum: dict[int, str] = {}
    if "enum" in m:
        em = m["enum"]
        if not isinstance(em, yaml.MappingNode):
            r.error(em, f"{path}.enum", "expected a mapping of integer: name")
        for k, v in em.value if isinstance(em, yaml.MappingNode) else []:
            if k.tag != TAG_INT:
                r.error(k, f"{path}.enum.{k.value}", "enumeration keys are integers")
            elif text := r.string(v, f"{path}.enum.{k.value}"):
                enum[int(k.value)] = text
    labels: list[tuple[str, str]] = []
    if "labels" in m:
        ln = m["labels"]
        if not isinstance(ln, yaml.MappingNode):
            r.error(ln, f"{path}.labels", "expected a mapping of label: value")
        for k, v in ln.value if isinstance(ln, yaml.MappingNode) else []:
            key, value = r.name(k, f"{path}.labels"), r.string(v, f"{path}.labels.{k.value}")
            if key and value is not None:
                labels.append((key, value))
    enumerated = bool(enum) or table in BIT_TABLES or bit is not None
    unit = (r.string(m["unit"], f"{path}.unit", choices=sorted(UNITS)) if "unit" in m
            else "state" if enumerated else None)
    if unit is None and "unit" not in m:
        r.error(node, f"{path}.unit", "missing required key (a reading without an enumeration has a unit)")
    if table in BIT_TABLES and kind != "bool":
        r.error(m["type"], f"{path}.type", f"a {table} is one bit: its type is bool, not {kind}")
        kind = None
    if table not in BIT_TABLES and kind == "bool" and table is not None:
        r.error(m["type"], f"{path}.type", "bool is for coils and discrete inputs; a register's bit is `bit: N`")
        kind = None
    if bit is not None and kind not in ("uint16", "int16"):
        r.error(m["bit"], f"{path}.bit", f"bit picks from a 16-bit register, not a {kind}")
        bit = None
    if enum and unit not in (None, "state"):
        r.error(m["unit"], f"{path}.unit", "a reading with an enumeration is a state (leave unit out)")
    if address is not None and kind is not None and address + TYPES[kind][0] - 1 > MAX_ADDRESS:
        r.error(m["address"], f"{path}.address", f"a {kind} at {address} runs past address {MAX_ADDRESS}")
        address = None
    if not (name and cls and metric and table and address is not None and kind and order and unit
            and scale is not None):
        return None
    return Register(name=name, cls=cls, metric=metric, unit=unit, table=table, address=address, type=kind,
                    word_order=order, bit=bit, scale=scale, enum=enum, labels=tuple(sorted(labels)))


def load_register_map(path: Path, errors: list[LoadError]) -> RegisterMap | None:
    r = Reader(path, errors)
    root = r.compose(path.read_text(encoding="utf-8"))
    if root is None:
        return None
    m = r.mapping(root, "", {"name", "description", "word_order", "readings"}, {"name", "readings"})
    if m is None:
        return None
    name = r.name(m["name"], "name") if "name" in m else None
    descr = r.string(m["description"], "description") if "description" in m else ""
    order = r.string(m["word_order"], "word_order", choices=WORD_ORDERS) if "word_order" in m else "big"
    readings: list[Register] = []
    seen: dict[str, int] = {}
    for i, n in enumerate(r.sequence(m["readings"], "readings") if "readings" in m else []):
        reg = _reading(r, n, f"readings[{i}]", order or "big")
        if reg is None:
            continue
        if reg.name in seen:
            r.error(n, f"readings[{i}] ({reg.name}).name",
                    f"duplicate reading name {reg.name!r} (first at line {seen[reg.name]})")
            continue
        seen[reg.name] = n.start_mark.line + 1
        readings.append(reg)
    return RegisterMap(name, descr or "", tuple(readings)) if name else None


def load_register_maps(directory: Path = MODBUS_DIR) -> dict[str, RegisterMap]:
    """Every register map in `directory`, by name; InventoryError lists every problem."""
    errors: list[LoadError] = []
    maps: dict[str, RegisterMap] = {}
    for path in sorted(directory.glob("*.yml")):
        rm = load_register_map(path, errors)
        if rm is None:
            continue
        if rm.name in maps:
            errors.append(LoadError(str(path), 1, "name", f"duplicate register map name {rm.name!r}"))
        maps[rm.name] = rm
    if errors:
        raise InventoryError(errors)
    return maps
