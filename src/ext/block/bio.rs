// SPDX-License-Identifier: GPL-2.0

//! Iteration over the data segments of a request's bios.
//!
//! C header: [`include/linux/bio.h`](srctree/include/linux/bio.h)
//!
//! The Rust form of `rq_for_each_segment()`: [`Segments`] yields one [`Segment`] per
//! single-page piece of data, and a segment copies to or from a slice through a short-lived
//! `kmap_local_page()` mapping. Segment memory may be shared with user space (direct I/O),
//! so it is only ever accessed by copying, never through a Rust reference.

use super::super::ffi;
use core::{marker::PhantomData, ptr};
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

    /// Runs `f` on a pointer to byte `at` of the segment, with `n` bytes valid behind it.
    ///
    /// Returns `None` without calling `f` if `[at, at + n)` is not inside the segment.
    fn with_mapped<R>(&self, at: usize, n: usize, f: impl FnOnce(*mut u8) -> R) -> Option<R> {
        let end = at.checked_add(n)?;
        if end > self.len {
            return None;
        }
        // SAFETY: by the type invariant `page` is valid for `'a`, which outlives `self`.
        let base = unsafe { bindings::kmap_local_page(self.page) }.cast::<u8>();
        // SAFETY: the mapping covers the whole page and `offset + at + n <= PAGE_SIZE` by
        // the type invariant and the check above.
        let r = f(unsafe { base.add(self.offset + at) });
        // SAFETY: `base` was returned by `kmap_local_page()` just above, in this context.
        unsafe { bindings::kunmap_local(base.cast()) };
        Some(r)
    }

    /// Copies `dst.len()` bytes of the segment, starting at byte `at`, into `dst`.
    ///
    /// Returns `false` (and copies nothing) if the range is not inside the segment.
    pub(crate) fn copy_to_slice(&self, at: usize, dst: &mut [u8]) -> bool {
        self.with_mapped(at, dst.len(), |src| {
            // SAFETY: `src` is valid for `dst.len()` bytes (see `with_mapped`), and a mapped
            // I/O page cannot overlap the driver's own buffer `dst`.
            unsafe { ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) }
        })
        .is_some()
    }

    /// Copies `src` into the segment, starting at byte `at`.
    ///
    /// Returns `false` (and copies nothing) if the range is not inside the segment.
    pub(crate) fn copy_from_slice(&self, at: usize, src: &[u8]) -> bool {
        self.with_mapped(at, src.len(), |dst| {
            // SAFETY: `dst` is valid for `src.len()` bytes (see `with_mapped`), and a mapped
            // I/O page cannot overlap the driver's own buffer `src`.
            unsafe { ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
        })
        .is_some()
    }

    /// Fills `n` bytes of the segment, starting at byte `at`, with zeros.
    ///
    /// Returns `false` (and writes nothing) if the range is not inside the segment.
    pub(crate) fn zero(&self, at: usize, n: usize) -> bool {
        self.with_mapped(at, n, |dst| {
            // SAFETY: `dst` is valid for `n` bytes (see `with_mapped`).
            unsafe { ptr::write_bytes(dst, 0, n) }
        })
        .is_some()
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
