// The bell in every page's header: its count follows the person's own socket
// (/ws/me/), so a notification shows without a reload. Reconnects with backoff;
// stops when the server says the session ended (4403). The desk's pages and the
// phone app (/m/) both load it.
(function () {
  "use strict";
  var count = document.getElementById("bell-count");
  if (!count || !window.WebSocket) return;
  var retry = 0;
  window.gridcaseBell = { connected: false, updates: 0 };
  function show(n) {
    count.textContent = String(n);
    count.dataset.count = String(n);
    document.getElementById("bell").classList.toggle("has-unread", n > 0);
    window.gridcaseBell.updates += 1;
    // A page that lists the notifications (the phone's) refreshes its list on this.
    document.dispatchEvent(new CustomEvent("gridcase:unread", { detail: { count: n } }));
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/me/");
    socket.onopen = function () { retry = 0; window.gridcaseBell.connected = true; };
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "unread") show(data.count);
    };
    socket.onclose = function (event) {
      window.gridcaseBell.connected = false;
      if (event.code === 4403) return;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 1000 * Math.pow(2, retry - 1));
    };
  }
  show(Number(count.dataset.count || 0));
  connect();
})();
