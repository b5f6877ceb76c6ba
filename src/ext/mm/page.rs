// SPDX-License-Identifier: GPL-2.0

//! Single pages owned through their address, so that a table can keep them in a word.
//!
//! C header: [`include/linux/gfp.h`](srctree/include/linux/gfp.h)
//!
//! `kernel::page::Page` cannot be turned into a word and back, which a table of atomic
//! words needs; [`PageBox`] can, as its frame number (which leaves the word's low bits to
//! its owner). Its contents are reached only as [`RawBuf`]s through short-lived
//! `kmap_local_page()` mappings.

use crate::ext::{ffi, raw_buf::RawBuf};
use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

/// An order-0 page, owned.
///
/// # Invariants
///
/// `page` was allocated by `alloc_pages(_, 0)`, is owned by this value and is freed when
/// it is dropped.
pub(crate) struct PageBox {
    page: NonNull<bindings::page>,
}

// SAFETY: a page may be used and freed from any thread.
unsafe impl Send for PageBox {}

impl PageBox {
    /// Allocates a page, with `GFP_KERNEL | __GFP_NOWARN` (`GFP_NOIO` inside a
    /// [`super::NoIoScope`]), from highmem. May sleep in direct reclaim; fails only when the
    /// page allocator gives up. Its contents are undefined.
    pub(crate) fn alloc() -> Result<Self> {
        let gfp = bindings::GFP_KERNEL | bindings::__GFP_NOWARN | bindings::__GFP_HIGHMEM;
        // SAFETY: `alloc_pages()` may be called with any flags; order 0 is one page.
        let page = unsafe { bindings::alloc_pages(gfp, 0) };
        // INVARIANT: the page was just allocated, with order 0, and is owned here.
        Ok(Self {
            page: NonNull::new(page).ok_or(ENOMEM)?,
        })
    }

    /// Gives up ownership: the page's frame number, for [`PageBox::from_raw`]. It takes at
    /// most 52 bits (`static_assert` in `src/helpers.c`).
    pub(crate) fn into_raw(self) -> usize {
        // SAFETY: `page` is a live page (type invariant).
        let pfn = unsafe { ffi::foxramdisk_helper_page_to_pfn(self.page.as_ptr()) };
        core::mem::forget(self);
        pfn as usize
    }

    /// Takes back ownership of a page given up by [`PageBox::into_raw`].
    ///
    /// # Safety
    ///
    /// `raw` must come from [`PageBox::into_raw`] and not have been taken back yet.
    pub(crate) unsafe fn from_raw(raw: usize) -> Self {
        // INVARIANT: by the safety requirements `raw` is the frame of an owned order-0 page.
        Self {
            // SAFETY: the frame of a live page (safety requirements) has a page, not null.
            page: unsafe { NonNull::new_unchecked(Self::page_of(raw)) },
        }
    }

    /// The page of frame `raw`.
    ///
    /// # Safety
    ///
    /// `raw` must be the frame number of a live page.
    #[inline]
    unsafe fn page_of(raw: usize) -> *mut bindings::page {
        // SAFETY: a valid frame number (safety requirements).
        unsafe { ffi::foxramdisk_helper_pfn_to_page(raw as kernel::ffi::c_ulong) }
    }

    /// Maps page `raw` and runs `f` on its contents.
    ///
    /// # Safety
    ///
    /// `raw` must come from [`PageBox::into_raw`] and not be taken back before this returns.
    #[inline]
    unsafe fn map_raw<R>(raw: usize, f: impl FnOnce(&mut RawBuf<'_>) -> R) -> R {
        // SAFETY: `raw` is the frame of a live page (safety requirements), which stays
        // live until this returns.
        unsafe { Self::map(Self::page_of(raw), f) }
    }

    /// Maps `page` and runs `f` on its contents.
    ///
    /// # Safety
    ///
    /// `page` must be a live page until this returns.
    #[inline]
    unsafe fn map<R>(page: *mut bindings::page, f: impl FnOnce(&mut RawBuf<'_>) -> R) -> R {
        // SAFETY: `page` is a live page (safety requirements).
        let base = unsafe { bindings::kmap_local_page(page) }.cast::<u8>();
        // SAFETY: the mapping covers the page until `kunmap_local()` below; the page's
        // contents are never referenced from Rust.
        let mut buf = unsafe { RawBuf::from_raw_parts(base, bindings::PAGE_SIZE) };
        let r = f(&mut buf);
        // SAFETY: `base` was returned by `kmap_local_page()` just above, in this context.
        unsafe { bindings::kunmap_local(base.cast()) };
        r
    }

    /// Copies the contents of page `raw` to `dst`; `EINVAL` (and nothing copied) unless
    /// `dst` is one page long.
    ///
    /// # Safety
    ///
    /// `raw` must come from [`PageBox::into_raw`] and not be taken back before this returns;
    /// nobody may write the page meanwhile.
    pub(crate) unsafe fn read_raw(raw: usize, dst: &mut RawBuf<'_>) -> Result {
        // SAFETY: guaranteed by the caller.
        unsafe { Self::map_raw(raw, |page| dst.copy_from(page)) }
    }

    /// Whether page `raw` holds the bytes of `other`: `false` unless `other` is one page
    /// long.
    ///
    /// # Safety
    ///
    /// `raw` must come from [`PageBox::into_raw`] and not be taken back before this returns;
    /// nobody may write the page meanwhile.
    pub(crate) unsafe fn same_bytes_raw(raw: usize, other: &RawBuf<'_>) -> bool {
        // SAFETY: guaranteed by the caller.
        unsafe { Self::map_raw(raw, |page| page.same_bytes(other)) }
    }

    /// Copies `src` into page `raw`; `EINVAL` (and nothing copied) unless `src` is one page
    /// long.
    ///
    /// # Safety
    ///
    /// `raw` must come from [`PageBox::into_raw`] and not be taken back before this returns;
    /// nobody else may access the page meanwhile.
    pub(crate) unsafe fn write_raw(raw: usize, src: &RawBuf<'_>) -> Result {
        // SAFETY: guaranteed by the caller.
        unsafe { Self::map_raw(raw, |page| page.copy_from(src)) }
    }

    /// Copies `src` into the page; `EINVAL` (and nothing copied) unless `src` is one page
    /// long.
    pub(crate) fn write(&mut self, src: &RawBuf<'_>) -> Result {
        // SAFETY: `self` owns the page and is borrowed mutably, so nobody else uses it.
        unsafe { Self::map(self.page.as_ptr(), |page| page.copy_from(src)) }
    }
}

impl Drop for PageBox {
    fn drop(&mut self) {
        // SAFETY: the page is owned (type invariant), of order 0, and not used after this.
        unsafe { bindings::__free_pages(self.page.as_ptr(), 0) };
    }
}
