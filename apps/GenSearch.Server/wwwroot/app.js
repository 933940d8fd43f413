// The GenSearch page: search (results with titles and SID paths, paging, explain, clicks logged as
// feedback), catalog (add an item and find it at once, remove one), model (what serves and the
// charts of its training files). It uses the server's JSON API only.
"use strict";

const PAGE_SIZE = 10;
const $ = id => document.getElementById(id);

// The API key (kept in this browser's localStorage) goes with writes; a user id for feedback, made once per browser.
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("gensearch.apiKey") || "";
keyInput.addEventListener("change", () => localStorage.setItem("gensearch.apiKey", keyInput.value.trim()));
const user = localStorage.getItem("gensearch.user") || (() => {
  const id = "web-" + Array.from(crypto.getRandomValues(new Uint8Array(6)), b => b.toString(16).padStart(2, "0")).join("");
  localStorage.setItem("gensearch.user", id);
  return id;
})();

async function api(method, path, body, write) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const key = keyInput.value.trim();
  if (write && key) headers["X-Api-Key"] = key;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let json = null;
  try { json = await response.json(); } catch { /* an empty or non-JSON body */ }
  if (!response.ok) {
    let message = (json && json.error) || `HTTP ${response.status}`;
    if (response.status === 401) message += " (enter the server's API key at the top right)";
    throw new Error(message);
  }
  return json;
}

function toast(message, error) {
  const t = $("toast");
  t.textContent = message;
  t.className = "toast" + (error ? " error" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

function text(tag, content, className) {
  const node = document.createElement(tag);
  if (content !== undefined) node.textContent = content;
  if (className) node.className = className;
  return node;
}

// ---------------------------------------------------------------- search

const search = { q: "", from: 0, total: 0, hits: [], explained: null };

function renderHits(list, hits, from, q, options) {
  list.replaceChildren();
  hits.forEach((hit, i) => {
    const li = text("li", undefined, "hit");
    li.dataset.id = hit.id;
    if (options && options.fresh === hit.id) li.classList.add("fresh");
    const head = text("div");
    head.appendChild(text("span", `${from + i + 1}.`, "rank"));
    const title = text("a", hit.title || "(no title)", "title");
    title.href = "#";
    title.addEventListener("click", e => { e.preventDefault(); click(li, hit, q, from + i + 1); });
    head.appendChild(title);
    li.appendChild(head);
    const meta = text("div", undefined, "meta");
    meta.appendChild(text("span", `id ${hit.id}`, "id"));
    if (hit.sid) meta.appendChild(text("span", `SID ${hit.sid}`, "sid"));
    meta.appendChild(text("span", `score ${Charts.format(hit.score)}`, "score"));
    if (options && options.explain) {
      const why = text("button", "why?", "link why");
      why.type = "button";
      why.addEventListener("click", () => explain(li, hit, from + i));
      meta.appendChild(why);
    }
    li.appendChild(meta);
    list.appendChild(li);
  });
}

async function runSearch(q, from) {
  search.q = q; search.from = from; search.explained = null;
  const info = $("search-info");
  try {
    const page = await api("GET", `/search?q=${encodeURIComponent(q)}&size=${PAGE_SIZE}&from=${from}&user=${encodeURIComponent(user)}`);
    search.total = page.total; search.hits = page.hits;
    info.className = "info";
    info.textContent = page.total === 0 ? `No results for “${q}”.`
      : `${page.total} results for “${q}” (${page.took_ms} ms in the server). Click a title to log a click as feedback.`;
    renderHits($("results"), page.hits, from, q, { explain: true });
    $("pager").hidden = page.total <= PAGE_SIZE;
    $("page-info").textContent = `${from + 1}–${from + page.hits.length} of ${page.total}`;
    $("prev").disabled = from === 0;
    $("next").disabled = from + PAGE_SIZE >= page.total;
    history.replaceState(null, "", `#search?q=${encodeURIComponent(q)}&from=${from}`);
  } catch (e) {
    info.className = "info error";
    info.textContent = e.message;
    $("results").replaceChildren();
    $("pager").hidden = true;
  }
}

async function click(li, hit, q, position) {
  try {
    await api("POST", "/feedback", { user, query: q, item: hit.id, signals: { click: 1, position } }, true);
    li.classList.add("clicked");
    toast(`Click on ${hit.id} logged as feedback`);
  } catch (e) {
    toast(`Feedback not stored: ${e.message}`, true);
  }
}

// Explanations are fetched for the whole page on the first "why?" (one request), then shown per hit.
async function explain(li, hit, index) {
  const open = li.querySelector(".explanation");
  if (open) { open.remove(); return; }
  try {
    if (!search.explained) {
      const page = await api("GET", `/search?q=${encodeURIComponent(search.q)}&size=${PAGE_SIZE}&from=${search.from}&explain=true&user=${encodeURIComponent(user)}`);
      search.explained = new Map(page.hits.map(h => [h.id, h.explanation]));
    }
    li.appendChild(explanationView(search.explained.get(hit.id)));
  } catch (e) {
    toast(e.message, true);
  }
}

function explanationView(why) {
  const div = text("div", undefined, "explanation");
  if (!why || (!why.bm25 && !why.generative)) { div.textContent = "This retriever gives no explanation for this hit."; return div; }
  if (why.generative) {
    const g = why.generative;
    div.appendChild(text("div", `SID path ${g.codes.join("-")}: each level's log-probability (sum ${Charts.format(g.level_scores.reduce((a, b) => a + b, 0))})`));
    div.appendChild(table(["level", "code", "log-prob", ""], g.codes.map((c, i) => [i + 1, c, Charts.format(g.level_scores[i] ?? 0),
      bar(Math.exp(g.level_scores[i] ?? -Infinity), 1)])));
  }
  if (why.bm25) {
    const b = why.bm25, max = Math.max(...b.terms.map(t => t.score), 1e-9);
    div.appendChild(text("div", `BM25 ${Charts.format(b.score)} (k1=${b.k1}, b=${b.b}, length ${b.doc_length}, mean ${Charts.format(b.average_doc_length)}): each term's part`));
    div.appendChild(table(["term", "score", "tf", "df", "idf", ""], b.terms.map(t => [t.term, Charts.format(t.score), t.term_freq, t.doc_freq,
      Charts.format(t.idf), bar(t.score, max)])));
  }
  return div;
}

function bar(value, max) {
  const span = text("span", undefined, "bar");
  span.style.width = `${Math.max(0, Math.min(1, value / max)) * 120}px`;
  return span;
}

function table(columns, rows) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  columns.forEach(c => head.appendChild(text("th", c)));
  const body = t.createTBody();
  rows.forEach(r => {
    const tr = body.insertRow();
    r.forEach(cell => { const td = tr.insertCell(); if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell; });
  });
  return t;
}

$("search-form").addEventListener("submit", e => { e.preventDefault(); runSearch($("q").value.trim(), 0); });
$("prev").addEventListener("click", () => runSearch(search.q, Math.max(0, search.from - PAGE_SIZE)));
$("next").addEventListener("click", () => runSearch(search.q, search.from + PAGE_SIZE));

// ---------------------------------------------------------------- catalog

$("item-form").addEventListener("submit", async e => {
  e.preventDefault();
  const id = $("item-id").value.trim(), title = $("item-title").value.trim(), body = $("item-text").value;
  const status = $("item-status");
  try {
    const done = await api("PUT", `/items/${encodeURIComponent(id)}`, { title, text: body }, true);
    status.className = "status ok";
    status.textContent = `Item ${id} ${done.result}; the catalog holds ${done.catalog_size} items.`;
    // Find it at once: search for its title.
    const page = await api("GET", `/search?q=${encodeURIComponent(title)}&size=5&user=${encodeURIComponent(user)}`);
    $("item-found-heading").hidden = false;
    $("item-found-heading").textContent = page.hits.some(h => h.id === id)
      ? `Searching for “${title}” finds it at rank ${page.hits.findIndex(h => h.id === id) + 1}:`
      : `Searching for “${title}” does not find it in the top 5:`;
    renderHits($("item-results"), page.hits, 0, title, { fresh: id });
  } catch (err) {
    status.className = "status error";
    status.textContent = err.message;
  }
});

$("delete-form").addEventListener("submit", async e => {
  e.preventDefault();
  const id = $("delete-id").value.trim(), status = $("delete-status");
  try {
    const done = await api("DELETE", `/items/${encodeURIComponent(id)}`, undefined, true);
    status.className = "status ok";
    status.textContent = `Item ${id} removed; the catalog holds ${done.catalog_size} items.`;
  } catch (err) {
    status.className = "status error";
    status.textContent = err.message;
  }
});

// ---------------------------------------------------------------- model

async function showModel() {
  const summary = $("model-summary");
  summary.replaceChildren(text("p", "Loading…", "info"));
  let info;
  try { info = await api("GET", "/model"); } catch (e) { summary.replaceChildren(text("p", e.message, "error")); return; }
  const box = text("div", undefined, "summary");
  const dl = document.createElement("dl");
  const row = (k, v) => { dl.appendChild(text("dt", k)); dl.appendChild(text("dd", v)); };
  row("serving", info.retriever);
  const m = info.model;
  if (m) { row("model kind", m.kind); row("directory", m.directory); }
  box.appendChild(dl);
  summary.replaceChildren(box);
  for (const id of ["chart-loss", "chart-codebook", "chart-beam"]) $(id).replaceChildren();
  $("model-problems").replaceChildren(...(m ? m.problems : info.error ? [info.error] : []).map(p => text("p", p, "error")));
  $("model-config").hidden = !m;
  if (!m) {
    const p = text("p", undefined, "info");
    p.append(info.error ? "The model directory cannot be read." : "BM25 serves: there is no trained model, so there are no training files to draw. To train one and serve it: ");
    if (info.how_to_train) p.appendChild(text("code", info.how_to_train));
    box.appendChild(p);
    for (const id of ["chart-loss", "chart-codebook", "chart-beam"]) $(id).appendChild(text("p", "No trained model is served.", "empty"));
    return;
  }
  $("model-config").querySelector("pre").textContent = JSON.stringify(m.config, null, 2);
  drawLoss($("chart-loss"), m.training_log);
  drawCodebook($("chart-codebook"), m.codebook_health, m.health);
  drawBeam($("chart-beam"), m.beam_recall);
}

function drawLoss(box, log) {
  if (!log) { box.appendChild(text("p", "No training-log.tsv in the model directory.", "empty")); return; }
  const series = [{ name: "total", x: log.step, y: log.total }]
    .concat(Object.entries(log.parts).map(([name, y]) => ({ name, x: log.step, y })));
  box.appendChild(text("p", `${log.rows} steps${log.steps_per_point > 1 ? `, each point the mean of ${log.steps_per_point}` : ""}; ` +
    `each loss part as logged, with its weight applied (the parts add up to the total)`, "info"));
  Charts.lineChart(box, series, { title: "training loss", xLabel: "step", yLabel: "loss" });
}

function drawCodebook(box, rows, health) {
  if (rows && rows.length > 0) {
    const levels = rows[0].levels.length, epochs = rows.map(r => r.epoch);
    const last = rows[rows.length - 1];
    box.appendChild(text("p", `codebook-health.tsv: ${rows.length} encodings of the catalog; the last: collision rate ${Charts.format(last.collision_rate)}`, "info"));
    const row = box;
    Charts.lineChart(row, Array.from({ length: levels }, (_, l) => ({ name: `utilisation, level ${l + 1}`, x: epochs, y: rows.map(r => r.levels[l].utilisation) }))
      .concat([{ name: "ID churn", x: epochs, y: rows.map(r => r.churn) }, { name: "collision rate", x: epochs, y: rows.map(r => r.collision_rate) }]),
      { title: "utilisation per level, churn and collisions by epoch", xLabel: "epoch", yLabel: "share", yMin: 0, yMax: 1, points: true, integerX: true });
    Charts.barChart(row, Array.from({ length: levels }, (_, l) => `level ${l + 1}`),
      [{ name: "largest bucket (items on the most used code)", values: last.levels.map(v => v.largest_bucket) },
       { name: "perplexity (codes effectively used)", values: last.levels.map(v => v.perplexity) }],
      { title: "bucket sizes per level", xLabel: "level", yLabel: "items / codes" });
    return;
  }
  if (health) {
    const col = name => health.columns.indexOf(name);
    const level = col("level"), util = col("util"), bucket = col("largest bucket"), perplexity = col("perplexity");
    if (level < 0 || util < 0 || bucket < 0) { box.appendChild(text("p", "health.md has no level / util / largest bucket columns.", "empty")); return; }
    const num = s => parseFloat(String(s).replace(/[%,]/g, ""));
    box.appendChild(text("p", "health.md (the final IDs): " + (health.notes.split("\n")[0] || ""), "info"));
    const row = document.createElement("div");
    row.className = "charts-row";
    box.appendChild(row);
    const categories = health.rows.map(r => `level ${num(r[level]) + 1}`);
    Charts.barChart(row, categories, [{ name: "utilisation (% of codes used)", values: health.rows.map(r => num(r[util])) }],
      { title: "utilisation per level", xLabel: "level", yLabel: "%", yMax: 100, label: v => `${Charts.format(v)}%` });
    Charts.barChart(row, categories, [{ name: "largest bucket (items)", values: health.rows.map(r => num(r[bucket])) }]
      .concat(perplexity >= 0 ? [{ name: "perplexity", values: health.rows.map(r => num(r[perplexity])) }] : []),
      { title: "bucket sizes per level", xLabel: "level", yLabel: "items / codes" });
    return;
  }
  box.appendChild(text("p", "No codebook health files (codebook-health.tsv, health.md): this kind of model has no codebooks.", "empty"));
}

function drawBeam(box, recall) {
  if (!recall || recall.beam.length === 0) { box.appendChild(text("p", "Recall against beam size: not measured (no beam-recall.tsv in the model directory).", "empty")); return; }
  Charts.lineChart(box, [{ name: "Recall@10", x: recall.beam, y: recall.recall_at_10 },
                         { name: "Recall@100", x: recall.beam, y: recall.recall_at_100 }],
    { title: "recall against beam size", xLabel: "beam size (log scale)", yLabel: "recall", logX: true, yMin: 0, points: true });
}

// ---------------------------------------------------------------- views

function route() {
  const [view, query] = (location.hash.slice(1) || "search").split("?");
  const name = ["search", "catalog", "model"].includes(view) ? view : "search";
  for (const v of ["search", "catalog", "model"]) $(`view-${v}`).hidden = v !== name;
  document.querySelectorAll("nav a[data-view]").forEach(a => a.classList.toggle("active", a.dataset.view === name));
  if (name === "model") showModel();
  if (name === "search") {
    const params = new URLSearchParams(query || "");
    const q = params.get("q");
    if (q && q !== search.q) { $("q").value = q; runSearch(q, Math.max(0, parseInt(params.get("from") || "0", 10) || 0)); }
    $("q").focus();
  }
}
window.addEventListener("hashchange", route);
route();
