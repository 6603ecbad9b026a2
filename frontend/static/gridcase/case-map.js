/* The small map on a case page (its point and cell) and on the report form
 * (click to place the point). No tiles unless the server configures some. */
(function () {
  "use strict";
  var el = document.getElementById("case-map");
  if (!el || !window.L) return;
  var gcj = el.dataset.tileCrs === "gcj02";
  function shift(lon, lat) {
    if (!gcj) return L.latLng(lat, lon);
    var p = window.GridCaseGcj02.toGcj02(lon, lat);
    return L.latLng(p[1], p[0]);
  }
  var map = L.map(el);
  if (el.dataset.tileUrl) L.tileLayer(el.dataset.tileUrl, { maxZoom: 19 }).addTo(map);
  if (el.dataset.pick) {
    var lon = document.getElementById("id_lon"), lat = document.getElementById("id_lat");
    var marker = null;
    function place(latlng) {
      if (marker) marker.setLatLng(latlng); else marker = L.marker(latlng).addTo(map);
    }
    map.setView(lat.value && lon.value ? [+lat.value, +lon.value] : [30.55, 114.31], 13);
    if (lat.value && lon.value) place([+lat.value, +lon.value]);
    map.on("click", function (e) {
      place(e.latlng);
      lon.value = e.latlng.lng.toFixed(6);
      lat.value = e.latlng.lat.toFixed(6);
    });
    return;
  }
  var point = shift(parseFloat(el.dataset.lon), parseFloat(el.dataset.lat));
  var cell = JSON.parse(document.getElementById("cell-geojson").textContent);
  if (cell) {
    var layer = L.geoJSON(typeof cell === "string" ? JSON.parse(cell) : cell, {
      style: { color: "#334e68", weight: 2, fillOpacity: 0.08 },
      coordsToLatLng: function (c) { return shift(c[0], c[1]); },
    }).addTo(map);
    map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  } else {
    map.setView(point, 16);
  }
  L.circleMarker(point, { radius: 8, color: "#b42318", fillOpacity: 0.8 }).addTo(map);
})();
