// SPDX-License-Identifier: GPL-2.0

//! Buffers known only by address and length.
//!
//! The data pages of a block request may be mapped by user space at the same time (direct
//! I/O), which may read or write them while the driver does: Rust must never hold a
//! reference to such memory. A [`RawBuf`] stands for it. It is borrowed for a lifetime
//! like a slice, but its bytes are only ever reached through raw pointers: copied in or
//! out, tested for zeros, or handed to C code (a compressor, zsmalloc) that takes
//! pointers.
//!
//! A [`RawBuf`] can also be made from a `&mut [u8]` of the driver's own, so that code
//! which takes one serves both kinds of memory.

use core::{marker::PhantomData, ptr};
use kernel::bindings;

/// `len` bytes at `ptr`, valid for reads and writes for `'a`.
///
/// # Invariants
///
/// `ptr` is valid for reads and writes of `len` bytes for `'a`, and no Rust reference to
/// those bytes exists meanwhile (other than through this `RawBuf`).
pub(crate) struct RawBuf<'a> {
    ptr: *mut u8,
    len: usize,
    _p: PhantomData<&'a mut [u8]>,
}

impl<'a> RawBuf<'a> {
    /// Creates a buffer of `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads and writes of `len` bytes for `'a`, and no Rust
    /// reference to those bytes may exist during `'a`. Others may access them concurrently
    /// only through raw pointers (C code, user space).
    pub(crate) unsafe fn from_raw_parts(ptr: *mut u8, len: usize) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            ptr,
            len,
            _p: PhantomData,
        }
    }

    /// The number of bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The address of the first byte, for reading.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    /// The address of the first byte, for writing.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }

    /// Copies `src` into the buffer; `false` (and nothing copied) unless the lengths match.
    pub(crate) fn copy_from_slice(&mut self, src: &[u8]) -> bool {
        if src.len() != self.len {
            return false;
        }
        // SAFETY: `ptr` is valid for writes of `len` bytes (type invariant) and cannot
        // overlap `src`, to which no reference may exist.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), self.ptr, self.len) };
        true
    }

    /// Copies the buffer into `dst`; `false` (and nothing copied) unless the lengths match.
    pub(crate) fn copy_to_slice(&self, dst: &mut [u8]) -> bool {
        if dst.len() != self.len {
            return false;
        }
        // SAFETY: `ptr` is valid for reads of `len` bytes (type invariant) and cannot
        // overlap `dst`, to which no reference may exist.
        unsafe { ptr::copy_nonoverlapping(self.ptr, dst.as_mut_ptr(), self.len) };
        true
    }

    /// Fills the buffer with zeros.
    pub(crate) fn zero(&mut self) {
        // SAFETY: `ptr` is valid for writes of `len` bytes (type invariant).
        unsafe { ptr::write_bytes(self.ptr, 0, self.len) };
    }

    /// Whether every byte is zero (at the time each is read).
    pub(crate) fn is_zero(&self) -> bool {
        // SAFETY: `ptr` is valid for reads of `len` bytes (type invariant); `memchr_inv()`
        // only reads them.
        unsafe { bindings::memchr_inv(self.ptr.cast(), 0, self.len) }.is_null()
    }
}

impl<'a> From<&'a mut [u8]> for RawBuf<'a> {
    fn from(slice: &'a mut [u8]) -> Self {
        // SAFETY: the slice is valid for reads and writes of its length for `'a`, and it
        // stays mutably borrowed, so no other reference to it exists, for `'a`.
        unsafe { Self::from_raw_parts(slice.as_mut_ptr(), slice.len()) }
    }
}

#[kernel::prelude::kunit_tests(foxramdisk_raw_buf)]
mod tests {
    use super::*;

    #[test]
    fn copies_zeroes_and_tests_for_zero() {
        let mut bytes = [0u8; 37];
        let mut buf = RawBuf::from(&mut bytes[..]);
        assert_eq!(buf.len(), 37);
        assert!(buf.is_zero());
        let mut data = [0u8; 37];
        data[36] = 1;
        assert!(buf.copy_from_slice(&data));
        // The non-zero byte is in the tail after the last whole word.
        assert!(!buf.is_zero());
        let mut back = [0xffu8; 37];
        assert!(buf.copy_to_slice(&mut back));
        assert_eq!(back, data);
        buf.zero();
        assert!(buf.is_zero());
        // Lengths must match; nothing is copied otherwise.
        assert!(!buf.copy_from_slice(&data[..36]));
        assert!(!buf.copy_to_slice(&mut back[..5]));
        assert!(buf.is_zero());
        data[3] = 7;
        assert!(buf.copy_from_slice(&data));
        assert!(!buf.is_zero());
    }
}
