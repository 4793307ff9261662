// index.d.ts against what the package really exports, on the engine of this run: every name
// declared is exported and every export is declared; every member of the declared object
// interfaces exists on the real objects, and every public method of those objects is declared.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { api, packageDir } from './support.mjs'

const dts = fs.readFileSync(path.join(packageDir, 'index.d.ts'), 'utf8')

/** Names of `export declare const|function|class X`. */
function declaredExports () {
  return new Set([...dts.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]))
}

/** Member names of `export interface NAME { … }` (the block up to the `}` at line start). */
function members (name) {
  const start = dts.search(new RegExp(`^export interface ${name}\\b[^{]*\\{`, 'm'))
  assert.ok(start >= 0, `index.d.ts declares interface ${name}`)
  const body = dts.slice(dts.indexOf('{', start) + 1, dts.indexOf('\n}', start))
  return new Set([...body.matchAll(/^ {2}(?:readonly )?(\w+)\??[(:<]/gm)].map((m) => m[1]))
}

/** Public members of a real object: own properties and those of its prototypes (not Object's). */
function runtimeMembers (obj) {
  const names = new Set(Object.keys(obj))
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor') names.add(n)
  }
  return names
}

test('every declared export is exported, and every export declared', () => {
  const runtime = new Set(Object.keys(api))
  assert.deepEqual([...declaredExports()].sort(), [...runtime].sort())
})

test('the declared interfaces match the objects the API returns', async () => {
  const exporter = await api.startExporter({ host: '127.0.0.1', port: 0 })
  try {
    const objects = {
      Cache: api.createCache({ max: 1 }),
      Blake3Hasher: api.createBlake3Hasher(),
      Xxh3Hasher: api.createXxh3Hasher(),
      MemoryArena: api.createMemoryArena(),
      ObjectPool: api.createObjectPool(),
      MemoryManager: api.createMemoryManager(),
      RunningExporter: exporter
    }
    for (const [name, obj] of Object.entries(objects)) {
      const declared = members(name)
      const real = runtimeMembers(obj)
      for (const m of declared) assert.ok(real.has(m), `${name}.${m} is declared but missing`)
      for (const m of real) assert.ok(declared.has(m), `${name}.${m} exists but is not declared`)
    }
  } finally {
    await exporter.close()
  }
})
