// SPDX-License-Identifier: GPL-2.0

//! The policy of a block's stored object: a page of its own for a raw block where a block
//! is a page, else a zsmalloc object of its stored size; when an object can be reused in
//! place, what it costs, and how it is made, written and freed.

use super::{
    entry::{Meta, State},
    Store,
};
use crate::{
    ext::{
        mm::{page::PageBox, zsmalloc::ZsPool},
        raw_buf::RawBuf,
    },
    geometry::BLOCK_SIZE,
};
use kernel::{bindings, prelude::*};

/// Whether raw blocks are pages of their own ([`PageBox`]) rather than zsmalloc objects:
/// when a block is exactly a page.
pub(super) const RAW_PAGES: bool = bindings::PAGE_SIZE == BLOCK_SIZE;

impl Store {
    /// Whether the blocks of state `meta` are pages of their own (raw blocks, when a block
    /// is a page) rather than zsmalloc objects. A page holds a raw block exactly, without
    /// zsmalloc's locking, mapping and metadata.
    pub(super) fn is_page(meta: Meta) -> bool {
        RAW_PAGES && meta.state() == State::Raw
    }

    /// Whether the object of a block in state `old` can take the data of state `new` in
    /// place: both are pages, or zsmalloc objects of the same size class.
    pub(super) fn reusable(&self, old: Meta, new: Meta) -> bool {
        old.has_object()
            && Self::is_page(old) == Self::is_page(new)
            && (Self::is_page(old)
                || self.pool.class_index(old.size()) == self.pool.class_index(new.size()))
    }

    /// The memory a new object for state `meta` takes, in bytes, for the limit.
    pub(super) fn object_bytes(meta: Meta) -> usize {
        if Self::is_page(meta) {
            bindings::PAGE_SIZE
        } else {
            meta.size()
        }
    }

    /// Allocates an object for a block in state `meta` and copies `data` into it; returns
    /// its handle, owned by the caller. One allocation that may reclaim (without I/O in
    /// the I/O path's scope), as zram's; `ENOMEM` only when the allocator gives up. May
    /// sleep.
    pub(super) fn alloc_object(&self, meta: Meta, data: &RawBuf<'_>) -> Result<usize> {
        if Self::is_page(meta) {
            let mut page = PageBox::alloc()?;
            page.write(data)?;
            return Ok(page.into_raw());
        }
        let handle = self.pool.malloc(data.len())?;
        // SAFETY: `handle` was just allocated with `data.len()` bytes and is not shared.
        unsafe { self.pool.write(handle, data) };
        Ok(handle)
    }

    /// Copies `data` into the object `handle` of a block in state `meta`.
    ///
    /// # Safety
    ///
    /// `handle` must be an object of a block in state `meta` that can take `data`
    /// ([`Store::reusable`] for the data's state), owned by the caller, which keeps every
    /// other user out meanwhile.
    pub(super) unsafe fn write_object(
        &self,
        meta: Meta,
        handle: usize,
        data: &RawBuf<'_>,
    ) -> Result {
        if Self::is_page(meta) {
            // SAFETY: a page block's handle is an owned page (safety requirements).
            return unsafe { PageBox::write_raw(handle, data) };
        }
        // SAFETY: guaranteed by the caller.
        unsafe { self.pool.write(handle, data) };
        Ok(())
    }

    /// Frees the object `handle` of a block in state `meta`, from `pool` if it is a zsmalloc
    /// object; nothing for a zeroed block.
    ///
    /// # Safety
    ///
    /// `handle` must be the object of a block in state `meta`, owned by the caller and not
    /// used after this.
    pub(super) unsafe fn free_object(pool: &ZsPool, meta: Meta, handle: usize) {
        if !meta.has_object() {
            return;
        }
        if Self::is_page(meta) {
            // SAFETY: a page block's handle came from `PageBox::into_raw` and is owned.
            drop(unsafe { PageBox::from_raw(handle) });
        } else {
            // SAFETY: the handle is a live, owned object of the pool.
            unsafe { pool.free(handle) };
        }
    }
}
