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

  // The timeline grows as the page does: a speaker holds the floor from
  // their first message until the other speaks (as the server draws it).
  var tl = document.getElementById("tl");
  var SVG = "http://www.w3.org/2000/svg";
  function clock(ms) {
    var t = Math.max(0, Math.round(ms));
    var h = Math.floor(t / 3600000), m = Math.floor(t / 60000) % 60;
    var s = Math.floor(t / 1000) % 60, milli = t % 1000;
    var pad = function (n, w) { n = String(n); while (n.length < w) n = "0" + n; return n; };
    return (h > 0 ? h + ":" + pad(m, 2) : String(m)) + ":" + pad(s, 2) + "." + pad(milli, 3);
  }
  function grow(role, ms, seq) {
    if (!tl || (role !== "user" && role !== "agent") || typeof ms !== "number") return;
    var rects = tl.querySelectorAll("rect");
    var tail = rects.length ? rects[rects.length - 1] : null;
    if (tail) {
      var end = Math.max(Number(tail.getAttribute("data-end")) || 0, ms);
      tail.setAttribute("data-end", String(end));
    }
    if (!tail || tail.getAttribute("class") !== role) {
      var a = document.createElementNS(SVG, "a");
      a.setAttribute("href", "#seq-" + seq);
      var r = document.createElementNS(SVG, "rect");
      r.setAttribute("class", role);
      r.setAttribute("data-start", String(ms));
      r.setAttribute("data-end", String(ms));
      r.setAttribute("y", role === "user" ? "2" : "22");
      r.setAttribute("height", "16");
      var title = document.createElementNS(SVG, "title");
      title.textContent = (role === "user" ? "User" : "Agent") + " at " + clock(ms);
      r.appendChild(title);
      a.appendChild(r);
      tl.appendChild(a);
    }
    var span = Math.max(Number(tl.getAttribute("data-span")) || 0, ms);
    tl.setAttribute("data-span", String(span));
    var all = tl.querySelectorAll("rect"), k = Math.max(span, 1);
    for (var i = 0; i < all.length; i++) {
      var st = Number(all[i].getAttribute("data-start")) || 0;
      var en = Number(all[i].getAttribute("data-end")) || st;
      var w = Math.min(Math.max((en - st) / k * 1000, 2), 1000);
      all[i].setAttribute("x", (Math.min(st / k * 1000, 1000 - w)).toFixed(1));
      all[i].setAttribute("width", w.toFixed(1));
    }
    var label = document.getElementById("tl-span");
    if (label) label.textContent = clock(span);
  }

  es.addEventListener("msg", function (e) {
    var d = JSON.parse(e.data);
    if (d.seq <= last) return;
    last = d.seq;
    body.setAttribute("data-last-seq", String(last));
    grow(d.role, d.ms, d.seq);
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
