// The live page: a card per camera (live view, status badge, rates), the event feed and the counts.
// Plain browser JavaScript, no build step and nothing fetched from elsewhere: it works offline.
"use strict";

const MAX_EVENTS = 50; // shown in the list, newest first
const STREAMS_EVERY_MS = 2000;
const COUNTS_EVERY_MS = 3000;
const CHECK_PICTURE_MS = 1000; // how often each live view is sampled to see that it still moves
const FROZEN_AFTER_MS = 5000;

const tokenFromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (tokenFromHash) {
  sessionStorage.setItem("roadwatch-token", tokenFromHash);
  history.replaceState(null, "", location.pathname); // the token does not stay in the address bar
}
let token = sessionStorage.getItem("roadwatch-token") || "";

function withToken(url) {
  return token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url;
}

async function api(path) {
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (response.status === 401) {
    document.getElementById("login").hidden = false;
    throw new Error("a token is needed");
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

document.getElementById("login").addEventListener("submit", (e) => {
  e.preventDefault();
  token = document.getElementById("token").value.trim();
  sessionStorage.setItem("roadwatch-token", token);
  location.reload();
});

function badge(element, text) {
  element.textContent = text;
  element.className = `badge ${text}`;
}

// --- cameras ---------------------------------------------------------------------------------------

const cards = new Map(); // stream id -> {card, img, status, stats, lastSum, lastChange}
const sampler = document.createElement("canvas");
sampler.width = 32;
sampler.height = 18;

function cardFor(stream) {
  let entry = cards.get(stream.id);
  if (entry) return entry;
  const card = document.createElement("article");
  card.className = "camera";
  card.dataset.stream = stream.id;
  card.dataset.changes = "0";
  card.innerHTML = `<header><h3></h3><span class="badge"></span><span class="badge frozen" hidden>frozen</span></header>
    <img alt=""><div class="stats"></div>`;
  card.querySelector("h3").textContent = stream.id;
  card.querySelector("h3").title = stream.source;
  const img = card.querySelector("img");
  img.alt = `live view of ${stream.id}`;
  img.src = withToken(`/api/streams/${encodeURIComponent(stream.id)}/live?width=640`);
  document.getElementById("cameras").append(card);
  entry = { card, img, status: card.querySelector(".badge"), frozen: card.querySelector(".frozen"),
            stats: card.querySelector(".stats"), lastSum: null, lastChange: Date.now() };
  cards.set(stream.id, entry);
  return entry;
}

async function refreshStreams() {
  try {
    const streams = await api("/api/streams");
    const health = await fetch("/api/health").then((r) => r.json());
    badge(document.getElementById("run"), health.alive ? "alive" : "over");
    const seen = new Set();
    let total = 0;
    for (const s of streams) {
      seen.add(s.id);
      total += s.fps;
      const entry = cardFor(s);
      badge(entry.status, s.status);
      const age = s.last_frame_age_s === null ? "no frame yet" : `last frame ${s.last_frame_age_s.toFixed(1)} s ago`;
      entry.stats.textContent = `${s.fps.toFixed(1)} frames/s · ${s.frames} frames · ${s.dropped} dropped · ` +
        `buffer ${s.buffer_depth} · ${age}` + (s.error ? ` · ${s.error}` : "");
    }
    for (const [id, entry] of cards) {
      if (!seen.has(id)) { entry.card.remove(); cards.delete(id); }
    }
    document.getElementById("rate").textContent = `${streams.length} camera(s), ${total.toFixed(1)} frames/s`;
  } catch (err) {
    badge(document.getElementById("run"), "down");
  }
}

// A live view that stops changing is flagged: the camera, the pipeline or the connection is stuck.
function checkPictures() {
  const ctx = sampler.getContext("2d", { willReadFrequently: true });
  for (const entry of cards.values()) {
    if (!entry.img.naturalWidth) continue;
    ctx.drawImage(entry.img, 0, 0, sampler.width, sampler.height);
    const pixels = ctx.getImageData(0, 0, sampler.width, sampler.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 1) sum = (sum * 31 + pixels[i]) % 1000000007;
    if (sum !== entry.lastSum) {
      entry.lastSum = sum;
      entry.lastChange = Date.now();
      entry.card.dataset.changes = String(Number(entry.card.dataset.changes) + 1);
    }
    entry.frozen.hidden = Date.now() - entry.lastChange < FROZEN_AFTER_MS;
  }
}

// --- events and counts -----------------------------------------------------------------------------

function describe(event) {
  const parts = [event.stream_id];
  if (event.track_id !== undefined) parts.push(`#${event.track_id}`);
  if (event.class) parts.push(event.class);
  if (event.zone_id) parts.push(`zone ${event.zone_id}`);
  if (event.line_id) parts.push(`line ${event.line_id} ${event.direction || ""}`);
  if (event.plate_text) parts.push(event.plate_text);
  if (event.rule_id) parts.push(`rule ${event.rule_id}`);
  if (event.speed_kmh !== undefined) parts.push(`${event.speed_kmh} km/h`);
  if (event.counts) parts.push(Object.entries(event.counts).map(([c, n]) => `${n} ${c}`).join(", ") || "empty");
  if (event.reason) parts.push(event.reason);
  return parts.join(" ");
}

function showEvent(event) {
  const list = document.getElementById("events");
  const item = document.createElement("li");
  const time = new Date(event.ts * 1000).toLocaleTimeString();
  item.innerHTML = `<span class="time"></span> <span class="type"></span> <span class="what"></span>`;
  item.querySelector(".time").textContent = time;
  item.querySelector(".type").textContent = event.type;
  item.querySelector(".what").textContent = describe(event);
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  document.body.dataset.events = String(Number(document.body.dataset.events) + 1);
}

function followEvents() {
  const feed = new EventSource(withToken("/api/events/live"));
  feed.onmessage = (message) => showEvent(JSON.parse(message.data));
}

async function refreshCounts() {
  try {
    const summary = await api("/api/summary");
    const rows = [];
    for (const [category, n] of Object.entries(summary.tracks || {})) rows.push([`tracks: ${category}`, n]);
    for (const [zone, by] of Object.entries(summary.zones || {})) {
      for (const [kind, n] of Object.entries(by)) rows.push([`zone ${zone}: ${kind}`, n]);
    }
    for (const [line, by] of Object.entries(summary.lines || {})) {
      for (const [direction, n] of Object.entries(by)) rows.push([`line ${line}: ${direction}`, n]);
    }
    const body = document.querySelector("#counts tbody");
    body.replaceChildren(...rows.map(([name, n]) => {
      const row = document.createElement("tr");
      row.innerHTML = "<td></td><td></td>";
      row.children[0].textContent = name;
      row.children[1].textContent = String(n);
      return row;
    }));
  } catch (err) { /* shown by the run badge */ }
}

refreshStreams();
refreshCounts();
followEvents();
setInterval(refreshStreams, STREAMS_EVERY_MS);
setInterval(refreshCounts, COUNTS_EVERY_MS);
setInterval(checkPictures, CHECK_PICTURE_MS);
