/* dcops panel: refresh the numbers of a page from its JSON without reloading.
 *
 * The page is complete without this script (the server renders every value).
 * <body data-refresh="/api/overview" data-interval="10"> names the JSON; then
 *   data-key='["ups","ups-a","runtime_minutes"]'  sets the element's text
 *       (or a <meter>'s value); in a list, a step matches the item whose
 *       `name` or `id` equals it; numbers get data-digits decimals (default 1),
 *       a missing value shows as an em dash;
 *   data-state-key='[...]'  copies the value into data-state (the CSS colours it);
 *   data-attrs-key='{"data-heat": [...]}'  copies each value into that attribute;
 *   <table data-rows="problems" data-template="id">  rebuilds the rows from a
 *       <template> whose cells carry data-field / data-href / data-field-state;
 *   [data-empty="problems"]  is shown only while that list is empty.
 * Own code, no library: the machine room has no internet.
 */
(function () {
  "use strict";

  var body = document.body;
  var url = body.getAttribute("data-refresh");
  if (!url || !window.fetch || !window.JSON) {
    return;
  }
  var every = (Number(body.getAttribute("data-interval")) || 10) * 1000;
  var offline = document.getElementById("offline");

  function keysOf(el, attr) {
    try {
      var keys = JSON.parse(el.getAttribute(attr));
      return Array.isArray(keys) ? keys : null;
    } catch (e) {
      return null;
    }
  }

  function lookup(data, keys) {
    var value = data;
    for (var i = 0; i < keys.length; i++) {
      if (value === null || value === undefined) {
        return null;
      }
      var step = keys[i];
      if (Array.isArray(value)) {
        value = value.filter(function (item) {
          return item && (item.name === step || item.id === step);
        })[0];
      } else {
        value = value[step];
      }
    }
    return value === undefined ? null : value;
  }

  function show(value, digits) {
    if (value === null || value === undefined) {
      return "\u2014";
    }
    if (typeof value === "number") {
      return value.toFixed(digits === null || digits === "" ? 1 : Number(digits));
    }
    return String(value);
  }

  function fillValues(data) {
    document.querySelectorAll("[data-key]").forEach(function (el) {
      var keys = keysOf(el, "data-key");
      if (!keys) {
        return;
      }
      var value = lookup(data, keys);
      if (el.tagName === "METER") {
        el.value = typeof value === "number" ? value : 0;
        return;
      }
      var text = show(value, el.getAttribute("data-digits"));
      if (el.textContent !== text) {
        el.textContent = text;
      }
    });
    document.querySelectorAll("[data-state-key]").forEach(function (el) {
      var keys = keysOf(el, "data-state-key");
      if (keys) {
        var value = lookup(data, keys);
        el.setAttribute("data-state", value === null || value === "" ? "nodata" : String(value));
      }
    });
  }

  function fillAttrs(data) {
    document.querySelectorAll("[data-attrs-key]").forEach(function (el) {
      var spec;
      try {
        spec = JSON.parse(el.getAttribute("data-attrs-key"));
      } catch (e) {
        return;
      }
      Object.keys(spec || {}).forEach(function (attr) {
        var value = lookup(data, spec[attr]);
        el.setAttribute(attr, value === null ? "" : String(value));
      });
    });
  }

  function fillRows(data) {
    document.querySelectorAll("table[data-rows]").forEach(function (table) {
      var rows = lookup(data, [table.getAttribute("data-rows")]) || [];
      var template = document.getElementById(table.getAttribute("data-template"));
      var tbody = table.tBodies[0];
      if (!template || !tbody) {
        return;
      }
      var fresh = document.createDocumentFragment();
      rows.forEach(function (row) {
        var tr = template.content.firstElementChild.cloneNode(true);
        var stateField = tr.getAttribute("data-field-state");
        if (stateField) {
          tr.setAttribute("data-state", String(row[stateField]));
        }
        tr.querySelectorAll("[data-field]").forEach(function (cell) {
          var value = row[cell.getAttribute("data-field")];
          cell.textContent = value === null || value === undefined ? "" : String(value);
          var href = cell.getAttribute("data-href");
          if (href !== null) {
            cell.setAttribute("href", href + encodeURIComponent(row.name));
          }
        });
        fresh.appendChild(tr);
      });
      tbody.replaceChildren(fresh);
      table.hidden = rows.length === 0;
    });
    document.querySelectorAll("[data-empty]").forEach(function (el) {
      var rows = lookup(data, [el.getAttribute("data-empty")]) || [];
      el.hidden = rows.length !== 0;
    });
  }

  function setOffline(isOffline) {
    body.classList.toggle("offline", isOffline);
    if (offline) {
      offline.hidden = !isOffline;
    }
  }

  function refresh() {
    if (document.hidden) {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.json();
      })
      .then(function (data) {
        fillValues(data);
        fillAttrs(data);
        fillRows(data);
        setOffline(false);
      })
      .catch(function () {
        setOffline(true);
      });
  }

  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refresh();
    }
  });
}());
