// SPDX-License-Identifier: GPL-2.0

//! The block table: a [`ChunkTable`] of entries, a page of them per chunk.

use super::entry::Entry;
use crate::ext::chunk_table::{ChunkTable, SpareChunks};
use core::mem::size_of;
use kernel::{bindings, prelude::*};

/// Entries per chunk of the block table: a page's worth (256 entries, 1 MiB of blocks,
/// with 4 KiB pages).
pub(super) const CHUNK_ENTRIES: usize = bindings::PAGE_SIZE / size_of::<Entry>();

/// The entries of [`CHUNK_ENTRIES`] consecutive blocks.
pub(super) type Chunk = [Entry; CHUNK_ENTRIES];

/// The block table: one [`Entry`] per block, its chunks allocated on the first write to one
/// of their blocks. A block whose chunk is missing is zeroed, so a device costs 8 bytes per
/// 1 MiB until it is written to (zram allocates its whole table up front).
pub(super) type Table = ChunkTable<Entry, CHUNK_ENTRIES>;

/// Allocates a chunk of zeroed entries (`GFP_NOIO` inside the I/O path's scope). May
/// sleep.
pub(super) fn alloc_chunk() -> Result<KBox<Chunk>> {
    KBox::init(
        pin_init::init_array_from_fn(|_| Entry::new()),
        GFP_KERNEL | __GFP_NOWARN,
    )
}

/// The chunk pointers of a resized block table, allocated ahead of
/// [`Store::resize`](super::Store::resize) so that the resize itself does not allocate.
pub(crate) struct SpareTable(pub(super) SpareChunks<Entry, CHUNK_ENTRIES>);

impl SpareTable {
    /// Allocates the table's chunk pointers for `blocks` blocks. May sleep.
    pub(crate) fn new(blocks: usize) -> Result<Self> {
        Ok(Self(SpareChunks::new(blocks)?))
    }
}
