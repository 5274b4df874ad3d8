// convlog serve: follows an open session. The server renders and escapes
// every item; this script only places them, so nothing from a log is ever
// interpreted here. No inline script anywhere: the page's CSP forbids it.
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-live");
  var list = document.getElementById("conversation");
  if (!url || !list || !window.EventSource) return;
  var last = Number(body.getAttribute("data-last-seq")) || 0;
  var note = document.getElementById("live");
  var es = new EventSource(url + "?after=" + last);

  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content.firstElementChild;
  }
  function say(text, cls) {
    if (!note) return;
    note.textContent = text;
    if (cls) note.className = "live " + cls;
  }
  function setState(state) {
    var badge = document.getElementById("state");
    if (!badge) return;
    badge.textContent = state;
    badge.className = "state " + state;
  }

  es.addEventListener("msg", function (e) {
    var d = JSON.parse(e.data);
    if (d.seq <= last) return;
    last = d.seq;
    body.setAttribute("data-last-seq", String(last));
    var item = parse(d.html);
    if (!item) return;
    var prev = list.lastElementChild;
    // The fragments of one streamed turn join as they do on the page.
    if (d.turn && prev && prev.classList.contains("msg") &&
        prev.getAttribute("data-role") === d.role &&
        prev.getAttribute("data-turn") === d.turn) {
      var content = prev.querySelector(".content");
      var more = item.querySelector(".content");
      if (content && more) content.textContent += " " + more.textContent;
      if (d.interrupted && !prev.classList.contains("interrupted")) {
        prev.classList.add("interrupted");
        var flag = item.querySelector(".flag.interrupted");
        var head = prev.querySelector(".head time");
        if (flag && head) head.parentNode.insertBefore(flag, head);
      }
    } else {
      list.appendChild(item);
    }
    say("Open: last update " + new Date().toLocaleTimeString() + ".");
  });
  es.addEventListener("damage", function (e) {
    var item = parse(JSON.parse(e.data).html);
    if (item) list.appendChild(item);
  });
  es.addEventListener("end", function () {
    es.close();
    setState("ended");
    say("The session ended.", "ended");
  });
  es.addEventListener("gone", function (e) {
    es.close();
    say("The log is gone: " + (JSON.parse(e.data).why || "removed") + ".", "gone");
  });
  es.addEventListener("reload", function () {
    es.close();
    window.location.reload();
  });
})();
