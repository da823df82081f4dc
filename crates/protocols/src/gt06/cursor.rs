//! A bounds-checked big-endian cursor over one whole frame (header to
//! `0D 0A`), so that "bytes left" means what it means in Traccar's decoder:
//! the trailing serial, CRC and stop bytes count.

use super::Error;

/// Reads big-endian fields; every read is checked and fails with
/// [`Error::Truncated`] naming the frame offset.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `pos` of `bytes`.
    pub(crate) fn new(bytes: &'a [u8], pos: usize) -> Self {
        Cursor { bytes, pos }
    }

    /// Bytes not read yet (serial, CRC and stop bytes included).
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The whole frame.
    pub(crate) fn frame(&self) -> &'a [u8] {
        self.bytes
    }

    fn truncated(&self) -> Error {
        Error::Truncated { at: self.pos }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(slice)
    }

    /// Skips `n` bytes.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.take(n).map(|_| ())
    }

    /// The next byte, without consuming it.
    pub(crate) fn peek(&self) -> Result<u8, Error> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.truncated())
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        let byte = self.peek()?;
        self.pos += 1;
        Ok(byte)
    }

    fn be(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Big-endian u16.
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        self.be(2).map(|v| v as u16)
    }

    /// Big-endian i16.
    pub(crate) fn i16(&mut self) -> Result<i16, Error> {
        self.be(2).map(|v| v as u16 as i16)
    }

    /// Big-endian 24-bit unsigned.
    pub(crate) fn u24(&mut self) -> Result<u32, Error> {
        self.be(3).map(|v| v as u32)
    }

    /// Big-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        self.be(4).map(|v| v as u32)
    }

    /// Big-endian i32.
    pub(crate) fn i32(&mut self) -> Result<i32, Error> {
        self.be(4).map(|v| v as u32 as i32)
    }

    /// Little-endian u32.
    pub(crate) fn u32_le(&mut self) -> Result<u32, Error> {
        self.u32().map(u32::swap_bytes)
    }

    /// Big-endian u64.
    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        self.be(8)
    }
}
