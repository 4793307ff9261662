//! ultra-core (being written): cache, hash, json, snapshot.

pub mod cache;
pub mod hash;
pub mod json;
