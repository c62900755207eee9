//! Little-endian encoding helpers for Cairn's binary formats.
//!
//! Decoding reads untrusted bytes (after AEAD, but a buggy or hostile writer
//! holding the key is still possible), so every read is bounds-checked and
//! turns into [`Error::Corrupt`] naming the object.

use cairn_crypto::ChunkId;

use crate::{Error, Result};

/// A cursor over bytes of the object named `object`.
pub struct Reader<'a> {
    object: &'a str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(object: &'a str, buf: &'a [u8]) -> Self {
        Self {
            object,
            buf,
            pos: 0,
        }
    }

    pub fn err(&self, reason: impl Into<String>) -> Error {
        Error::corrupt(self.object, reason)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(format!("truncated at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn id(&mut self) -> Result<ChunkId> {
        Ok(ChunkId::from_bytes(self.array()?))
    }

    /// A count of items that each take at least `min_item` bytes: refused if
    /// the rest of the buffer cannot hold them, so a hostile count cannot make
    /// us allocate.
    pub fn count(&mut self, min_item: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(self.err(format!("count {n} exceeds the object's size")));
        }
        Ok(n)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Checks the magic and version at the start; returns the version.
    pub fn header(&mut self, magic: &[u8; 4], versions: &[u8]) -> Result<u8> {
        if self.take(4)? != magic {
            return Err(self.err("bad magic"));
        }
        let v = self.u8()?;
        if !versions.contains(&v) {
            return Err(Error::UnsupportedVersion {
                object: self.object.to_owned(),
                found: v,
            });
        }
        Ok(v)
    }

    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(self.err(format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

/// Appending writer for the same formats.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_i64(&mut self, v: i64);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
}
