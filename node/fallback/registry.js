'use strict'
/**
 * The fallback's live arenas, pools and caches, held weakly, so the memory
 * manager can total them without keeping them alive.
 * @module
 */

/** A set of objects that forgets each one once it is garbage-collected. */
class LiveSet {
  /** @type {Set<WeakRef<object>>} */
  #refs = new Set()
  #gone = new FinalizationRegistry((ref) => this.#refs.delete(ref))

  /** @param {object} object */
  add (object) {
    const ref = new WeakRef(object)
    this.#refs.add(ref)
    this.#gone.register(object, ref)
  }

  * [Symbol.iterator] () {
    for (const ref of this.#refs) {
      const object = ref.deref()
      if (object !== undefined) yield object
    }
  }
}

module.exports = { arenas: new LiveSet(), pools: new LiveSet(), caches: new LiveSet() }
