/* acctpipe's dashboard script: a small SVG bar-chart library and the glue that keeps the
 * page current. Our own code, no dependencies, no network but /v1/dashboard.
 *
 * The page's Content-Security-Policy allows no inline script, so the data comes from
 * <script type="application/json" id="dashboard-data"> (never executed) and, on refresh,
 * from GET /v1/dashboard. Every string from the data reaches the DOM through textContent
 * or setAttribute, never as markup: domains and vmtas come from mail logs.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";

  // -- formats: the same as _FORMATS in acctpipe/api/dashboard.py -------------------------
  var FORMATS = {
    num: function (v) {
      return v == null ? "—" : String(Math.trunc(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    },
    pct: function (v) { return v == null ? "—" : (v * 100).toFixed(2) + "%"; },
    secs: function (v) {
      if (v == null) return "—";
      if (v < 120) return v.toFixed(1) + " s";
      return v < 7200 ? (v / 60).toFixed(1) + " min" : (v / 3600).toFixed(1) + " h";
    },
    time: function (v) { return v ? String(v).slice(0, 19).replace("T", " ") + " UTC" : "—"; },
    rate: function (v) { return v == null ? "configured" : Number(v.toPrecision(6)) + "/s"; },
    text: function (v) { return v == null ? "" : String(v); },
  };

  function format(name, value) {
    return (FORMATS[name] || FORMATS.text)(value);
  }

  // -- the chart library --------------------------------------------------------------------
  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text != null) node.textContent = text;
    return node;
  }

  function shorten(label, max) {
    return label.length > max ? label.slice(0, max - 1) + "…" : label;
  }

  /* Horizontal grouped bars: one group per label, one bar per series.
   * spec = {title, labels: [str], series: [{name, cls, values: [num]}], format, max?} */
  function hbars(container, spec) {
    container.replaceChildren();
    if (!spec.labels.length) {
      var empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = spec.empty || "nothing to show";
      container.appendChild(empty);
      return null;
    }
    var W = 760, LABEL = 190, VALUE = 80, BAR = 12, GAP = 3, PAD = 10, LEGEND = 24;
    var group = spec.series.length * (BAR + GAP) + PAD;
    var height = LEGEND + spec.labels.length * group;
    var values = [].concat.apply([0], spec.series.map(function (s) { return s.values; }));
    var max = spec.max || Math.max.apply(null, values) || 1;
    var scale = (W - LABEL - VALUE) / max;
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + height, role: "img" });
    svg.appendChild(svgEl("title", {}, spec.title));

    var x = LABEL;
    spec.series.forEach(function (s) {
      svg.appendChild(svgEl("rect", { x: x, y: 6, width: 10, height: 10, class: s.cls }));
      var text = svgEl("text", { x: x + 14, y: 15 }, s.name);
      svg.appendChild(text);
      x += 24 + s.name.length * 7;
    });

    spec.labels.forEach(function (label, i) {
      var top = LEGEND + i * group;
      var name = svgEl("text", {
        x: LABEL - 8, y: top + (group - PAD) / 2, "text-anchor": "end", "dominant-baseline": "middle",
      }, shorten(label, 28));
      name.appendChild(svgEl("title", {}, label));
      svg.appendChild(name);
      spec.series.forEach(function (s, j) {
        var v = s.values[i] || 0;
        var y = top + j * (BAR + GAP);
        var width = v > 0 ? Math.max(1, v * scale) : 0;
        var bar = svgEl("rect", { x: LABEL, y: y, width: width, height: BAR, class: s.cls });
        bar.appendChild(svgEl("title", {}, label + " — " + s.name + ": " + spec.format(v)));
        svg.appendChild(bar);
        svg.appendChild(svgEl("text", {
          x: LABEL + width + 4, y: y + BAR / 2, "dominant-baseline": "middle", class: "value",
        }, spec.format(v)));
      });
    });
    container.appendChild(svg);
    return svg;
  }

  // -- the dashboard --------------------------------------------------------------------------
  function byDomain(pairs, top) {
    var seen = new Map();
    pairs.forEach(function (p) {
      var d = seen.get(p.domain) || { domain: p.domain || "(none)", attempted: 0, delivered: 0,
                                       bounced: 0 };
      d.attempted += p.attempted;
      d.delivered += p.delivered;
      d.bounced += p.bounced;
      seen.set(p.domain, d);
    });
    return Array.from(seen.values())
      .sort(function (a, b) { return b.attempted - a.attempted || (a.domain < b.domain ? -1 : 1); })
      .slice(0, top);
  }

  function draw(data) {
    var domains = byDomain(data.pairs, 12);
    var labels = domains.map(function (d) { return d.domain; });
    var pick = function (key) { return domains.map(function (d) { return d[key]; }); };
    hbars(document.querySelector('[data-chart="volume"]'), {
      title: "Deliveries and bounces per domain today", labels: labels, empty: "no events today",
      format: FORMATS.num,
      series: [
        { name: "delivered", cls: "bar-delivered", values: pick("delivered") },
        { name: "bounced", cls: "bar-bounced", values: pick("bounced") },
      ],
    });
    hbars(document.querySelector('[data-chart="rates"]'), {
      title: "Bounce rate per domain today", labels: labels, empty: "no events today",
      format: FORMATS.pct,
      series: [{
        name: "bounce rate", cls: "bar-rate",
        // bounce_rate as acctpipe/eventstore/rates.py defines it: (b + rb) / attempted (d + b)
        values: domains.map(function (d) { return d.attempted ? d.bounced / d.attempted : 0; }),
      }],
    });
  }

  function at(data, path) {
    var value = path.split(".").reduce(function (obj, key) {
      return obj != null && typeof obj === "object" ? obj[key] : undefined;
    }, data);
    return value === undefined ? null : value;
  }

  function fillTable(table, items, marker, emptyText) {
    var columns = Array.from(table.tHead.rows[0].cells).map(function (th) {
      return { col: th.dataset.col, fmt: th.dataset.format, num: th.classList.contains("num") };
    });
    var body = table.tBodies[0];
    body.replaceChildren();
    if (!items.length) {
      var tr = body.insertRow();
      tr.className = "empty-row";
      var td = tr.insertCell();
      td.colSpan = columns.length;
      td.textContent = emptyText;
      return;
    }
    items.forEach(function (item) {
      var row = body.insertRow();
      row.setAttribute(marker, "");
      columns.forEach(function (c) {
        var cell = row.insertCell();
        var v = item[c.col];
        if (c.num) cell.className = "num";
        cell.dataset.col = c.col;
        cell.dataset.value = v == null ? "" : String(v);
        cell.textContent = format(c.fmt, v);
      });
    });
  }

  function update(data) {
    document.querySelectorAll("[data-metric]").forEach(function (node) {
      var v = at(data, node.dataset.metric);
      node.dataset.value = v == null ? "" : String(v);
      node.textContent = format(node.dataset.format, v);
    });
    fillTable(document.getElementById("pairs"), data.pairs, "data-row", "no events today");
    fillTable(document.getElementById("throttles"), data.throttles, "data-throttle",
              "no throttle in force");
    document.querySelector('[data-notice="events"]').hidden = data.events_available;
    document.querySelector('[data-notice="truncated"]').hidden = !data.pairs_truncated;
    draw(data);
  }

  var timer = null;

  function say(text) {
    document.getElementById("status").textContent = text;
  }

  async function refresh() {
    try {
      var response = await fetch("/v1/dashboard", {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
      if (response.status === 401) {
        clearInterval(timer);
        say("session expired: reload to log in again");
        return;
      }
      if (!response.ok) {
        say("refresh failed (HTTP " + response.status + ")");
        return;
      }
      update(await response.json());
      say("updated");
    } catch (err) {
      say("refresh failed: " + err.message);
    }
  }

  function start() {
    var blob = document.getElementById("dashboard-data");
    if (!blob) return;
    draw(JSON.parse(blob.textContent));
    document.getElementById("refresh").addEventListener("click", refresh);
    var every = Number(document.getElementById("dashboard").dataset.refresh);
    if (every > 0) {
      timer = setInterval(function () { if (!document.hidden) refresh(); }, every * 1000);
    }
  }

  window.acctpipeCharts = { hbars: hbars, format: format };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
