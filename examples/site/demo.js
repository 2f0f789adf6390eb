// The demo page's script: under each picture the URL that made it and what
// imgedge said about it, the placeholders, and the fm=json table. When all
// of it is done, <body data-ready> is set (the browser test waits for it).
"use strict";

// What an <img> sends, so that asking again with fetch() gets the same
// variant of an f=auto URL (the answer varies on Accept).
const acceptImages = "image/avif,image/webp,*/*";

// "fetch;dur=3.9, total;dur=34.3" as [{name, duration}], like the
// serverTiming of a Resource Timing entry.
function parseServerTiming(header) {
  return (header || "").split(",").filter((s) => s.trim()).map((metric) => {
    const [name, ...params] = metric.trim().split(";");
    const dur = params.find((p) => p.trim().startsWith("dur="));
    return { name, duration: dur ? Number(dur.trim().slice(4)) : 0 };
  });
}

function formatTiming(metrics) {
  if (!metrics.length) return "no Server-Timing";
  return metrics.map((m) => `${m.name} ${m.duration.toFixed(1)}`).join(" · ") + " ms";
}

// loaded resolves when img has loaded or failed (it may already have).
function loaded(img) {
  return new Promise((resolve) => {
    if (img.getAttribute("src") && img.complete) return resolve(img.naturalWidth > 0);
    img.addEventListener("load", () => resolve(true), { once: true });
    img.addEventListener("error", () => resolve(false), { once: true });
  });
}

// report fills a figure's caption once its picture has loaded: the URL,
// the Server-Timing of that load, then the Cache-Status of asking again.
async function report(figure, img) {
  const ok = await loaded(img);
  const url = new URL(img.currentSrc || img.src);
  const code = figure.querySelector("code.url");
  if (code) code.textContent = url.pathname + url.search;
  const out = figure.querySelector(".timing");
  if (!ok) {
    // An <img> cannot read the status of a refusal: ask again to show it.
    const r = await fetch(url, { cache: "no-store", headers: { Accept: acceptImages } });
    const problem = await r.json().catch(() => ({}));
    figure.dataset.status = r.status;
    out.textContent = `${r.status} ${r.statusText}: ${problem.error || "no reason given"}`;
    return;
  }
  const lines = [];
  const entry = performance.getEntriesByName(url.href).pop();
  if (entry && entry.serverTiming.length) {
    lines.push("this load: " + formatTiming(entry.serverTiming));
  } else {
    lines.push("this load: " + (entry && entry.transferSize === 0 ? "from the browser's cache" : "no Server-Timing"));
  }
  const again = await fetch(url, { method: "HEAD", cache: "no-store", headers: { Accept: acceptImages } });
  figure.dataset.status = again.status;
  lines.push(`again: ${again.headers.get("Cache-Status") || "no Cache-Status"} · ` +
    formatTiming(parseServerTiming(again.headers.get("Server-Timing"))));
  if ("etag" in figure.dataset) lines.push("ETag " + again.headers.get("ETag"));
  out.textContent = lines.join("\n");
}

// show loads a placeholder's picture: its URL is in data-src until the
// placeholder is painted.
function show(figure) {
  const img = figure.querySelector("img[data-src]");
  const done = loaded(img).then((ok) => {
    figure.dataset.loadedAt = performance.now();
    img.classList.toggle("loaded", ok);
  });
  img.src = img.dataset.src;
  return Promise.all([done, report(figure, img)]);
}

// The BlurHash placeholder: a few characters, decoded onto a small canvas
// that CSS stretches under the picture.
async function blurhashPlaceholder(figure) {
  const source = figure.dataset.blurhash;
  const hash = (await (await fetch(source)).text()).trim();
  const canvas = figure.querySelector("canvas");
  const { width, height } = canvas;
  canvas.getContext("2d").putImageData(new ImageData(blurhash.decode(hash, width, height), width, height), 0, 0);
  figure.dataset.placeholderAt = performance.now();
  figure.querySelector("code.hash").textContent = hash;
  figure.querySelector("code.source").textContent = source;
  await show(figure);
}

// The palette placeholder: the page's stylesheet (palette=css) has loaded
// before this script runs, so the box already has its colour.
async function palettePlaceholder(figure) {
  const box = figure.querySelector(".ph");
  if (getComputedStyle(box).backgroundColor === "rgba(0, 0, 0, 0)") {
    figure.querySelector(".timing").textContent = "the palette stylesheet did not load";
    return;
  }
  figure.dataset.placeholderAt = performance.now();
  for (const swatch of figure.querySelectorAll(".swatches span")) {
    const [r, g, b] = getComputedStyle(swatch).backgroundColor.match(/\d+/g).map(Number);
    swatch.textContent = "#" + [r, g, b].map((c) => c.toString(16).padStart(2, "0")).join("");
    swatch.style.color = 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#222" : "#fff";
  }
  await show(figure);
}

// fm=json as a table.
async function describe(figure) {
  const url = figure.dataset.json;
  const info = await (await fetch(url)).json();
  const body = figure.querySelector("tbody");
  for (const [name, value] of Object.entries(info)) {
    const row = body.insertRow();
    row.appendChild(document.createElement("th")).textContent = name;
    row.insertCell().textContent = value;
  }
  figure.querySelector("code.url").textContent = url;
}

const work = [
  blurhashPlaceholder(document.getElementById("blurhash")),
  palettePlaceholder(document.getElementById("palette")),
  describe(document.getElementById("json")),
];
for (const img of document.querySelectorAll("figure img[src]:not([data-src])")) work.push(report(img.closest("figure"), img));
Promise.allSettled(work).then((results) => {
  const failed = results.filter((r) => r.status === "rejected").map((r) => String(r.reason));
  document.body.dataset.errors = failed.join("\n");
  document.body.dataset.ready = "true";
});
