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

use super::ffi;
use core::{marker::PhantomData, mem::size_of, ptr};
use kernel::{bindings, prelude::*};

/// Whether `len` bytes at `ptr` are exactly one page-aligned page.
fn is_page(ptr: *const u8, len: usize) -> bool {
    len == bindings::PAGE_SIZE && ptr as usize & (bindings::PAGE_SIZE - 1) == 0
}

/// Copies `len` bytes from `src` to `dst`: with `copy_page()` when that is one whole,
/// page-aligned page (a block read or written whole), else with `memcpy()`.
///
/// # Safety
///
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and they must not
/// overlap.
unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) {
    if is_page(dst, len) && is_page(src, len) {
        // SAFETY: both are page-aligned and valid for one page (safety requirements).
        unsafe { ffi::foxramdisk_helper_copy_page(dst.cast(), src.cast_mut().cast()) };
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { ptr::copy_nonoverlapping(src, dst, len) };
    }
}

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

    /// The bytes `range` of the buffer, borrowed from it; `EINVAL` if they are not inside.
    pub(crate) fn part(&mut self, range: core::ops::Range<usize>) -> Result<RawBuf<'_>> {
        if range.start > range.end || range.end > self.len {
            return Err(EINVAL);
        }
        // INVARIANT: `range` is inside the buffer, valid for reads and writes while it is
        // borrowed mutably here, through which alone its bytes are reached meanwhile.
        Ok(RawBuf {
            // SAFETY: `range.start <= len`, so the result is inside or one past the buffer.
            ptr: unsafe { self.ptr.add(range.start) },
            len: range.end - range.start,
            _p: PhantomData,
        })
    }

    /// Copies `src` into the buffer; `EINVAL` (and nothing copied) unless the lengths match.
    pub(crate) fn copy_from_slice(&mut self, src: &[u8]) -> Result {
        if src.len() != self.len {
            return Err(EINVAL);
        }
        // SAFETY: `ptr` is valid for writes of `len` bytes (type invariant) and cannot
        // overlap `src`, to which no reference may exist.
        unsafe { copy(self.ptr, src.as_ptr(), self.len) };
        Ok(())
    }

    /// Copies the buffer into `dst`; `EINVAL` (and nothing copied) unless the lengths match.
    pub(crate) fn copy_to_slice(&self, dst: &mut [u8]) -> Result {
        if dst.len() != self.len {
            return Err(EINVAL);
        }
        // SAFETY: `ptr` is valid for reads of `len` bytes (type invariant) and cannot
        // overlap `dst`, to which no reference may exist.
        unsafe { copy(dst.as_mut_ptr(), self.ptr, self.len) };
        Ok(())
    }

    /// Copies `src` into the buffer; `EINVAL` (and nothing copied) unless the lengths match.
    pub(crate) fn copy_from(&mut self, src: &RawBuf<'_>) -> Result {
        if src.len != self.len {
            return Err(EINVAL);
        }
        let (dst_at, src_at) = (self.ptr as usize, src.ptr as usize);
        if dst_at < src_at + self.len && src_at < dst_at + self.len {
            // Two mappings of the same memory: copy as `memmove()` does.
            // SAFETY: both are valid for `len` bytes (type invariant).
            unsafe { ptr::copy(src.ptr, self.ptr, self.len) };
        } else {
            // SAFETY: both are valid for `len` bytes (type invariant) and do not overlap.
            unsafe { copy(self.ptr, src.ptr, self.len) };
        }
        Ok(())
    }

    /// Whether the buffer holds the same bytes as `other` (at the time each is read).
    pub(crate) fn same_bytes(&self, other: &RawBuf<'_>) -> bool {
        if self.len != other.len {
            return false;
        }
        // SAFETY: both are valid for reads of their length (type invariant), which is the
        // same; `memcmp()` only reads them.
        unsafe { bindings::memcmp(self.ptr.cast(), other.ptr.cast(), self.len) == 0 }
    }

    /// Whether the buffer holds the bytes of `other` (at the time each is read).
    pub(crate) fn same_as_slice(&self, other: &[u8]) -> bool {
        if self.len != other.len() {
            return false;
        }
        // SAFETY: the buffer is valid for reads of its length (type invariant), as `other`
        // is of the same length; `memcmp()` only reads them.
        unsafe { bindings::memcmp(self.ptr.cast(), other.as_ptr().cast(), self.len) == 0 }
    }

    /// A 64-bit hash of the buffer's length and of its first and last `window` bytes: each
    /// end's `xxh64()`, the first seeded with the length, the last with the first's. A
    /// buffer of at most two windows is hashed whole (seeded with its length).
    pub(crate) fn xxh64_ends(&self, window: usize) -> u64 {
        let seed = self.len as u64;
        if self.len <= 2 * window {
            // SAFETY: the buffer is valid for reads of its length (type invariant);
            // `xxh64()` only reads it.
            return unsafe { ffi::xxh64(self.ptr.cast(), self.len, seed) };
        }
        // SAFETY: the buffer is valid for reads of its length (type invariant), which is
        // more than two windows: its first `window` bytes, and the `window` bytes that end
        // it, lie in it; `xxh64()` only reads them.
        unsafe {
            let head = ffi::xxh64(self.ptr.cast(), window, seed);
            ffi::xxh64(self.ptr.add(self.len - window).cast(), window, head)
        }
    }

    /// Fills the buffer with zeros, with `clear_page()` if it is one whole, page-aligned
    /// page.
    pub(crate) fn zero(&mut self) {
        if is_page(self.ptr, self.len) {
            // SAFETY: `ptr` is a page-aligned page valid for writes (type invariant).
            unsafe { ffi::foxramdisk_helper_clear_page(self.ptr.cast()) };
        } else {
            // SAFETY: `ptr` is valid for writes of `len` bytes (type invariant).
            unsafe { ptr::write_bytes(self.ptr, 0, self.len) };
        }
    }

    /// Whether every byte is zero (at the time each is read).
    pub(crate) fn is_zero(&self) -> bool {
        // SAFETY: `ptr` is valid for reads of `len` bytes (type invariant); `memchr_inv()`
        // only reads them.
        unsafe { bindings::memchr_inv(self.ptr.cast(), 0, self.len) }.is_null()
    }

    /// Whether the buffer is whole, aligned machine words (`unsigned long`).
    fn is_words(&self) -> bool {
        let word = size_of::<usize>();
        self.len > 0 && self.len % word == 0 && (self.ptr as usize) % word == 0
    }

    /// The word that fills the whole buffer, if one does (a same-filled block, as zram
    /// calls it): every aligned `unsigned long` holds it. Buffers that are not whole aligned
    /// words are only tested for zeros. Each word is read once, as with `READ_ONCE()`: the
    /// memory may change meanwhile (a page under direct I/O), and the answer is then about
    /// some mix of old and new data.
    pub(crate) fn same_filled(&self) -> Option<usize> {
        if !self.is_words() {
            return self.is_zero().then_some(0);
        }
        let words = self.ptr.cast::<usize>();
        let n = self.len / size_of::<usize>();
        // SAFETY: `ptr` is word-aligned and valid for reads of `n` words (type invariant,
        // checked above; `i < n`); a volatile read reads the word once, as `READ_ONCE()`.
        let read = |i: usize| unsafe { words.add(i).read_volatile() };
        let first = read(0);
        // The last word first, as zram does: most data differs there already.
        if read(n - 1) != first {
            return None;
        }
        (1..n - 1).all(|i| read(i) == first).then_some(first)
    }

    /// Fills the buffer with `word` repeated (`memset_l()`); `EINVAL`, with nothing written,
    /// if the buffer is not whole aligned words.
    pub(crate) fn fill_words(&mut self, word: usize) -> Result {
        if !self.is_words() {
            return Err(EINVAL);
        }
        // SAFETY: `ptr` is word-aligned and valid for writes of `len` bytes, whole words
        // (type invariant, checked above).
        unsafe {
            ffi::foxramdisk_helper_memset_l(self.ptr.cast(), word, self.len / size_of::<usize>())
        };
        Ok(())
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
        assert_eq!(buf.copy_from_slice(&data), Ok(()));
        // The non-zero byte is in the tail after the last whole word.
        assert!(!buf.is_zero());
        let mut back = [0xffu8; 37];
        assert_eq!(buf.copy_to_slice(&mut back), Ok(()));
        assert_eq!(back, data);
        buf.zero();
        assert!(buf.is_zero());
        // Lengths must match; nothing is copied otherwise.
        assert_eq!(buf.copy_from_slice(&data[..36]), Err(EINVAL));
        assert_eq!(buf.copy_to_slice(&mut back[..5]), Err(EINVAL));
        assert!(buf.is_zero());
        data[3] = 7;
        assert_eq!(buf.copy_from_slice(&data), Ok(()));
        assert!(!buf.is_zero());
    }

    #[test]
    fn parts_reach_their_bytes_only() -> Result {
        let mut bytes = [0u8; 16];
        let mut buf = RawBuf::from(&mut bytes[..]);
        {
            let mut part = buf.part(4..9)?;
            assert_eq!(part.len(), 5);
            assert_eq!(part.copy_from_slice(&[1, 2, 3, 4, 5]), Ok(()));
        }
        // Empty parts at either end, and nothing past the end.
        assert!(buf.part(0..0).is_ok_and(|p| p.len() == 0));
        assert!(buf.part(16..16).is_ok_and(|p| p.len() == 0));
        assert!(buf.part(10..17).is_err());
        #[expect(clippy::reversed_empty_ranges)]
        let backwards = 9..4;
        assert!(buf.part(backwards).is_err());
        assert_eq!(bytes, [0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0]);
        Ok(())
    }

    #[test]
    fn same_filled_words_are_found_and_filled() -> Result {
        let word = size_of::<usize>();
        let mut block = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        let pattern = usize::from_ne_bytes([0xa5; size_of::<usize>()]) ^ 0x0102;
        {
            let mut buf = RawBuf::from(&mut block[..]);
            assert_eq!(buf.same_filled(), Some(0));
            assert_eq!(buf.fill_words(pattern), Ok(()));
            assert_eq!(buf.same_filled(), Some(pattern));
        }
        assert!(block
            .chunks(word)
            .all(|w| w == pattern.to_ne_bytes().as_slice()));
        // One different byte, first, in the middle or last, and it is not same-filled.
        for at in [0, 2048 + 3, 4095] {
            block[at] ^= 1;
            assert_eq!(RawBuf::from(&mut block[..]).same_filled(), None);
            block[at] ^= 1;
        }
        // A buffer that is not whole aligned words is only tested for zeros, never filled.
        let mut odd = RawBuf::from(&mut block[1..4096 - word + 1]);
        assert_eq!(odd.same_filled(), None);
        assert_eq!(odd.fill_words(0), Err(EINVAL));
        let mut zeros = [0u8; 37];
        assert_eq!(RawBuf::from(&mut zeros[..]).same_filled(), Some(0));
        Ok(())
    }

    #[test]
    fn the_ends_hash_sees_the_length_and_both_ends_only() -> Result {
        let mut a = KVec::from_elem(1u8, 2000, GFP_KERNEL)?;
        let mut b = KVec::from_elem(1u8, 2000, GFP_KERNEL)?;
        let h = |bytes: &mut [u8]| RawBuf::from(bytes).xxh64_ends(256);
        assert_eq!(h(&mut a), h(&mut b));
        // The middle is not hashed; either end and the length are.
        b[1000] = 2;
        assert_eq!(h(&mut a), h(&mut b));
        b[255] = 2;
        assert_ne!(h(&mut a), h(&mut b));
        b[255] = 1;
        b[1744] = 2;
        assert_ne!(h(&mut a), h(&mut b));
        b[1744] = 1;
        assert_ne!(h(&mut a[..1999]), h(&mut b));
        // Two windows or less: hashed whole.
        assert_eq!(h(&mut a[..512]), h(&mut b[..512]));
        b[300] = 2;
        assert_ne!(h(&mut a[..512]), h(&mut b[..512]));
        Ok(())
    }

    #[test]
    fn whole_pages_copy_and_clear() -> Result {
        let page = bindings::PAGE_SIZE;
        // kmalloc() aligns power-of-two sizes to themselves: both are page-aligned.
        let mut a = KVec::from_elem(0u8, page, GFP_KERNEL)?;
        let mut b = KVec::from_elem(0u8, page, GFP_KERNEL)?;
        assert_eq!((a.as_ptr() as usize | b.as_ptr() as usize) & (page - 1), 0);
        for (i, x) in a.iter_mut().enumerate() {
            *x = (i * 7 + i / 256) as u8;
        }
        assert_eq!(RawBuf::from(&mut b[..]).copy_from_slice(&a), Ok(()));
        assert!(a == b);
        b.fill(0);
        assert_eq!(RawBuf::from(&mut a[..]).copy_to_slice(&mut b), Ok(()));
        assert!(a == b);
        // A mapping of the same memory: copied as by memmove(), unchanged.
        let mut twin = RawBuf::from(&mut a[..]);
        // SAFETY: the bytes of `twin`, valid while `a` stays borrowed by it; no reference to
        // them exists meanwhile, only the two `RawBuf`s.
        let same = unsafe { RawBuf::from_raw_parts(twin.as_mut_ptr(), page) };
        assert_eq!(twin.copy_from(&same), Ok(()));
        assert!(a == b);
        RawBuf::from(&mut b[..]).zero();
        assert!(b.iter().all(|&x| x == 0));
        Ok(())
    }
}
