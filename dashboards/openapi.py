"""The OpenAPI 3.1 document of /api, with schemas generated from the dataclasses the routes return.

The JSON a route answers is `asdict()` of these dataclasses, so deriving the
schemas from their type hints keeps the document and the answers in step;
schemathesis checks both against each other (tests/test_api_schema.py).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import dcops

from .cooling import CoolingView
from .detail import DeviceView
from .floor import FloorView
from .history import HistoryView, SeriesView
from .powerchain import PowerView
from .racks import RackDetail
from .snapshot import Counts
from .summary import Overview, RackView

STAMP = {"ts": {"type": "number"}, "time_text": {"type": "string"}}
ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def _schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [_schema(a, components) for a in typing.get_args(tp) if a is not type(None)]
        nullable = type(None) in typing.get_args(tp)
        if len(options) == 1 and "type" in options[0] and nullable:
            return {**options[0], "type": [options[0]["type"], "null"]}
        return {"anyOf": options + ([{"type": "null"}] if nullable else [])}
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": _schema(item, components)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(typing.get_args(tp)[1], components)}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        name = f"{tp.__module__.rsplit('.', 1)[-1]}.{tp.__name__}"  # summary.CoolingView != cooling.CoolingView
        if name not in components:
            components[name] = {}  # a placeholder first: recursion stops here
            hints = typing.get_type_hints(tp)
            fields = [f.name for f in dataclasses.fields(tp)]
            components[name] = {
                "type": "object",
                "properties": {f: _schema(hints[f], components) for f in fields},
                "required": fields,
                "additionalProperties": False,
            }
        return {"$ref": f"#/components/schemas/{name}"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"no JSON schema for {tp!r}")


def _stamped(ref: dict[str, Any], components: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answer's schema: a dataclass's, with the `ts`/`time_text` every answer carries (and `extra`)."""
    name = ref["$ref"].rsplit("/", 1)[1]
    body = components[name]
    added = {**STAMP, **(extra or {})}
    components[f"{name}Answer"] = {**body, "properties": {**body["properties"], **added},
                                   "required": [*body["required"], *added]}
    return {"$ref": f"#/components/schemas/{name}Answer"}


def _list(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {**STAMP, key: {"type": "array", "items": item}},
            "required": [*STAMP, key], "additionalProperties": False}


def _op(summary: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None,
        errors: tuple[int, ...] = ()) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}}
    for code in (401, *errors):
        responses[str(code)] = {"description": {400: "Bad request", 401: "Login required",
                                                404: "Not found"}[code],
                                "content": {"application/json": {"schema": ERROR}}}
    return {"get": {"summary": summary, "parameters": params or [], "responses": responses}}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


LANG = {"name": "lang", "in": "query", "required": False, "description": "zh-CN (default) or en",
        "schema": {"type": "string", "enum": ["zh-CN", "en"]}}


def document() -> dict[str, Any]:
    components: dict[str, Any] = {}

    def ref(cls: type) -> dict[str, Any]:
        return _schema(cls, components)

    health = {"type": "object", "required": ["status", "devices", "last_poll", "version"],
              "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}, "devices": ref(Counts),
                             "last_poll": {"type": ["number", "null"]}, "version": {"type": "string"},
                             "error": {"type": "string"}}}
    paths = {
        "/api/health": {"get": {"summary": "Liveness: device counts (no login needed)", "security": [],
                                "responses": {"200": {"description": "OK", "content": {
                                    "application/json": {"schema": health}}}}}},
        "/api/overview": _op("The room at a glance", _stamped(ref(Overview), components), [LANG]),
        "/api/floor": _op("The floor plan: racks on their grid with inlet temperature and power",
                          _stamped(ref(FloorView), components), [LANG]),
        "/api/racks": _op("Every rack", _list("racks", ref(RackView)), [LANG]),
        "/api/racks/{name}": _op("One rack: elevation, feeds, failover, charts", _stamped(ref(RackDetail), components),
                                 [_path_param("name", "rack name, e.g. A01"), LANG], (404,)),
        "/api/power": _op("The power chain, headroom, failover and PUE",
                          _stamped(ref(PowerView), components, {"manual_note": {"type": "string"}}), [LANG]),
        "/api/cooling": _op("Air conditioners and the room's temperature spread",
                            _stamped(ref(CoolingView), components),
                            [LANG]),
        "/api/devices/{name}": _op("One device: last poll and readings", _stamped(ref(DeviceView), components),
                                   [_path_param("name", "device name, e.g. ups-a"), LANG], (404,)),
        "/api/series": _op("The stored series (of one device)", _list("series", ref(SeriesView)),
                           [{"name": "device", "in": "query", "required": False, "schema": {"type": "string"}},
                            LANG]),
        "/api/history": _op(
            "A series' points [ts, avg, min, max] over a range (raw, 5-minute or 1-hour rollups)",
            _stamped(ref(HistoryView), components),
            [{"name": "series", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 0}},
             {"name": "range", "in": "query", "required": False,
              "schema": {"type": "string", "enum": ["1h", "24h", "7d", "90d"]}}, LANG], (400, 404)),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "dcops panel API", "version": dcops.__version__,
                 "description": "What the machine-room panel shows, as JSON. Log in at /login first: "
                                "the session cookie authorises every route but /api/health."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "dcops_session"}}},
        "security": [{"session": []}],
    }
