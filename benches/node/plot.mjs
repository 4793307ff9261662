// Turns the steady-state and startup results into SVG charts beside them:
//
//   steady.svg  — who holds the RSS over time: explain()'s owners stacked (code, the addon's
//                 code, ultra, allocator overhead, V8 heap, malloc in use and free, stacks,
//                 unattributed — below zero when negative) under the RSS line, one panel per
//                 configuration, with the idle and trim moments marked;
//   burst.svg   — the same owners stacked at each point of the burst (before, after the burst,
//                 after clear, after trim, after trimMalloc), per configuration;
//   startup.svg — median RSS of each startup variant, with bare node marked.
//
//   node plot.mjs [--quick]   (reads and writes benches/results/, or the quick folder)

import fs from 'node:fs'
import path from 'node:path'
import { args, resultsDir } from './lib/harness.mjs'
import { Canvas, COLORS, ticks } from './lib/svg.mjs'

const dir = resultsDir()
const MB = 1048576
const load = (name) => {
  const f = path.join(dir, `${name}.json`)
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null
}
const save = (name, canvas) => {
  const f = path.join(dir, name)
  fs.writeFileSync(f, canvas.svg())
  console.log(`wrote ${f}`)
}

/** A chart title, at double size when it fits. */
function heading (c, text) {
  const scale = Canvas.textWidth(text, 2) <= c.w - 20 ? 2 : 1
  c.text(c.w / 2, 14, text, COLORS.black, scale, 'center')
}


/** Axes, grid and tick labels of a plot area; returns value → pixel mappers. */
function axes (c, box, xr, yr, xlabel, ylabel, yTicks = true) {
  const { x, y, w, h } = box
  const X = (v) => x + ((v - xr[0]) / (xr[1] - xr[0])) * w
  const Y = (v) => y + h - ((v - yr[0]) / (yr[1] - yr[0])) * h
  for (const t of yTicks ? ticks(yr[0], yr[1], 5).ticks : []) {
    c.line(x, Y(t), x + w, Y(t), COLORS.grid)
    c.text(x - 6, Y(t) - 3, String(t), COLORS.axis, 1, 'right')
  }
  for (const t of ticks(xr[0], xr[1], 8).ticks) {
    c.line(X(t), y + h, X(t), y + h + 4, COLORS.axis)
    c.text(X(t), y + h + 8, String(t), COLORS.axis, 1, 'center')
  }
  c.line(x, y, x, y + h, COLORS.axis)
  c.line(x, y + h, x + w, y + h, COLORS.axis)
  if (xlabel) c.text(x + w / 2, y + h + 22, xlabel, COLORS.axis, 1, 'center')
  if (ylabel) c.textVertical(x - 52, y + h / 2, ylabel, COLORS.axis, 1)
  return { X, Y }
}

function legend (c, right, y, items) {
  let x = right - items.reduce((w, [label]) => w + 38 + Canvas.textWidth(label), 0)
  for (const [label, color] of items) {
    c.fillRect(x, y + 2, 14, 4, color)
    c.text(x + 20, y, label, COLORS.black)
    x += 20 + Canvas.textWidth(label) + 18
  }
}

/** explain()'s owners in stacking order, with their legend labels and colors. */
const OWNERS = [
  ['code', 'code', COLORS.gray],
  ['addonCode', 'addon code', COLORS.brown],
  ['ultra', 'ultra', COLORS.green],
  ['allocatorOverhead', 'allocator overhead', COLORS.orange],
  ['v8Heap', 'V8 heap', COLORS.blue],
  ['malloc', 'malloc', COLORS.purple],
  ['mallocFree', 'malloc free', [200, 175, 225]],
  ['stacks', 'stacks', [60, 60, 60]],
  ['unattributed', 'unattributed', COLORS.red]
]
const ownerOf = (p, key) => (key === 'unattributed' ? p.unattributed : p.owners?.[key]) ?? 0

/** Stacked owners of point `p` as [from, to, color] in MB: positive ones up from 0, a negative remainder down. */
function stack (p) {
  const out = []
  let up = 0
  for (const [key, , color] of OWNERS) {
    const v = ownerOf(p, key) / MB
    if (v >= 0) { out.push([up, up + v, color]); up += v } else out.push([v, 0, color])
  }
  return out
}

function steadyChart (steady) {
  const configs = Object.keys(steady.steady)
  const panelH = 250
  const c = new Canvas(1000, 86 + configs.length * (panelH + 70))
  heading(c, `Who holds the RSS: gateway load ${steady.loadMs / 1000} s, idle ${steady.idleMs / 1000} s, trim(), trimMalloc()  (every ${steady.sampleMs} ms)`)
  legend(c, 990, 34, [...OWNERS.slice(0, 5).map(([, l, col]) => [l, col])])
  legend(c, 990, 48, [...OWNERS.slice(5).map(([, l, col]) => [l, col]), ['RSS (line)', COLORS.black]])
  configs.forEach((name, i) => {
    const r = steady.steady[name]
    const s = r.samples.filter((p) => p.owners)
    const top = 76 + i * (panelH + 70)
    const tmax = s[s.length - 1].t / 1000
    const ymax = Math.max(...s.map((p) => Math.max(p.rss ?? 0, p.explainRss - Math.min(0, p.unattributed)))) / MB * 1.08
    const ymin = Math.min(0, ...s.map((p) => p.unattributed / MB)) * 1.1
    c.text(80, top, `${name}   (${Math.round(r.requestsPerSec)} req/s; trim released ${r.trimReleased === null ? 'n/a' : (r.trimReleased / MB).toFixed(1) + ' MB'})`, COLORS.black, 1)
    const box = { x: 80, y: top + 18, w: 890, h: panelH - 30 }
    const { X, Y } = axes(c, box, [0, tmax], [ymin, ymax], i === configs.length - 1 ? 'seconds' : '', 'MB')
    for (let k = 0; k + 1 < s.length; k++) {
      const x0 = Math.round(X(s[k].t / 1000))
      const x1 = Math.max(x0 + 1, Math.round(X(s[k + 1].t / 1000)))
      for (const [from, to, color] of stack(s[k])) {
        const y0 = Math.round(Y(to))
        c.fillRect(x0, y0, x1 - x0, Math.max(0, Math.round(Y(from)) - y0), color)
      }
    }
    for (let k = 1; k < s.length; k++) {
      c.line(X(s[k - 1].t / 1000), Y(s[k - 1].explainRss / MB), X(s[k].t / 1000), Y(s[k].explainRss / MB), COLORS.black, 2)
    }
    const idleAt = s.find((p) => p.phase === 'idle')?.t
    const trimAt = s.find((p) => p.phase === 'before-trim')?.t
    if (idleAt !== undefined) { c.dashed(X(idleAt / 1000), box.y, X(idleAt / 1000), box.y + box.h, COLORS.axis); c.text(X(idleAt / 1000) + 4, box.y + 2, 'idle', COLORS.axis) }
    if (trimAt !== undefined) { c.dashed(X(trimAt / 1000), box.y, X(trimAt / 1000), box.y + box.h, COLORS.red); c.text(X(trimAt / 1000) - 4, box.y + 12, s.some((p) => p.phase === 'after-trimMalloc') ? 'trim(), trimMalloc()' : 'trim()', COLORS.red, 1, 'right') }
  })
  return c
}

/** Horizontal stacked bars of explain()'s owners: rows of [label, point]; `limit` MB marked per row. */
function ownersBarChart (title, rows) {
  const rowH = 30
  const c = new Canvas(1000, 110 + rows.length * rowH + 40)
  heading(c, title)
  legend(c, 990, 34, OWNERS.slice(0, 5).map(([, l, col]) => [l, col]))
  legend(c, 990, 48, OWNERS.slice(5).map(([, l, col]) => [l, col]))
  const box = { x: 400, y: 74, w: 520, h: rows.length * rowH }
  const vmax = Math.max(...rows.map(([, p]) => Math.max(p.rss, p.explainRss - Math.min(0, p.unattributed)))) / MB * 1.12
  const vmin = Math.min(0, ...rows.map(([, p]) => p.unattributed / MB)) * 1.1
  const { X } = axes(c, box, [vmin, vmax], [0, 1], 'MB', '', false)
  rows.forEach(([label, p, limit], i) => {
    const y = box.y + i * rowH + 6
    c.text(box.x - 10, y + 6, label, COLORS.black, 1, 'right')
    for (const [from, to, color] of stack(p)) {
      const x0 = Math.round(X(from))
      c.fillRect(x0, y, Math.max(0, Math.round(X(to)) - x0), rowH - 12, color)
    }
    c.text(X(p.explainRss / MB) + 6, y + 6, (p.explainRss / MB).toFixed(1), COLORS.black)
    if (limit !== undefined) c.line(X(limit), y - 3, X(limit), y + rowH - 9, COLORS.black, 2)
  })
  return c
}

/** Horizontal bars: rows of [label, value MB, color]; a dashed line at `mark`. */
function barChart (title, rows, mark, markLabel, mark2, mark2Label) {
  const rowH = 34
  const c = new Canvas(1000, 90 + rows.length * rowH + 40)
  heading(c, title)
  const box = { x: 400, y: 50, w: 520, h: rows.length * rowH }
  const vmax = Math.max(...rows.map((r) => r[1] ?? 0)) * 1.12
  const { X } = axes(c, box, [0, vmax], [0, 1], 'MB', '', false)
  rows.forEach(([label, v, color, limit], i) => {
    const y = box.y + i * rowH + 6
    c.text(box.x - 10, y + 8, label, COLORS.black, 1, 'right')
    if (v === null || v === undefined) { c.text(box.x + 6, y + 8, 'n/a', COLORS.axis); return }
    c.fillRect(box.x + 1, y, X(v) - box.x, rowH - 12, color)
    c.text(X(v) + 6, y + 8, v.toFixed(1), COLORS.black)
    if (limit !== undefined) c.line(X(limit), y - 3, X(limit), y + rowH - 9, COLORS.black, 2)
  })
  if (mark !== undefined) {
    c.dashed(X(mark), box.y, X(mark), box.y + box.h, COLORS.red)
    c.text(X(mark) + 4, box.y - 10, markLabel, COLORS.red)
  }
  if (mark2 !== undefined) {
    c.dashed(X(mark2), box.y, X(mark2), box.y + box.h, COLORS.green)
    c.text(X(mark2) + 4, box.y + box.h + 36, mark2Label, COLORS.green)
  }
  return c
}

const steady = load('steady')
if (steady) {
  save('steady.svg', steadyChart(steady))
  const rows = []
  for (const [name, b] of Object.entries(steady.burst)) {
    const limit = b.points[0].rss / MB + 10
    b.points.forEach((p, i) => rows.push([`${name}: ${p.label}`, p, i === 3 ? limit : undefined]))
  }
  save('burst.svg', ownersBarChart(`RSS by owner around a burst of ${steady.burstEntries} x 1 KiB cache entries; | = before + 10 MB`, rows))
} else console.log(`no steady.json in ${dir}: run steady.mjs first`)

const startup = load('startup')
if (startup) {
  const rows = startup.rows.map((r, i) => [r.variant, r.rss === null ? null : r.rss / MB, i === 0 ? COLORS.gray : COLORS.blue])
  const bare = startup.rows[0].rss / MB
  save('startup.svg', barChart(`Startup RSS, median of ${startup.runs} runs${args.quick ? ' (quick)' : ''}`, rows, bare, 'bare node', bare + 3, 'target: bare + 3 MB'))
} else console.log(`no startup.json in ${dir}: run startup.mjs first`)
