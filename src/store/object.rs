// SPDX-License-Identifier: GPL-2.0

//! The policy of a block's stored object: a page of its own for a raw block where a block
//! is a page, else a zsmalloc object of its stored size; what a new one costs, and how it
//! is made.

use super::{
    entry::{Meta, State},
    Store,
};
use crate::{
    ext::{
        fault_inject,
        mm::page::PageBox,
        object_table::{Content, Framed, HEADER_BYTES},
        raw_buf::RawBuf,
    },
    geometry::BLOCK_SIZE,
};
use kernel::{bindings, prelude::*};

/// Whether raw blocks are pages of their own ([`PageBox`]) rather than zsmalloc objects:
/// when a block is exactly a page. A page holds a raw block exactly, without zsmalloc's
/// locking, mapping and metadata.
pub(super) const RAW_PAGES: bool = bindings::PAGE_SIZE == BLOCK_SIZE;

/// The data a write stores: a raw block for a page of its own, or data framed for a pool
/// object (see [`Framed`]).
pub(super) enum Stored<'a, 'b> {
    /// A raw block, a page long.
    Page(&'b RawBuf<'a>),
    /// Compressed data, or a raw block where a block is not a page.
    Object(Framed<'b>),
}

impl Stored<'_, '_> {
    /// The length of the data.
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Page(data) => data.len(),
            Self::Object(framed) => framed.len(),
        }
    }

    /// Runs `f` on the data.
    pub(super) fn with_data<R>(&mut self, f: impl FnOnce(&RawBuf<'_>) -> R) -> R {
        match self {
            Self::Page(data) => f(data),
            Self::Object(framed) => f(&framed.data()),
        }
    }
}

impl Store {
    /// Whether the blocks of state `meta` are pages of their own.
    fn is_page(meta: Meta) -> bool {
        RAW_PAGES && meta.state() == State::Raw
    }

    /// The memory a new object of `len` bytes for state `meta` takes, in bytes, for the
    /// limit: a page, or the data and its header.
    pub(super) fn object_bytes(meta: Meta, len: usize) -> usize {
        if Self::is_page(meta) {
            bindings::PAGE_SIZE
        } else {
            HEADER_BYTES + len
        }
    }

    /// How a block in state `meta` stores `src`, one block long, with `buf` for a raw block
    /// that is not a page: copied there after room for the header. Returns the rest of
    /// `buf`.
    pub(super) fn raw_data<'a, 'b>(
        meta: Meta,
        src: &'b RawBuf<'a>,
        buf: &'b mut [u8],
    ) -> Result<(Stored<'a, 'b>, &'b mut [u8])> {
        if Self::is_page(meta) {
            return Ok((Stored::Page(src), buf));
        }
        let (mut framed, rest) = Framed::split(buf, BLOCK_SIZE)?;
        framed.data().copy_from(src)?;
        Ok((Stored::Object(framed), rest))
    }

    /// A new object for a block in state `meta`, holding `data`. One allocation that may
    /// reclaim (without I/O in the I/O path's scope), as zram's; `ENOMEM` only when the
    /// allocator gives up, or when the `fail_alloc` fault injection point says so.
    /// `EINVAL` for a page's worth of data in a state that is not stored as a page, or
    /// framed data in one that is. May sleep.
    pub(super) fn new_object(&self, meta: Meta, data: &mut Stored<'_, '_>) -> Result<Content<'_>> {
        if fault_inject::fail_alloc(Self::object_bytes(meta, data.len())) {
            return Err(ENOMEM);
        }
        match data {
            Stored::Page(data) if Self::is_page(meta) => {
                let mut page = PageBox::alloc()?;
                page.write(data)?;
                Ok(Content::Page(page))
            }
            Stored::Object(framed) if !Self::is_page(meta) => {
                Ok(Content::Object(self.table.alloc(meta.0, framed)?))
            }
            _ => Err(EINVAL),
        }
    }
}
