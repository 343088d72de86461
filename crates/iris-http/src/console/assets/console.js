// Iris console: the only script. Everything else works without it. It adds copy buttons to
// read-only fields and runs the live tail (server-sent events).
"use strict";

function copyField(button) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  const done = () => {
    const before = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = before; }, 1500);
  };
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, () => { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
}

function enableCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => copyField(button));
  }
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function startLiveTail(root) {
  const table = document.getElementById("live-rows");
  const state = document.getElementById("live-state");
  const hide = document.getElementById("hide-probes");
  const pause = document.getElementById("live-pause");
  const holder = document.getElementById("live-table");
  const max = 500;
  let paused = false;
  const applyHide = () => holder.classList.toggle("hide-probes", hide.checked);
  hide.addEventListener("change", applyHide);
  applyHide();
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
  });
  const source = new EventSource(root.dataset.stream);
  source.addEventListener("open", () => { state.textContent = "Connected"; });
  source.addEventListener("error", () => { state.textContent = "Reconnecting…"; });
  const add = (item) => {
    if (paused) return;
    const row = document.createElement("tr");
    row.className = item.probe ? "probe" : "";
    cell(row, item.at.replace("T", " ").slice(0, 19));
    cell(row, item.source);
    const what = cell(row, item.what, "wrap");
    if (item.link) {
      what.textContent = "";
      const a = document.createElement("a");
      a.href = item.link;
      a.textContent = item.what;
      what.appendChild(a);
    }
    cell(row, item.kind);
    const status = cell(row, "");
    const badge = document.createElement("span");
    badge.className = "badge " + (item.status >= 400 ? "status-failure" : "status-success");
    badge.textContent = (item.status >= 400 ? "Failure " : "Success ") + item.status;
    status.appendChild(badge);
    table.insertBefore(row, table.firstChild);
    while (table.children.length > max) table.removeChild(table.lastChild);
  };
  source.addEventListener("request", (e) => add(JSON.parse(e.data)));
  source.addEventListener("change", (e) => add(JSON.parse(e.data)));
  source.addEventListener("ended", () => { state.textContent = "Session ended: sign in again"; source.close(); });
}

document.addEventListener("DOMContentLoaded", () => {
  enableCopyButtons();
  const live = document.getElementById("live");
  if (live) startLiveTail(live);
});
