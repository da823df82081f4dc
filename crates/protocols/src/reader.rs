//! A bounds-checked big-endian cursor over a byte slice.

use crate::teltonika::FrameError;

/// Reads big-endian integers from a slice; every read is checked and fails
/// with [`FrameError::Truncated`] naming the absolute byte offset.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes[0]` in the whole frame, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`, which begin at frame offset `base`.
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The absolute frame offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn truncated(&self) -> FrameError {
        FrameError::Truncated { at: self.offset() }
    }

    /// The next `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(slice)
    }

    /// The next `N` bytes, as an array.
    #[inline]
    pub(crate) fn array_ref<const N: usize>(&mut self) -> Result<&'a [u8; N], FrameError> {
        let slice = self.take(N)?;
        slice.try_into().map_err(|_| self.truncated())
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// One byte.
    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, FrameError> {
        let byte = *self.bytes.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(byte)
    }

    /// Big-endian u16.
    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, FrameError> {
        self.array().map(u16::from_be_bytes)
    }

    /// Big-endian u32.
    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, FrameError> {
        self.array().map(u32::from_be_bytes)
    }

    /// Big-endian u64.
    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, FrameError> {
        self.array().map(u64::from_be_bytes)
    }

    /// Big-endian i32.
    #[inline]
    pub(crate) fn i32(&mut self) -> Result<i32, FrameError> {
        self.array().map(i32::from_be_bytes)
    }

    /// Big-endian IEEE-754 single.
    pub(crate) fn f32(&mut self) -> Result<f32, FrameError> {
        self.array().map(f32::from_be_bytes)
    }
}

/// The big-endian value of `bytes` (at most 8 of them).
#[inline]
pub(crate) fn be_value(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}
