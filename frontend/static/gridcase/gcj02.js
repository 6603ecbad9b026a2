/* WGS-84 → GCJ-02, the offset Chinese web maps (Gaode, Tencent) apply inside
 * mainland China. Stored data stays WGS-84; only drawing is shifted, and only
 * when the configured tiles are GCJ-02. The formula is the published one
 * (Krasovsky ellipsoid constants); outside China there is no offset. */
(function (global) {
  "use strict";
  var A = 6378245.0;
  var EE = 0.00669342162296594323;

  function outOfChina(lon, lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }
  function dLat(x, y) {
    var r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
    r += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
    return r;
  }
  function dLon(x, y) {
    var r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
    r += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
    return r;
  }
  function toGcj02(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    var radLat = lat / 180.0 * Math.PI;
    var magic = 1 - EE * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    var la = dLat(lon - 105.0, lat - 35.0) * 180.0 / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
    var lo = dLon(lon - 105.0, lat - 35.0) * 180.0 / (A / sqrtMagic * Math.cos(radLat) * Math.PI);
    return [lon + lo, lat + la];
  }
  global.GridCaseGcj02 = { toGcj02: toGcj02, outOfChina: outOfChina };
})(window);
