// The usage dashboard: reads the collector's own GET api/v1/usage and
// draws it with uPlot. Served by usage_collector, so every URL is relative.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const palette = ["#2f6fdf", "#e0662f", "#2a9d6f", "#9b4dca", "#c9a227", "#d1495b", "#3a8fa3"];
  const charts = {};

  // A step that gives at most ~120 points over the range, on a round value.
  function stepFor(seconds) {
    const steps = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400];
    return steps.find((s) => seconds / s <= 120) || 86400;
  }

  function fmtBytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  }

  async function load() {
    const range = Number($("range").value);
    const step = stepFor(range);
    const now = Math.ceil(Date.now() / 1000 / step) * step;
    const from = new Date((now - range) * 1000).toISOString();
    const to = new Date(now * 1000).toISOString();
    const params = new URLSearchParams({ from, to, step: step + "s" });
    $("status").textContent = "";
    let data;
    try {
      const resp = await fetch("api/v1/usage?" + params);
      if (!resp.ok) throw new Error("usage API answered " + resp.status);
      data = await resp.json();
    } catch (err) {
      $("status").textContent = "Cannot load usage: " + err.message;
      return;
    }
    const buckets = data.buckets || [];
    updateTenants(buckets);
    const tenant = $("tenant").value;
    const shown = buckets.filter((b) => !tenant || b.tenant === tenant);
    const tenants = [...new Set(shown.map((b) => b.tenant))].sort();

    // One x value per step in the range, one series per tenant.
    const xs = [];
    for (let t = now - range; t < now; t += step) xs.push(t);
    const index = new Map(xs.map((x, i) => [x, i]));
    const series = (field, scale) => tenants.map((name) => {
      const ys = xs.map(() => 0);
      for (const b of shown) {
        if (b.tenant !== name) continue;
        const i = index.get(Math.floor(Date.parse(b.start) / 1000 / step) * step);
        if (i !== undefined) ys[i] += b[field] / scale;
      }
      return ys;
    });
    draw("c-requests", xs, tenants, series("requests", 1));
    draw("c-bytes", xs, tenants, series("bytes_out", 1e6));
    draw("c-cpu", xs, tenants, series("cpu_ms", 1000));

    const sum = (f) => shown.reduce((a, b) => a + (b[f] || 0), 0);
    const requests = sum("requests");
    $("t-requests").textContent = requests.toLocaleString();
    $("t-hits").textContent = requests ? (100 * sum("hits") / requests).toFixed(1) + "%" : "–";
    $("t-out").textContent = fmtBytes(sum("bytes_out"));
    $("t-pixels").textContent = (sum("pixels") / 1e6).toFixed(1) + " MP";
    $("t-cpu").textContent = (sum("cpu_ms") / 1000).toFixed(1) + " s";
    document.body.dataset.points = String(requests);
  }

  function updateTenants(buckets) {
    const select = $("tenant");
    const known = new Set([...select.options].map((o) => o.value));
    for (const name of [...new Set(buckets.map((b) => b.tenant))].sort()) {
      if (!known.has(name)) select.add(new Option(name, name));
    }
  }

  function draw(id, xs, tenants, ys) {
    const el = $(id);
    if (charts[id]) charts[id].destroy();
    const opts = {
      width: Math.min(el.clientWidth || 960, 1080),
      height: 220,
      series: [{}].concat(tenants.map((name, i) => ({
        label: name, stroke: palette[i % palette.length], width: 2,
        fill: palette[i % palette.length] + "22", points: { show: false },
      }))),
      axes: [{}, { size: 60 }],
      scales: { x: { time: true } },
    };
    charts[id] = new uPlot(opts, [xs].concat(ys), el);
  }

  $("refresh").addEventListener("click", load);
  $("range").addEventListener("change", load);
  $("tenant").addEventListener("change", load);
  load();
})();
