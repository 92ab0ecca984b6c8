"""zh-CN first: every string the panel's own pages and code show has a Chinese text in panel.po.

The strings are extracted like `pybabel extract -F dashboards/babel.cfg`
does, from the files this area owns (another area checks its own catalog).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

from dashboards.i18n import CATALOG_DIR, CatalogError, load_catalogs

ROOT = Path(__file__).resolve().parent.parent / "dashboards"
OTHER_AREAS = ("alerts", "extranet")  # they keep their own catalogs and checks


def own_files() -> list[tuple[str, Path]]:
    files = [("python", p) for p in sorted(ROOT.glob("*.py")) if p.stem not in OTHER_AREAS]
    files += [("jinja2", p) for p in sorted((ROOT / "templates").rglob("*.html"))
              if p.relative_to(ROOT / "templates").parts[0] not in OTHER_AREAS]
    return files


def extracted() -> dict[str, str]:
    """msgid -> where it was found."""
    found: dict[str, str] = {}
    for method, path in own_files():
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
        for lineno, message, _comments, _context in extract_from_file(
                "jinja2.ext:babel_extract" if method == "jinja2" else "python", path, keywords=keywords,
                options=options):
            ids = message if isinstance(message, tuple) else (message,)
            for msgid in ids:
                if msgid:
                    found.setdefault(msgid, f"{path.relative_to(ROOT.parent)}:{lineno}")
    return found


def missing_translations() -> list[str]:
    with (CATALOG_DIR / "zh_CN" / "panel.po").open("rb") as fh:
        catalog = read_po(fh)
    return [f"{where}: {msgid!r}" for msgid, where in extracted().items()
            if msgid not in catalog or not catalog[msgid].string]


def test_strings_are_found() -> None:
    found = extracted()
    assert {"Floor plan", "Log in", "If a feed fails", "Power"} <= set(found)


def test_every_string_has_a_chinese_text() -> None:
    assert missing_translations() == []


def test_a_string_translated_two_ways_stops_the_start(tmp_path: Path) -> None:
    for area, text in (("alerts", "确认"), ("extranet", "承认")):
        po = tmp_path / "zh_CN" / f"{area}.po"
        po.parent.mkdir(exist_ok=True)
        po.write_text(f'msgid "Acknowledge"\nmsgstr "{text}"\n', encoding="utf-8")
    with pytest.raises(CatalogError, match="'Acknowledge' is already translated as '确认'"):
        load_catalogs([tmp_path])


def test_another_areas_catalog_is_merged(tmp_path: Path) -> None:
    po = tmp_path / "zh_CN" / "alerts.po"
    po.parent.mkdir()
    po.write_text('msgid "Acknowledge"\nmsgstr "确认"\n', encoding="utf-8")
    catalogs = load_catalogs([CATALOG_DIR, tmp_path])
    assert catalogs["zh_CN"].gettext("Acknowledge") == "确认"
    assert catalogs["zh_CN"].gettext("Floor plan") == "机房平面图"
