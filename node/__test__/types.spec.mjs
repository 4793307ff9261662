// index.d.ts covers the whole public API: a TypeScript consumer type-checks.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { test } from 'node:test'
import { packageDir } from './support.mjs'

test('a TypeScript consumer type-checks against index.d.ts (tsc --noEmit)', () => {
  const tsc = path.join(packageDir, 'node_modules/typescript/bin/tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(packageDir, '__test__/types'), '--noEmit'], { encoding: 'utf8' })
  assert.equal(result.status, 0, result.stdout + result.stderr)
})
