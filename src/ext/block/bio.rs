// SPDX-License-Identifier: GPL-2.0

//! Iteration over the data segments of a request's bios.
//!
//! C header: [`include/linux/bio.h`](srctree/include/linux/bio.h)
//!
//! The Rust form of `rq_for_each_segment()`: [`Segments`] yields one [`Segment`] per
//! single-page piece of data, and a segment is reached through a short-lived
//! `kmap_local_page()` mapping as a [`RawBuf`]. Segment memory may be shared with user
//! space (direct I/O), so it is never accessed through a Rust reference.

use super::super::{ffi, raw_buf::RawBuf};
use core::marker::PhantomData;
use kernel::bindings;

/// One single-page data segment: `len` bytes at `offset` within `page`.
///
/// # Invariants
///
/// `page` is a valid page that stays valid for `'a`, and `offset + len <= PAGE_SIZE`.
pub(crate) struct Segment<'a> {
    page: *mut bindings::page,
    offset: usize,
    len: usize,
    _p: PhantomData<&'a bindings::page>,
}

impl Segment<'_> {
    /// The number of bytes in the segment.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Maps bytes `at..at + n` of the segment and runs `f` on them.
    ///
    /// Returns `None` without calling `f` if `[at, at + n)` is not inside the segment.
    pub(crate) fn map<R>(
        &self,
        at: usize,
        n: usize,
        f: impl FnOnce(&mut RawBuf<'_>) -> R,
    ) -> Option<R> {
        let end = at.checked_add(n)?;
        if end > self.len {
            return None;
        }
        // SAFETY: by the type invariant `page` is valid for `'a`, which outlives `self`.
        let base = unsafe { bindings::kmap_local_page(self.page) }.cast::<u8>();
        // I/O pages may be accessed by others (user space, for direct I/O), only through
        // pointers; the driver never makes references to them.
        // SAFETY: the mapping covers the whole page, `offset + at + n <= PAGE_SIZE` (type
        // invariant and the check above), and the bytes stay mapped until `f` returns.
        let mut buf = unsafe { RawBuf::from_raw_parts(base.add(self.offset + at), n) };
        let r = f(&mut buf);
        // SAFETY: `base` was returned by `kmap_local_page()` just above, in this context.
        unsafe { bindings::kunmap_local(base.cast()) };
        Some(r)
    }

    /// Copies `dst.len()` bytes of the segment, starting at byte `at`, into `dst`.
    ///
    /// Returns `false` (and copies nothing) if the range is not inside the segment.
    pub(crate) fn copy_to_slice(&self, at: usize, dst: &mut [u8]) -> bool {
        self.map(at, dst.len(), |src| src.copy_to_slice(dst)) == Some(true)
    }

    /// Copies `src` into the segment, starting at byte `at`.
    ///
    /// Returns `false` (and copies nothing) if the range is not inside the segment.
    pub(crate) fn copy_from_slice(&self, at: usize, src: &[u8]) -> bool {
        self.map(at, src.len(), |dst| dst.copy_from_slice(src)) == Some(true)
    }
}

/// Iterator over the data segments of a chain of bios, as `rq_for_each_segment()`.
///
/// # Invariants
///
/// `bio` is null or a valid bio of a chain that stays valid and unchanged for `'a`, and
/// `iter` is a position within `bio`.
pub(crate) struct Segments<'a> {
    bio: *mut bindings::bio,
    iter: bindings::bvec_iter,
    _p: PhantomData<&'a bindings::bio>,
}

impl Segments<'_> {
    /// Creates an iterator over the chain of bios that starts at `bio`.
    ///
    /// # Safety
    ///
    /// `bio` must be null or the first bio of a chain (linked by `bi_next`) whose bios and
    /// pages stay valid and unchanged for `'a`.
    pub(crate) unsafe fn new(bio: *mut bindings::bio) -> Self {
        let iter = if bio.is_null() {
            bindings::bvec_iter::default()
        } else {
            // SAFETY: the caller guarantees that a non-null `bio` is valid.
            unsafe { (*bio).bi_iter }
        };
        // INVARIANT: `bio` is null or valid per the safety requirements; `iter` is its start.
        Self {
            bio,
            iter,
            _p: PhantomData,
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        loop {
            if self.bio.is_null() {
                return None;
            }
            if self.iter.bi_size == 0 {
                // SAFETY: `self.bio` is valid by the type invariant; so is the next bio of
                // the chain, if any.
                self.bio = unsafe { (*self.bio).bi_next };
                if !self.bio.is_null() {
                    // SAFETY: `self.bio` is a valid bio of the chain (see above).
                    self.iter = unsafe { (*self.bio).bi_iter };
                }
                continue;
            }
            // SAFETY: `self.bio` is valid and `self.iter` is a position within it with bytes
            // left, which is what `bio_iter_iovec()` needs.
            let bv = unsafe { ffi::foxramdisk_helper_bio_iter_iovec(self.bio, self.iter) };
            // SAFETY: as above; `bv.bv_len` bytes are left in the current segment.
            unsafe {
                ffi::foxramdisk_helper_bio_advance_iter_single(self.bio, &mut self.iter, bv.bv_len)
            };
            // INVARIANT: `bio_iter_iovec()` returns a single-page segment of a page that
            // belongs to the bio, valid for `'a`.
            return Some(Segment {
                page: bv.bv_page,
                offset: bv.bv_offset as usize,
                len: bv.bv_len as usize,
                _p: PhantomData,
            });
        }
    }
}
