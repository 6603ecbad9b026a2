// The leadership dashboard's and the monthly report's charts (Apache ECharts).
//
// The page hands over the figures as JSON (#dashboard-data: cases.metrics rows,
// as /api/v1/metrics/ answers them, and the labels in the page's language);
// each element with data-chart="name" gets the chart of that name. Rates stay
// fractions (0.6) in the series and are shown as percentages by the axes and
// tooltips. Tooltips render as rich text, never as HTML built from names.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var L = data.labels;
  var RATES = ["response_rate", "resolution_rate", "satisfaction_rate"];
  var printing = document.body.classList.contains("print-report");
  var COLOURS = ["#1d4ed8", "#15803d", "#d97706", "#b42318", "#6b21a8", "#0f766e", "#64748b"];

  function percent(value) {
    return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%";
  }

  function names(rows) {
    return rows.map(function (row) { return row.name || "—"; });
  }

  function base(extra) {
    var option = {
      color: COLOURS,
      animation: !printing,
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true }
    };
    for (var key in extra) { option[key] = extra[key]; }
    return option;
  }

  // The three rates of each unit, as horizontal bars, best ranked on top.
  function rates(rows) {
    var ordered = rows.slice().reverse();
    return base({
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: percent },
      xAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: percent } },
      yAxis: { type: "category", data: names(ordered) },
      series: RATES.map(function (rate) {
        return {
          name: L[rate], type: "bar", id: rate,
          data: ordered.map(function (row) { return row[rate]; })
        };
      })
    });
  }

  var charts = {
    communities: function () { return rates(data.communities); },
    departments: function () { return rates(data.departments); },
    overdue: function () {
      var rows = data.communities.concat(data.departments)
        .filter(function (row) { return row.overdue > 0; })
        .sort(function (a, b) { return a.overdue - b.overdue; });
      return base({
        legend: { show: false },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: names(rows) },
        series: [{
          name: L.overdue, type: "bar", id: "overdue", color: "#b42318",
          label: { show: true, position: "right" },
          data: rows.map(function (row) { return row.overdue; })
        }]
      });
    },
    trend: function () {
      var rows = data.trend;
      function counts(name) {
        return {
          name: L[name], type: "bar", id: name, yAxisIndex: 0,
          data: rows.map(function (row) { return row[name]; })
        };
      }
      function line(rate) {
        return {
          name: L[rate], type: "line", id: rate, yAxisIndex: 1, connectNulls: true,
          tooltip: { valueFormatter: percent },
          data: rows.map(function (row) { return row[rate]; })
        };
      }
      return base({
        xAxis: { type: "category", data: rows.map(function (row) { return row.code; }) },
        yAxis: [
          { type: "value", name: L.cases, minInterval: 1 },
          { type: "value", min: 0, max: 1, axisLabel: { formatter: percent }, splitLine: { show: false } }
        ],
        series: [counts("reported"), counts("closed"), counts("overdue")].concat(RATES.map(line))
      });
    },
    categories: function () {
      // The report prints the categories in a table beside the pie: no legend there.
      var legend = !printing;
      return base({
        tooltip: { trigger: "item", renderMode: "richText" },
        legend: { show: legend, type: "scroll", orient: "vertical", left: 0, top: "middle" },
        series: [{
          name: L.cases, type: "pie", id: "categories", radius: ["35%", "65%"],
          center: [legend ? "62%" : "50%", "50%"],
          label: { formatter: "{b}\n{c}（{d}%）" },
          data: data.categories.map(function (c) { return { name: c.name, value: c.count }; })
        }]
      });
    },
    hot_spots: function () {
      var rows = data.hot_spots.slice().reverse();
      return base({
        legend: { show: false },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: rows.map(function (row) { return row.code || "—"; }) },
        series: [
          { name: L.reported, type: "bar", id: "reported",
            data: rows.map(function (row) { return row.reported; }) },
          { name: L.overdue, type: "bar", id: "overdue", color: "#b42318",
            data: rows.map(function (row) { return row.overdue; }) }
        ]
      });
    },
    steps: function () {
      return base({
        legend: { show: false },
        tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: function (h) { return h + " " + L.hours; } },
        xAxis: { type: "category", data: data.steps.map(function (s) { return s.name; }),
                 axisLabel: { interval: 0, rotate: 30 } },
        yAxis: { type: "value", name: L.hours },
        series: [{
          name: L.hours, type: "bar", id: "hours", label: { show: true, position: "top" },
          data: data.steps.map(function (s) { return s.hours; })
        }]
      });
    }
  };

  function isEmpty(name) {
    var rows = { communities: data.communities, departments: data.departments, trend: data.trend,
                 categories: data.categories, hot_spots: data.hot_spots, steps: data.steps }[name];
    if (name === "overdue") {
      return !data.communities.concat(data.departments).some(function (r) { return r.overdue > 0; });
    }
    return !rows || rows.length === 0;
  }

  var drawn = {};
  var renderer = printing ? "svg" : "canvas";
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var name = element.getAttribute("data-chart");
    if (!charts[name]) { return; }
    var chart = echarts.init(element, null, { renderer: renderer });
    var option = charts[name]();
    if (isEmpty(name)) {
      option.title = { text: L.nothing, left: "center", top: "middle",
                       textStyle: { color: "#616e7c", fontSize: 14, fontWeight: "normal" } };
    }
    chart.setOption(option);
    drawn[name] = chart;
  });

  function resize() {
    Object.keys(drawn).forEach(function (name) { drawn[name].resize(); });
  }
  window.addEventListener("resize", resize);
  window.addEventListener("beforeprint", resize);
  window.gridcaseDashboard = { charts: drawn, data: data };
})();
