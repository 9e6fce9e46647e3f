// SPDX-License-Identifier: Apache-2.0
// The Weir dashboard: polls /api/v1/server and /api/v1/streams (docs/stats.md) every second and
// draws the live streams with bitrate and player sparklines. No build step, no dependencies.
"use strict";

const REFRESH_MS = 1000;

function bits(bps) {
  if (bps >= 1e9) return (bps / 1e9).toFixed(2) + " Gbit/s";
  if (bps >= 1e6) return (bps / 1e6).toFixed(2) + " Mbit/s";
  if (bps >= 1e3) return (bps / 1e3).toFixed(0) + " kbit/s";
  return Math.round(bps) + " bit/s";
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  return m + "m " + Math.floor(s % 60) + "s";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// A polyline over the samples, scaled to the largest; an empty series draws nothing.
function sparkline(values, label, text) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  if (values.length > 1) {
    const max = Math.max(...values, 1e-9);
    const points = values.map((v, i) => (i * 100 / (values.length - 1)).toFixed(1) + "," + (29 - v * 28 / max).toFixed(1));
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
  return el("div", { class: "spark" }, el("span", {}, label), svg, el("span", {}, text));
}

function streamCard(s) {
  const v = s.video, a = s.audio;
  const parts = [];
  if (v.codec !== "unknown") parts.push(v.codec + (v.width ? " " + v.width + "×" + v.height : "") + " " + v.frame_rate.toFixed(1) + " fps");
  if (a.codec !== "unknown") parts.push(a.codec + (a.sample_rate ? " " + a.sample_rate / 1000 + " kHz" : ""));
  const publisher = s.publisher ? s.publisher.protocol + " from " + s.publisher.address + ", " + duration(s.publisher.seconds) : "not published";
  const card = el("article", { class: "stream", "data-stream": s.app + "/" + s.name, "data-bitrate": String(s.bitrate_in),
                               "data-players": String(s.players.total), "data-bitrate-out": String(s.bitrate_out),
                               "data-frames-dropped": String(s.frames_dropped) },
    el("h3", {}, s.app + "/" + s.name),
    el("div", { class: "meta" }, parts.join(" · ") || "no media yet"),
    el("div", { class: "meta" }, publisher),
    el("div", { class: "numbers" },
      el("span", { class: "bitrate" }, bits(s.bitrate_in)),
      el("span", { class: "bitrate-out", title: "sent to players" }, "out " + bits(s.bitrate_out)),
      el("span", { class: "players" }, s.players.total + (s.players.total === 1 ? " player" : " players")),
      el("span", { class: "dropped", title: "frames skipped for slow players" }, s.frames_dropped + " dropped")),
    sparkline(s.history.bitrate_in, "Bitrate", bits(s.bitrate_in)),
    sparkline(s.history.players, "Players", String(s.players.total)));
  return card;
}

function showServer(server) {
  const badge = document.getElementById("accepting");
  badge.textContent = server.accepting ? "accepting" : "busy";
  badge.className = "badge " + (server.accepting ? "ok" : "busy");
  badge.title = server.refusal || "";
  document.getElementById("uptime").textContent = duration(server.uptime_seconds);
  document.getElementById("connections").textContent = server.connections.open;
  document.getElementById("rate-in").textContent = bits(server.bytes.received_per_second * 8);
  document.getElementById("rate-out").textContent = bits(server.bytes.sent_per_second * 8);
  document.getElementById("cpu").textContent = server.process.cpu_percent.toFixed(0) + " %";
  document.getElementById("memory").textContent = bytes(server.process.resident_bytes);
  document.getElementById("overloaded").textContent = server.senders.overloaded;
}

function showStreams(list) {
  const main = document.getElementById("streams");
  main.replaceChildren(...(list.streams.length ? list.streams.map(streamCard) : [el("p", { class: "empty" }, "No streams.")]));
  document.getElementById("stream-count").textContent = "(" + list.streams.length + ")";
}

async function refresh() {
  const error = document.getElementById("error");
  try {
    const [server, streams] = await Promise.all(["/api/v1/server", "/api/v1/streams"].map(async (path) => {
      const r = await fetch(path, { cache: "no-store" });
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    }));
    showServer(server);
    showStreams(streams);
    error.hidden = true;
  } catch (e) {
    error.textContent = "Cannot reach the server: " + e.message;
    error.hidden = false;
  }
  setTimeout(refresh, REFRESH_MS);
}

refresh();
