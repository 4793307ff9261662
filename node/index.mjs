// ESM entry point: the same module instance as `require('ultra-node')`.
import ultra from './index.js'

export const {
  getCoreVersion,
  initMemorySubsystem,
  createCache,
  blake3Hash,
  createBlake3Hasher,
  xxh3Hash,
  createXxh3Hasher,
  validateJson,
  parseJson,
  jsonPointer,
  minifyJson,
  createMemoryArena,
  createObjectPool,
  createMemoryManager,
  metricsText,
  startExporter,
  registerPromClient,
  heapProfile,
  setHeapProfiling,
  heapProfileStatus,
  isNative,
  loadError
} = ultra

export default ultra
