// SPDX-License-Identifier: GPL-2.0

//! A table of entries allocated a chunk at a time, on first use.
//!
//! A [`ChunkTable`] of `len` entries of type `T` keeps one pointer per `N` entries, and
//! allocates a chunk of `N` entries only when one of them is first needed
//! ([`Shared::get_or_alloc`]): until then, [`Shared::get`] finds no entry there, and the
//! table costs one pointer per chunk. Lookups and allocations run concurrently under the
//! read side of the table's [`PercpuRwSem`], which costs a reader a per-CPU counter: a
//! chunk is installed once, with a compare-and-exchange, and stays until the table is
//! changed as a whole (resized, trimmed, emptied) through an [`Exclusive`] view, which
//! holds the write side.

use crate::ext::sync::{PercpuReadGuard, PercpuRwSem, PercpuWriteGuard};
use core::{mem::size_of, ptr};
use kernel::{
    alloc::KVVec,
    prelude::*,
    str::CStr,
    sync::{
        atomic::{Acquire, Atomic, Full, Relaxed},
        LockClassKey,
    }, //
};

/// The chunk pointers of a table: null where a chunk is missing.
type Chunks<T, const N: usize> = KVVec<Atomic<*mut [T; N]>>;

/// Chunk pointers, all null, for `len` entries in chunks of `n`. May sleep.
fn null_chunks<T, const N: usize>(len: usize) -> Result<Chunks<T, N>> {
    let count = len.div_ceil(N);
    let mut chunks = KVVec::with_capacity(count, GFP_KERNEL | __GFP_NOWARN)?;
    for _ in 0..count {
        // Cannot fail: the capacity is reserved above.
        chunks.push(Atomic::new(ptr::null_mut()), GFP_KERNEL)?;
    }
    Ok(chunks)
}

/// Takes back a chunk that a table owned.
///
/// # Safety
///
/// `chunk` must come from `KBox::into_raw` and be owned by the caller.
unsafe fn chunk_from_raw<T, const N: usize>(chunk: *mut [T; N]) -> KBox<[T; N]> {
    // SAFETY: guaranteed by the caller.
    unsafe { KBox::from_raw(chunk) }
}

/// A table of `len` entries of type `T`, in chunks of `N` allocated on first use.
///
/// # Invariants
///
/// - A non-null chunk pointer came from `KBox::into_raw` and is owned by the table. While
///   the chunk pointers are shared (read side of `chunks`), a pointer only goes from null
///   to a chunk, once; they change otherwise only through an [`Exclusive`] view.
/// - `len` is at most the number of chunk pointers times `N`, and `allocated` the number
///   of non-null ones; both change only where the chunk pointers do.
pub(crate) struct ChunkTable<T, const N: usize> {
    chunks: PercpuRwSem<Chunks<T, N>>,
    len: Atomic<usize>,
    allocated: Atomic<usize>,
}

// SAFETY: shared use reads chunk pointers, installs new chunks atomically and hands out
// shared references to entries, which are `Sync`; the pointers change otherwise only under
// the write side of `chunks`, which excludes every other user.
unsafe impl<T: Sync, const N: usize> Sync for ChunkTable<T, N> {}

// SAFETY: the table owns its chunks, whose entries are `Send`.
unsafe impl<T: Send, const N: usize> Send for ChunkTable<T, N> {}

impl<T, const N: usize> ChunkTable<T, N> {
    /// Bytes of one chunk.
    pub(crate) const CHUNK_BYTES: usize = size_of::<[T; N]>();

    /// A table of `len` entries, without any chunk; its lock is named `name` for lockdep,
    /// in the class `key` (`kernel::static_lock_class!()` of its user). May sleep.
    pub(crate) fn new(
        len: usize,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> Result<Self> {
        const { assert!(N > 0) };
        // INVARIANT: room for `len` entries, and no chunk yet.
        Ok(Self {
            chunks: PercpuRwSem::new(null_chunks::<T, N>(len)?, name, key)?,
            len: Atomic::new(len),
            allocated: Atomic::new(0),
        })
    }

    /// Shared use of the table: lookups and chunk allocations, until the returned value is
    /// dropped; waits while an [`Exclusive`] view lives. May sleep, and so may the holder.
    /// Not recursive: a task holding one must not take another, since a waiting
    /// [`ChunkTable::exclusive`] would keep it waiting.
    #[inline]
    pub(crate) fn read(&self) -> Shared<'_, T, N> {
        Shared {
            chunks: self.chunks.read(),
            table: self,
        }
    }

    /// Shared use as with [`ChunkTable::read`], without sleeping, for atomic context: `None`
    /// while an [`Exclusive`] view lives or waits.
    #[inline]
    pub(crate) fn try_read(&self) -> Option<Shared<'_, T, N>> {
        Some(Shared {
            chunks: self.chunks.try_read()?,
            table: self,
        })
    }

    /// A view of the table that can change it as a whole: waits until no [`Shared`] use is
    /// left, and keeps new ones waiting until it is dropped (an RCU grace period at least).
    /// May sleep.
    pub(crate) fn exclusive(&self) -> Exclusive<'_, T, N> {
        // INVARIANT: the write side is held until the view is dropped.
        Exclusive {
            chunks: ChunksMut::Locked(self.chunks.write()),
            len: &self.len,
            allocated: &self.allocated,
        }
    }

    /// A view of the table that can change it as a whole, through a unique reference.
    pub(crate) fn get_mut(&mut self) -> Exclusive<'_, T, N> {
        Exclusive {
            chunks: ChunksMut::Unique(self.chunks.get_mut()),
            len: &self.len,
            allocated: &self.allocated,
        }
    }

    /// The number of entries; may be read at any time, without locking.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// The number of allocated chunks; may be read at any time, without locking.
    pub(crate) fn allocated(&self) -> usize {
        self.allocated.load(Relaxed)
    }

    /// The memory the table holds, in bytes: its chunks and the pointers to them; may be
    /// read at any time, without locking.
    pub(crate) fn bytes(&self) -> usize {
        self.allocated() * Self::CHUNK_BYTES + self.len().div_ceil(N) * size_of::<*mut [T; N]>()
    }
}

impl<T, const N: usize> Drop for ChunkTable<T, N> {
    fn drop(&mut self) {
        // The entries are dropped with their chunks.
        self.get_mut().clear(|_| {});
    }
}

/// Shared use of a [`ChunkTable`] (see [`ChunkTable::read`]).
pub(crate) struct Shared<'a, T, const N: usize> {
    chunks: PercpuReadGuard<'a, Chunks<T, N>>,
    table: &'a ChunkTable<T, N>,
}

impl<T, const N: usize> Shared<'_, T, N> {
    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Entry `index`: `ERANGE` past the end, `None` if its chunk is not allocated.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Result<Option<&T>> {
        if index >= self.len() {
            return Err(ERANGE);
        }
        let slot = self.chunks.get(index / N).ok_or(ERANGE)?;
        // Acquire: pairs with the installation in `get_or_alloc`; the chunk's initialised
        // entries are seen.
        let chunk = slot.load(Acquire);
        // SAFETY: a non-null pointer is a chunk owned by the table (type invariant of
        // `ChunkTable`), which stays while the read side, held by `self`, is.
        Ok(unsafe { chunk.as_ref() }.and_then(|c| c.get(index % N)))
    }

    /// Entry `index`, allocating its chunk with `alloc` if it is missing: `ERANGE` past
    /// the end, or `alloc`'s error. Two callers may allocate the same chunk at once; one
    /// chunk is installed, and the other dropped.
    pub(crate) fn get_or_alloc(
        &self,
        index: usize,
        alloc: impl FnOnce() -> Result<KBox<[T; N]>>,
    ) -> Result<&T> {
        if let Some(entry) = self.get(index)? {
            return Ok(entry);
        }
        let slot = self.chunks.get(index / N).ok_or(ERANGE)?;
        let new = KBox::into_raw(alloc()?);
        // Full: on success, releases the new entries to readers of the pointer; on
        // failure, acquires the chunk another caller installed.
        let chunk = match slot.cmpxchg(ptr::null_mut(), new, Full) {
            Ok(_) => {
                // INVARIANT: one more chunk, installed once, owned by the table.
                self.table.allocated.fetch_add(1, Relaxed);
                new
            }
            Err(installed) => {
                // SAFETY: `new` came from `KBox::into_raw` above and was not installed.
                drop(unsafe { chunk_from_raw(new) });
                installed
            }
        };
        // SAFETY: `chunk` is non-null (installed by one caller or the other) and owned by
        // the table while the read side, held by `self`, is.
        unsafe { &*chunk }.get(index % N).ok_or(ERANGE)
    }
}

/// Chunk pointers for a table of a new length, allocated ahead of [`Exclusive::resize`] so
/// that the resize itself does not allocate.
pub(crate) struct SpareChunks<T, const N: usize> {
    chunks: Chunks<T, N>,
    len: usize,
}

impl<T, const N: usize> SpareChunks<T, N> {
    /// Chunk pointers for `len` entries. May sleep.
    pub(crate) fn new(len: usize) -> Result<Self> {
        Ok(Self {
            chunks: null_chunks::<T, N>(len)?,
            len,
        })
    }

    /// The number of entries of a table resized to these chunk pointers.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// The chunk pointers of a table, for an [`Exclusive`] view.
enum ChunksMut<'a, T, const N: usize> {
    /// Held through the write side of the table's lock.
    Locked(PercpuWriteGuard<'a, Chunks<T, N>>),
    /// Held through a unique reference to the table.
    Unique(&'a mut Chunks<T, N>),
}

/// A view of a [`ChunkTable`] that nothing else uses, to change it as a whole.
///
/// # Invariants
///
/// `chunks`, `len` and `allocated` are the fields of one table, whose invariants the view
/// keeps.
pub(crate) struct Exclusive<'a, T, const N: usize> {
    chunks: ChunksMut<'a, T, N>,
    len: &'a Atomic<usize>,
    allocated: &'a Atomic<usize>,
}

impl<T, const N: usize> Exclusive<'_, T, N> {
    /// The chunk pointers.
    fn chunks(&mut self) -> &mut Chunks<T, N> {
        match &mut self.chunks {
            ChunksMut::Locked(guard) => guard,
            ChunksMut::Unique(chunks) => chunks,
        }
    }

    /// Calls `f` on every allocated chunk, with the index of its first entry; stops at the
    /// first error and returns it.
    pub(crate) fn try_for_each_chunk(
        &mut self,
        mut f: impl FnMut(usize, &mut [T; N]) -> Result,
    ) -> Result {
        for (c, slot) in self.chunks().iter_mut().enumerate() {
            // SAFETY: a non-null pointer is a chunk owned by the table (type invariants),
            // which nothing else uses meanwhile.
            if let Some(chunk) = unsafe { slot.get_mut().as_mut() } {
                f(c * N, chunk)?;
            }
        }
        Ok(())
    }

    /// Frees every chunk for which `unused` is true; returns how many it freed.
    pub(crate) fn free_chunks_where(
        &mut self,
        mut unused: impl FnMut(&mut [T; N]) -> bool,
    ) -> usize {
        let mut freed = 0;
        for slot in self.chunks().iter_mut() {
            // SAFETY: a non-null pointer is a chunk owned by the table (type invariants),
            // which nothing else uses meanwhile.
            if unsafe { slot.get_mut().as_mut() }.is_some_and(&mut unused) {
                let chunk = core::mem::replace(slot.get_mut(), ptr::null_mut());
                // SAFETY: a chunk owned by the table, taken out of it above.
                drop(unsafe { chunk_from_raw(chunk) });
                freed += 1;
            }
        }
        // INVARIANT: as many chunks fewer, their pointers null again.
        self.allocated.fetch_sub(freed, Relaxed);
        freed
    }

    /// Gives the table `spare`'s length: chunks keep their place (and entries their
    /// index), and the chunks wholly past the new end are dropped. Entries past the new
    /// end in the last kept chunk stay as they are, unreachable until the table grows
    /// again.
    pub(crate) fn resize(&mut self, spare: SpareChunks<T, N>) {
        let mut new = spare.chunks;
        let chunks = self.chunks();
        let keep = new.len().min(chunks.len());
        let (kept, cut) = chunks.split_at_mut(keep);
        for (to, from) in new.iter_mut().zip(kept.iter_mut()) {
            *to.get_mut() = core::mem::replace(from.get_mut(), ptr::null_mut());
        }
        let mut dropped = 0;
        for slot in cut.iter_mut() {
            let chunk = core::mem::replace(slot.get_mut(), ptr::null_mut());
            if !chunk.is_null() {
                // SAFETY: a chunk owned by the table, taken out of it above.
                drop(unsafe { chunk_from_raw(chunk) });
                dropped += 1;
            }
        }
        // INVARIANT: every chunk moved to the same place in the new pointers, or was
        // dropped (and uncounted) past the new end; the old pointers are all null, and
        // `spare.len` entries fit the new ones.
        *chunks = new;
        self.allocated.fetch_sub(dropped, Relaxed);
        self.len.store(spare.len, Relaxed);
    }

    /// Calls `f` on every entry of every chunk, then frees the chunks; the length stays.
    pub(crate) fn clear(&mut self, mut f: impl FnMut(&mut T)) {
        for slot in self.chunks().iter_mut() {
            let chunk = core::mem::replace(slot.get_mut(), ptr::null_mut());
            if !chunk.is_null() {
                // SAFETY: a chunk owned by the table, taken out of it above.
                let mut chunk = unsafe { chunk_from_raw(chunk) };
                chunk.iter_mut().for_each(&mut f);
            }
        }
        // INVARIANT: every pointer is null again.
        self.allocated.store(0, Relaxed);
    }
}

#[kernel::prelude::kunit_tests(foxramdisk_chunk_table)]
mod tests {
    use super::*;

    type Table = ChunkTable<Atomic<u32>, 4>;

    /// A chunk of entries holding `value`.
    fn chunk(value: u32) -> Result<KBox<[Atomic<u32>; 4]>> {
        let chunk = KBox::new([const { Atomic::new(0) }; 4], GFP_KERNEL)?;
        chunk.iter().for_each(|e| e.store(value, Relaxed));
        Ok(chunk)
    }

    #[test]
    fn chunks_come_on_first_use() -> Result {
        let owner = Table::new(10, c"kunit_chunk_table", kernel::static_lock_class!())?;
        let table = owner.read();
        assert_eq!(table.len(), 10);
        assert_eq!(owner.allocated(), 0);
        assert!(table.get(5)?.is_none());
        assert_eq!(table.get(10).err(), Some(ERANGE));
        assert_eq!(table.get_or_alloc(10, || chunk(1)).err(), Some(ERANGE));
        assert_eq!(table.get_or_alloc(5, || chunk(1))?.load(Relaxed), 1);
        // Installed once: a second allocation is not asked for, and the chunk is shared.
        assert_eq!(table.get_or_alloc(6, || Err(ENOMEM))?.load(Relaxed), 1);
        assert!(table.get(4)?.is_some());
        assert!(table.get(3)?.is_none());
        assert_eq!(owner.allocated(), 1);
        assert_eq!(owner.bytes(), Table::CHUNK_BYTES + 3 * size_of::<usize>());
        // An allocation that fails leaves the chunk missing.
        assert_eq!(table.get_or_alloc(0, || Err(ENOMEM)).err(), Some(ENOMEM));
        assert!(table.get(0)?.is_none());
        Ok(())
    }

    #[test]
    fn exclusive_view_resizes_frees_and_clears() -> Result {
        let mut table = Table::new(12, c"kunit_chunk_table", kernel::static_lock_class!())?;
        for (index, value) in [(0, 1), (5, 2), (9, 3)] {
            table.read().get_or_alloc(index, || chunk(value))?;
        }
        let mut firsts = KVec::new();
        table
            .get_mut()
            .try_for_each_chunk(|first, _| Ok(firsts.push(first, GFP_KERNEL)?))?;
        assert_eq!(&firsts[..], &[0, 4, 8]);
        // The chunk holding 2s goes; the others stay.
        let freed = table
            .get_mut()
            .free_chunks_where(|c| c[0].load(Relaxed) == 2);
        assert_eq!(freed, 1);
        assert!(table.read().get(5)?.is_none());
        // Shrinking drops the chunks past the end and keeps the others in place.
        table.get_mut().resize(SpareChunks::new(6)?);
        assert_eq!((table.len(), table.allocated()), (6, 1));
        assert_eq!(table.read().get(1)?.map(|e| e.load(Relaxed)), Some(1));
        assert_eq!(table.read().get(9).err(), Some(ERANGE));
        // Growing keeps them too; the new chunks are missing.
        table.get_mut().resize(SpareChunks::new(20)?);
        assert_eq!((table.len(), table.allocated()), (20, 1));
        assert_eq!(table.read().get(2)?.map(|e| e.load(Relaxed)), Some(1));
        assert!(table.read().get(9)?.is_none());
        // The locked view: no shared use meanwhile.
        let mut seen = 0;
        let mut view = table.exclusive();
        assert!(table.try_read().is_none());
        view.clear(|e| seen += e.load(Relaxed));
        drop(view);
        assert_eq!(seen, 4);
        assert_eq!((table.len(), table.allocated()), (20, 0));
        Ok(())
    }
}
