// SPDX-License-Identifier: GPL-2.0

//! The policy of a block's stored object: a page of its own for a raw block where a block
//! is a page, else a zsmalloc object of its stored size; what a new one costs, and how it
//! is made.

use super::{
    entry::{Meta, State},
    Store,
};
use crate::{
    ext::{mm::page::PageBox, object_table::Content, raw_buf::RawBuf},
    geometry::BLOCK_SIZE,
};
use kernel::{bindings, prelude::*};

/// Whether raw blocks are pages of their own ([`PageBox`]) rather than zsmalloc objects:
/// when a block is exactly a page. A page holds a raw block exactly, without zsmalloc's
/// locking, mapping and metadata.
pub(super) const RAW_PAGES: bool = bindings::PAGE_SIZE == BLOCK_SIZE;

impl Store {
    /// Whether the blocks of state `meta` are pages of their own.
    fn is_page(meta: Meta) -> bool {
        RAW_PAGES && meta.state() == State::Raw
    }

    /// The memory a new object of `len` bytes for state `meta` takes, in bytes, for the
    /// limit.
    pub(super) fn object_bytes(meta: Meta, len: usize) -> usize {
        if Self::is_page(meta) {
            bindings::PAGE_SIZE
        } else {
            len
        }
    }

    /// A new object for a block in state `meta`, holding `data`. One allocation that may
    /// reclaim (without I/O in the I/O path's scope), as zram's; `ENOMEM` only when the
    /// allocator gives up. May sleep.
    pub(super) fn new_object(&self, meta: Meta, data: &RawBuf<'_>) -> Result<Content<'_>> {
        if Self::is_page(meta) {
            let mut page = PageBox::alloc()?;
            page.write(data)?;
            return Ok(Content::Page(page));
        }
        Ok(Content::Object(self.table.alloc(data)?))
    }
}
