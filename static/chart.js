/*
 * chart.js: a tiny hand-written canvas line chart for the mqtt-actor dashboard.
 *
 *   import { LineChart } from './chart.js';
 *   const chart = new LineChart(canvasElement, { emptyText: 'No data' });
 *   chart.setData([{ t: Date.now(), v: 21.5 }, ...]);   // one series; t in ms, sorted ascending
 *   chart.setSeries([                                    // several, on one time and value axis
 *     { label: 'a/temp', color: 0, points: [...] },
 *     { label: 'b/temp', color: 1, points: [...] },
 *   ]);
 *
 * Colours come from CSS custom properties on the canvas (or its ancestors):
 *   --series-0 … --series-5 (a series' `color` is its index), --chart-fill
 *   (under a lone series), --chart-grid, --chart-text, --chart-bg-tip,
 *   --chart-tip-text, --font-mono; style.css sets them for dark and light.
 * Redraws are coalesced into one animation frame; the canvas follows its CSS
 * size (ResizeObserver), the device pixel ratio and the colour scheme.
 */

/** How many series colours style.css defines. */
export const SERIES_COLORS = 6;

const TIME_STEPS = [
  1e3, 2e3, 5e3, 10e3, 15e3, 30e3,
  60e3, 120e3, 300e3, 600e3, 900e3, 1800e3,
  3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3,
];

/** A "nice" step (1, 2, 2.5, 5 x 10^n) so that `range` splits into about `target` parts. */
function niceStep(range, target) {
  if (!(range > 0) || !Number.isFinite(range)) return 1;
  const raw = range / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  let step;
  if (norm <= 1) step = 1;
  else if (norm <= 2) step = 2;
  else if (norm <= 2.5) step = 2.5;
  else if (norm <= 5) step = 5;
  else step = 10;
  return step * mag;
}

function formatNumber(v, step) {
  const a = Math.abs(v);
  if (v === 0) return '0';
  if (a >= 1e7 || a < 1e-4) return v.toExponential(2);
  const decimals = step ? Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (step % 1 ? 1 : 0))) : 4;
  // Trim needless trailing zeros ("2.50" -> "2.5") but keep integers as is.
  let s = v.toFixed(decimals);
  if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return s;
}

function pad2(n) { return n < 10 ? '0' + n : String(n); }

function formatTime(t, step) {
  const d = new Date(t);
  const hm = pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  return step >= 60e3 ? hm : hm + ':' + pad2(d.getSeconds());
}

function formatTimeFull(t) {
  const d = new Date(t);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) +
    '.' + String(d.getMilliseconds()).padStart(3, '0');
}

/** Index of the point whose t is closest to `t` (points sorted by t). */
function nearestIndex(points, t) {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(points[lo - 1].t - t) <= Math.abs(points[lo].t - t)) return lo - 1;
  return lo;
}

export class LineChart {
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.series = [];
    this.emptyText = options.emptyText || 'No data';
    this.hoverX = null;
    this._raf = 0;

    if (typeof ResizeObserver !== 'undefined') {
      this._ro = new ResizeObserver(() => this.requestDraw());
      this._ro.observe(canvas);
    } else {
      window.addEventListener('resize', () => this.requestDraw());
    }
    canvas.addEventListener('mousemove', (e) => {
      const rect = canvas.getBoundingClientRect();
      this.hoverX = e.clientX - rect.left;
      this.requestDraw();
    });
    canvas.addEventListener('mouseleave', () => {
      this.hoverX = null;
      this.requestDraw();
    });
    if (window.matchMedia) {
      const mq = window.matchMedia('(prefers-color-scheme: light)');
      if (mq.addEventListener) mq.addEventListener('change', () => this.requestDraw());
    }
  }

  /** Replace the data with one series; points: [{t, v}] sorted by t. */
  setData(points, options = {}) {
    this.setSeries([{ label: '', color: 0, points: points || [] }], options);
  }

  /** Replace the data; series: [{ label, color (0-5), points: [{t, v}] sorted by t }]. */
  setSeries(series, options = {}) {
    this.series = (series || []).filter((s) => s.points && s.points.length);
    if (options.emptyText) this.emptyText = options.emptyText;
    this.requestDraw();
  }

  setEmptyText(text) {
    this.emptyText = text;
    this.requestDraw();
  }

  requestDraw() {
    if (this._raf) return;
    const run = () => {
      this._raf = 0;
      this.draw();
    };
    this._raf = window.requestAnimationFrame ? window.requestAnimationFrame(run) : setTimeout(run, 16);
  }

  _theme() {
    const cs = getComputedStyle(this.canvas);
    const v = (name, fallback) => (cs.getPropertyValue(name) || '').trim() || fallback;
    const fallback = ['#4f9cff', '#f0883e', '#2fbf71', '#d96bd8', '#e5c33b', '#f0564e'];
    return {
      colors: fallback.map((c, i) => v('--series-' + i, c)),
      line: v('--chart-line', '#4f9cff'),
      fill: v('--chart-fill', 'rgba(79,156,255,0.15)'),
      grid: v('--chart-grid', 'rgba(128,140,160,0.18)'),
      text: v('--chart-text', '#8593a3'),
      tipBg: v('--chart-bg-tip', 'rgba(20,26,34,0.92)'),
      tipText: v('--chart-tip-text', '#e6edf3'),
      font: v('--font-mono', 'ui-monospace, Menlo, Consolas, monospace'),
    };
  }

  draw() {
    const canvas = this.canvas;
    const ctx = this.ctx;
    const rect = canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width));
    const h = Math.max(1, Math.round(rect.height));
    const dpr = window.devicePixelRatio || 1;
    const pw = Math.round(w * dpr);
    const ph = Math.round(h * dpr);
    if (canvas.width !== pw) canvas.width = pw;
    if (canvas.height !== ph) canvas.height = ph;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const theme = this._theme();
    ctx.font = '11px ' + theme.font;
    ctx.textBaseline = 'middle';

    const all = this.series;
    if (!all.length) {
      ctx.fillStyle = theme.text;
      ctx.textAlign = 'center';
      ctx.fillText(this.emptyText, w / 2, h / 2);
      return;
    }

    // Data ranges, over every series.
    let tMin = Infinity;
    let tMax = -Infinity;
    let vMin = Infinity;
    let vMax = -Infinity;
    for (const s of all) {
      tMin = Math.min(tMin, s.points[0].t);
      tMax = Math.max(tMax, s.points[s.points.length - 1].t);
      for (const p of s.points) {
        if (p.v < vMin) vMin = p.v;
        if (p.v > vMax) vMax = p.v;
      }
    }
    if (tMax - tMin < 1000) {
      const mid = (tMin + tMax) / 2;
      tMin = mid - 500;
      tMax = mid + 500;
    }
    if (vMin === vMax) {
      const pad = Math.abs(vMin) * 0.1 || 1;
      vMin -= pad;
      vMax += pad;
    } else {
      const pad = (vMax - vMin) * 0.06;
      vMin -= pad;
      vMax += pad;
    }

    const top = 10;
    const bottom = h - 20;
    const plotH = Math.max(10, bottom - top);
    const yStep = niceStep(vMax - vMin, Math.max(2, Math.floor(plotH / 36)));
    const yLo = Math.floor(vMin / yStep) * yStep;
    const yHi = Math.ceil(vMax / yStep) * yStep;
    const yTicks = [];
    for (let i = 0; yLo + i * yStep <= yHi + yStep * 1e-6 && i < 50; i++) yTicks.push(yLo + i * yStep);

    let labelW = 0;
    for (const v of yTicks) labelW = Math.max(labelW, ctx.measureText(formatNumber(v, yStep)).width);
    const left = Math.ceil(labelW) + 10;
    const right = w - 10;
    const plotW = Math.max(10, right - left);

    const x = (t) => left + ((t - tMin) / (tMax - tMin)) * plotW;
    const y = (v) => bottom - ((v - yLo) / (yHi - yLo)) * plotH;

    // Grid + y labels.
    ctx.strokeStyle = theme.grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = theme.text;
    ctx.textAlign = 'right';
    ctx.beginPath();
    for (const v of yTicks) {
      const yy = Math.round(y(v)) + 0.5;
      ctx.moveTo(left, yy);
      ctx.lineTo(right, yy);
      ctx.fillText(formatNumber(v, yStep), left - 6, yy);
    }
    ctx.stroke();

    // Time ticks.
    const maxTicks = Math.max(2, Math.floor(plotW / 80));
    let tStep = TIME_STEPS[TIME_STEPS.length - 1];
    for (const s of TIME_STEPS) {
      if ((tMax - tMin) / s <= maxTicks) { tStep = s; break; }
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.beginPath();
    for (let t = Math.ceil(tMin / tStep) * tStep; t <= tMax; t += tStep) {
      const xx = Math.round(x(t)) + 0.5;
      ctx.moveTo(xx, top);
      ctx.lineTo(xx, bottom);
      ctx.fillText(formatTime(t, tStep), xx, bottom + 5);
    }
    ctx.stroke();

    const colorOf = (s) => theme.colors[((s.color | 0) % SERIES_COLORS + SERIES_COLORS) % SERIES_COLORS];

    // Area under a lone series' line (with several, areas would hide each other).
    if (all.length === 1) {
      const pts = all[0].points;
      ctx.beginPath();
      ctx.moveTo(x(pts[0].t), bottom);
      for (const p of pts) ctx.lineTo(x(p.t), y(p.v));
      ctx.lineTo(x(pts[pts.length - 1].t), bottom);
      ctx.closePath();
      ctx.fillStyle = theme.fill;
      ctx.fill();
    }

    for (const s of all) {
      const pts = s.points;
      const color = colorOf(s);
      ctx.beginPath();
      for (let i = 0; i < pts.length; i++) {
        const px = x(pts[i].t);
        const py = y(pts[i].v);
        if (i === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.75;
      ctx.lineJoin = 'round';
      ctx.stroke();

      // Dots when sparse, and always a dot on the latest value.
      ctx.fillStyle = color;
      if (pts.length <= plotW / 6) {
        for (const p of pts) {
          ctx.beginPath();
          ctx.arc(x(p.t), y(p.v), 2, 0, Math.PI * 2);
          ctx.fill();
        }
      }
      const last = pts[pts.length - 1];
      ctx.beginPath();
      ctx.arc(x(last.t), y(last.v), 3.5, 0, Math.PI * 2);
      ctx.fill();
    }

    // Hover crosshair + tooltip: each series' point nearest the pointer's time.
    if (this.hoverX != null && this.hoverX >= left && this.hoverX <= right) {
      const t = tMin + ((this.hoverX - left) / plotW) * (tMax - tMin);
      const near = all.map((s) => ({ s, p: s.points[nearestIndex(s.points, t)] }));
      const px = x(near[0].p.t);
      ctx.strokeStyle = theme.text;
      ctx.globalAlpha = 0.5;
      ctx.beginPath();
      ctx.moveTo(Math.round(this.hoverX) + 0.5, top);
      ctx.lineTo(Math.round(this.hoverX) + 0.5, bottom);
      ctx.stroke();
      ctx.globalAlpha = 1;
      for (const { s, p } of near) {
        ctx.beginPath();
        ctx.arc(x(p.t), y(p.v), 4, 0, Math.PI * 2);
        ctx.fillStyle = colorOf(s);
        ctx.fill();
      }

      const labels = near.map(({ s, p }) => (all.length > 1 && s.label ? s.label + '  ' : '') +
        formatNumber(p.v, 0) + '  @ ' + formatTimeFull(p.t));
      ctx.font = '11px ' + theme.font;
      let tw = 0;
      for (const l of labels) tw = Math.max(tw, ctx.measureText(l).width);
      tw += all.length > 1 ? 24 : 12;
      const lineH = 16;
      const th = labels.length * lineH + 4;
      let tx = px + 8;
      if (tx + tw > w - 2) tx = px - 8 - tw;
      if (tx < 2) tx = 2;
      let ty = top;
      if (ty + th > h - 2) ty = Math.max(2, h - 2 - th);
      ctx.fillStyle = theme.tipBg;
      ctx.fillRect(tx, ty, tw, th);
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      labels.forEach((l, i) => {
        const ly = ty + 2 + lineH * i + lineH / 2;
        let lx = tx + 6;
        if (all.length > 1) {
          ctx.fillStyle = colorOf(near[i].s);
          ctx.fillRect(lx, ly - 4, 8, 8);
          lx += 12;
        }
        ctx.fillStyle = theme.tipText;
        ctx.fillText(l, lx, ly);
      });
    }
  }
}
