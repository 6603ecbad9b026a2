/* GridCase for grid workers: report, work tasks, and keep going without signal.
 *
 * Everything the worker sends goes through the outbox (IndexedDB): each item
 * carries a client-generated id that the API uses to make a retry harmless,
 * is sent when there is signal, and stays visible with the server's reason
 * if it is refused. Nothing is dropped silently.
 */
(function () {
  "use strict";
  var boot = JSON.parse(document.getElementById("boot").textContent);
  var t = JSON.parse(document.getElementById("m-i18n").textContent);
  var state = {
    position: null, positionSource: null, photos: [], editing: null, categories: boot.categories,
    sending: false, flushes: 0, flushesDone: 0, outcomes: {},
  };
  window.gridcasePhone = state;  // inspected by the browser tests

  // ---- small helpers ---------------------------------------------------------
  function $(id) { return document.getElementById(id); }
  function esc(s) { var d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "id-" + Date.now() + "-" + Math.random().toString(16).slice(2);
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  // Times as a person reads them: the office's time zone, no seconds, in the page's language.
  var whenFormat = new Intl.DateTimeFormat(document.documentElement.lang || "zh-Hans", {
    timeZone: "Asia/Shanghai", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  function when(iso) { return iso ? whenFormat.format(new Date(iso)) : ""; }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }

  // ---- outbox (IndexedDB) ----------------------------------------------------------
  var dbPromise = new Promise(function (resolve, reject) {
    var open = indexedDB.open("gridcase", 1);
    open.onupgradeneeded = function () { open.result.createObjectStore("outbox", { keyPath: "id" }); };
    open.onsuccess = function () { resolve(open.result); };
    open.onerror = function () { reject(open.error); };
  });
  function store(mode, fn) {
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction("outbox", mode);
        var result = fn(tx.objectStore("outbox"));
        tx.oncomplete = function () { resolve(result && result.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  // The outbox is the device's, shared by everyone who logs in on it: each
  // item carries its author, and only the author's own session lists or sends
  // it (another worker's report must never go out under my name).
  function outboxAll() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).filter(function (item) { return item.author === boot.userId; });
    });
  }
  function outboxPut(item) { return store("readwrite", function (s) { s.put(item); }); }
  function outboxDelete(id) { return store("readwrite", function (s) { s.delete(id); }); }

  // Stored first, then sent: once in IndexedDB the item survives a closed app or a
  // lost signal. Resolves when this item's send was tried (or there is no signal).
  function enqueue(item) {
    item.id = item.id || uuid();
    item.author = boot.userId;
    item.fields.client_id = item.id;
    item.status = "pending";
    item.reason = "";
    item.created = item.created || new Date().toISOString();
    delete state.outcomes[item.id];
    return outboxPut(item).then(renderOutbox).then(flush).then(function () {
      return state.outcomes[item.id] || { status: "pending" };
    });
  }

  // The server's words only: field names are code, not something to show a worker.
  function reasonOf(body) {
    if (!body) return "";
    if (typeof body === "string") return body;
    if (body.detail) return String(body.detail);
    return Object.keys(body).map(function (k) { return [].concat(body[k]).join(" "); }).join("; ");
  }

  function send(item) {
    if (item.json) {
      // A patrol is one JSON body (its track is a list of points, not form fields).
      return fetch(item.url, {
        method: "POST", body: JSON.stringify(item.fields), credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), Accept: "application/json", "Content-Type": "application/json" },
      });
    }
    var form = new FormData();
    Object.keys(item.fields).forEach(function (k) {
      var v = item.fields[k];
      if (v !== undefined && v !== null && v !== "") form.append(k, typeof v === "object" ? JSON.stringify(v) : v);
    });
    (item.photos || []).forEach(function (blob, i) { form.append("photos", blob, "photo-" + i + ".jpg"); });
    return fetch(item.url, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
    });
  }

  // One flush at a time; a flush asked for while one runs runs after it (the
  // item that asked may have been stored after the running one read the outbox).
  var running = null, again = false;
  function flush() {
    if (!navigator.onLine) return Promise.resolve();
    if (running) { again = true; return running; }
    running = flushOnce().then(function () {
      running = null;
      if (again) { again = false; return flush(); }
    });
    return running;
  }

  function flushOnce() {
    state.sending = true;
    state.flushes += 1;
    return outboxAll().then(function (items) {
      var pending = items.filter(function (i) { return i.status === "pending"; });
      return pending.reduce(function (chain, item) {
        return chain.then(function () {
          return send(item).then(function (response) {
            if (response.ok) {
              item.status = "sent";
              return response.json().then(function (body) {
                item.result = body.number || "";
                state.outcomes[item.id] = { status: "sent", number: item.result, body: body };
                return outboxDelete(item.id).then(function () { state.lastSent = item; });
              });
            }
            if (response.status === 401 || response.status === 403 || response.status >= 500) {
              item.reason = response.status + "";
              return outboxPut(item);  // keep it pending: log in again, or the server recovers
            }
            // Refused: kept with everything entered, to be corrected and sent again.
            return response.json().catch(function () { return null; }).then(function (body) {
              item.status = "refused";
              item.reason = reasonOf(body) || String(response.status);
              state.outcomes[item.id] = { status: "refused", reason: item.reason };
              return outboxPut(item);
            });
          });
        });
      }, Promise.resolve());
    }).catch(function () { /* no signal after all: stays pending */ })
      .then(function () { state.sending = false; state.flushesDone += 1; return renderOutbox(); })
      .then(function () { if (location.hash === "#home" || !location.hash) loadTasks(); });
  }

  function renderOutbox() {
    return outboxAll().then(function (items) {
      $("outbox-count").textContent = items.length;
      state.outbox = items;
      $("outbox").innerHTML = items.map(function (item) {
        var label = { report: t.report, patrol: t.patrol, diary: t.diary }[item.kind] ||
          (item.kind === "support" ? t.support : t.step) + " " + esc(item.number || "");
        var status = item.status === "refused"
          ? '<span class="tag refused">' + esc(t.refused) + "</span> " + esc(item.reason)
          : '<span class="tag pending">' + esc(t.queued) + "</span>";
        var buttons = "";
        if (item.status === "refused") {
          if (item.kind === "report") buttons += button("edit", item.id, t.edit);
          buttons += button("resend", item.id, t.resend) + button("dismiss", item.id, t.dismiss);
        }
        var photos = (item.photos || []).length ? " · " + esc(t.case_photos) + " " + item.photos.length : "";
        return '<li data-id="' + esc(item.id) + '" data-kind="' + esc(item.kind) + '" data-status="' + item.status + '"><b>' + esc(label) + "</b> " +
          esc(item.summary || "") + photos + "<br>" + status + "<br>" + buttons + "</li>";
      }).join("");
    });
  }
  function button(what, id, text) {
    return '<button type="button" data-' + what + '="' + esc(id) + '">' + esc(text) + "</button>";
  }
  function outboxItem(id) {
    return outboxAll().then(function (items) { return items.filter(function (i) { return i.id === id; })[0]; });
  }
  $("outbox").addEventListener("click", function (e) {
    var target = e.target;
    var id = target.getAttribute("data-dismiss");
    if (id) {
      if (state.editing === id) resetReport();
      outboxDelete(id).then(renderOutbox);
      return;
    }
    id = target.getAttribute("data-edit");
    if (id) { outboxItem(id).then(function (item) { if (item) editReport(item); }); return; }
    id = target.getAttribute("data-resend");
    if (id) {
      outboxItem(id).then(function (item) {
        if (!item) return;
        if (state.editing === id) resetReport();
        enqueue(item).then(function (outcome) { showOutcome(item, outcome); });
      });
    }
  });

  function setNet() {
    var online = navigator.onLine;
    $("net").dataset.online = online;
    $("net").textContent = online ? t.online : t.offline;
    if (online) flush();
  }
  window.addEventListener("online", setNet);
  window.addEventListener("offline", setNet);
  setInterval(flush, 15000);

  // ---- maps ------------------------------------------------------------------
  function cellsLayer() {
    return L.geoJSON(boot.cells, { style: { color: "#334e68", weight: 2, fillOpacity: 0.06 } });
  }
  var homeMap = null, reportMap = null, pin = null, me = null, watch = null;
  function showHomeMap() {
    if (!homeMap) {
      homeMap = L.map("home-map", { zoomControl: false });
      var cells = cellsLayer().addTo(homeMap);
      if (cells.getBounds().isValid()) homeMap.fitBounds(cells.getBounds()); else homeMap.setView([30.55, 114.3], 13);
    }
    homeMap.invalidateSize();
    // Followed only while the home map shows: GPS costs battery, and a running watch
    // would hold back the fresh fix a report asks for.
    if (navigator.geolocation && watch === null) {
      watch = navigator.geolocation.watchPosition(function (p) {
        var ll = [p.coords.latitude, p.coords.longitude];
        if (!me) me = L.circleMarker(ll, { radius: 7, color: "#1d4ed8", fillOpacity: 0.9 }).addTo(homeMap);
        else me.setLatLng(ll);
      }, function () {}, { enableHighAccuracy: true, maximumAge: 30000 });
    }
  }
  function leaveHomeMap() {
    if (watch !== null) { navigator.geolocation.clearWatch(watch); watch = null; }
  }
  function insideMyCells(lat, lon) {
    return boot.cells.features.some(function (f) { return pointInGeometry([lon, lat], f.geometry); });
  }
  function pointInRing(p, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > p[1]) !== (yj > p[1]) && p[0] < (xj - xi) * (p[1] - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function pointInGeometry(p, g) {
    var polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
    return polygons.some(function (poly) {
      return pointInRing(p, poly[0]) && !poly.slice(1).some(function (hole) { return pointInRing(p, hole); });
    });
  }
  function setPoint(lat, lon, accuracy, source) {
    state.position = { lat: lat, lon: lon, accuracy: accuracy };
    state.positionSource = source;
    var form = $("report-form");
    form.lon.value = lon.toFixed(6);
    form.lat.value = lat.toFixed(6);
    if (reportMap) {
      if (!pin) {
        pin = L.marker([lat, lon], { draggable: true }).addTo(reportMap);
        pin.on("dragend", function () {
          var ll = pin.getLatLng();
          setPoint(ll.lat, ll.lng, null, "pin");
        });
      } else pin.setLatLng([lat, lon]);
      reportMap.setView([lat, lon], Math.max(reportMap.getZoom() || 16, 16));
    }
    $("gps").textContent = source === "exif" ? t.exif
      : accuracy ? t.accuracy + " ±" + t.metres.replace("{n}", Math.round(accuracy)) : lat.toFixed(5) + ", " + lon.toFixed(5);
    $("outside").hidden = insideMyCells(lat, lon);
  }
  function showReportMap() {
    if (!reportMap) {
      reportMap = L.map("report-map");
      var cells = cellsLayer().addTo(reportMap);
      if (cells.getBounds().isValid()) reportMap.fitBounds(cells.getBounds()); else reportMap.setView([30.55, 114.3], 13);
      reportMap.on("click", function (e) { setPoint(e.latlng.lat, e.latlng.lng, null, "pin"); });
    }
    reportMap.invalidateSize();
    var p = state.position;
    if (p) setPoint(p.lat, p.lon, p.accuracy, state.positionSource);
    if (!navigator.geolocation) { $("gps").textContent = t.no_gps; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      // A point the worker placed (pin, photo, or a report being corrected) is kept.
      if (state.position && state.positionSource !== "gps") return;
      setPoint(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy, "gps");
    }, function () { if (!state.position) $("gps").textContent = t.no_gps; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  }

  // The worker asks for the position again (a report corrected after a refusal keeps its own).
  $("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { $("gps").textContent = t.no_gps; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPoint(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy, "gps");
    }, function () { $("gps").textContent = t.no_gps; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
  });

  // ---- photos: resized on the phone; EXIF position offered when GPS is missing ----
  function resize(file) {
    return new Promise(function (resolve) {
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, 1280 / Math.max(img.width, img.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.width * scale);
        canvas.height = Math.round(img.height * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) { URL.revokeObjectURL(img.src); resolve(blob); }, "image/jpeg", 0.8);
      };
      img.onerror = function () { resolve(null); };
      img.src = URL.createObjectURL(file);
    });
  }
  function exifPosition(buffer) {
    // The GPS IFD of a JPEG's APP1 Exif segment: latitude/longitude as rationals.
    var view = new DataView(buffer);
    if (view.getUint16(0) !== 0xFFD8) return null;
    var offset = 2;
    while (offset + 4 < view.byteLength) {
      var marker = view.getUint16(offset), size = view.getUint16(offset + 2);
      if (marker === 0xFFE1 && view.getUint32(offset + 4) === 0x45786966) {
        var tiff = offset + 10, little = view.getUint16(tiff) === 0x4949;
        var u16 = function (o) { return view.getUint16(o, little); };
        var u32 = function (o) { return view.getUint32(o, little); };
        var ifd = tiff + u32(tiff + 4), gps = null;
        for (var i = 0, n = u16(ifd); i < n; i++) {
          var e = ifd + 2 + i * 12;
          if (u16(e) === 0x8825) gps = tiff + u32(e + 8);
        }
        if (gps === null) return null;
        var tags = {};
        for (var k = 0, m = u16(gps); k < m; k++) {
          var g = gps + 2 + k * 12, tag = u16(g);
          if (tag === 1 || tag === 3) tags[tag] = String.fromCharCode(view.getUint8(g + 8));
          if (tag === 2 || tag === 4) {
            var at = tiff + u32(g + 8), dms = [0, 1, 2].map(function (j) { return u32(at + j * 8) / u32(at + j * 8 + 4); });
            tags[tag] = dms[0] + dms[1] / 60 + dms[2] / 3600;
          }
        }
        if (tags[2] === undefined || tags[4] === undefined) return null;
        return { lat: tags[1] === "S" ? -tags[2] : tags[2], lon: tags[3] === "W" ? -tags[4] : tags[4] };
      }
      offset += 2 + size;
    }
    return null;
  }
  $("photos").addEventListener("change", function (e) {
    var files = Array.prototype.slice.call(e.target.files);
    files.forEach(function (file) {
      if (!state.position) {
        file.arrayBuffer().then(function (buf) {
          var where = null;
          try { where = exifPosition(buf); } catch (err) { where = null; }
          if (where && !state.position) setPoint(where.lat, where.lon, null, "exif");
        });
      }
      resize(file).then(function (blob) {
        if (!blob) return;
        state.photos.push(blob);
        renderThumbs();
      });
    });
    e.target.value = "";
  });
  // Tapping a thumbnail takes that photo out of the report.
  function renderThumbs() {
    $("thumbs").innerHTML = "";
    state.photos.forEach(function (blob, i) {
      var img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.dataset.index = i;
      $("thumbs").appendChild(img);
    });
  }
  $("thumbs").addEventListener("click", function (e) {
    if (e.target.dataset.index === undefined) return;
    state.photos.splice(Number(e.target.dataset.index), 1);
    renderThumbs();
  });

  // ---- report -----------------------------------------------------------------
  function recentCategories() {
    try { return JSON.parse(localStorage.getItem("gridcase.recent") || "[]"); } catch (e) { return []; }
  }
  // The categories are the API's rows (kinds, and the groups they belong to); whether a
  // kind is a dispute or may be a major hazard is the server's word, not the phone's.
  function kinds() { return state.categories.filter(function (c) { return c.group; }); }
  function categoryOf(code) { return state.categories.filter(function (c) { return c.code === code; })[0]; }
  function refreshCategories() {
    return getJSON("/api/v1/categories/").then(function (rows) {
      state.categories = rows;
      localStorage.setItem("gridcase.categories", JSON.stringify(rows));
      fillCategories();
    }).catch(function () {
      var saved = localStorage.getItem("gridcase.categories");
      if (saved && !navigator.onLine) { state.categories = JSON.parse(saved); fillCategories(); }
    });
  }
  function fillCategories() {
    var chosen = $("category").value;
    var recent = recentCategories();
    var html = "";
    var mine = recent.filter(function (code) { var c = categoryOf(code); return c && c.group; });
    if (mine.length) {
      html += '<optgroup label="' + esc(t.recent) + '">' + mine.map(function (code) {
        return '<option value="' + esc(code) + '">' + esc(categoryOf(code).label) + "</option>";
      }).join("") + "</optgroup>";
    }
    var groups = {}, order = [];
    kinds().forEach(function (c) {
      if (!groups[c.group]) { groups[c.group] = []; order.push(c.group); }
      groups[c.group].push(c);
    });
    order.forEach(function (g) {
      var group = categoryOf(g);
      html += '<optgroup label="' + esc(group ? group.label : g) + '">' + groups[g].map(function (c) {
        return '<option value="' + esc(c.code) + '">' + esc(c.label) + "</option>";
      }).join("") + "</optgroup>";
    });
    $("category").innerHTML = html;
    if (chosen && categoryOf(chosen)) $("category").value = chosen;
    categoryChanged();
  }
  function categoryChanged() {
    var c = categoryOf($("category").value) || {};
    $("parties").hidden = !c.dispute;
    // Offered only where the server accepts it; a hidden box is never sent ticked.
    $("major-hazard").parentNode.hidden = !c.hazard;
    if (!c.hazard) $("major-hazard").checked = false;
  }
  $("category").addEventListener("change", categoryChanged);

  function notice(html) {
    $("notice").innerHTML = html;
    $("notice").hidden = !html;
  }
  function resetReport() {
    var f = $("report-form");
    f.reset();
    state.photos = [];
    state.position = null;
    state.positionSource = null;
    state.editing = null;
    f.lon.value = "";
    f.lat.value = "";
    renderThumbs();
    $("report-error").hidden = true;
    fillCategories();
  }
  // A refused report back in the form, as the worker entered it.
  function editReport(item) {
    var f = $("report-form"), v = item.fields;
    resetReport();
    state.editing = item.id;
    f.category.value = v.category;
    categoryChanged();
    f.description.value = v.description || "";
    f.major_hazard.checked = v.major_hazard === "true" && !$("major-hazard").parentNode.hidden;
    (Array.isArray(v.parties_json) ? v.parties_json : []).forEach(function (p, i) {
      if (i > 1) return;
      f["party" + (i + 1)].value = p.name || "";
      f["party" + (i + 1) + "_phone"].value = p.phone || "";
    });
    state.photos = (item.photos || []).slice();
    renderThumbs();
    state.position = { lat: Number(v.lat), lon: Number(v.lon), accuracy: null };
    state.positionSource = "edit";
    f.lon.value = v.lon;
    f.lat.value = v.lat;
    $("report-error").textContent = t.refused_notice + " " + (item.reason || "");
    $("report-error").hidden = false;
    location.hash = "#report";
  }
  function caseLink(number) {
    return '<a href="#case/' + encodeURIComponent(number) + '">' + esc(number) + "</a>";
  }
  // What the worker is told once the send was tried: the case number, queued, or why not.
  function showOutcome(item, outcome) {
    if (item.kind === "patrol" || item.kind === "diary") { showRecordOutcome(item, outcome); return; }
    if (outcome.status === "sent") {
      var sent = { report: t.reported_number, support: t.supported_number }[item.kind];
      notice(sent ? esc(sent) + " " + caseLink(outcome.number) : esc(t.step_sent));
    } else if (outcome.status === "pending") {
      notice(esc(t.queued_notice));
    } else if (item.kind === "report") {
      editReport(item);
      return;
    } else if (item.kind === "support" && item.report) {
      // The case closed meanwhile (or another refusal): back to the report as entered.
      outboxDelete(item.id).then(renderOutbox);
      editReport(item.report);
      $("report-error").textContent = t.refused + ": " + outcome.reason;
      return;
    } else {
      notice(esc(t.refused) + ": " + esc(outcome.reason));
    }
    // A case logged on a patrol returns the worker to the patrol.
    var back = item.fields && item.fields.patrol && runningPatrol() ? "#patrol" : "#home";
    if (location.hash !== back) location.hash = back;
  }
  // A patrol or a diary entry: what the server counted, queued, or why it was refused.
  function showRecordOutcome(item, outcome) {
    var body = outcome.body || {};
    if (outcome.status === "sent" && item.kind === "patrol") {
      notice(esc(t.patrol_sent.replace("{length}", lengthText(body.length_m || 0))
        .replace("{checkins}", body.check_ins || 0).replace("{cases}", (body.cases || []).length)) +
        (body.cases || []).map(function (n) { return " " + caseLink(n); }).join(""));
    } else if (outcome.status === "sent") {
      notice(esc(t.diary_sent));
      if (location.hash === "#diary") loadDiary();
    } else if (outcome.status === "pending") {
      notice(esc(item.kind === "patrol" ? t.patrol_queued : t.queued_notice));
    } else {
      notice(esc(t.refused) + ": " + esc(outcome.reason));
    }
  }

  $("report-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    if (!f.lon.value) { $("gps").textContent = t.no_gps; return; }
    var parties = [1, 2].map(function (i) {
      return { name: f["party" + i].value.trim(), phone: f["party" + i + "_phone"].value.trim() };
    }).filter(function (p) { return p.name; });
    var recent = [f.category.value].concat(recentCategories().filter(function (c) { return c !== f.category.value; })).slice(0, 5);
    localStorage.setItem("gridcase.recent", JSON.stringify(recent));
    var hazardOffered = !$("major-hazard").parentNode.hidden;
    var patrol = state.editing ? null : runningPatrol();
    var item = {
      id: state.editing || uuid(),
      kind: "report", url: "/api/v1/cases/", summary: f.description.value.slice(0, 40),
      fields: {
        category: f.category.value, description: f.description.value, lon: f.lon.value, lat: f.lat.value,
        major_hazard: hazardOffered && f.major_hazard.checked ? "true" : "", source: "grid_worker",
        parties_json: parties.length ? parties : "",
      },
      photos: state.photos.slice(),
    };
    // Logged during a patrol: the report names the patrol and the patrol lists the report.
    if (patrol) item.fields.patrol = patrol.id;
    var submit = f.querySelector("button[type=submit]");
    submit.disabled = true;
    notice("");
    // A report corrected after a refusal was offered its neighbours already.
    var asked = state.editing ? Promise.resolve([]) : nearbyCases(item.fields);
    asked.then(function (cases) {
      if (cases.length) { submit.disabled = false; offerMeToo(cases, item); return; }
      sendItem(item, submit);
    });
  });

  // The form is cleared only once the item is accepted or safely queued.
  function sendItem(item, submit) {
    submit.disabled = true;
    var patrol = runningPatrol();
    if (item.kind === "report" && patrol && item.fields.patrol === patrol.id && patrol.cases.indexOf(item.id) < 0) {
      patrol.cases.push(item.id);
      savePatrol(patrol);
    }
    enqueue(item).then(function (outcome) {
      submit.disabled = false;
      if (outcome.status !== "refused" || item.kind !== "report") resetReport();
      closeMeToo();
      showOutcome(item, outcome);
    }, function () { submit.disabled = false; });
  }

  // ---- me too: an open case of the same kind nearby is offered before a new one --
  // Without signal (or a slow one) nothing is asked: the report goes as usual.
  function nearbyCases(fields) {
    if (!navigator.onLine) return Promise.resolve([]);
    var url = "/api/v1/cases/nearby/?category=" + encodeURIComponent(fields.category) +
      "&lon=" + encodeURIComponent(fields.lon) + "&lat=" + encodeURIComponent(fields.lat);
    var asked = getJSON(url).catch(function () { return []; });
    var patience = new Promise(function (resolve) { setTimeout(function () { resolve([]); }, 5000); });
    return Promise.race([asked, patience]);
  }
  function offerMeToo(cases, item) {
    state.offered = cases.map(function (c) { return c.number; });
    state.pendingReport = item;
    $("me-too-list").innerHTML = cases.map(function (c) {
      return "<li><p><b>" + esc(t.me_too.replace("{m}", c.distance_m)) + "</b></p><p>" +
        esc(c.number) + " · " + esc(c.category_name) + " · " + esc(c.state_label) +
        (c.supporters ? " · " + esc(t.reported_too.replace("{n}", c.supporters + 1)) : "") +
        "<br>" + esc(c.description.slice(0, 80)) + "</p>" +
        '<button type="button" class="big primary" data-support="' + esc(c.number) + '">' +
        esc(t.add_to) + "</button></li>";
    }).join("");
    $("me-too").hidden = false;
    $("me-too").scrollIntoView();
  }
  function closeMeToo() {
    $("me-too").hidden = true;
    $("me-too-list").innerHTML = "";
    state.pendingReport = null;
  }
  $("me-too").addEventListener("click", function (e) {
    var item = state.pendingReport;
    if (!item) return;
    var submit = $("report-form").querySelector("button[type=submit]");
    var number = e.target.getAttribute("data-support");
    if (number) {
      sendItem({
        kind: "support", number: number, summary: item.summary,
        url: "/api/v1/cases/" + encodeURIComponent(number) + "/support/",
        fields: { words: item.fields.description, source: "grid_worker" },
        photos: item.photos, report: item,
      }, submit);
    } else if (e.target.id === "me-too-new") {
      sendItem(item, submit);
    }
  });

  // ---- tasks ------------------------------------------------------------------
  var STEP = { onsite: "handle", department: "handle", verify: "verify", return_visit: "return_visit" };
  function taskItem(c) {
    return '<li><a href="#task/' + encodeURIComponent(c.number) + '"><b>' + esc(c.number) + "</b> " +
      '<span class="tag ' + esc(c.deadline) + '">' + esc(c.state_label) + " · " + esc(t.deadline) + " " + esc(when(c.step_due)) +
      "</span><br>" + esc(c.description.slice(0, 60)) + "</a></li>";
  }
  // Per person: on a shared phone offline, the next worker must not read the last one's cases.
  var TASKS_KEY = "gridcase.tasks." + boot.userId;
  localStorage.removeItem("gridcase.tasks");  // the shared key of earlier versions
  function loadTasks() {
    return getJSON("/api/v1/tasks/").then(function (tasks) {
      tasks = tasks.filter(function (c) { return STEP[c.state]; });
      localStorage.setItem(TASKS_KEY, JSON.stringify(tasks));
      renderTasks(tasks, "");
    }).catch(function () {
      renderTasks(JSON.parse(localStorage.getItem(TASKS_KEY) || "[]"), t.offline_tasks);
    });
  }
  function renderTasks(tasks, note) {
    state.tasks = tasks;
    $("tasks").innerHTML = tasks.map(taskItem).join("");
    $("tasks-note").textContent = note || (tasks.length ? "" : t.no_tasks);
  }
  function radio(name, value, label, checked) {
    return '<label class="choice"><input type="radio" name="' + name + '" value="' + value + '"' +
      (checked ? " checked" : "") + " required> " + esc(label) + "</label>";
  }
  function showTask(number) {
    var c = (state.tasks || []).filter(function (x) { return x.number === number; })[0];
    if (!c) { location.hash = "#home"; return; }
    var action = STEP[c.state];
    $("task-title").textContent = t[action] + " · " + c.number;
    $("task-info").textContent = c.description;
    // What was reported and what the handler claims: the case's photos and progress.
    $("task-case").innerHTML = '<p class="muted">' + esc(t.loading) + "</p>";
    getJSON("/api/v1/cases/" + encodeURIComponent(number) + "/").then(function (detail) {
      if (location.hash === "#task/" + encodeURIComponent(number)) $("task-case").innerHTML = caseBody(detail, false);
    }).catch(function () { $("task-case").innerHTML = '<p class="muted">' + esc(t.offline_case) + "</p>"; });
    var form = $("task-form"), html = "";
    if (action === "handle") {
      html = '<label>' + esc(t.result) + '<textarea name="result" rows="3" required></textarea></label>';
    } else if (action === "verify") {
      html = radio("passed", "true", t.fixed, true) + radio("passed", "false", t.not_fixed) +
        '<label>' + esc(t.note) + '<textarea name="note" rows="2"></textarea></label>';
    } else {
      html = radio("satisfaction", "satisfied", t.satisfied, true) + radio("satisfaction", "basic", t.basic) +
        radio("satisfaction", "unsatisfied", t.unsatisfied) +
        '<label>' + esc(t.words) + '<textarea name="words" rows="2"></textarea></label>';
    }
    if (action !== "return_visit") {
      html += '<label class="big file">' + esc(t.photos) + '<input type="file" name="photos" accept="image/*" capture="environment" multiple></label>';
    }
    form.innerHTML = html + '<button type="submit" class="big primary">' + esc(t.send) + "</button>";
    form.onsubmit = function (e) {
      e.preventDefault();
      var fields = { task_id: c.task_id };
      ["result", "note", "words", "satisfaction"].forEach(function (k) { if (form[k]) fields[k] = form[k].value; });
      if (form.passed) fields.passed = form.passed.value;
      var files = form.photos ? Array.prototype.slice.call(form.photos.files) : [];
      var item = {
        kind: "step", number: c.number, summary: t[action],
        url: "/api/v1/cases/" + encodeURIComponent(c.number) + "/" + action.replace("_", "-") + "/",
        fields: fields,
      };
      Promise.all(files.map(resize)).then(function (blobs) {
        item.photos = blobs.filter(Boolean);
        state.tasks = state.tasks.filter(function (x) { return x.number !== c.number; });
        location.hash = "#home";
        return enqueue(item);
      }).then(function (outcome) { showOutcome(item, outcome); });
    };
  }

  function loadMine() {
    getJSON("/api/v1/cases/?mine=true&limit=50").then(function (data) {
      $("mine").innerHTML = data.results.map(function (c) {
        return '<li><a href="#case/' + encodeURIComponent(c.number) + '"><b>' + esc(c.number) + "</b> " +
          '<span class="tag ' + esc(c.deadline) + '">' + esc(c.state_label) + "</span> " +
          '<span class="muted">' + esc(when(c.reported_at)) + "</span><br>" +
          esc(c.description.slice(0, 60)) + "</a></li>";
      }).join("");
    }).catch(function () { /* offline: the list waits for signal */ });
  }

  // ---- a case's progress: its facts, photos (before / after, who and when) and timeline ----
  // The task view shows the description above its form already (withDescription false).
  function caseBody(c, withDescription) {
    var facts = [
      [t.state, c.state_label], [t.category, c.category_name], [t.urgency, c.urgency_label],
      [t.reported_at, when(c.reported_at)],
    ];
    if (c.step_due && c.closed_at === null) facts.push([t.deadline, c.deadline_label + " · " + when(c.step_due)]);
    if (c.major_hazard) facts.push([t.major_hazard, "✓"]);
    var html = '<dl class="facts">' + facts.map(function (f) {
      return "<dt>" + esc(f[0]) + "</dt><dd>" + esc(f[1]) + "</dd>";
    }).join("") + "</dl>" + (withDescription === false ? "" : "<p>" + esc(c.description) + "</p>");
    html += "<h3>" + esc(t.case_photos) + "</h3>";
    html += c.photos.length ? '<div class="photos">' + c.photos.map(function (p) {
      return '<figure data-stage="' + esc(p.stage) + '"><a href="' + esc(p.url) + '" target="_blank" rel="noopener">' +
        '<img src="' + esc(p.url) + '" alt="' + esc(p.stage_label) + '" loading="lazy"></a><figcaption><b>' +
        esc(p.stage_label) + "</b> · " + esc(p.step_label || "") + "<br>" + esc(p.by || "") + " · " + esc(when(p.at)) +
        "</figcaption></figure>";
    }).join("") + "</div>" : '<p class="muted">' + esc(t.no_photos) + "</p>";
    html += "<h3>" + esc(t.progress) + '</h3><ol class="timeline">' + c.timeline.map(function (e) {
      return "<li>" + esc(when(e.at)) + " · " + esc(e.action_label) + (e.actor_name ? " · " + esc(e.actor_name) : "") +
        (e.note ? '<br><span class="muted">' + esc(e.note) + "</span>" : "") + "</li>";
    }).join("") + "</ol>";
    return html;
  }
  function showCase(number) {
    $("case-title").textContent = number;
    $("case-body").innerHTML = '<p class="muted">' + esc(t.loading) + "</p>";
    getJSON("/api/v1/cases/" + encodeURIComponent(number) + "/").then(function (c) {
      if (location.hash === "#case/" + encodeURIComponent(number)) $("case-body").innerHTML = caseBody(c);
    }).catch(function () { $("case-body").innerHTML = '<p class="muted">' + esc(t.offline_case) + "</p>"; });
  }

  // ---- notifications: the bell's count comes live over /ws/me/ (bell.js) ----
  function loadNotifications() {
    return getJSON("/api/v1/notifications/").then(function (rows) {
      state.notifications = rows;
      $("notifications").innerHTML = rows.length ? rows.map(notificationItem).join("") :
        '<li class="muted">' + esc(t.no_notifications) + "</li>";
    }).catch(function () { /* offline: the list waits for signal */ });
  }
  function notificationLink(number, id) {
    return '<a href="#case/' + encodeURIComponent(number) + '" data-read="' + id + '"><b>' + esc(number) + "</b></a>";
  }
  // One case, or a digest (case null): its text, then each of its cases the reader may see.
  function notificationItem(n) {
    var head = n.case ? notificationLink(n.case, n.id) + " " : "";
    var cases = n.case ? "" : '<br><span class="digest">' +
      (n.cases || []).map(function (number) { return notificationLink(number, n.id); }).join(" ") + "</span>";
    return '<li data-id="' + n.id + '" class="' + (n.read ? "read" : "unread") + '">' + head +
      '<span class="muted">' + esc(when(n.created)) + "</span><br>" + esc(n.text) + cases + "</li>";
  }
  function markRead(ids) {
    return fetch("/api/v1/notifications/read/", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(ids ? { ids: ids } : {}),
    }).catch(function () {});
  }
  $("notifications").addEventListener("click", function (e) {
    var link = e.target.closest("[data-read]");
    if (link) markRead([Number(link.getAttribute("data-read"))]);
  });
  $("read-all").addEventListener("click", function () { markRead(null).then(loadNotifications); });
  document.addEventListener("gridcase:unread", function () {
    if (location.hash === "#bell") loadNotifications();
  });

  // ---- patrol (巡查): a track, check-ins at key places, the cases found on it ----
  // A web app records positions only while its page is in front with the screen on:
  // the patrol view says so and asks for a screen wake lock. The running patrol is
  // kept in localStorage (per user) after every change, so a reload or a closed tab
  // resumes it; when it ends it goes through the outbox like a report.
  var SETUP_KEY = "gridcase.patrolSetup." + boot.userId, PATROL_KEY = "gridcase.patrol." + boot.userId;
  var patrolWatch = null, patrolTimer = null, wakeLock = null;
  function patrolSetup() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(SETUP_KEY) || "null"); } catch (e) { saved = null; }
    return saved || { position_seconds: 30, check_in_radius_m: 50, max_points: 5000, places: [] };
  }
  function refreshPatrolSetup() {
    if (!navigator.onLine) return Promise.resolve();
    return getJSON("/api/v1/patrols/setup/").then(function (setup) {
      localStorage.setItem(SETUP_KEY, JSON.stringify(setup));
      if (location.hash === "#patrol") renderPatrol();
    }).catch(function () { /* the cached setup (or none) serves */ });
  }
  function runningPatrol() {
    try { return JSON.parse(localStorage.getItem(PATROL_KEY) || "null"); } catch (e) { return null; }
  }
  function savePatrol(patrol) {
    if (patrol) localStorage.setItem(PATROL_KEY, JSON.stringify(patrol));
    else localStorage.removeItem(PATROL_KEY);
    state.patrol = patrol;
    $("patrol-link").textContent = patrol ? t.on_patrol : t.start_patrol;
  }
  // Great-circle distance in metres, enough for a walk through a few cells.
  function metres(a, b) {
    var rad = Math.PI / 180, dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
  }
  function lengthText(m) {
    return m >= 1000 ? t.kilometres.replace("{n}", (m / 1000).toFixed(2)) : t.metres.replace("{n}", Math.round(m));
  }
  function durationText(seconds) {
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return t.minutes.replace("{m}", minutes);
    return t.hours_minutes.replace("{h}", Math.floor(minutes / 60)).replace("{m}", minutes % 60);
  }
  function trackLength(points) {
    var total = 0;
    for (var i = 1; i < points.length; i++) total += metres(points[i - 1], points[i]);
    return total;
  }

  function startPatrol() {
    if (runningPatrol()) return;
    savePatrol({ id: uuid(), started_at: new Date().toISOString(), points: [], check_ins: [], cases: [] });
    state.fix = null;
    resumePatrol();
    renderPatrol();
  }
  // Follows the position and keeps the screen on; called on start and after a reload.
  function resumePatrol() {
    if (!runningPatrol()) return;
    if (navigator.geolocation && patrolWatch === null) {
      patrolWatch = navigator.geolocation.watchPosition(function (p) {
        state.fix = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy, seen: Date.now() };
        samplePosition();
        renderPatrol();
      }, function () { renderPatrol(); }, { enableHighAccuracy: true, maximumAge: 0 });
    }
    if (patrolTimer === null) patrolTimer = setInterval(function () { samplePosition(); renderPatrolFigures(); }, 1000);
    requestWakeLock();
  }
  function stopFollowing() {
    if (patrolWatch !== null) { navigator.geolocation.clearWatch(patrolWatch); patrolWatch = null; }
    if (patrolTimer !== null) { clearInterval(patrolTimer); patrolTimer = null; }
    if (wakeLock) { wakeLock.release().catch(function () {}); wakeLock = null; }
  }
  // A point every position_seconds at most: the newest fix not yet kept, when one is due.
  function samplePosition(force) {
    var patrol = runningPatrol(), fix = state.fix;
    if (!patrol || !fix) return;
    var last = patrol.points[patrol.points.length - 1];
    var lastAt = last ? Date.parse(last.at) : 0;
    if (fix.seen <= (state.keptSeen || 0) && last) return;  // this fix is in the track already
    if (last && last.lon === fix.lon && last.lat === fix.lat) return;  // standing still adds nothing
    if (!force && Date.now() - lastAt < patrolSetup().position_seconds * 1000) return;
    // A fix coarser than the server uses would only draw a spike: it waits for a better one.
    if (patrolSetup().max_accuracy_m && fix.accuracy > patrolSetup().max_accuracy_m) return;
    var at = new Date(Math.max(Date.now(), lastAt + 1)).toISOString();
    patrol.points.push({ lon: fix.lon, lat: fix.lat, at: at, accuracy: fix.accuracy });
    var max = patrolSetup().max_points || 5000;
    if (patrol.points.length >= max) {
      // Thinned rather than stopped: the whole way stays on the track, less finely.
      patrol.points = patrol.points.filter(function (p, i) { return i % 2 === 0 || i === patrol.points.length - 1; });
      patrol.thinned = true;
    }
    state.keptSeen = fix.seen;
    savePatrol(patrol);
  }
  function requestWakeLock() {
    if (!("wakeLock" in navigator)) { state.wake = false; renderWake(); return; }
    navigator.wakeLock.request("screen").then(function (lock) {
      wakeLock = lock;
      state.wake = true;
      lock.addEventListener("release", function () { state.wake = false; renderWake(); });
      renderWake();
    }).catch(function () { state.wake = false; renderWake(); });
  }
  // The browser drops the lock whenever the page is hidden; it is asked for again on return.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && runningPatrol()) requestWakeLock();
  });
  function renderWake() { $("wake").textContent = state.wake ? t.wake_on : t.wake_off; }

  function renderPatrol() {
    var patrol = runningPatrol();
    state.patrol = patrol;
    $("patrol-link").textContent = patrol ? t.on_patrol : t.start_patrol;
    $("patrol-idle").hidden = !!patrol;
    $("patrol-running").hidden = !patrol;
    renderPlaces(patrol);
    if (patrol) renderPatrolFigures();
  }
  function renderPatrolFigures() {
    var patrol = runningPatrol();
    if (!patrol || $("patrol-running").hidden) return;
    $("patrol-elapsed").textContent = durationText((Date.now() - Date.parse(patrol.started_at)) / 1000);
    $("patrol-distance").textContent = lengthText(trackLength(patrol.points));
    $("patrol-points").textContent = patrol.points.length + (patrol.thinned ? " · " + t.points_thinned : "");
    var coarse = state.fix && patrolSetup().max_accuracy_m && state.fix.accuracy > patrolSetup().max_accuracy_m;
    $("patrol-fix").textContent = state.fix ? t.accuracy + " ±" + t.metres.replace("{n}", Math.round(state.fix.accuracy)) +
      (coarse ? " · " + t.too_coarse : "") : t.no_fix;
  }
  // A place may have its own radius (a large site); otherwise the installation's.
  function radiusOf(place) { return place.radius_m || patrolSetup().check_in_radius_m; }
  function renderPlaces(patrol) {
    var setup = patrolSetup(), fix = state.fix;
    var places = setup.places.map(function (p) {
      return { place: p, distance: fix ? metres(fix, p) : null };
    });
    places.sort(function (a, b) { return (a.distance === null ? 1e12 : a.distance) - (b.distance === null ? 1e12 : b.distance); });
    $("places").innerHTML = places.length ? places.map(function (row) {
      var p = row.place;
      var done = patrol && patrol.check_ins.filter(function (c) { return c.place === p.id; })[0];
      var radius = radiusOf(p), near = row.distance !== null && row.distance <= radius;
      var action = !patrol ? "" : done ? '<span class="tag green">' + esc(t.checked_in) + " " + esc(when(done.at)) + "</span>"
        : '<button type="button" data-check-in="' + p.id + '"' + (near ? "" : " disabled") + ">" + esc(t.check_in) + "</button>" +
          (near ? "" : ' <span class="muted">' + esc(t.too_far.replace("{n}", radius)) + "</span>");
      return '<li data-place="' + p.id + '"' + (done ? ' data-checked="true"' : "") + "><b>" + esc(p.name) + "</b> " +
        '<span class="muted">' + esc(p.kind_label || "") + "</span>" +
        (row.distance === null ? "" : " · " + esc(lengthText(row.distance))) + (action ? "<br>" + action : "") + "</li>";
    }).join("") : '<li class="muted">' + esc(t.no_places) + "</li>";
  }
  $("places").addEventListener("click", function (e) {
    var id = e.target.getAttribute("data-check-in");
    var patrol = runningPatrol(), fix = state.fix;
    if (!id || !patrol || !fix) return;
    var place = patrolSetup().places.filter(function (p) { return String(p.id) === id; })[0];
    if (!place || metres(fix, place) > radiusOf(place)) return;
    patrol.check_ins.push({
      place: place.id, lon: fix.lon, lat: fix.lat, accuracy: fix.accuracy,
      at: new Date(Math.max(Date.now(), Date.parse(patrol.started_at))).toISOString(),
    });
    savePatrol(patrol);
    renderPlaces(patrol);
  });
  $("patrol-begin").addEventListener("click", startPatrol);
  $("patrol-end").addEventListener("click", function () {
    var patrol = runningPatrol();
    if (!patrol) return;
    samplePosition(true);  // the position where it ends belongs to the track
    patrol = runningPatrol();
    if (patrol.points.length < 2 && !state.endAsked) {
      // The server keeps no patrol without a track; a second tap discards it.
      state.endAsked = true;
      notice(esc(t.patrol_short));
      return;
    }
    state.endAsked = false;
    stopFollowing();
    savePatrol(null);
    if (patrol.points.length < 2) { notice(esc(t.patrol_discarded)); location.hash = "#home"; return; }
    var item = {
      id: patrol.id, kind: "patrol", url: "/api/v1/patrols/", json: true,
      summary: when(patrol.started_at) + " · " + lengthText(trackLength(patrol.points)),
      fields: {
        started_at: patrol.started_at, ended_at: new Date().toISOString(),
        points: patrol.points, check_ins: patrol.check_ins, cases: patrol.cases,
      },
    };
    location.hash = "#home";
    enqueue(item).then(function (outcome) { showOutcome(item, outcome); });
  });

  function loadPatrols() {
    getJSON("/api/v1/patrols/mine/").then(function (data) {
      $("patrols").innerHTML = data.results.length ? data.results.map(function (p) {
        return '<li data-id="' + esc(p.client_id) + '"><b>' + esc(when(p.started_at)) + "</b> " +
          esc(t.length) + " " + esc(lengthText(p.length_m)) + " · " + esc(t.duration) + " " + esc(durationText(p.duration_s)) +
          "<br>" + esc(t.check_ins) + " " + p.check_ins + " · " + esc(t.cases) + " " + p.cases.length +
          (p.cases.length ? " " + p.cases.map(function (n) { return caseLink(n); }).join(" ") : "") + "</li>";
      }).join("") : '<li class="muted">' + esc(t.no_patrols) + "</li>";
    }).catch(function () { $("patrols").innerHTML = '<li class="muted">' + esc(t.offline_list) + "</li>"; });
  }

  // ---- 民情日志: a visit's note, photos and (if wanted) position, sent like a report ----
  var diaryPhotos = [];
  $("diary-photos").addEventListener("change", function (e) {
    Array.prototype.slice.call(e.target.files).forEach(function (file) {
      resize(file).then(function (blob) {
        if (!blob) return;
        diaryPhotos.push(blob);
        renderDiaryThumbs();
      });
    });
    e.target.value = "";
  });
  function renderDiaryThumbs() {
    state.diaryPhotos = diaryPhotos.length;
    $("diary-thumbs").innerHTML = "";
    diaryPhotos.forEach(function (blob, i) {
      var img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.dataset.index = i;
      $("diary-thumbs").appendChild(img);
    });
  }
  $("diary-thumbs").addEventListener("click", function (e) {
    if (e.target.dataset.index === undefined) return;
    diaryPhotos.splice(Number(e.target.dataset.index), 1);
    renderDiaryThumbs();
  });
  $("diary-position").addEventListener("change", function (e) {
    state.diaryPosition = null;
    $("diary-gps").hidden = !e.target.checked;
    if (!e.target.checked) return;
    $("diary-gps").textContent = t.no_fix;
    if (!navigator.geolocation) { $("diary-gps").textContent = t.no_gps; return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      state.diaryPosition = { lon: p.coords.longitude.toFixed(6), lat: p.coords.latitude.toFixed(6) };
      $("diary-gps").textContent = t.position_added + " · " + t.accuracy + " ±" + t.metres.replace("{n}", Math.round(p.coords.accuracy));
    }, function () { $("diary-gps").textContent = t.no_gps; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  });
  $("diary-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target, where = f.with_position.checked ? state.diaryPosition : null;
    var item = {
      kind: "diary", url: "/api/v1/diary/", summary: f.text.value.slice(0, 40),
      fields: {
        visited_at: new Date().toISOString(), text: f.text.value, place: f.place.value.trim(),
        lon: where ? where.lon : "", lat: where ? where.lat : "",
      },
      photos: diaryPhotos.slice(),
    };
    f.reset();
    diaryPhotos = [];
    renderDiaryThumbs();
    $("diary-gps").hidden = true;
    state.diaryPosition = null;
    enqueue(item).then(function (outcome) { showOutcome(item, outcome); });
  });
  function loadDiary() {
    getJSON("/api/v1/diary/mine/").then(function (data) {
      $("diary-list").innerHTML = data.results.length ? data.results.map(function (d) {
        return '<li data-id="' + esc(d.client_id) + '"><b>' + esc(when(d.visited_at)) + "</b> " +
          '<span class="muted">' + esc(d.community_name || "") + (d.place ? " · " + esc(d.place) : "") + "</span><br>" +
          esc(d.text) + (d.photos.length ? '<div class="thumbs">' + d.photos.map(function (p) {
            return '<img src="' + esc(p.url) + '" alt="" loading="lazy">';
          }).join("") + "</div>" : "") + "</li>";
      }).join("") : '<li class="muted">' + esc(t.no_entries) + "</li>";
    }).catch(function () { $("diary-list").innerHTML = '<li class="muted">' + esc(t.offline_list) + "</li>"; });
  }

  // ---- views --------------------------------------------------------------------
  function route() {
    var hash = location.hash || "#home";
    var name = hash.slice(1).split("/")[0];
    ["home", "report", "task", "case", "mine", "outbox", "bell", "patrol", "patrols", "diary"].forEach(function (v) { $("view-" + v).hidden = v !== name; });
    if (name !== "home") { notice(""); leaveHomeMap(); }
    if (name === "home") { showHomeMap(); loadTasks(); }
    if (name === "report") showReportMap();
    if (name === "task") showTask(decodeURIComponent(hash.split("/")[1] || ""));
    if (name === "case") showCase(decodeURIComponent(hash.split("/")[1] || ""));
    if (name === "mine") loadMine();
    if (name === "outbox") renderOutbox();
    if (name === "bell") loadNotifications();
    if (name === "patrol") { refreshPatrolSetup(); renderPatrol(); }
    if (name === "patrols") loadPatrols();
    if (name === "diary") loadDiary();
  }
  window.addEventListener("hashchange", route);
  fillCategories();
  refreshCategories();
  setNet();
  renderOutbox();
  refreshPatrolSetup();
  resumePatrol();
  renderPatrol();
  route();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(function () {});
})();
