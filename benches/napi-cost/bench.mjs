// The N-API cost driver: `node bench.mjs <variants-dir> <rounds|smoke> [out.json]`.
//
// Loads every variant addon (`raw`, `raw-registered`, `napi`, `compat`, built by `run.sh`) into
// this one process, checks that they all answer the same (a mismatch exits 1), then times each
// call on each variant interleaved: every round runs every operation on every variant in a
// shuffled order, a batch of calls each cut into slices that alternate between the variants,
// after one uncounted warm-up round. Reports the median
// ns/call over the rounds and the median of the per-round ratios to `raw`. Then the load cost:
// each variant (and bare node) in fresh processes, alternated, RSS before and after `require`
// and after a first use, and what 4 workers loading it add; the addon's file size, and its
// size with debug info stripped.
//
// `smoke` runs one round of a few calls, and the load check once: a quick proof in CI that the
// bench still builds, loads and agrees (no figures written).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const [dir, mode = '7', out] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node bench.mjs <variants-dir> <rounds|smoke> [out.json]');
  process.exit(2);
}
const smoke = mode === 'smoke';
const rounds = smoke ? 1 : Number(mode);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`bench.mjs: rounds must be a positive integer or "smoke", got ${mode}`);
  process.exit(2);
}
const VARIANTS = ['raw', 'raw-registered', 'napi', 'compat'];
const file = (v) => path.resolve(dir, `${v}.node`);
const addons = Object.fromEntries(VARIANTS.map((v) => [v, require(file(v))]));

// ---------------------------------------------------------------------------------------------
// Every variant answers the same.

const data64 = Buffer.alloc(64, 0).map((_, i) => (i * 37 + 11) & 255);
const ENTRIES = 64;
const keys = Array.from({ length: ENTRIES }, (_, i) => `k${i}`);
const stores = Object.fromEntries(VARIANTS.map((v) => [v, addons[v].createStore(ENTRIES)]));

function answers(v) {
  const a = addons[v];
  const s = stores[v];
  const buf = s.getBuffer('k7');
  return {
    noop: a.noop(),
    xxh3: a.xxh3(data64),
    xxh3Number: a.xxh3Number(data64),
    get: s.get('k7'),
    getMissing: s.get('nope'),
    getBuffer: Buffer.isBuffer(buf) ? buf.toString('latin1') : buf,
    getBufferMissing: s.getBuffer('nope'),
    stats: { ...s.stats() },
    fresh: addons[v].createStore(3).get('k2'),
  };
}
const expected = answers('raw');
assert.equal(expected.get, 'value number 000007');
assert.equal(expected.getBuffer, 'value number 000007');
assert.equal(typeof expected.xxh3, 'bigint');
assert.equal(expected.xxh3Number, Number(expected.xxh3 >> 11n));
assert.deepEqual(expected.stats, { entries: 64, keyBytes: 10 * 2 + 54 * 3, valueBytes: 64 * 19 });
for (const v of VARIANTS) {
  assert.deepEqual(answers(v), expected, `variant ${v} answers differently from raw`);
  assert.throws(() => addons[v].xxh3('not a buffer'), `variant ${v}: xxh3 of a string must throw`);
  assert.throws(() => stores[v].get(42), `variant ${v}: get of a number must throw`);
}
// What each variant throws for a wrong argument (the addon's rule: a TypeError naming the
// parameter), reported beside the figures.
const WRONG = [
  ['xxh3(string)', (v) => addons[v].xxh3('not a buffer')],
  ['store.get(number)', (v) => stores[v].get(42)],
  ['createStore(string)', (v) => addons[v].createStore('4')],
];
const errors = WRONG.map(([call, f]) => {
  const row = { call };
  for (const v of VARIANTS) {
    try {
      f(v);
      row[v] = 'no error';
    } catch (e) {
      row[v] = `${e.constructor.name}: ${JSON.stringify(e.message)}`;
    }
  }
  return row;
});
assert.ok(errors.every((row) => row.raw.startsWith('TypeError')), 'the raw glue throws TypeErrors');
// Each variant's class refuses a method called on another object.
for (const v of VARIANTS) {
  assert.throws(() => stores[v].get.call({}, 'k1'), `variant ${v}: get on a plain object must throw`);
}

// ---------------------------------------------------------------------------------------------
// Calls, interleaved.

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

let sink = 0;
const take = (r) => (typeof r === 'bigint' ? Number(r & 1n) : r === undefined ? 1 : (r.length ?? 3));

// [name, kind, calls per batch, expression of `a` (the addon), `s` (its store), `i`]
const OPS = [
  ['noop()', 'hot', 400_000, 'a.noop()'],
  ['xxh3(64 B Buffer) → bigint', 'hot', 300_000, 'a.xxh3(data64)'],
  ['xxh3Number(64 B Buffer) → number', 'hot', 300_000, 'a.xxh3Number(data64)'],
  ['store.get(key) → string', 'hot', 300_000, `s.get(keys[i & ${ENTRIES - 1}])`],
  ['store.getBuffer(key) → Buffer copy', 'hot', 200_000, `s.getBuffer(keys[i & ${ENTRIES - 1}])`],
  ['store.stats() → object', 'cold', 100_000, 's.stats()'],
  ['createStore(4) → class instance', 'cold', 20_000, 'a.createStore(4)'],
];

// One compiled loop per operation and variant, so that every call site sees one addon only
// (a site shared by the four would be megamorphic, and its cost would depend on the variant).
const loops = new Map();
function loop(op, v) {
  const id = `${op[0]}|${v}`;
  if (!loops.has(id)) {
    const body = `let x = 0; for (let i = 0; i < calls; i++) x ^= take(${op[3]}); return x;`;
    const f = new Function('a', 's', 'keys', 'data64', 'take', 'calls', body);
    loops.set(id, f);
  }
  return loops.get(id);
}

function batch(op, v, calls) {
  const f = loop(op, v);
  const t0 = process.hrtime.bigint();
  sink ^= f(addons[v], stores[v], keys, data64, take, calls);
  return Number(process.hrtime.bigint() - t0) / calls;
}

function shuffled(list) {
  const l = [...list];
  for (let i = l.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [l[i], l[j]] = [l[j], l[i]];
  }
  return l;
}


const times = Object.fromEntries(OPS.map((op) => [op[0], Object.fromEntries(VARIANTS.map((v) => [v, []]))]));
// A round's batch of an operation is cut into SLICES short slices, the variants alternating
// slice by slice (in a fresh random order each time), so that the machine's load, which
// changes within a round when other jobs share it, weighs on every variant alike. A round's
// figure is the median of its slices.
const SLICES = smoke ? 1 : 10;
for (let round = smoke ? 1 : 0; round <= rounds; round++) {
  for (const op of OPS) {
    const calls = smoke ? 2000 : Math.ceil(op[2] / SLICES);
    const slices = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    for (let slice = 0; slice < SLICES; slice++) {
      for (const v of shuffled(VARIANTS)) slices[v].push(batch(op, v, calls));
    }
    if (round > 0) for (const v of VARIANTS) times[op[0]][v].push(median(slices[v]));
  }
}

// Heap allocations per call through the addon's allocator (Rust side only: V8's own are not
// counted), net of the probe's own (measured the same way with no call between).
const ALLOC_CALLS = 1000;
function allocationsPerCall(op, v) {
  const a = addons[v];
  const s = stores[v];
  const probe0 = a.allocations();
  const probe1 = a.allocations();
  const before = a.allocations();
  sink ^= loop(op, v)(a, s, keys, data64, take, ALLOC_CALLS);
  const after = a.allocations();
  return (after - before - (probe1 - probe0)) / ALLOC_CALLS;
}

const calls = OPS.map((op) => {
  const [name, kind] = op;
  const perVariant = {};
  for (const v of VARIANTS) {
    const ns = times[name][v];
    perVariant[v] = {
      ns: median(ns),
      ratioToRaw: median(ns.map((x, r) => x / times[name].raw[r])),
      allocationsPerCall: allocationsPerCall(op, v),
    };
  }
  return { op: name, kind, ...perVariant };
});

// ---------------------------------------------------------------------------------------------
// Load cost, in fresh processes.

const PROBE = `
const before = process.memoryUsage.rss();
const path = process.argv[1];
let afterRequire = before, afterUse = before;
if (path) {
  const a = require(path);
  afterRequire = process.memoryUsage.rss();
  const s = a.createStore(64);
  for (let i = 0; i < 1000; i++) { s.get('k' + (i & 63)); a.xxh3(Buffer.alloc(64)); }
  afterUse = process.memoryUsage.rss();
}
process.stdout.write(JSON.stringify({ before, afterRequire, afterUse }));
`;
// Every env (a worker too) registers the addon anew: RSS added by starting WORKERS workers
// that each load it and make a first call, after the main thread loaded it (bare node: the
// workers alone).
const WORKERS = 4;
const WORKER_PROBE = `
const { Worker } = require('node:worker_threads');
const path = process.argv[1];
if (path) require(path);
const before = process.memoryUsage.rss();
const body = 'const p = ' + JSON.stringify(path) + '; if (p) { const a = require(p); a.createStore(4).get("k1"); }' +
  ' require("node:worker_threads").parentPort.postMessage(1); setInterval(() => {}, 1000);';
let ready = 0;
for (let i = 0; i < ${WORKERS}; i++) {
  new Worker(body, { eval: true }).on('message', () => {
    if (++ready === ${WORKERS}) {
      process.stdout.write(JSON.stringify({ workers: process.memoryUsage.rss() - before }));
      process.exit(0);
    }
  });
}
`;
function probe(target) {
  const run = (script) => {
    const args = ['-e', script];
    if (target) args.push(target);
    return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));
  };
  return { ...run(PROBE), ...run(WORKER_PROBE) };
}
const loadReps = smoke ? 1 : 7;
const loads = Object.fromEntries(['bare node', ...VARIANTS].map((v) => [v, []]));
for (let r = 0; r < loadReps; r++) {
  for (const v of shuffled(Object.keys(loads))) loads[v].push(probe(v === 'bare node' ? '' : file(v)));
}
function strippedSize(f) {
  const tmp = path.join(os.tmpdir(), `napi-cost-${process.pid}-${path.basename(f)}`);
  try {
    execFileSync('strip', ['--strip-debug', '-o', tmp, f]);
    return fs.statSync(tmp).size;
  } catch {
    return null; // no binutils: the row says so
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
const load = Object.entries(loads).map(([v, rs]) => ({
  variant: v,
  rssBeforeMiB: median(rs.map((x) => x.before)) / 2 ** 20,
  requireMiB: median(rs.map((x) => x.afterRequire - x.before)) / 2 ** 20,
  firstUseMiB: median(rs.map((x) => x.afterUse - x.before)) / 2 ** 20,
  workersMiB: median(rs.map((x) => x.workers)) / 2 ** 20,
  fileBytes: v === 'bare node' ? null : fs.statSync(file(v)).size,
  strippedBytes: v === 'bare node' ? null : strippedSize(file(v)),
}));
for (const row of load) {
  assert.ok(Number.isFinite(row.requireMiB), `load probe of ${row.variant} gave no figure`);
  assert.ok(Number.isFinite(row.workersMiB), `worker probe of ${row.variant} gave no figure`);
}

// ---------------------------------------------------------------------------------------------
// Report.

const f1 = (x) => x.toFixed(1);
const f2 = (x) => x.toFixed(2);
console.log(`napi-cost: ${rounds} round(s)${smoke ? ' (smoke)' : ''}, node ${process.version}, sink ${sink & 1}`);
console.log(`\n| call | kind | ${VARIANTS.map((v) => `${v} ns`).join(' | ')} | ${VARIANTS.slice(1).map((v) => `${v} ÷ raw`).join(' | ')} |`);
console.log(`|---|---|${VARIANTS.map(() => '---:').join('|')}|${VARIANTS.slice(1).map(() => '---:').join('|')}|`);
for (const row of calls) {
  const ns = VARIANTS.map((v) => f1(row[v].ns)).join(' | ');
  const ratios = VARIANTS.slice(1).map((v) => `×${f2(row[v].ratioToRaw)}`).join(' | ');
  console.log(`| ${row.op} | ${row.kind} | ${ns} | ${ratios} |`);
}
console.log(`\n| variant | RSS before require (MiB) | + require (MiB) | + first use (MiB) | + ${WORKERS} workers using it (MiB) | file (KiB) | without debug info (KiB) |`);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of load) {
  const kib = (b) => (b === null ? '–' : (b / 1024).toFixed(0));
  console.log(`| ${r.variant} | ${f1(r.rssBeforeMiB)} | ${f2(r.requireMiB)} | ${f2(r.firstUseMiB)} | ${f2(r.workersMiB)} | ${kib(r.fileBytes)} | ${kib(r.strippedBytes)} |`);
}
console.log('\n| call | ' + VARIANTS.map((v) => `${v}: allocations per call`).join(' | ') + ' |');
console.log(`|---|${VARIANTS.map(() => '---:').join('|')}|`);
for (const row of calls) {
  console.log(`| ${row.op} | ${VARIANTS.map((v) => f2(row[v].allocationsPerCall)).join(' | ')} |`);
}
console.log('\n| wrong argument | ' + VARIANTS.join(' | ') + ' |');
console.log(`|---|${VARIANTS.map(() => '---').join('|')}|`);
for (const row of errors) console.log(`| ${row.call} | ${VARIANTS.map((v) => row[v]).join(' | ')} |`);
// The raw glue allocates nothing on the hot paths (a stack buffer for keys, no boxing).
for (const row of calls.filter((r) => r.kind === 'hot')) {
  assert.equal(row.raw.allocationsPerCall, 0, `raw ${row.op} allocates`);
}
if (out && !smoke) {
  const result = { date: new Date().toISOString(), node: process.version, rounds, calls, load, loadReps, errors };
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
}
