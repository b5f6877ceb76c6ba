// SPDX-License-Identifier: GPL-2.0

//! Iteration over the data segments of a request's bios.
//!
//! C header: [`include/linux/bio.h`](srctree/include/linux/bio.h)
//!
//! The Rust form of `rq_for_each_segment()`: [`Segments`] yields one [`Segment`] per
//! single-page piece of data, and a segment is reached through a short-lived
//! `kmap_local_page()` mapping as a [`RawBuf`]. Segment memory may be shared with user
//! space (direct I/O), so it is never accessed through a Rust reference.

use super::super::raw_buf::RawBuf;
use core::marker::PhantomData;
use kernel::{bindings, prelude::*};

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
    /// Fails with `EINVAL`, without calling `f`, if `[at, at + n)` is not inside the
    /// segment.
    pub(crate) fn map<R>(
        &self,
        at: usize,
        n: usize,
        f: impl FnOnce(&mut RawBuf<'_>) -> R,
    ) -> Result<R> {
        let end = at.checked_add(n).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
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
        Ok(r)
    }

    /// Copies `dst.len()` bytes of the segment, starting at byte `at`, into `dst`.
    ///
    /// Fails with `EINVAL` (and copies nothing) if the range is not inside the segment.
    pub(crate) fn copy_to_slice(&self, at: usize, dst: &mut [u8]) -> Result {
        self.map(at, dst.len(), |src| src.copy_to_slice(dst))?
    }

    /// Copies `src` into the segment, starting at byte `at`.
    ///
    /// Fails with `EINVAL` (and copies nothing) if the range is not inside the segment.
    pub(crate) fn copy_from_slice(&self, at: usize, src: &[u8]) -> Result {
        self.map(at, src.len(), |dst| dst.copy_from_slice(src))?
    }
}

/// Iterator over the data segments of a chain of bios, as `rq_for_each_segment()`.
///
/// # Invariants
///
/// `bio` is null or a valid bio of a chain that stays valid and unchanged for `'a`, whose
/// bios carry data pages (no discard, secure erase or write-zeroes bio), and `iter` is a
/// position within `bio`.
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
    /// pages stay valid and unchanged for `'a`, and whose bios carry data pages: not a
    /// discard, secure erase or write-zeroes, which address bytes without pages.
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

    #[inline]
    fn next(&mut self) -> Option<Segment<'a>> {
        loop {
            if self.bio.is_null() {
                return None;
            }
            let iter = self.iter;
            if iter.bi_size == 0 {
                // SAFETY: `self.bio` is valid by the type invariant; so is the next bio of
                // the chain, if any.
                self.bio = unsafe { (*self.bio).bi_next };
                if !self.bio.is_null() {
                    // SAFETY: `self.bio` is a valid bio of the chain (see above).
                    self.iter = unsafe { (*self.bio).bi_iter };
                }
                continue;
            }
            // `bio_iter_iovec()`: what is left of the vector's entry at `bi_idx`, up to the
            // end of its page (an entry may span several pages).
            // SAFETY: `self.bio` is valid and carries data, and `iter` is a position within
            // it with bytes left, so `bi_idx` is an entry of its vector (type invariant).
            let bv = unsafe { *(*self.bio).bi_io_vec.add(iter.bi_idx as usize) };
            let start = bv.bv_offset as usize + iter.bi_offset as usize;
            let offset = start % bindings::PAGE_SIZE;
            let len = bv
                .bv_len
                .saturating_sub(iter.bi_offset)
                .min(iter.bi_size)
                .min((bindings::PAGE_SIZE - offset) as u32);
            if len == 0 {
                // Not a position within the entry: cannot happen (type invariant); end
                // the iteration rather than loop or read outside the vector.
                self.bio = core::ptr::null_mut();
                return None;
            }
            // `bio_advance_iter_single()`, without the sector, which segments do not carry.
            let done = iter.bi_offset + len;
            if done == bv.bv_len {
                self.iter.bi_idx = iter.bi_idx.wrapping_add(1);
                self.iter.bi_offset = 0;
            } else {
                self.iter.bi_offset = done;
            }
            self.iter.bi_size = iter.bi_size - len;
            // INVARIANT: the entry's pages are consecutive in the memory map, and `start`
            // lies within the entry, so this is the page holding its byte `start`, which
            // belongs to the bio and is valid for `'a`; `offset + len <= PAGE_SIZE`.
            return Some(Segment {
                page: bv.bv_page.wrapping_add(start / bindings::PAGE_SIZE),
                offset,
                len: len as usize,
                _p: PhantomData,
            });
        }
    }
}

#[kernel::prelude::kunit_tests(foxramdisk_bio)]
mod tests {
    use super::*;

    /// A bio over `vecs`, at byte `done` of entry `idx`, with `size` bytes left, followed in
    /// its chain by `next`.
    fn bio(
        vecs: &mut [bindings::bio_vec],
        idx: u32,
        done: u32,
        size: u32,
        next: *mut bindings::bio,
    ) -> bindings::bio {
        let mut bio: bindings::bio = pin_init::zeroed();
        bio.bi_io_vec = vecs.as_mut_ptr();
        bio.bi_iter.bi_idx = idx;
        bio.bi_iter.bi_offset = done;
        bio.bi_iter.bi_size = size;
        bio.bi_next = next;
        bio
    }

    /// The segments of the chain at `first`, as (page number from `base`, offset, length).
    fn segments(
        first: *mut bindings::bio,
        base: *const bindings::page,
    ) -> KVec<(usize, usize, usize)> {
        let mut out = KVec::new();
        // SAFETY: the chain and its vectors live until the caller's end; the segments are
        // only looked at, never mapped, so the pages need not be real ones.
        for s in unsafe { Segments::new(first) } {
            let page = (s.page as usize - base as usize) / size_of::<bindings::page>();
            if out.push((page, s.offset, s.len), GFP_KERNEL).is_err() {
                break;
            }
        }
        out
    }

    /// A vector entry of `len` bytes at `offset` of `page` and the pages after it.
    fn vec(page: *mut bindings::page, offset: u32, len: u32) -> bindings::bio_vec {
        bindings::bio_vec {
            bv_page: page,
            bv_len: len,
            bv_offset: offset,
        }
    }

    #[test]
    fn segments_are_single_pages_in_order() {
        // Three consecutive `struct page`s, as the memory map has them.
        let mut pages: [bindings::page; 3] = pin_init::zeroed();
        let p0 = pages.as_mut_ptr();
        let p2 = p0.wrapping_add(2);

        // An entry over two pages, starting 512 bytes in: one segment per page.
        let mut v = [vec(p0, 512, 8192 - 512)];
        let mut b = bio(&mut v, 0, 0, 8192 - 512, core::ptr::null_mut());
        assert_eq!(segments(&mut b, p0)[..], [(0, 512, 3584), (1, 0, 4096)]);

        // The same entry, 1024 bytes in (a bio split or advanced there).
        let mut v = [vec(p0, 0, 8192)];
        let mut b = bio(&mut v, 0, 1024, 8192 - 1024, core::ptr::null_mut());
        assert_eq!(segments(&mut b, p0)[..], [(0, 1024, 3072), (1, 0, 4096)]);

        // Fewer bytes left than the entry holds: the segments stop there.
        let mut b = bio(&mut v, 0, 0, 6144, core::ptr::null_mut());
        assert_eq!(segments(&mut b, p0)[..], [(0, 0, 4096), (1, 0, 2048)]);

        // A chain of two bios, the second with two entries in one page.
        let mut v2 = [vec(p2, 0, 2048), vec(p2, 2048, 2048)];
        let mut second = bio(&mut v2, 0, 0, 4096, core::ptr::null_mut());
        let mut v1 = [vec(p0, 0, 4096)];
        let mut first = bio(&mut v1, 0, 0, 4096, &mut second);
        assert_eq!(
            segments(&mut first, p0)[..],
            [(0, 0, 4096), (2, 0, 2048), (2, 2048, 2048)]
        );

        // No bio, an empty bio: no segment.
        assert!(segments(core::ptr::null_mut(), p0).is_empty());
        let mut empty = bio(&mut v1, 0, 0, 0, core::ptr::null_mut());
        assert!(segments(&mut empty, p0).is_empty());

        // A position past its entry's end (a corrupt iterator) ends the iteration.
        let mut bad = bio(&mut v1, 0, 4096, 4096, core::ptr::null_mut());
        assert!(segments(&mut bad, p0).is_empty());
    }
}
