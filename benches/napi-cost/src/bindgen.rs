//! The napi-rs variant: `#[napi]` functions, a `#[napi]` class and a `#[napi(object)]`,
//! written the way napi-rs documents them (arguments and results converted by its glue).

use napi::bindgen_prelude::{BufferSlice, Either, Env, Result};
use napi_derive::napi;

/// XXH3-64 of the bytes, as a bigint (napi-rs converts a `u64` result to a bigint).
#[napi]
pub fn xxh3(data: &[u8]) -> u64 {
    crate::xxh3(data)
}

/// Heap allocations made so far through the addon's allocator.
#[napi]
pub fn allocations() -> f64 {
    crate::allocations()
}

/// The top 53 bits of the hash, as a number.
#[napi]
pub fn xxh3_number(data: &[u8]) -> f64 {
    crate::xxh3_number(data)
}

/// Nothing: the cost of the call itself.
#[napi]
pub fn noop() {}

/// A cache-like store.
#[napi]
pub struct Store {
    inner: crate::Store,
}

/// Sizes of a store.
#[napi(object)]
pub struct Stats {
    /// Entries.
    pub entries: f64,
    /// Bytes of keys.
    pub key_bytes: f64,
    /// Bytes of values.
    pub value_bytes: f64,
}

#[napi]
impl Store {
    /// The value of `key`, as a string (`undefined` when missing, as ultra's `cache.get`).
    #[napi]
    pub fn get(&self, key: String) -> Either<&str, ()> {
        match self.inner.get(key.as_bytes()).map(std::str::from_utf8) {
            Some(Ok(v)) => Either::A(v),
            _ => Either::B(()),
        }
    }

    /// A copy of the value of `key`, as a Buffer.
    #[napi]
    pub fn get_buffer<'env>(
        &self,
        env: &'env Env,
        key: String,
    ) -> Result<Either<BufferSlice<'env>, ()>> {
        Ok(match self.inner.get(key.as_bytes()) {
            Some(v) => Either::A(BufferSlice::copy_from(env, v)?),
            None => Either::B(()),
        })
    }

    /// Sizes.
    #[napi]
    pub fn stats(&self) -> Stats {
        let [entries, key_bytes, value_bytes] = self.inner.stats();
        Stats {
            entries,
            key_bytes,
            value_bytes,
        }
    }
}

/// A new store of `n` entries.
#[napi]
pub fn create_store(n: u32) -> Store {
    Store {
        inner: crate::Store::new(n),
    }
}
