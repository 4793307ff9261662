// A small drawing surface that writes plain SVG: rectangles, lines and monospace text, so
// that the charts need no package at all and stay sharp at any size. The metrics match a
// 6 × 7 px character cell at scale 1, so layouts measure text with `Canvas.textWidth`.

export const COLORS = {
  white: [255, 255, 255],
  black: [20, 20, 20],
  grid: [225, 225, 225],
  axis: [90, 90, 90],
  blue: [31, 119, 180],
  orange: [255, 127, 14],
  green: [44, 160, 44],
  red: [214, 39, 40],
  purple: [148, 103, 189],
  gray: [140, 140, 140],
  brown: [140, 86, 75]
}

const rgb = ([r, g, b]) => `rgb(${r},${g},${b})`
const n = (v) => Math.round(v * 100) / 100
const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
/** Font size whose monospace advance is 6 px at scale 1 (monospace advance ≈ 0.6 em). */
const FONT_PX = 10

export class Canvas {
  constructor (width, height, bg = COLORS.white) {
    this.w = width
    this.h = height
    this.items = []
    this.fillRect(0, 0, width, height, bg)
  }

  /** Width in pixels of `text` at `scale`. */
  static textWidth (text, scale = 1) {
    return String(text).length * 6 * scale
  }

  fillRect (x, y, w, h, color) {
    this.items.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="${rgb(color)}"/>`)
  }

  line (x0, y0, x1, y1, color, width = 1) {
    this.items.push(`<line x1="${n(x0)}" y1="${n(y0)}" x2="${n(x1)}" y2="${n(y1)}" stroke="${rgb(color)}" stroke-width="${width}" stroke-linecap="square"/>`)
  }

  dashed (x0, y0, x1, y1, color, dash = 6) {
    this.items.push(`<line x1="${n(x0)}" y1="${n(y0)}" x2="${n(x1)}" y2="${n(y1)}" stroke="${rgb(color)}" stroke-dasharray="${dash}"/>`)
  }

  /** Text whose cell's top-left corner is (x, y) (or its top centre / top right, by `align`). */
  text (x, y, text, color = COLORS.black, scale = 1, align = 'left') {
    const anchor = { left: 'start', center: 'middle', right: 'end' }[align] ?? 'start'
    this.items.push(`<text x="${n(x)}" y="${n(y + 7 * scale)}" fill="${rgb(color)}" font-size="${FONT_PX * scale}" text-anchor="${anchor}">${escape(text)}</text>`)
  }

  /** Text rotated 90° counter-clockwise, centred on (x, y) (for y-axis titles). */
  textVertical (x, y, text, color = COLORS.black, scale = 1) {
    const cx = n(x + 3.5 * scale)
    this.items.push(`<text x="${cx}" y="${n(y)}" fill="${rgb(color)}" font-size="${FONT_PX * scale}" text-anchor="middle" dominant-baseline="central" transform="rotate(-90 ${cx} ${n(y)})">${escape(text)}</text>`)
  }

  /** The image as an SVG document. */
  svg () {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${this.w}" height="${this.h}" viewBox="0 0 ${this.w} ${this.h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">\n${this.items.join('\n')}\n</svg>\n`
  }
}

/** A "nice" tick step for a range, and the ticks from 0 (or min) to max. */
export function ticks (min, max, count = 6) {
  const span = Math.max(max - min, 1e-9)
  const raw = span / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag
  const out = []
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6)
  return { step, ticks: out }
}
