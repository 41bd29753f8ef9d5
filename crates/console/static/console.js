// Live updates of the queue: the server sends an event for every change to a ticket of the
// person's queue (server-sent events fed by WatchTickets); the table is then fetched again
// from the server, with the same filters, order and page as a reload. Without this script
// a reload shows the same.
(function () {
  "use strict";
  var body = document.getElementById("queue-body");
  if (!body || !window.EventSource || !window.fetch) {
    return;
  }
  var status = document.getElementById("live-status");
  var pending = null;
  function refresh() {
    pending = null;
    fetch(body.getAttribute("data-fragment"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        body.innerHTML = html;
        if (status) {
          status.textContent = status.getAttribute("data-updated") + " " +
            new Date().toLocaleTimeString();
        }
      })
      .catch(function () {});
  }
  var source = new EventSource(body.getAttribute("data-events"));
  source.addEventListener("change", function () {
    if (pending === null) {
      pending = window.setTimeout(refresh, 200);
    }
  });
  source.addEventListener("open", function () {
    document.documentElement.setAttribute("data-live", "1");
  });
})();
