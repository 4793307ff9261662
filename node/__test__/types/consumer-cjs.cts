// The same package through `require`, as a CommonJS TypeScript consumer sees it.
import ultra = require('ultra-node')

const hash: string = ultra.xxh3Hash('cjs')
const native: boolean = ultra.isNative
const cache: ultra.Cache = ultra.createCache({ max: 10 })

export { hash, native, cache }
