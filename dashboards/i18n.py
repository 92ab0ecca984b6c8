"""zh-CN first, English second: flask-babel with one message catalog per area.

Message ids are the English text, as gettext expects: `_("Devices up")`
(`flask_babel.gettext`, `_` in templates) gives the zh-CN text in Chinese
and the id itself in English. The language of a request is `?lang=` (then
remembered in the `lang` cookie), else the cookie, else zh-CN.

**Adding the strings of a new area** (alerts, extranet, ...): put them in
your own catalog, `dashboards/translations/zh_CN/<area>.po` (standard
gettext .po: `msgid "Acknowledge"` / `msgstr "确认"`), next to the panel's
`panel.po`. Every `*.po` under `translations/<locale>/` is read when the app
starts, no compile step and no registration; a msgid translated differently
in two files stops the start, naming both. To list a file's strings:
`pybabel extract -F dashboards/babel.cfg -k _l -k lazy_gettext -o alerts.pot dashboards`.
In Python use `flask_babel.gettext` / `lazy_gettext` (module level), in
templates `{{ _("Text") }}` or `{{ _("%(n)d racks", n=3) }}` (newstyle:
a literal % is written %%).

Enumeration names read from devices (`ups_output_source`, contact states,
device classes, metric names) are device vocabulary, not page text: they
are kept below per language, `STATES` and friends.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from pathlib import Path
from typing import Any, Final, cast

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g
from flask_babel import Babel, Domain
from flask_babel import lazy_gettext as lazy_gettext

ZH: Final = "zh-CN"
EN: Final = "en"
LANGUAGES: Final = (ZH, EN)
DEFAULT: Final = ZH
COOKIE: Final = "lang"
LOCALES: Final = {ZH: "zh_CN", EN: "en"}  # our language tags -> babel locale names
CATALOG_DIR: Final = Path(__file__).resolve().parent / "translations"

__all__ = ["lazy_gettext"]


class CatalogError(Exception):
    pass


def load_catalogs(directories: Iterable[Path]) -> dict[str, Translations]:
    """Every `<dir>/<locale>/*.po`, merged per locale; a msgid translated two ways is an error."""
    merged: dict[str, Translations] = {}
    seen: dict[tuple[str, str], tuple[str, Path]] = {}
    for directory in directories:
        for po in sorted(directory.glob("*/*.po")):
            locale = po.parent.name
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
            for message in catalog:
                if not message.id or not message.string or message.fuzzy:
                    continue
                key = (locale, str(message.id))
                earlier = seen.get(key)
                if earlier is not None and earlier[0] != message.string:
                    raise CatalogError(f"{po}: msgid {message.id!r} is already translated as "
                                       f"{earlier[0]!r} in {earlier[1]}")
                seen[key] = (str(message.string), po)
            buf = BytesIO()
            write_mo(buf, catalog)
            buf.seek(0)
            translations = Translations(fp=buf)
            if locale in merged:
                merged[locale].merge(translations)
            else:
                merged[locale] = translations
    return merged


class CatalogDomain(Domain):  # type: ignore[misc]
    """flask-babel's domain, reading .po catalogs (per area) instead of compiled .mo files."""

    def __init__(self, catalogs: dict[str, Translations]) -> None:
        super().__init__(domain="messages")
        self.catalogs = catalogs

    def for_lang(self, lang: str) -> NullTranslations:
        return self.catalogs.get(LOCALES.get(lang, lang)) or NullTranslations()

    def get_translations(self) -> NullTranslations:
        return self.for_lang(cast(str, g.get("lang", DEFAULT)))


def pick(requested: str | None, remembered: str | None) -> str:
    """The language for a request: `?lang=` first, then the cookie, then zh-CN."""
    for lang in (requested, remembered):
        if lang is not None and lang in LANGUAGES:
            return lang
    return DEFAULT


def install(app: Flask, directories: Iterable[Path] = ()) -> None:
    """flask-babel on `app`, with the catalogs of CATALOG_DIR and any `directories`."""
    babel = Babel()
    babel.init_app(app, default_locale=LOCALES[DEFAULT], default_timezone="Asia/Shanghai",
                   locale_selector=lambda: LOCALES[cast(str, g.get("lang", DEFAULT))])
    babel.domain_instance = CatalogDomain(load_catalogs([CATALOG_DIR, *directories]))


def gettext(message: str, lang: str, **variables: Any) -> str:
    """`message` in `lang` (an explicit language, for code that builds JSON for one)."""
    babel = current_app.extensions["babel"].instance
    text = str(babel.domain_instance.for_lang(lang).ugettext(message))
    return text % variables if variables else text


# Device classes (inventory `class:`), per language.
CLASSES: Final[dict[str, dict[str, str]]] = {
    ZH: {"ups": "UPS", "pdu": "PDU", "cooling": "精密空调", "env": "温湿度探头",
         "leak": "漏水检测", "smoke": "烟雾探测", "door": "门磁", "switch": "交换机",
         "meter": "电表"},
    EN: {"ups": "UPS", "pdu": "PDU", "cooling": "Cooling unit", "env": "Inlet probe",
         "leak": "Leak detector", "smoke": "Smoke detector", "door": "Door contact",
         "switch": "Switch", "meter": "Power meter"},
}

# Enumeration names devices report (sample.text), per language.
STATES: Final[dict[str, dict[str, str]]] = {
    ZH: {
        # UPS-MIB upsOutputSource
        "other": "其他", "none": "无输出", "normal": "正常", "bypass": "旁路",
        "battery": "电池", "booster": "升压", "reducer": "降压",
        # UPS-MIB upsBatteryStatus
        "unknown": "未知", "batteryNormal": "电池正常", "batteryLow": "电池电量低",
        "batteryDepleted": "电池耗尽",
        # AKCP contact / sensor status
        "noStatus": "无状态", "highWarning": "高位告警", "highCritical": "高位严重告警",
        "lowWarning": "低位告警", "lowCritical": "低位严重告警", "sensorError": "传感器故障",
        # APC InRow operate mode
        "standby": "待机", "on": "运行", "idle": "空闲", "maintenance": "维护",
        # APC rPDU2 load state
        "lowLoad": "低负载", "nearOverload": "接近过载", "overload": "过载",
    },
    EN: {
        "normal": "normal", "batteryNormal": "battery normal", "batteryLow": "battery low",
        "batteryDepleted": "battery depleted", "lowLoad": "low load",
        "nearOverload": "near overload", "noStatus": "no status",
        "highWarning": "high warning", "highCritical": "high critical",
        "lowWarning": "low warning", "lowCritical": "low critical", "sensorError": "sensor error",
    },
}

# The UPS output source means the power path: on the panel "normal" reads as mains.
UPS_SOURCES: Final[dict[str, dict[str, str]]] = {
    ZH: {"normal": "市电", "battery": "电池", "bypass": "旁路"},
    EN: {"normal": "mains", "battery": "battery", "bypass": "bypass"},
}

# Metric names shown in the device page's readings table (zh-CN only; English shows the name).
METRICS: Final[dict[str, str]] = {
    "env_temperature_celsius": "温度",
    "env_humidity_ratio": "湿度",
    "env_contact_state": "触点状态",
    "pdu_power_watts": "有功功率",
    "pdu_energy_kilowatthours": "累计电能",
    "pdu_load_state": "负载状态",
    "pdu_phase_current_amperes": "相电流",
    "pdu_phase_voltage_volts": "相电压",
    "ups_output_source": "输出来源",
    "ups_battery_status": "电池状态",
    "ups_seconds_on_battery": "电池供电时长",
    "ups_battery_runtime_seconds": "电池后备时间",
    "ups_battery_charge_ratio": "电池电量",
    "ups_battery_voltage_volts": "电池电压",
    "ups_battery_temperature_celsius": "电池温度",
    "ups_input_frequency_hertz": "输入频率",
    "ups_input_voltage_volts": "输入电压",
    "ups_output_frequency_hertz": "输出频率",
    "ups_output_voltage_volts": "输出电压",
    "ups_output_current_amperes": "输出电流",
    "ups_output_power_watts": "输出功率",
    "ups_output_load_ratio": "输出负载率",
    "ups_alarms_present": "当前告警数",
    "cooling_active_alarms": "当前告警数",
    "cooling_operate_mode": "运行模式",
    "cooling_output_watts": "制冷量",
    "cooling_rack_inlet_temperature_celsius": "机柜进风温度",
    "cooling_supply_air_temperature_celsius": "送风温度",
    "cooling_return_air_temperature_celsius": "回风温度",
    "cooling_fan_speed_ratio": "风机转速",
}


def class_text(device_class: str, lang: str) -> str:
    return CLASSES[lang].get(device_class, device_class)


def state_text(text: str, lang: str) -> str:
    """A device's enumeration name (`batteryLow`) in words."""
    return STATES.get(lang, {}).get(text, text)


def ups_source_text(text: str, lang: str) -> str:
    return UPS_SOURCES[lang].get(text) or state_text(text, lang)


def metric_text(metric: str, lang: str) -> str:
    return METRICS.get(metric, metric) if lang == ZH else metric
