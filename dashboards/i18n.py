"""Every visible string of the panel, in one place: zh-CN first, English second.

Message ids are the English text, as gettext (and flask-babel, where this is
going) expects: `_("Devices up")` gives the zh-CN text from `ZH_CN` by
default and the id itself in English. Enumeration names read from devices
(`ups_output_source`, contact states, …) are translated through `STATES`.
"""

from __future__ import annotations

from typing import Final

ZH: Final = "zh-CN"
EN: Final = "en"
LANGUAGES: Final = (ZH, EN)
DEFAULT: Final = ZH
COOKIE: Final = "lang"

ZH_CN: Final[dict[str, str]] = {
    # layout and navigation
    "Machine room panel": "机房监控面板",
    "Overview": "总览",
    "Racks": "机柜",
    "Devices": "设备",
    "Language": "语言",
    "Updated": "更新于",
    "Connection lost, showing the last values": "连接中断，显示的是最后一次数据",
    "No data": "无数据",
    "Page not found": "页面不存在",
    "No such rack": "没有这个机柜",
    "No such device": "没有这个设备",
    "Back to the overview": "返回总览",
    # overview
    "Devices up": "在线设备",
    "Devices down": "故障设备",
    "Devices stale": "数据过期",
    "of": "共",
    "Lowest inlet temperature": "最低进风温度",
    "Highest inlet temperature": "最高进风温度",
    "Total IT load": "IT 总负载",
    "sum of all rack PDUs": "全部机柜 PDU 合计",
    "rack": "机柜",
    "UPS": "UPS",
    "Output source": "输出来源",
    "Battery runtime": "电池后备时间",
    "Battery charge": "电池电量",
    "Output load": "输出负载",
    "Cooling": "精密空调",
    "Mode": "运行模式",
    "Supply air": "送风温度",
    "Return air": "回风温度",
    "Safety sensors": "安防与环境告警",
    "Devices not up": "异常设备",
    "All devices are up.": "所有设备运行正常。",
    "Error": "错误",
    "min": "分钟",
    # device states
    "up": "在线",
    "down": "故障",
    "stale": "数据过期",
    "never polled": "从未采集",
    "of which never polled": "其中从未采集",
    "seconds": "秒",
    # racks
    "Rack": "机柜",
    "Location": "位置",
    "Status": "状态",
    "Inlet temperature": "进风温度",
    "Humidity": "湿度",
    "Power drawn": "用电功率",
    "Power budget": "功率预算",
    "Devices in rack": "设备数",
    "Position": "位置 (U)",
    "Power feeds": "供电回路",
    "Feed": "回路",
    "Side": "路别",
    "Breaker": "断路器",
    "Capacity": "容量",
    "Row": "行",
    "Column": "列",
    "Height": "高度",
    "zero-U": "0U (侧装)",
    "active": "在用",
    "planned": "规划中",
    "reserved": "预留",
    "available": "空闲",
    # devices
    "Device": "设备",
    "Class": "类别",
    "Label": "名称",
    "Address": "地址",
    "Profile": "采集模板",
    "Profiles in use": "实际使用的模板",
    "Rating": "额定值",
    "Last poll": "最近一次采集",
    "Time": "时间",
    "Duration": "耗时",
    "Samples": "样本数",
    "Result": "结果",
    "Current readings": "当前读数",
    "Metric": "指标",
    "Labels": "标签",
    "Value": "数值",
    "State": "状态",
    "No readings yet.": "暂无读数。",
    "Not polled yet.": "尚未采集。",
    # /metrics
    "Metrics are not enabled.": "未启用 /metrics 指标输出。",
}

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


def pick(requested: str | None, remembered: str | None) -> str:
    """The language for a request: `?lang=` first, then the cookie, then zh-CN."""
    for lang in (requested, remembered):
        if lang is not None and lang in LANGUAGES:
            return lang
    return DEFAULT


def gettext(message: str, lang: str) -> str:
    if lang == ZH:
        return ZH_CN.get(message, message)
    return message


def class_text(device_class: str, lang: str) -> str:
    return CLASSES[lang].get(device_class, device_class)


def state_text(text: str, lang: str) -> str:
    """A device's enumeration name (`batteryLow`) in words."""
    return STATES.get(lang, {}).get(text, text)


def ups_source_text(text: str, lang: str) -> str:
    return UPS_SOURCES[lang].get(text) or state_text(text, lang)


def metric_text(metric: str, lang: str) -> str:
    return METRICS.get(metric, metric) if lang == ZH else metric
