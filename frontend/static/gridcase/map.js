/* The street leader's live map.
 *
 * Loads the territory's boundaries and a snapshot of open cases that carries a
 * cursor (the last event sequence number it includes), then applies events
 * from /ws/map/ after that cursor. Events commit in sequence order but may
 * arrive out of it (each web process broadcasts its own after commit), so an
 * event is ignored only when the snapshot already holds it or a newer event of
 * the same case was applied; events newer than a snapshot that arrives later
 * are drawn over it again. On reconnect the map asks for the events after a
 * point a little before the newest it has seen, and reloads the snapshot when
 * the server says too much was missed.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("map-config").textContent);
  var t = JSON.parse(document.getElementById("map-i18n").textContent);
  var GROUP_COLOURS = { "01": "#7c3aed", "02": "#2563eb", "03": "#ea580c", "04": "#16a34a", "05": "#475569", "99": "#6b7280" };
  var RESUME_OVERLAP = 200;
  var CLICK_OR_DBLCLICK_MS = 300;  // a cell's click waits this long for a second one (a zoom)  // sequence numbers asked for again on reconnect
  var OPEN = ["triage", "onsite", "mediation", "street_dispatch", "street_mediation", "department", "verify", "return_visit"];

  var shift = config.tileCrs === "gcj02"
    ? function (lon, lat) { var p = window.GridCaseGcj02.toGcj02(lon, lat); return L.latLng(p[1], p[0]); }
    : function (lon, lat) { return L.latLng(lat, lon); };

  var map = L.map("map", { preferCanvas: false, zoomSnap: 0.5 });
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: 19 }).addTo(map);
  }
  var layers = { districts: null, streets: null, communities: null, cells: null, labels: L.layerGroup().addTo(map), markers: L.layerGroup().addTo(map) };
  var state = {
    lastSeq: 0, snapshotSeq: 0, checkedSeq: 0, caseEvents: {}, snapshotAsked: 0, markers: {}, cellCounts: {},
    streetCounts: {}, communityStats: {}, streetStats: {}, socket: null,
    retry: 0, refreshTimer: null, eventsApplied: 0, snapshotsDrawn: 0, connected: false,
    sent: [],  // the frames this map sent, newest last (the browser tests read them)
    cellPanelsAsked: 0, cellClickTimer: null,
  };
  window.gridcaseMap = state;  // inspected by the browser tests
  window.gridcaseMapZoom = function () { return map.getZoom(); };
  window.gridcaseLeaflet = { map: map, shift: shift };  // for overlays in their own files (patrols-layer.js)
  var filtersForm = document.getElementById("filters");
  var liveState = document.getElementById("live-state");
  // Community names sit above markers (markerPane is 600, tooltips 650) and let clicks through.
  map.createPane("labels").style.zIndex = 620;
  map.getPane("labels").style.pointerEvents = "none";

  function qs(params) {
    var data = new FormData(filtersForm), parts = [];
    data.forEach(function (value, key) {
      var field = filtersForm.elements[key];
      if (field && field.validity && !field.validity.valid) return;  // a half-typed date filters nothing
      if (value && key !== "shade") parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
    });
    Object.keys(params || {}).forEach(function (k) { parts.push(k + "=" + encodeURIComponent(params[k])); });
    return parts.join("&");
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  function pct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%"; }
  function text(s) { var d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }

  // ---- boundaries ---------------------------------------------------------
  function geo(collection, style, onEach) {
    return L.geoJSON(collection, {
      style: style, onEachFeature: onEach,
      coordsToLatLng: function (c) { return shift(c[0], c[1]); },
    });
  }
  function shadeCell(feature) {
    var counts = state.cellCounts[feature.id] || { open: 0, overdue: 0 };
    var n = document.getElementById("shade").value === "overdue" ? counts.overdue : counts.open;
    var alpha = n === 0 ? 0.04 : Math.min(0.15 + n * 0.08, 0.75);
    var colour = document.getElementById("shade").value === "overdue" ? "#dc2626" : "#f59e0b";
    return { color: "#94a3b8", weight: 1, fillColor: colour, fillOpacity: alpha, className: "map-cell" };
  }
  // A street is shaded by its open (or overdue) cases while the map draws no cells
  // (a city or district zoomed out); over drawn cells it is an outline only.
  function shadeStreet(feature) {
    var style = { color: "#b42318", weight: 3, fill: false };
    if (!state.cellsByView || map.getZoom() >= CELL_ZOOM) return style;
    var counts = state.streetCounts[feature.id] || { open: 0, overdue: 0 };
    var overdue = document.getElementById("shade").value === "overdue";
    var n = overdue ? counts.overdue : counts.open;
    style.fill = true;
    style.fillColor = overdue ? "#dc2626" : "#f59e0b";
    style.fillOpacity = n === 0 ? 0.04 : Math.min(0.1 + n / 4000, 0.6);
    return style;
  }
  function loadBoundaries() {
    return getJSON("/map/boundaries.json").then(function (data) {
      if (data.cells) showCells(data.cells); else state.cellsByView = true;
      if (data.communities) showCommunities(data.communities); else state.communitiesByView = true;
      if (data.districts && data.districts.features.length) {
        layers.districts = geo(data.districts, { color: "#1f2937", weight: 4, fill: false, dashArray: "8 6" }).addTo(map);
      }
      layers.streets = geo(data.streets, shadeStreet, function (f, layer) {
        layer.bindTooltip(function () { return streetTooltip(f); }, { sticky: true });
      }).addTo(map);
      layers.streets.bringToBack();
      var bounds = layers.streets.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds); else map.setView([30.55, 114.3], 12);
    });
  }
  function showCommunities(collection) {
    if (layers.communities) map.removeLayer(layers.communities);
    layers.labels.clearLayers();
    layers.communities = geo(collection, { color: "#334e68", weight: 2, fill: false }, function (f, layer) {
      layer.bindTooltip(function () { return communityTooltip(f); }, { sticky: true });
    }).addTo(map);
    collection.features.forEach(function (f) {
      var center = L.geoJSON(f, { coordsToLatLng: function (c) { return shift(c[0], c[1]); } }).getBounds().getCenter();
      L.marker(center, { pane: "labels", interactive: false, keyboard: false,
        icon: L.divIcon({ className: "area-label", html: "<span>" + text(f.properties.name) + "</span>", iconSize: [160, 18] }) }).addTo(layers.labels);
    });
  }
  function showCells(collection) {
    if (layers.cells) map.removeLayer(layers.cells);
    layers.cells = geo(collection, shadeCell, function (f, layer) {
      // A double-click zooms; only a click with no second one after it opens the panel.
      layer.on("click", function () {
        clearTimeout(state.cellClickTimer);
        state.cellClickTimer = setTimeout(function () { state.cellClickTimer = null; showCell(f.id); }, CLICK_OR_DBLCLICK_MS);
      });
    }).addTo(map);
    layers.cells.bringToBack();
  }
  // A city has too many cells (and communities) to send at once: those in view are
  // fetched when zoomed in; zoomed out, the streets are shaded instead.
  var CELL_ZOOM = 14, COMMUNITY_ZOOM = 14;
  function drawsCells() { return !state.cellsByView || map.getZoom() >= CELL_ZOOM; }
  function loadCellsInView() {
    if (state.communitiesByView) {
      if (map.getZoom() < COMMUNITY_ZOOM) {
        if (layers.communities) { map.removeLayer(layers.communities); layers.communities = null; layers.labels.clearLayers(); }
      } else {
        getJSON("/map/communities.json?bbox=" + bboxParam()).then(showCommunities);
      }
    }
    if (layers.streets) layers.streets.setStyle(shadeStreet);
    if (!state.cellsByView) return;
    if (map.getZoom() < CELL_ZOOM) {
      if (layers.cells) { map.removeLayer(layers.cells); layers.cells = null; }
      return;
    }
    getJSON("/map/cells.json?bbox=" + bboxParam()).then(showCells);
  }
  function streetTooltip(f) {
    var s = state.streetStats[String(f.id)] || {}, c = state.streetCounts[f.id] || { open: 0, overdue: 0 };
    return "<b>" + text(f.properties.name) + "</b><br>" + t.open + ": " + c.open + " · " + t.overdue + ": " + c.overdue +
      (s.response !== undefined ? "<br>" + pct(s.response) + " / " + pct(s.resolution) + " / " + pct(s.satisfaction) : "");
  }
  function communityTooltip(f) {
    var s = state.communityStats[String(f.id)] || {};
    return "<b>" + text(f.properties.name) + "</b><br>" + t.open + ": " + (s.open || 0) + " · " + t.overdue + ": " + (s.overdue || 0) +
      "<br>" + pct(s.response) + " / " + pct(s.resolution) + " / " + pct(s.satisfaction);
  }

  // ---- snapshot, markers, stats -----------------------------------------------
  function markerIcon(c) {
    var cls = "case-marker deadline-" + c.deadline + (c.major_hazard ? " hazard" : "") +
      (c.supervised ? " supervised" : "");
    var size = c.major_hazard ? 20 : 14;
    return L.divIcon({ className: cls, iconSize: [size, size], html: "", bgPos: null });
  }
  // A case that arrives or changes live pulses for a moment (map.css); the class
  // goes when the animation ends, or after a while if it never ran (a hidden tab).
  function highlight(m) {
    var el = m.getElement();
    if (!el) return;
    el.classList.add("just-changed");
    var done = function () { el.classList.remove("just-changed"); };
    el.addEventListener("animationend", function (e) { if (e.animationName === "gc-just-changed") done(); });
    setTimeout(done, 6000);
  }
  function upsertMarker(c, live) {
    var existing = state.markers[c.number];
    if (existing) layers.markers.removeLayer(existing);
    var m = L.marker(shift(c.lon, c.lat), { icon: markerIcon(c), title: c.number, riseOnHover: true });
    m.on("add", function () { var el = m.getElement(); if (el) { el.style.background = GROUP_COLOURS[c.group] || "#6b7280"; el.dataset.number = c.number; el.dataset.deadline = c.deadline; el.dataset.supervised = c.supervised ? "1" : ""; } });
    m.on("click", function () { showCase(c.number); });
    state.markers[c.number] = m;
    layers.markers.addLayer(m);
    if (live) highlight(m);
  }
  function removeMarker(number) {
    if (state.markers[number]) { layers.markers.removeLayer(state.markers[number]); delete state.markers[number]; }
  }
  function bboxParam() {
    var b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
  }
  // Without cells drawn, the snapshot need not count them (cells=0).
  function snapshotUrl() {
    var params = { bbox: bboxParam() };
    if (!drawsCells()) params.cells = "0";
    return "/map/snapshot.json?" + qs(params);
  }
  function showCounts(snap) {
    state.cellCounts = snap.cells;
    state.streetCounts = snap.streets || {};
    if (layers.cells) layers.cells.setStyle(shadeCell);
    if (layers.streets) layers.streets.setStyle(shadeStreet);
  }
  function loadSnapshot() {
    var asked = ++state.snapshotAsked;
    return getJSON(snapshotUrl()).then(function (snap) {
      if (asked !== state.snapshotAsked) return snap;  // an older answer: a newer one is coming
      showCounts(snap);
      layers.markers.clearLayers();
      state.markers = {};
      if (snap.markers) snap.markers.forEach(function (c) { upsertMarker(c, false); });
      showNotice(snap.markers ? "" : t.too_many);
      if (snap.last_seq > state.lastSeq) state.lastSeq = snap.last_seq;
      state.snapshotSeq = Math.max(state.snapshotSeq, snap.last_seq);
      // Events newer than the snapshot, applied while it loaded, are drawn over it again.
      Object.keys(state.caseEvents).forEach(function (number) {
        var event = state.caseEvents[number];
        if (event.seq <= state.snapshotSeq) delete state.caseEvents[number]; else drawEvent(event, false);
      });
      state.snapshotsDrawn += 1;
      return snap;
    });
  }
  var notice = L.control({ position: "topright" });
  notice.onAdd = function () { this._div = L.DomUtil.create("div", "map-notice"); this._div.hidden = true; return this._div; };
  notice.addTo(map);
  function showNotice(message) { notice._div.textContent = message; notice._div.hidden = !message; }

  function loadStats() {
    return getJSON("/map/stats.json").then(function (s) {
      ["open", "new_today", "overdue", "closed_today"].forEach(function (k) {
        document.querySelector('[data-stat="' + k + '"]').textContent = s[k];
      });
      ["response", "resolution", "satisfaction"].forEach(function (k) {
        document.querySelector('[data-rate="' + k + '"]').textContent = pct(s.rates[k]);
      });
      state.communityStats = s.communities;
      state.streetStats = s.streets || {};
    });
  }
  function refreshSoon() {
    // Counts and rates come from the server after a burst of events, not per event.
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(function () {
      loadStats();
      getJSON(snapshotUrl()).then(showCounts);
    }, 250);
  }

  // ---- live events ----------------------------------------------------------
  function matchesFilters(c) {
    var f = new FormData(filtersForm);
    if (f.get("category") && c.category.indexOf(f.get("category")) !== 0) return false;
    if (f.get("state") && c.state !== f.get("state")) return false;
    if (f.get("urgency") && c.urgency !== f.get("urgency")) return false;
    if (f.get("community") && String(c.community) !== f.get("community")) return false;
    if (f.get("overdue") && c.deadline !== "red") return false;
    return true;
  }
  function applyEvent(event) {
    var known = state.caseEvents[event.case.number];
    // In the snapshot already, a repeat, or older than what this case shows.
    if (event.seq <= state.snapshotSeq || (known && event.seq <= known.seq)) return;
    state.caseEvents[event.case.number] = event;
    if (event.seq > state.lastSeq) state.lastSeq = event.seq;
    state.eventsApplied += 1;
    drawEvent(event, true);
    refreshSoon();
  }
  function drawEvent(event, live) {
    var c = event.case;
    c.group = c.category.slice(0, 2);
    // A case transferred away (转办) leaves this map; it appears on its new street's.
    var here = event.action !== "transferred_out";
    if (here && OPEN.indexOf(c.state) >= 0 && matchesFilters(c)) upsertMarker(c, live); else removeMarker(c.number);
  }
  function resumeAfter() {
    // No later than the server last said the map had everything ("checked"), and
    // a little before the newest event seen: what the layer dropped before the
    // socket broke, and one overtaken by later ones, come again (repeats are
    // ignored by case). Never before the snapshot, which holds the older ones.
    return Math.max(state.snapshotSeq, Math.min(state.checkedSeq, state.lastSeq - RESUME_OVERLAP));
  }
  function setLive(live) {
    state.connected = live;
    liveState.dataset.state = live ? "live" : "offline";
    liveState.textContent = live ? t.live : t.offline;
  }
  function sendFrame(socket, frame) {
    state.sent.push(frame);
    if (state.sent.length > 50) state.sent.shift();
    socket.send(JSON.stringify(frame));
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/map/");
    state.socket = socket;
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "hello") {
        state.retry = 0;
        setLive(true);
        sendFrame(socket, { type: "resume", after: resumeAfter() });
      } else if (data.type === "event") {
        applyEvent(data.event);
      } else if (data.type === "checked") {
        state.checkedSeq = Math.max(state.checkedSeq, data.upto);
      } else if (data.type === "caught_up") {
        state.checkedSeq = Math.max(state.checkedSeq, data.last_seq);
      } else if (data.type === "territory") {
        location.reload();  // boundaries, filters and cases all belong to the old territory
      } else if (data.type === "reload") {
        loadSnapshot(); loadStats();
      }
    };
    socket.onclose = function (e) {
      setLive(false);
      if (e.code === 4403) {  // logged out, or no post left: trying again cannot help
        showNotice(t.no_access);
        return;
      }
      var delay = Math.min(1000 * Math.pow(2, state.retry), 15000);
      state.retry += 1;
      setTimeout(connect, delay);
    };
  }

  // ---- side panel ---------------------------------------------------------
  var panel = document.getElementById("panel"), panelBody = document.getElementById("panel-body");
  document.getElementById("panel-close").onclick = function () { panel.hidden = true; };
  function showCase(number) {
    getJSON("/map/cases/" + encodeURIComponent(number) + ".json").then(function (c) {
      var html = "<h2>" + text(c.number) + "</h2>" +
        (c.major_hazard ? '<p class="red"><b>' + text(t.hazard) + "</b></p>" : "") +
        "<p>" + text(c.category_name) + " · " + text(c.urgency_label) + "</p>" +
        "<p>" + text(t.state) + ": " + text(c.state_label) + "<br>" + text(t.deadline) + ": " + text(c.deadline_label) +
        (c.step_due ? " (" + new Date(c.step_due).toLocaleString() + ")" : "") + "</p>" +
        "<p>" + text(t.handler) + ": " + text(c.handler || "–") + "</p>" +
        (c.supporters ? '<p class="supporters">' + text(t.reported_by.replace("{n}", c.supporters + 1)) + "</p>" : "") +
        "<p>" + text(c.description) + "</p>" +
        c.photos.map(function (src) { return '<img alt="" src="' + encodeURI(src) + '">'; }).join("") +
        "<h3>" + text(t.timeline) + "</h3><ol>" + c.timeline.map(function (e) {
          return "<li>" + new Date(e.at).toLocaleString() + " · " + text(e.actor) + " · " + text(e.label) + (e.note ? ": " + text(e.note) : "") + "</li>";
        }).join("") + "</ol>" +
        '<p><a href="/cases/' + encodeURIComponent(c.number) + '/">' + text(t.details) + "</a></p>";
      panelBody.innerHTML = html;
      panel.hidden = false;
    });
  }
  function showCell(pk) {
    state.cellPanelsAsked += 1;
    getJSON("/map/cells/" + pk + ".json").then(function (c) {
      panelBody.innerHTML = "<h2>" + text(c.name) + "</h2><p>" + text(c.code) + " · " + text(c.community) + "</p>" +
        "<p>" + text(t.households) + ": " + c.households + "</p>" +
        "<p>" + text(t.workers) + ": " + text(c.workers.join("、") || "–") + "</p>" +
        "<p>" + text(t.open) + ": " + c.open + " · " + text(t.overdue) + ": " + c.overdue + "</p>" +
        (c.rates ? "<p>" + text(t.rates) + ": " + pct(c.rates.response) + " / " + pct(c.rates.resolution) + " / " + pct(c.rates.satisfaction) + "</p>" : "");
      panel.hidden = false;
    });
  }

  map.on("dblclick", function () { clearTimeout(state.cellClickTimer); state.cellClickTimer = null; });

  // ---- legend ---------------------------------------------------------------
  var legendBox = document.getElementById("legend");
  legendBox.querySelectorAll("[data-group]").forEach(function (el) {
    el.style.background = GROUP_COLOURS[el.dataset.group] || GROUP_COLOURS["99"];
  });
  var legend = L.control({ position: "bottomleft" });
  legend.onAdd = function () { L.DomEvent.disableClickPropagation(legendBox); L.DomEvent.disableScrollPropagation(legendBox); return legendBox; };
  legend.addTo(map);

  // ---- date filters -----------------------------------------------------------
  // Typed dates are read as year-month-day: 2026/12/1, 2026.12.1 and 2026年12月1日 become 2026-12-01.
  function normalizeDate(input) {
    var m = input.value.trim().match(/^(\d{4})\D+(\d{1,2})\D+(\d{1,2})\D*$/);
    if (m) input.value = m[1] + "-" + ("0" + m[2]).slice(-2) + "-" + ("0" + m[3]).slice(-2);
    else if (/^\d{8}$/.test(input.value.trim())) input.value = input.value.trim().replace(/^(\d{4})(\d{2})(\d{2})$/, "$1-$2-$3");
  }
  filtersForm.addEventListener("change", function (e) {
    if (e.target.classList.contains("date")) {
      normalizeDate(e.target);
      if (!e.target.checkValidity()) { e.target.reportValidity(); return; }
    }
    if (e.target.name === "shade") {
      if (layers.cells) layers.cells.setStyle(shadeCell);
      if (layers.streets) layers.streets.setStyle(shadeStreet);
      return;
    }
    loadSnapshot();
  });
  loadBoundaries()
    .then(function () { return Promise.all([loadSnapshot(), loadStats()]); })
    .then(function () {
      map.on("moveend", function () { loadSnapshot(); loadCellsInView(); });
      loadCellsInView();
      connect();
    });
})();
