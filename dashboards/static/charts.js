/* dcops panel: history charts with the vendored Apache ECharts (static/vendor/echarts).
 *
 * <div class="chart" data-chart data-series="12" data-range="24h" data-unit="celsius"
 *      data-title="..."></div>  draws /api/history?series=12&range=24h: the average as a
 * line over a band from the minimum to the maximum (rollups keep all three). Links or
 * buttons with data-range-set="7d" inside [data-ranges] change every chart of the page.
 * Charts redraw every 60 s; no library or font is loaded from outside.
 */
(function () {
  "use strict";

  if (!window.echarts || !window.fetch) {
    return;
  }
  var UNITS = { celsius: "°C", ratio: "%", watts: "W", amperes: "A", volts: "V", seconds: "s", hertz: "Hz" };
  var lang = document.documentElement.getAttribute("lang") || "zh-CN";
  var charts = [];

  function option(el, body) {
    var unit = UNITS[el.getAttribute("data-unit")] || "";
    var pts = body.points || [];
    var t = function (p) { return p[0] * 1000; };
    var avg = pts.map(function (p) { return [t(p), p[1]]; });
    var lo = pts.map(function (p) { return [t(p), p[2]]; });
    var span = pts.map(function (p) { return [t(p), p[3] - p[2]]; });
    var title = el.getAttribute("data-title") || "";
    return {
      animation: false,
      title: { text: title, left: 8, top: 4, textStyle: { fontSize: 13, fontWeight: "normal" } },
      grid: { left: 56, right: 16, top: 34, bottom: 28 },
      tooltip: {
        trigger: "axis",
        valueFormatter: function (v) { return v === null || v === undefined ? "\u2014" : v.toFixed(1) + " " + unit; }
      },
      xAxis: { type: "time" },
      yAxis: { type: "value", scale: true, axisLabel: { formatter: "{value} " + unit } },
      series: [
        { name: "min", type: "line", data: lo, stack: "band", symbol: "none", lineStyle: { opacity: 0 },
          tooltip: { show: false } },
        { name: "max", type: "line", data: span, stack: "band", symbol: "none", lineStyle: { opacity: 0 },
          areaStyle: { opacity: 0.2 }, tooltip: { show: false } },
        { name: lang === "en" ? "average" : "平均", type: "line", data: avg, symbol: "none", lineStyle: { width: 2 } }
      ]
    };
  }

  function draw(entry) {
    var el = entry.el;
    var url = "/api/history?series=" + encodeURIComponent(el.getAttribute("data-series")) +
      "&range=" + encodeURIComponent(el.getAttribute("data-range") || "24h");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.json();
      })
      .then(function (body) {
        entry.chart.setOption(option(el, body), true);
        el.setAttribute("data-points", String((body.points || []).length));
        el.setAttribute("data-source", body.source || "");
      })
      .catch(function () {
        el.setAttribute("data-points", "error");
      });
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var entry = { el: el, chart: window.echarts.init(el, null, { renderer: "canvas" }) };
    charts.push(entry);
    draw(entry);
  });
  document.querySelectorAll("[data-range-set]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var range = button.getAttribute("data-range-set");
      document.querySelectorAll("[data-range-set]").forEach(function (b) {
        b.setAttribute("aria-current", String(b === button));
      });
      charts.forEach(function (entry) {
        entry.el.setAttribute("data-range", range);
        draw(entry);
      });
    });
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (entry) { entry.chart.resize(); });
  });
  window.setInterval(function () {
    if (!document.hidden) {
      charts.forEach(draw);
    }
  }, 60000);
}());
