// omnirank console: plain JavaScript over the JSON/HTTP API (/v1/...).
// Every value from the server reaches the page through textContent or an
// attribute, never as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);

// el builds an element: el("a", {href: "#"}, "text", child...).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v; // CSSOM: allowed by the CSP, unlike a style attribute
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// token is the API token (servers started with --auth-tokens), kept for
// this browser tab only.
const token = {
  get: () => sessionStorage.getItem("omnirank-token") || "",
  ask() {
    const t = prompt("API token (Bearer), kept for this tab:", token.get());
    if (t !== null) { sessionStorage.setItem("omnirank-token", t.trim()); route(); }
  },
  headers: () => (token.get() ? { Authorization: "Bearer " + token.get() } : {}),
};

// api calls the JSON API; a non-2xx answer throws the server's message.
async function api(method, path, body) {
  const opts = { method, headers: token.headers() };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch (_) { data = { message: text }; }
  if (!resp.ok) {
    if (resp.status === 401 || resp.status === 403) $("#token").classList.add("needed");
    const err = new Error(data.message || resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return data;
}

const productPath = (id) => "/v1/products/" + encodeURIComponent(id);

// media makes an <img> or <audio> of a media URL. With a token the bytes are
// fetched with it (an element's own request cannot carry the header) and
// shown from a blob: URL.
function media(tag, url, attrs) {
  const e = el(tag, attrs);
  if (!token.get()) {
    e.src = url;
    return e;
  }
  fetch(url, { headers: token.headers() })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.statusText))))
    .then((b) => { e.src = URL.createObjectURL(b); })
    .catch(() => e.replaceWith(el("span", { class: "status error" }, "media unavailable")));
  return e;
}
const money = (p, cur) => (p ? Number(p).toFixed(2) + (cur ? " " + cur : "") : "");

// ------------------------------------------------------------------ search

const query = { media: null, mediaKind: "", mediaName: "", positive: [], negative: [] };

function readBase64(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",", 2)[1] || "");
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

async function setMedia(blob, name) {
  const kind = (blob.type || "").startsWith("audio/") || /\.(wav|flac|mp3|ogg)$/i.test(name) ? "audio" : "image";
  query.media = await readBase64(blob);
  query.mediaKind = kind;
  query.mediaName = name;
  $("#q-media").textContent = kind + ": " + name + " (" + Math.round(blob.size / 1024) + " KiB)";
  $("#q-clear-media").hidden = false;
}

function clearMedia() {
  query.media = null;
  query.mediaKind = query.mediaName = "";
  $("#q-media").textContent = "";
  $("#q-clear-media").hidden = true;
  $("#q-file").value = "";
}

function renderExamples() {
  const box = $("#q-examples");
  box.replaceChildren();
  if (!query.positive.length && !query.negative.length) return;
  box.append("Examples: ",
    ...query.positive.map((id) => el("span", { class: "chip" }, "+ " + id)),
    ...query.negative.map((id) => el("span", { class: "chip neg" }, "− " + id)),
    el("button", { type: "button", onclick: () => { query.positive = []; query.negative = []; renderExamples(); search(); } }, "clear"));
}

function searchRequest() {
  const req = { k: Number($("#q-k").value) || 12, explain: true };
  const text = $("#q-text").value.trim();
  if (text) req.query_text = text;
  if (query.media) req[query.mediaKind === "audio" ? "query_audio" : "query_image"] = query.media;
  if (query.media && query.mediaKind === "audio" && $("#q-audio-mode").value) req.audio_mode = $("#q-audio-mode").value;
  if (query.positive.length) req.positive_ids = query.positive;
  if (query.negative.length) req.negative_ids = query.negative;
  const filter = {};
  const cat = $("#q-category").value.trim();
  if (cat) filter.category_prefix = cat.split("/").map((s) => s.trim()).filter(Boolean);
  const pmin = Number($("#q-pmin").value), pmax = Number($("#q-pmax").value);
  if (pmin || pmax) filter.price = { min: pmin || 0, max: pmax || 0 };
  if (Object.keys(filter).length) req.filter = filter;
  const mmr = Number($("#q-mmr").value);
  if (mmr > 0 && mmr < 1) req.mmr_lambda = mmr;
  return req;
}

// searchSeq numbers searches; an answer to an older one is dropped, and
// the grid's data-seq says which search it shows.
let searchSeq = 0;

async function search() {
  const seq = ++searchSeq;
  const req = searchRequest();
  const status = $("#search-status");
  if (!req.query_text && !req.query_image && !req.query_audio && !req.positive_ids) {
    status.textContent = "Type a query, pick a picture or a sound, or choose “more like this”.";
    return;
  }
  status.className = "status";
  status.textContent = "Searching…";
  const t0 = performance.now();
  try {
    const resp = await api("POST", "/v1/recommend", req);
    if (seq !== searchSeq) return;
    const ms = Math.round(performance.now() - t0);
    status.textContent = resp.results.length + " results from space " + resp.space + " in " + ms + " ms";
    renderResults($("#results"), resp.results, true);
    $("#results").dataset.seq = seq;
    renderHeard(resp.transcript);
  } catch (e) {
    if (seq !== searchSeq) return;
    status.className = "status error";
    status.textContent = "Search failed: " + e.message;
    $("#results").replaceChildren();
    renderHeard(null);
  }
}

// renderHeard shows what the speech recogniser heard in a spoken query.
function renderHeard(t) {
  const p = $("#heard");
  p.hidden = !t;
  if (!t) return;
  p.textContent = t.text ? "Heard: “" + t.text + "” (confidence " + Number(t.confidence || 0).toFixed(2) + ")" : "Heard no words in the recording.";
}

// renderResults fills a grid with result cards; every contribution gets a
// bar scale. The parts of the score share one scale; a raw lexical score
// (BM25, unbounded) gets its own. A contribution that is 0 on every result
// of the page is left out.
function renderResults(grid, results, withActions) {
  const scaleOf = (name) => (name.startsWith("lexical:") ? name : "score");
  const maxAbs = {};
  for (const r of results) for (const c of r.contributions || []) {
    const k = scaleOf(c.name);
    maxAbs[k] = Math.max(maxAbs[k] || 0, Math.abs(c.value));
  }
  const shown = new Set();
  for (const r of results) for (const c of r.contributions || []) if (c.value !== 0) shown.add(c.name);
  grid.replaceChildren(...results.map((r) => {
    const bars = el("div", { class: "bars" });
    for (const c of r.contributions || []) {
      if (!shown.has(c.name)) continue;
      const max = maxAbs[scaleOf(c.name)];
      const w = max > 0 ? (100 * Math.abs(c.value)) / max : 0;
      bars.append(el("span", { class: "bar-name", title: c.name }, c.name),
        el("div", {}, el("div", { class: "bar" + (c.value < 0 ? " negative" : ""), style: "width:" + w.toFixed(1) + "%", title: c.name + " " + c.value })),
        el("span", {}, Number(c.value).toFixed(3)));
    }
    const hasImage = (r.media || []).some((m) => m.kind === "image");
    const card = el("div", { class: "result", "data-id": r.id },
      hasImage ? media("img", productPath(r.id) + "/thumbnail?size=256", { alt: r.title, loading: "lazy" }) : null,
      el("a", { class: "title", href: "#/product/" + encodeURIComponent(r.id) }, r.title || r.id),
      el("div", { class: "meta" }, el("span", {}, money(r.price, r.currency)), el("span", { class: "score" }, "score " + Number(r.score).toFixed(3))),
      bars);
    if (withActions) {
      card.append(el("div", { class: "actions" },
        el("button", { type: "button", class: "more", onclick: () => { query.positive.push(r.id); renderExamples(); search(); } }, "more like this"),
        el("button", { type: "button", class: "less", onclick: () => { query.negative.push(r.id); renderExamples(); search(); } }, "less like this")));
    }
    return card;
  }));
}

// recorder captures the microphone as 16-bit mono WAV (a format the
// server decodes), at most 10 s.
const recorder = { ctx: null, stream: null, chunks: [], timer: 0 };

async function toggleRecord() {
  const btn = $("#q-record");
  if (recorder.ctx) return stopRecord();
  try {
    recorder.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    $("#search-status").textContent = "Microphone unavailable: " + e.message;
    return;
  }
  recorder.ctx = new AudioContext();
  const src = recorder.ctx.createMediaStreamSource(recorder.stream);
  const proc = recorder.ctx.createScriptProcessor(4096, 1, 1);
  recorder.chunks = [];
  proc.onaudioprocess = (ev) => recorder.chunks.push(new Float32Array(ev.inputBuffer.getChannelData(0)));
  src.connect(proc);
  proc.connect(recorder.ctx.destination);
  btn.textContent = "■ Stop";
  recorder.timer = setTimeout(stopRecord, 10000);
}

async function stopRecord() {
  clearTimeout(recorder.timer);
  const rate = recorder.ctx.sampleRate;
  recorder.stream.getTracks().forEach((t) => t.stop());
  await recorder.ctx.close();
  recorder.ctx = null;
  $("#q-record").textContent = "● Record";
  const n = recorder.chunks.reduce((a, c) => a + c.length, 0);
  const buf = new DataView(new ArrayBuffer(44 + 2 * n));
  const str = (o, s) => { for (let i = 0; i < s.length; i++) buf.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); buf.setUint32(4, 36 + 2 * n, true); str(8, "WAVEfmt ");
  buf.setUint32(16, 16, true); buf.setUint16(20, 1, true); buf.setUint16(22, 1, true);
  buf.setUint32(24, rate, true); buf.setUint32(28, 2 * rate, true); buf.setUint16(32, 2, true); buf.setUint16(34, 16, true);
  str(36, "data"); buf.setUint32(40, 2 * n, true);
  let o = 44;
  for (const c of recorder.chunks) for (const v of c) { buf.setInt16(o, Math.max(-1, Math.min(1, v)) * 32767, true); o += 2; }
  await setMedia(new Blob([buf], { type: "audio/wav" }), "microphone.wav");
  search();
}

function initSearch() {
  $("#search-form").addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
  $("#q-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (f) { await setMedia(f, f.name); search(); }
  });
  const drop = $("#drop");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    const f = ev.dataTransfer.files[0];
    if (f) { await setMedia(f, f.name); search(); }
  });
  $("#q-clear-media").addEventListener("click", () => { clearMedia(); search(); });
  const rec = $("#q-record");
  if (!navigator.mediaDevices || !window.AudioContext) rec.hidden = true;
  else rec.addEventListener("click", toggleRecord);
  const mmr = $("#q-mmr");
  const showMMR = () => { const v = Number(mmr.value); $("#q-mmr-out").textContent = v > 0 && v < 1 ? v.toFixed(2) : "off"; };
  mmr.addEventListener("input", showMMR);
  showMMR();
}

// ----------------------------------------------------------------- product

async function showProduct(id) {
  const box = $("#product");
  box.replaceChildren(el("p", { class: "status" }, "Loading " + id + "…"));
  $("#similar").replaceChildren();
  let g;
  try {
    g = await api("GET", productPath(id));
  } catch (e) {
    box.replaceChildren(el("p", { class: "status error" }, e.status === 404 ? "No product " + id : e.message));
    return;
  }
  const p = g.product;
  const box2 = el("div", { class: "media" });
  for (const m of p.media || []) {
    const src = productPath(p.id) + "/" + m.kind + "?key=" + encodeURIComponent(m.key);
    if (m.kind === "image") box2.append(media("img", src, { alt: p.title }));
    else if (m.kind === "audio") box2.append(media("audio", src, { controls: true, preload: "metadata" }));
  }
  const dl = el("dl", {});
  const row = (k, v) => { if (v !== undefined && v !== "") dl.append(el("dt", {}, k), el("dd", {}, v)); };
  row("id", p.id);
  row("state", g.state + (g.error ? " — " + g.error : ""));
  row("brand", p.brand);
  row("category", (p.category || []).join(" › "));
  row("price", money(p.price, p.currency));
  for (const [k, v] of Object.entries(p.attributes || {})) row(k, v);
  row("description", p.description);
  // What the speech recogniser heard in the product's voice-over (audio
  // marked as speech): searchable like the description.
  const t = g.transcript;
  if (t) row("transcript", (t.text || "(no words recognised)") + " — confidence " + Number(t.confidence || 0).toFixed(2) +
    (t.languageModel ? ", language model " + t.languageModel : ""));
  else if ((p.media || []).some((m) => m.speech)) row("transcript", "(none)");
  box.replaceChildren(el("h1", {}, p.title), el("div", { class: "product" }, box2, dl));
  try {
    const sim = await api("POST", "/v1/recommend", { positive_ids: [p.id], k: 8, explain: true });
    renderResults($("#similar"), sim.results, false);
  } catch (e) {
    $("#similar").replaceChildren(el("p", { class: "status error" }, e.message));
  }
}

// ---------------------------------------------------------------- pipeline

// freshness reads omnirank_freshness_seconds (upload of a product's newest
// input to its fused embedding) from this process's /metrics: quantiles
// are the upper bounds of the histogram's buckets. Empty where this
// process runs no fusion.
async function freshness() {
  const resp = await fetch("/metrics", { headers: token.headers() });
  if (!resp.ok) return null;
  const buckets = [];
  let count = 0;
  for (const line of (await resp.text()).split("\n")) {
    let m = line.match(/^omnirank_freshness_seconds_bucket\{le="([^"]+)"\} (\S+)/);
    if (m) buckets.push([Number(m[1]), Number(m[2])]);
    m = line.match(/^omnirank_freshness_seconds_count (\S+)/);
    if (m) count = Number(m[1]);
  }
  if (!count) return null;
  const q = (p) => { const b = buckets.find(([, n]) => n >= p * count); return b ? b[0] : Infinity; };
  const fmt = (v) => (v === Infinity ? "> " + buckets[buckets.length - 2][0].toFixed(1) : "≤ " + (v < 1 ? v.toFixed(2) : v.toFixed(1))) + " s";
  return { count, p50: fmt(q(0.5)), p99: fmt(q(0.99)) };
}

async function refreshPipeline() {
  try {
    const [st, dlq, errs, fresh] = await Promise.all([
      api("GET", "/v1/admin/status"),
      api("GET", "/v1/admin/dead-letters?limit=50"),
      api("GET", "/v1/admin/errors?limit=50"),
      freshness().catch(() => null),
    ]);
    const card = (label, v) => el("div", { class: "card" }, el("b", {}, String(v)), label);
    const vectors = (st.spaces || []).filter((s) => s.active).map((s) => s.vectors)[0] || 0;
    $("#pipe-summary").replaceChildren(card("products", st.products), card("vectors in the active space", vectors),
      card("failed", st.failed), card("dead letters", st.deadLetters),
      card("freshness p50" + (fresh ? ", " + fresh.count + " fused" : ""), fresh ? fresh.p50 : "—"),
      card("freshness p99", fresh ? fresh.p99 : "—"));
    const states = Object.entries(st.states || {});
    const total = states.reduce((a, [, n]) => a + Number(n), 0);
    $("#pipe-states").replaceChildren(el("div", { class: "stack" }, ...states.map(([s, n]) =>
      el("span", { class: "s-" + s, style: "width:" + (total ? (100 * n) / total : 0) + "%", title: s + ": " + n }, s + " " + n))));
    $("#pipe-backlog tbody").replaceChildren(...Object.entries(st.pending || {}).sort().map(([c, n]) =>
      el("tr", {}, el("td", {}, c), el("td", {}, n))));
    $("#pipe-dlq tbody").replaceChildren(...(dlq.deadLetters || []).map((d) =>
      el("tr", {}, el("td", {}, d.seq), el("td", {}, d.stage), el("td", {}, d.productId), el("td", {}, d.reason), el("td", {}, d.attempts),
        el("td", {}, el("button", { type: "button", onclick: () => replay(d.seq) }, "replay")))));
    $("#pipe-errors tbody").replaceChildren(...(errs.errors || []).map((x) =>
      el("tr", {}, el("td", {}, x.productId), el("td", {}, x.stage), el("td", {}, x.reason))));
    $("#pipe-updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("#pipe-updated").textContent = "refresh failed: " + e.message;
  }
}

async function replay(seq) {
  try {
    await api("POST", "/v1/admin/dead-letters:replay", { seqs: [String(seq)] });
  } catch (e) {
    alert("Replay failed: " + e.message);
  }
  refreshPipeline();
}

// ------------------------------------------------------------------ spaces

async function refreshSpaces() {
  try {
    const sp = await api("GET", "/v1/admin/spaces");
    $("#spaces tbody").replaceChildren(...(sp.spaces || []).map((s) =>
      el("tr", {}, el("td", {}, s.name), el("td", {}, (s.blocks || []).map((b) => b.modality + "=" + b.model + " ×" + Number(b.weight).toFixed(2)).join(", ")),
        el("td", {}, s.dim), el("td", {}, s.vectors), el("td", {}, s.active ? "active" : s.campaignState))));
  } catch (e) {
    $("#spaces tbody").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "error" }, e.message)));
  }
  const box = $("#campaign");
  let c;
  try {
    c = await api("GET", "/v1/admin/campaign");
  } catch (e) {
    box.replaceChildren(el("p", { class: "status" }, e.status === 404 ? "No campaign." : e.message));
    return;
  }
  const pct = Number(c.total) ? (100 * Number(c.done)) / Number(c.total) : 0;
  const act = (verb) => el("button", { type: "button", onclick: async () => {
    try { await api("POST", "/v1/admin/campaign:" + verb, {}); } catch (e) { alert(verb + " failed: " + e.message); }
    refreshSpaces();
  } }, verb);
  box.replaceChildren(
    el("p", {}, "Space ", el("b", {}, c.space), " from ", c.from, " — ", el("b", {}, c.state), c.promoted ? " (promoted)" : "", c.error ? " — " + c.error : ""),
    el("div", { class: "progress" }, el("div", { style: "width:" + pct.toFixed(1) + "%" })),
    el("p", { class: "status" }, c.done + " / " + c.total + " done, " + c.failed + " failed, " + Number(c.itemsPerS).toFixed(1) + " products/s, ETA " + Math.round(c.etaS) + " s"),
    c.evaluated ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "NDCG@" + c.evalK), el("th", {}, c.from + " (active)"), el("th", {}, c.space))),
      el("tbody", {}, el("tr", {}, el("td", {}, ""), el("td", {}, Number(c.activeNdcg).toFixed(3)), el("td", {}, Number(c.campaignNdcg).toFixed(3))))) : el("p", { class: "status" }, "Not evaluated yet."),
    el("div", { class: "row" }, act("pause"), act("resume"), act("cancel"), act("promote"), act("rollback")));
}

// ------------------------------------------------------------------ routing

let timer = 0;

function route() {
  clearInterval(timer);
  const [, page = "search", arg = ""] = location.hash.split("/");
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== "page-" + page;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (page === "product") showProduct(decodeURIComponent(arg));
  else if (page === "pipeline") { refreshPipeline(); timer = setInterval(refreshPipeline, 3000); }
  else if (page === "spaces") { refreshSpaces(); timer = setInterval(refreshSpaces, 3000); }
  else if (!document.getElementById("page-" + page)) location.hash = "#/search";
}

initSearch();
$("#token").addEventListener("click", token.ask);
window.addEventListener("hashchange", route);
route();
