"""Strict reading of YAML nodes: every error names file, line and key.

Like snmp_exporter's UnmarshalStrict: an unknown key, a duplicate key, a
wrong type or a value out of range is an error, never silently ignored.
Errors are collected, not raised one by one, so a user sees all of them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml

TAG_STR = "tag:yaml.org,2002:str"
TAG_INT = "tag:yaml.org,2002:int"
TAG_FLOAT = "tag:yaml.org,2002:float"
TAG_BOOL = "tag:yaml.org,2002:bool"
TAG_NULL = "tag:yaml.org,2002:null"
TYPE_NAMES = {TAG_STR: "a string", TAG_INT: "an integer", TAG_FLOAT: "a number",
              TAG_BOOL: "a boolean", TAG_NULL: "null"}

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class LoadError:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


class InventoryError(Exception):
    def __init__(self, errors: list[LoadError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == TAG_NULL:
        return "null"
    if node.tag == TAG_STR:
        return f"a string ({node.value!r})"
    # not repr(): quotes around 4.5 would read as if it were a string
    return f"{TYPE_NAMES.get(node.tag, node.tag)} ({node.value})"


class Reader:
    """Reads one file's nodes, appending errors to a shared list."""

    def __init__(self, file: Path | str, errors: list[LoadError]):
        self.file = str(file)
        self.errors = errors

    def error(self, node: yaml.Node | None, key: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 0
        self.errors.append(LoadError(self.file, line, key, message))

    def compose(self, text: str) -> yaml.Node | None:
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 0
            self.errors.append(LoadError(self.file, line, "(yaml)", f"not valid YAML: {exc.problem}"))
        return None

    def mapping(
        self,
        node: yaml.Node,
        path: str,
        allowed: Collection[str],
        required: Collection[str] = (),
        *,
        noun: str = "key",
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, path or "(top level)", f"expected a mapping, got {describe(node)}")
            return None
        out: dict[str, yaml.Node] = {}
        seen: dict[str, yaml.Node] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else str(knode)
            where = f"{path}.{key}" if path else str(key)
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.error(knode, where, f"duplicate key (first at line {first})")
                continue
            seen[key] = knode
            if key not in allowed:
                self.error(knode, where, f"unknown {noun} (allowed: {', '.join(sorted(allowed))})")
                continue
            out[key] = vnode
        for key in required:
            if key not in out:
                self.error(node, f"{path}.{key}" if path else key, "missing required key")
        return out

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, path, f"expected a list, got {describe(node)}")
            return []
        return list(node.value)

    def _scalar(self, node: yaml.Node, path: str, tags: tuple[str, ...], what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in tags:
            self.error(node, path, f"expected {what}, got {describe(node)}")
            return None
        return str(node.value)

    def string(
        self,
        node: yaml.Node,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        choices: Collection[str] | None = None,
    ) -> str | None:
        value = self._scalar(node, path, (TAG_STR,), "a string")
        if value is None:
            return None
        if choices is not None and value not in choices:
            self.error(node, path, f"{value!r} is not one of: {', '.join(choices)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.error(node, path, f"{value!r} is not a valid name ({pattern.pattern})")
            return None
        return value

    def name(self, node: yaml.Node, path: str) -> str | None:
        return self.string(node, path, pattern=NAME_RE)

    def integer(self, node: yaml.Node, path: str, lo: int, hi: int) -> int | None:
        raw = self._scalar(node, path, (TAG_INT,), "an integer")
        if raw is None:
            return None
        try:  # an explicit `!!int one` carries the int tag but no number
            value = int(yaml.safe_load(raw))
        except (TypeError, ValueError, yaml.YAMLError):
            self.error(node, path, f"expected an integer, got {raw!r}")
            return None
        if not lo <= value <= hi:
            self.error(node, path, f"{value} is out of range {lo}..{hi}")
            return None
        return value

    def number(self, node: yaml.Node, path: str, lo: float, hi: float) -> float | None:
        raw = self._scalar(node, path, (TAG_INT, TAG_FLOAT), "a number")
        if raw is None:
            return None
        try:
            value = float(yaml.safe_load(raw))
        except (TypeError, ValueError, yaml.YAMLError):
            self.error(node, path, f"expected a number, got {raw!r}")
            return None
        if not lo <= value <= hi:
            self.error(node, path, f"{value:g} is out of range {lo:g}..{hi:g}")
            return None
        return value
