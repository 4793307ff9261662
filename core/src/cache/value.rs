//! Cached values: [`Value`] (owned), [`ValueRef`] (borrowed) and their [`ValueKind`].

/// What a [`Value`]'s bytes stand for, so that the Node side gives back the type it stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueKind {
    /// UTF-8 text (a JS string).
    Str = 0,
    /// Opaque bytes (a JS `Buffer` or `Uint8Array`).
    Bytes = 1,
}

/// A cached value: bytes plus the [`ValueKind`] they were stored as.
///
/// The cache does not check that a `Str` value holds valid UTF-8; [`Value::as_str`] does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Value {
    /// What the bytes stand for.
    pub kind: ValueKind,
    /// The bytes.
    pub data: Box<[u8]>,
}

impl Value {
    /// A `Str` value holding a copy of `s`.
    pub fn str(s: &str) -> Value {
        Value {
            kind: ValueKind::Str,
            data: s.as_bytes().into(),
        }
    }

    /// A `Bytes` value holding a copy of `b`.
    pub fn bytes(b: &[u8]) -> Value {
        Value {
            kind: ValueKind::Bytes,
            data: b.into(),
        }
    }

    /// The text of a `Str` value, or `None` for `Bytes` or invalid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self.kind {
            ValueKind::Str => std::str::from_utf8(&self.data).ok(),
            ValueKind::Bytes => None,
        }
    }

    /// A borrowed view of this value.
    pub fn as_ref(&self) -> ValueRef<'_> {
        ValueRef {
            kind: self.kind,
            data: &self.data,
        }
    }
}

/// A borrowed value, what [`Cache::set`](super::Cache::set) copies from. `&str`, `&[u8]` and `&Value` convert
/// into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueRef<'a> {
    /// What the bytes stand for.
    pub kind: ValueKind,
    /// The bytes.
    pub data: &'a [u8],
}

impl<'a> ValueRef<'a> {
    /// A `Str` view of `s`.
    pub fn str(s: &'a str) -> ValueRef<'a> {
        ValueRef {
            kind: ValueKind::Str,
            data: s.as_bytes(),
        }
    }

    /// A `Bytes` view of `b`.
    pub fn bytes(b: &'a [u8]) -> ValueRef<'a> {
        ValueRef {
            kind: ValueKind::Bytes,
            data: b,
        }
    }

    /// An owned copy, allocated in the current scope.
    pub fn to_value(self) -> Value {
        Value {
            kind: self.kind,
            data: self.data.into(),
        }
    }
}

impl<'a> From<&'a str> for ValueRef<'a> {
    fn from(s: &'a str) -> Self {
        ValueRef::str(s)
    }
}

impl<'a> From<&'a [u8]> for ValueRef<'a> {
    fn from(b: &'a [u8]) -> Self {
        ValueRef::bytes(b)
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> Self {
        v.as_ref()
    }
}
