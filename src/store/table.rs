// SPDX-License-Identifier: GPL-2.0

//! The block table: entries in chunks allocated on first write.

use super::entry::Entry;
use core::{cell::UnsafeCell, mem::size_of};
use kernel::{
    alloc::KVVec,
    bindings,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Full, Relaxed}, //
};

/// Entries per chunk of the block table: a page's worth (256 entries, 1 MiB of blocks,
/// with 4 KiB pages).
pub(super) const CHUNK_ENTRIES: usize = bindings::PAGE_SIZE / size_of::<Entry>();

/// The entries of [`CHUNK_ENTRIES`] consecutive blocks.
pub(super) type Chunk = [Entry; CHUNK_ENTRIES];

/// Allocates a chunk of zeroed entries (`GFP_NOIO` inside the I/O path's scope). May
/// sleep.
pub(super) fn alloc_chunk() -> Result<KBox<Chunk>> {
    KBox::init(
        pin_init::init_array_from_fn(|_| Entry::new()),
        GFP_KERNEL | __GFP_NOWARN,
    )
}

/// Takes back a chunk installed by [`Table::entry_or_alloc`].
///
/// # Safety
///
/// `ptr` must come from `KBox::into_raw` on a chunk and be owned by the caller.
pub(super) unsafe fn chunk_from_raw(ptr: *mut Chunk) -> KBox<Chunk> {
    // SAFETY: guaranteed by the caller.
    unsafe { KBox::from_raw(ptr) }
}

/// The block table: one [`Entry`] per block, in chunks of [`CHUNK_ENTRIES`] allocated on
/// the first write to one of their blocks. A block whose chunk is missing is zeroed, so a
/// device costs 8 bytes per 1 MiB until it is written to (zram allocates its whole table
/// up front).
///
/// # Invariants
///
/// - `chunks` is only resized or emptied through [`Table::chunks_mut`], whose callers
///   guarantee that nothing else uses the table meanwhile; `len`, the number of blocks,
///   is at most `chunks.len() * CHUNK_ENTRIES`.
/// - A non-null chunk pointer came from `KBox::into_raw` and is owned by the table. While
///   the table is shared, a pointer only goes from null to a chunk, once.
/// - `allocated` is the number of non-null chunk pointers.
pub(super) struct Table {
    chunks: UnsafeCell<KVVec<Atomic<*mut Chunk>>>,
    pub(super) len: Atomic<usize>,
    pub(super) allocated: Atomic<usize>,
}

// SAFETY: shared use only reads chunk pointers and installs new chunks atomically (the
// entries are `Sync`: atomics and a bit lock); the vector itself changes only in
// `chunks_mut`, whose callers exclude every other user.
unsafe impl Sync for Table {}

// SAFETY: the table owns its chunks, which are plain data.
unsafe impl Send for Table {}

impl Table {
    /// A table of `blocks` zeroed blocks, without any chunk. May sleep.
    pub(super) fn new(blocks: usize) -> Result<Self> {
        // INVARIANT: room for `blocks` entries, and no chunk yet.
        Ok(Self {
            chunks: UnsafeCell::new(Self::null_chunks(blocks)?),
            len: Atomic::new(blocks),
            allocated: Atomic::new(0),
        })
    }

    /// Chunk pointers for `blocks` blocks, all null. May sleep.
    fn null_chunks(blocks: usize) -> Result<KVVec<Atomic<*mut Chunk>>> {
        let n = blocks.div_ceil(CHUNK_ENTRIES);
        let mut chunks = KVVec::with_capacity(n, GFP_KERNEL | __GFP_NOWARN)?;
        for _ in 0..n {
            // Cannot fail: the capacity is reserved above.
            chunks.push(Atomic::new(core::ptr::null_mut()), GFP_KERNEL)?;
        }
        Ok(chunks)
    }

    /// The chunk pointers.
    fn chunks(&self) -> &KVVec<Atomic<*mut Chunk>> {
        // SAFETY: the vector is only changed by `chunks_mut`, whose callers guarantee that
        // no other user (so no reference from here) exists meanwhile.
        unsafe { &*self.chunks.get() }
    }

    /// The entry of block `index`: `EIO` past the end, `None` if its chunk is missing (the
    /// block is zeroed).
    pub(super) fn entry(&self, index: usize) -> Result<Option<&Entry>> {
        if index >= self.len() {
            return Err(EIO);
        }
        let slot = self.chunks().get(index / CHUNK_ENTRIES).ok_or(EIO)?;
        // Acquire: pairs with the installation in `entry_or_alloc`; the chunk's zeroed
        // entries are seen.
        let chunk = slot.load(Acquire);
        // SAFETY: a non-null pointer is a chunk owned by the table (type invariant), which
        // stays until `chunks_mut`, whose callers exclude this borrow.
        Ok(unsafe { chunk.as_ref() }.and_then(|c| c.get(index % CHUNK_ENTRIES)))
    }

    /// The entry of block `index`, allocating its chunk if it is missing, with `alloc`.
    pub(super) fn entry_or_alloc(
        &self,
        index: usize,
        alloc: impl FnOnce() -> Result<KBox<Chunk>>,
    ) -> Result<&Entry> {
        if let Some(entry) = self.entry(index)? {
            return Ok(entry);
        }
        let slot = self.chunks().get(index / CHUNK_ENTRIES).ok_or(EIO)?;
        let new = KBox::into_raw(alloc()?);
        // Full: on success, releases the zeroed entries to readers of the pointer; on
        // failure, acquires the chunk another writer installed.
        let chunk = match slot.cmpxchg(core::ptr::null_mut(), new, Full) {
            Ok(_) => {
                // INVARIANT: one more chunk, installed once, owned by the table.
                self.allocated.fetch_add(1, Relaxed);
                new
            }
            Err(installed) => {
                // SAFETY: `new` came from `KBox::into_raw` above and was not installed.
                drop(unsafe { chunk_from_raw(new) });
                installed
            }
        };
        // SAFETY: `chunk` is non-null (installed by one writer or the other) and owned by
        // the table until `chunks_mut`, whose callers exclude this borrow.
        unsafe { &*chunk }.get(index % CHUNK_ENTRIES).ok_or(EIO)
    }

    /// The number of blocks; may be read while the table is being changed.
    pub(super) fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// The memory the table holds, in bytes: its chunks and the pointers to them.
    pub(super) fn bytes(&self) -> usize {
        self.allocated.load(Relaxed) * size_of::<Chunk>()
            + self.len().div_ceil(CHUNK_ENTRIES) * size_of::<*mut Chunk>()
    }

    /// The chunk pointers, to change them.
    ///
    /// # Safety
    ///
    /// Nothing else may use the table while the returned reference lives: no other call
    /// of a method of `self` except [`Table::len`] and [`Table::bytes`]. The caller keeps
    /// the invariants of `Table`.
    #[expect(clippy::mut_from_ref)]
    pub(super) unsafe fn chunks_mut(&self) -> &mut KVVec<Atomic<*mut Chunk>> {
        // SAFETY: exclusive use, guaranteed by the caller.
        unsafe { &mut *self.chunks.get() }
    }

    /// Calls `f` on every entry of every chunk, then frees the chunks.
    ///
    /// # Safety
    ///
    /// As for [`Table::chunks_mut`]: nothing else may use the table during the call.
    pub(super) unsafe fn free_chunks(&self, mut f: impl FnMut(&mut Entry)) {
        // SAFETY: exclusive use, guaranteed by the caller.
        let chunks = unsafe { self.chunks_mut() };
        for slot in chunks.iter_mut() {
            let ptr = core::mem::replace(slot.get_mut(), core::ptr::null_mut());
            if !ptr.is_null() {
                // SAFETY: a non-null pointer is a chunk owned by the table (type
                // invariant), taken out of it above.
                let mut chunk = unsafe { chunk_from_raw(ptr) };
                chunk.iter_mut().for_each(&mut f);
            }
        }
        // INVARIANT: every pointer is null again.
        self.allocated.store(0, Relaxed);
    }
}

/// The chunk pointers of a resized block table, allocated ahead of
/// [`Store::resize`](super::Store::resize) so that the resize itself does not allocate.
pub(crate) struct SpareTable {
    pub(super) chunks: KVVec<Atomic<*mut Chunk>>,
    pub(super) blocks: usize,
}

impl SpareTable {
    /// Allocates the table's chunk pointers for `blocks` blocks. May sleep.
    pub(crate) fn new(blocks: usize) -> Result<Self> {
        Ok(Self {
            chunks: Table::null_chunks(blocks)?,
            blocks,
        })
    }
}
