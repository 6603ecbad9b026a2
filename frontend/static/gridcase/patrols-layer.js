/* The live map's "today's patrols" overlay (今日巡查).
 *
 * A checkbox control on the map; when ticked, loads /map/patrols.json (the
 * day's patrols in the viewer's territory, GeoJSON) and draws each track in
 * its cell's colour, with check-ins as small circles and a popup naming the
 * worker, the length and the time. Reloaded every few minutes while shown.
 * Reads the map from window.gridcaseLeaflet (set by map.js).
 */
(function () {
  "use strict";
  var host = window.gridcaseLeaflet;
  if (!host || !window.L) return;
  var map = host.map, shift = host.shift;
  var t = JSON.parse(document.getElementById("patrols-i18n").textContent);
  var REFRESH_MS = 3 * 60 * 1000;
  var PALETTE = ["#0ea5e9", "#d946ef", "#f97316", "#22c55e", "#e11d48", "#8b5cf6", "#14b8a6", "#eab308"];
  var CHECK_IN = { radius: 5, weight: 2, color: "#111827", fillColor: "#fde047", fillOpacity: 1, className: "patrol-check-in" };
  var layer = L.layerGroup();
  var state = { shown: false, loads: 0, features: 0, timer: null };
  window.gridcasePatrols = state;  // inspected by the browser tests

  function colour(key) {
    var h = 0, s = String(key || "");
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }
  function text(s) { var d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }
  function hhmm(iso) { var d = new Date(iso); return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2); }
  function popup(p) {
    return "<b>" + text(p.worker) + "</b><br>" + text(t.length) + ": " + (p.length_m / 1000).toFixed(2) + " " + text(t.km) +
      "<br>" + text(t.time) + ": " + hhmm(p.started_at) + "–" + hhmm(p.ended_at) +
      "<br>" + text(t.cells) + ": " + text((p.cells || []).join(", "));
  }
  function draw(data) {
    layer.clearLayers();
    var byPatrol = {};
    L.geoJSON(data, {
      coordsToLatLng: function (c) { return shift(c[0], c[1]); },
      // Leaflet styles every vector layer with this, the check-ins' circles too.
      style: function (f) {
        if (f.properties.kind === "check_in") return CHECK_IN;
        return { color: colour(f.properties.cell || f.properties.worker_id), weight: 4, opacity: 0.85, className: "patrol-track" };
      },
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, CHECK_IN); },
      onEachFeature: function (f, l) {
        var p = f.properties;
        if (p.kind === "patrol") { byPatrol[p.patrol] = p; l.bindPopup(popup(p)); }
        else l.bindPopup("<b>" + text(t.check_in) + "</b>: " + text(p.place) + "<br>" + hhmm(p.at) +
          (byPatrol[p.patrol] ? " · " + text(byPatrol[p.patrol].worker) : ""));
      },
    }).addTo(layer);
    state.features = data.features.length;
    state.loads += 1;
  }
  function load() {
    return fetch("/map/patrols.json", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { if (state.shown) draw(data); })
      .catch(function () { /* kept as drawn; the next refresh tries again */ });
  }
  function show(on) {
    state.shown = on;
    clearInterval(state.timer);
    if (on) { layer.addTo(map); load(); state.timer = setInterval(load, REFRESH_MS); }
    else { map.removeLayer(layer); }
  }

  var Toggle = L.Control.extend({
    options: { position: "topright" },
    onAdd: function () {
      var box = L.DomUtil.create("label", "leaflet-bar map-toggle patrols-toggle");
      box.style.cssText = "background:#fff;padding:4px 8px;cursor:pointer;font-size:14px";
      box.innerHTML = '<input type="checkbox" id="patrols-toggle"> ' + text(t.toggle);
      L.DomEvent.disableClickPropagation(box);
      box.querySelector("input").addEventListener("change", function (e) { show(e.target.checked); });
      return box;
    },
  });
  map.addControl(new Toggle());
})();
