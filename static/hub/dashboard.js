// dashboard.js: the live dashboard page (/dashboard/). Opens /ws/dashboard/
// with the session cookie over socket.js's ReconnectingSocket, fills the tiles
// from `stats` frames, draws uPlot line charts (uPlot is loaded before this
// module), and adds a tile and a chart per custom metric from `metric` frames.
// Text from the server is only ever set with textContent / setAttribute.
import { CLOSE_FORBIDDEN, CLOSE_NOT_AUTHENTICATED, ReconnectingSocket, wsUrl } from "./socket.js";

const root = document.getElementById("dashboard");
if (root) start(root);

function start(root) {
  var MAX_POINTS = 300; // 10 minutes of stats at one frame every 2 s
  var statusEl = root.querySelector("[data-testid='dashboard-status']");
  var metricTiles = document.getElementById("metric-tiles");
  var metricCharts = document.getElementById("metric-charts");

  // tile name -> how to read it from a stats frame
  var TILE_VALUES = {
    "sockets": function (s) { return s.sockets; },
    "created-per-min": function (s) { return s.notifications_created_per_min; },
    "delivered-per-min": function (s) { return s.notifications_delivered_per_min; },
    "publish-p50": function (s) { return s.publish_latency_ms.p50; },
    "publish-p99": function (s) { return s.publish_latency_ms.p99; },
    "queue-depth": function (s) { return s.celery.queue_depth; },
    "workers": function (s) { return s.celery.workers_alive; },
    "failed-tasks": function (s) { return s.celery.failed_tasks; }
  };

  // chart name -> series labels and how to read each from a stats frame
  var CHART_SERIES = {
    "sockets": [["sockets", function (s) { return s.sockets; }]],
    "notifications": [
      ["created/min", function (s) { return s.notifications_created_per_min; }],
      ["delivered/min", function (s) { return s.notifications_delivered_per_min; }]
    ],
    "latency": [
      ["p50", function (s) { return s.publish_latency_ms.p50; }],
      ["p99", function (s) { return s.publish_latency_ms.p99; }]
    ],
    "queue": [["queue depth", function (s) { return s.celery.queue_depth; }]]
  };
  var COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];

  function format(value) {
    if (value === null || value === undefined) {
      return "–";
    }
    if (typeof value === "number" && !Number.isInteger(value)) {
      return String(Math.round(value * 100) / 100);
    }
    return String(value);
  }

  function setTile(tile, value) {
    var valueEl = tile.querySelector(".tile-value");
    valueEl.textContent = format(value);
    tile.setAttribute("data-value", value === null || value === undefined ? "" : String(value));
  }

  // --- charts -------------------------------------------------------------------

  function Chart(container, labels) {
    this.container = container;
    this.data = [[]].concat(labels.map(function () { return []; }));
    var series = [{}].concat(labels.map(function (label, i) {
      return { label: label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true };
    }));
    this.plot = typeof uPlot === "function" ? new uPlot({
      width: Math.max(container.clientWidth, 200),
      height: 160,
      series: series,
      scales: { x: { time: true } },
      axes: [{}, { size: 50 }]
    }, this.data, container) : null;
  }

  Chart.prototype.push = function (at, values) {
    var times = this.data[0];
    if (times.length && at < times[times.length - 1]) {
      return; // uPlot needs ascending times; a late frame only updates the tile
    }
    times.push(at);
    for (var i = 0; i < values.length; i++) {
      this.data[i + 1].push(values[i] === undefined ? null : values[i]);
    }
    if (this.data[0].length > MAX_POINTS) {
      this.data.forEach(function (column) { column.shift(); });
    }
    if (this.plot) {
      this.plot.setData(this.data);
    }
  };

  Chart.prototype.resize = function () {
    if (this.plot) {
      this.plot.setSize({ width: Math.max(this.container.clientWidth, 200), height: 160 });
    }
  };

  var charts = {};
  root.querySelectorAll("[data-chart]").forEach(function (el) {
    var name = el.getAttribute("data-chart");
    var labels = CHART_SERIES[name].map(function (s) { return s[0]; });
    charts[name] = new Chart(el, labels);
  });
  var metricChartsByName = {};
  var metricTilesByName = {};

  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (n) { charts[n].resize(); });
    Object.keys(metricChartsByName).forEach(function (n) { metricChartsByName[n].resize(); });
  });

  function seconds(at) {
    var ms = Date.parse(at);
    return isNaN(ms) ? Date.now() / 1000 : ms / 1000;
  }

  // --- custom metrics -------------------------------------------------------------

  function metricTile(name) {
    var tile = metricTilesByName[name];
    if (tile) {
      return tile;
    }
    tile = document.createElement("div");
    tile.className = "tile tile-metric";
    tile.setAttribute("data-testid", "tile-metric-" + name);
    tile.setAttribute("data-metric", name);
    var label = document.createElement("span");
    label.className = "tile-label";
    label.textContent = name;
    var value = document.createElement("span");
    value.className = "tile-value";
    value.setAttribute("data-testid", "tile-metric-" + name + "-value");
    tile.appendChild(label);
    tile.appendChild(value);
    metricTiles.appendChild(tile);
    metricTilesByName[name] = tile;
    return tile;
  }

  function metricChart(name) {
    var chart = metricChartsByName[name];
    if (chart) {
      return chart;
    }
    var figure = document.createElement("figure");
    figure.className = "chart";
    figure.setAttribute("data-testid", "chart-metric-" + name);
    var caption = document.createElement("figcaption");
    caption.textContent = name;
    var plot = document.createElement("div");
    plot.className = "chart-plot";
    figure.appendChild(caption);
    figure.appendChild(plot);
    metricCharts.appendChild(figure);
    chart = metricChartsByName[name] = new Chart(plot, [name]);
    return chart;
  }

  function showMetric(name, value, at) {
    setTile(metricTile(name), value);
    metricChart(name).push(seconds(at), [value]);
  }

  // --- frames ---------------------------------------------------------------------

  function onStats(stats) {
    root.querySelectorAll("[data-tile]").forEach(function (tile) {
      var read = TILE_VALUES[tile.getAttribute("data-tile")];
      if (read) {
        setTile(tile, read(stats));
      }
    });
    var at = seconds(stats.at);
    Object.keys(charts).forEach(function (name) {
      charts[name].push(at, CHART_SERIES[name].map(function (s) { return s[1](stats); }));
    });
    var metrics = stats.metrics || {};
    Object.keys(metrics).forEach(function (name) {
      showMetric(name, metrics[name], stats.at);
    });
    root.setAttribute("data-stats-at", stats.at);
  }

  function onFrame(frame) {
    if (frame.type === "stats") {
      onStats(frame);
    } else if (frame.type === "metric") {
      showMetric(frame.name, frame.value, frame.at);
    }
  }

  // --- the socket -----------------------------------------------------------------

  function setStatus(state, text) {
    statusEl.setAttribute("data-state", state);
    statusEl.textContent = text;
  }

  const STATUS = {
    connecting: ["connecting", "Connecting…"],
    open: ["live", "Live"],
    reconnecting: ["reconnecting", "Disconnected; reconnecting…"],
  };
  const socket = new ReconnectingSocket(wsUrl(root.getAttribute("data-ws-path")));
  socket.addEventListener("frame", function (e) { onFrame(e.detail); });
  socket.addEventListener("state", function (e) {
    if (STATUS[e.detail]) setStatus(...STATUS[e.detail]);
  });
  socket.addEventListener("close", function (e) {
    if (e.detail.code === CLOSE_NOT_AUTHENTICATED) {
      setStatus("closed", "Signed out: log in again to see the dashboard.");
    } else if (e.detail.code === CLOSE_FORBIDDEN) {
      setStatus("closed", "The dashboard is for staff.");
    } else if (e.detail.final) {
      setStatus("closed", `Closed (${e.detail.code}).`);
    }
  });
  socket.start();
}
