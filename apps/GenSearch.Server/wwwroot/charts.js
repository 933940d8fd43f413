// Charts drawn by hand in SVG (the page has no dependencies and the server may be offline).
// lineChart: series of (x, y) points sharing axes; barChart: grouped bars per category.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f6feb", "#d1242f", "#2da44e", "#bf8700", "#8250df", "#0a7f8c", "#cf4b9b", "#57606a"];
  const W = 880, H = 300, M = { left: 58, right: 16, top: 14, bottom: 40 };

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // About `count` round tick values covering [lo, hi].
  function ticks(lo, hi, count) {
    if (!(hi > lo)) { hi = lo + 1; }
    const raw = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw);
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
    return out;
  }

  function format(v) {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    return +v.toPrecision(4) + "";
  }

  function frame(title, xLabel, yLabel) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
    svg.appendChild(el("text", { x: M.left + (W - M.left - M.right) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12, fill: "#5d6778" }, xLabel));
    svg.appendChild(el("text", { x: 14, y: M.top + (H - M.top - M.bottom) / 2, "text-anchor": "middle", "font-size": 12, fill: "#5d6778",
      transform: `rotate(-90 14 ${M.top + (H - M.top - M.bottom) / 2})` }, yLabel));
    return svg;
  }

  function axes(svg, sx, sy, xt, yt, xFormat) {
    const g = el("g", { "font-size": 11, fill: "#5d6778" });
    for (const t of yt) {
      const y = sy(t);
      g.appendChild(el("line", { x1: M.left, x2: W - M.right, y1: y, y2: y, stroke: "#eceff3" }));
      g.appendChild(el("text", { x: M.left - 6, y: y + 4, "text-anchor": "end" }, format(t)));
    }
    for (const t of xt) g.appendChild(el("text", { x: sx(t), y: H - M.bottom + 16, "text-anchor": "middle" }, (xFormat || format)(t)));
    g.appendChild(el("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, stroke: "#9aa4b2" }));
    g.appendChild(el("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, stroke: "#9aa4b2" }));
    svg.appendChild(g);
  }

  function legend(names) {
    const div = document.createElement("div");
    div.className = "legend";
    names.forEach((name, i) => {
      const span = document.createElement("span");
      span.innerHTML = `<i style="background:${COLORS[i % COLORS.length]}"></i>`;
      span.appendChild(document.createTextNode(name));
      div.appendChild(span);
    });
    return div;
  }

  // series: [{name, x: [], y: [] (null = gap)}]; options: {title, xLabel, yLabel, logX, integerX, yMin, yMax, points}
  function lineChart(container, series, options) {
    const xs = series.flatMap(s => s.x), ys = series.flatMap(s => s.y).filter(v => v !== null && isFinite(v));
    const wrap = document.createElement("div");
    wrap.className = "line-chart";
    if (ys.length === 0) { container.appendChild(wrap); return wrap; }
    const fx = options.logX ? Math.log10 : v => v;
    let x0 = fx(Math.min(...xs)), x1 = fx(Math.max(...xs));
    if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
    let y0 = options.yMin ?? Math.min(...ys), y1 = options.yMax ?? Math.max(...ys);
    if (y1 === y0) { y0 -= Math.abs(y0) * 0.1 + 0.5; y1 += Math.abs(y1) * 0.1 + 0.5; }
    const pad = (y1 - y0) * 0.05;
    if (options.yMin === undefined) y0 -= pad;
    if (options.yMax === undefined) y1 += pad;
    const sx = v => M.left + (fx(v) - x0) / (x1 - x0) * (W - M.left - M.right);
    const sy = v => H - M.bottom - (v - y0) / (y1 - y0) * (H - M.top - M.bottom);
    const svg = frame(options.title, options.xLabel, options.yLabel);
    const xt = options.logX ? [...new Set(xs)].sort((a, b) => a - b)
      : ticks(x0, x1, 8).filter(t => t >= x0 && t <= x1 && (!options.integerX || Number.isInteger(t)));
    axes(svg, sx, sy, xt, ticks(y0, y1, 5).filter(t => t >= y0 && t <= y1), options.xFormat);
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      let d = "", pen = false;
      s.x.forEach((x, j) => {
        const y = s.y[j];
        if (y === null || !isFinite(y)) { pen = false; return; }
        d += `${pen ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
        pen = true;
      });
      const path = el("path", { d, fill: "none", stroke: color, "stroke-width": 1.8, "data-series": s.name });
      svg.appendChild(path);
      if (options.points) s.x.forEach((x, j) => {
        if (s.y[j] === null) return;
        const dot = el("circle", { cx: sx(x), cy: sy(s.y[j]), r: 3.5, fill: color });
        dot.appendChild(el("title", {}, `${s.name}: ${format(s.y[j])} at ${x}`));
        svg.appendChild(dot);
      });
    });
    wrap.appendChild(svg);
    wrap.appendChild(legend(series.map(s => s.name)));
    container.appendChild(wrap);
    return wrap;
  }

  // categories: ["level 1", ...]; series: [{name, values: []}]; options: {title, xLabel, yLabel, yMax}
  function barChart(container, categories, series, options) {
    const values = series.flatMap(s => s.values).filter(v => isFinite(v));
    const y1 = options.yMax ?? (Math.max(...values, 0) * 1.1 || 1);
    const sy = v => H - M.bottom - v / y1 * (H - M.top - M.bottom);
    const svg = frame(options.title, options.xLabel, options.yLabel);
    const band = (W - M.left - M.right) / categories.length, inner = band * 0.7 / series.length;
    axes(svg, () => 0, sy, [], ticks(0, y1, 5).filter(t => t <= y1));
    categories.forEach((c, i) => {
      svg.appendChild(el("text", { x: M.left + band * (i + 0.5), y: H - M.bottom + 16, "text-anchor": "middle", "font-size": 11, fill: "#5d6778" }, c));
      series.forEach((s, j) => {
        const v = s.values[i];
        if (!isFinite(v)) return;
        const x = M.left + band * i + band * 0.15 + inner * j;
        const bar = el("rect", { x, y: sy(v), width: Math.max(1, inner - 2), height: Math.max(0, sy(0) - sy(v)), fill: COLORS[j % COLORS.length], "data-series": s.name });
        bar.appendChild(el("title", {}, `${s.name}, ${c}: ${format(v)}`));
        svg.appendChild(bar);
        svg.appendChild(el("text", { x: x + (inner - 2) / 2, y: sy(v) - 4, "text-anchor": "middle", "font-size": 10, fill: "#1d2430" }, options.label ? options.label(v) : format(v)));
      });
    });
    const wrap = document.createElement("div");
    wrap.className = "bar-chart";
    wrap.appendChild(svg);
    wrap.appendChild(legend(series.map(s => s.name)));
    container.appendChild(wrap);
    return wrap;
  }

  return { lineChart, barChart, format };
})();
