// SPDX-License-Identifier: GPL-2.0

//! A table of entries allocated a chunk at a time, on first use.
//!
//! A [`ChunkTable`] of `len` entries of type `T` keeps one pointer per `N` entries, and
//! allocates a chunk of `N` entries only when one of them is first needed
//! ([`ChunkTable::get_or_alloc`]): until then, [`ChunkTable::get`] finds no entry there, and
//! the table costs one pointer per chunk. Lookups and allocations run concurrently and
//! take no lock: a chunk is installed once, with a compare-and-exchange, and stays until
//! the table is changed as a whole through an [`Exclusive`] view (resized, trimmed,
//! emptied), which needs the caller's proof that nobody else uses the table.

use core::{cell::UnsafeCell, mem::size_of, ptr};
use kernel::{
    alloc::KVVec,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Full, Relaxed}, //
};

/// Chunk pointers, all null, for `len` entries in chunks of `n`. May sleep.
fn null_chunks<T, const N: usize>(len: usize) -> Result<KVVec<Atomic<*mut [T; N]>>> {
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
/// - `chunks` changes only through an [`Exclusive`] view, which exists only while nothing
///   else uses the table but [`ChunkTable::len`] and [`ChunkTable::bytes`]; `len` is at
///   most `chunks.len() * N`.
/// - A non-null chunk pointer came from `KBox::into_raw` and is owned by the table. While
///   the table is shared, a pointer only goes from null to a chunk, once.
/// - `allocated` is the number of non-null chunk pointers.
pub(crate) struct ChunkTable<T, const N: usize> {
    chunks: UnsafeCell<KVVec<Atomic<*mut [T; N]>>>,
    len: Atomic<usize>,
    allocated: Atomic<usize>,
}

// SAFETY: shared use reads chunk pointers, installs new chunks atomically and hands out
// shared references to entries, which are `Sync`; the vector itself changes only through
// an `Exclusive` view, which excludes every other user.
unsafe impl<T: Sync, const N: usize> Sync for ChunkTable<T, N> {}

// SAFETY: the table owns its chunks, whose entries are `Send`.
unsafe impl<T: Send, const N: usize> Send for ChunkTable<T, N> {}

impl<T, const N: usize> ChunkTable<T, N> {
    /// Bytes of one chunk.
    pub(crate) const CHUNK_BYTES: usize = size_of::<[T; N]>();

    /// A table of `len` entries, without any chunk. May sleep.
    pub(crate) fn new(len: usize) -> Result<Self> {
        const { assert!(N > 0) };
        // INVARIANT: room for `len` entries, and no chunk yet.
        Ok(Self {
            chunks: UnsafeCell::new(null_chunks::<T, N>(len)?),
            len: Atomic::new(len),
            allocated: Atomic::new(0),
        })
    }

    /// The chunk pointers.
    fn chunks(&self) -> &KVVec<Atomic<*mut [T; N]>> {
        // SAFETY: the vector changes only through an `Exclusive` view, which exists only
        // while no other user (so no reference from here) does (type invariant).
        unsafe { &*self.chunks.get() }
    }

    /// Entry `index`: `ERANGE` past the end, `None` if its chunk is not allocated.
    pub(crate) fn get(&self, index: usize) -> Result<Option<&T>> {
        if index >= self.len() {
            return Err(ERANGE);
        }
        let slot = self.chunks().get(index / N).ok_or(ERANGE)?;
        // Acquire: pairs with the installation in `get_or_alloc`; the chunk's initialised
        // entries are seen.
        let chunk = slot.load(Acquire);
        // SAFETY: a non-null pointer is a chunk owned by the table (type invariant), which
        // stays until an `Exclusive` view, which excludes this borrow, changes the table.
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
        let slot = self.chunks().get(index / N).ok_or(ERANGE)?;
        let new = KBox::into_raw(alloc()?);
        // Full: on success, releases the new entries to readers of the pointer; on
        // failure, acquires the chunk another caller installed.
        let chunk = match slot.cmpxchg(ptr::null_mut(), new, Full) {
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
        // SAFETY: `chunk` is non-null (installed by one caller or the other) and owned by
        // the table until an `Exclusive` view, which excludes this borrow, changes it.
        unsafe { &*chunk }.get(index % N).ok_or(ERANGE)
    }

    /// The number of entries; may be read while the table is being changed.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// The number of allocated chunks; may be read while the table is being changed.
    pub(crate) fn allocated(&self) -> usize {
        self.allocated.load(Relaxed)
    }

    /// The memory the table holds, in bytes: its chunks and the pointers to them; may be
    /// read while the table is being changed.
    pub(crate) fn bytes(&self) -> usize {
        self.allocated() * Self::CHUNK_BYTES + self.len().div_ceil(N) * size_of::<*mut [T; N]>()
    }

    /// A view of the table that can change it as a whole.
    ///
    /// # Safety
    ///
    /// Nothing else may use the table while the view lives: no other call of a method of
    /// `self` but [`ChunkTable::len`], [`ChunkTable::allocated`] and [`ChunkTable::bytes`],
    /// and no reference to an entry that such a call returned.
    pub(crate) unsafe fn exclusive(&self) -> Exclusive<'_, T, N> {
        // SAFETY: exclusive use, guaranteed by the caller.
        let chunks = unsafe { &mut *self.chunks.get() };
        Exclusive {
            chunks,
            len: &self.len,
            allocated: &self.allocated,
        }
    }

    /// A view of the table that can change it as a whole, through a unique reference.
    pub(crate) fn get_mut(&mut self) -> Exclusive<'_, T, N> {
        Exclusive {
            chunks: self.chunks.get_mut(),
            len: &self.len,
            allocated: &self.allocated,
        }
    }
}

impl<T, const N: usize> Drop for ChunkTable<T, N> {
    fn drop(&mut self) {
        // The entries are dropped with their chunks.
        self.get_mut().clear(|_| {});
    }
}

/// Chunk pointers for a table of a new length, allocated ahead of [`Exclusive::resize`] so
/// that the resize itself does not allocate.
pub(crate) struct SpareChunks<T, const N: usize> {
    chunks: KVVec<Atomic<*mut [T; N]>>,
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

/// A view of a [`ChunkTable`] that nothing else uses, to change it as a whole.
///
/// # Invariants
///
/// `chunks`, `len` and `allocated` are the fields of one table, whose invariants the view
/// keeps; nothing else uses that table while the view lives.
pub(crate) struct Exclusive<'a, T, const N: usize> {
    chunks: &'a mut KVVec<Atomic<*mut [T; N]>>,
    len: &'a Atomic<usize>,
    allocated: &'a Atomic<usize>,
}

impl<T, const N: usize> Exclusive<'_, T, N> {
    /// Calls `f` on every allocated chunk, with the index of its first entry; stops at the
    /// first error and returns it.
    pub(crate) fn try_for_each_chunk(
        &mut self,
        mut f: impl FnMut(usize, &mut [T; N]) -> Result,
    ) -> Result {
        for (c, slot) in self.chunks.iter_mut().enumerate() {
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
        for slot in self.chunks.iter_mut() {
            // SAFETY: a non-null pointer is a chunk owned by the table (type invariants),
            // which nothing else uses meanwhile.
            if unsafe { slot.get_mut().as_mut() }.is_some_and(&mut unused) {
                let chunk = core::mem::replace(slot.get_mut(), ptr::null_mut());
                // SAFETY: a chunk owned by the table, taken out of it above.
                drop(unsafe { chunk_from_raw(chunk) });
                // INVARIANT: one chunk fewer, its pointer null again.
                self.allocated.fetch_sub(1, Relaxed);
                freed += 1;
            }
        }
        freed
    }

    /// Gives the table `spare`'s length: chunks keep their place (and entries their
    /// index), and the chunks wholly past the new end are dropped. Entries past the new
    /// end in the last kept chunk stay as they are, unreachable until the table grows
    /// again.
    pub(crate) fn resize(&mut self, spare: SpareChunks<T, N>) {
        let mut new = spare.chunks;
        let keep = new.len().min(self.chunks.len());
        let (kept, cut) = self.chunks.split_at_mut(keep);
        for (to, from) in new.iter_mut().zip(kept.iter_mut()) {
            *to.get_mut() = core::mem::replace(from.get_mut(), ptr::null_mut());
        }
        for slot in cut.iter_mut() {
            let chunk = core::mem::replace(slot.get_mut(), ptr::null_mut());
            if !chunk.is_null() {
                // SAFETY: a chunk owned by the table, taken out of it above.
                drop(unsafe { chunk_from_raw(chunk) });
                self.allocated.fetch_sub(1, Relaxed);
            }
        }
        // INVARIANT: every chunk moved to the same place in the new pointers, or was
        // dropped (and uncounted) past the new end; the old pointers are all null, and
        // `spare.len` entries fit the new ones.
        *self.chunks = new;
        self.len.store(spare.len, Relaxed);
    }

    /// Calls `f` on every entry of every chunk, then frees the chunks; the length stays.
    pub(crate) fn clear(&mut self, mut f: impl FnMut(&mut T)) {
        for slot in self.chunks.iter_mut() {
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
        let table = Table::new(10)?;
        assert_eq!(table.len(), 10);
        assert_eq!(table.allocated(), 0);
        assert!(table.get(5)?.is_none());
        assert_eq!(table.get(10).err(), Some(ERANGE));
        assert_eq!(table.get_or_alloc(10, || chunk(1)).err(), Some(ERANGE));
        assert_eq!(table.get_or_alloc(5, || chunk(1))?.load(Relaxed), 1);
        // Installed once: a second allocation is not asked for, and the chunk is shared.
        assert_eq!(table.get_or_alloc(6, || Err(ENOMEM))?.load(Relaxed), 1);
        assert!(table.get(4)?.is_some());
        assert!(table.get(3)?.is_none());
        assert_eq!(table.allocated(), 1);
        assert_eq!(table.bytes(), Table::CHUNK_BYTES + 3 * size_of::<usize>());
        // An allocation that fails leaves the chunk missing.
        assert_eq!(table.get_or_alloc(0, || Err(ENOMEM)).err(), Some(ENOMEM));
        assert!(table.get(0)?.is_none());
        Ok(())
    }

    #[test]
    fn exclusive_view_resizes_frees_and_clears() -> Result {
        let mut table = Table::new(12)?;
        for (index, value) in [(0, 1), (5, 2), (9, 3)] {
            table.get_or_alloc(index, || chunk(value))?;
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
        assert!(table.get(5)?.is_none());
        // Shrinking drops the chunks past the end and keeps the others in place.
        table.get_mut().resize(SpareChunks::new(6)?);
        assert_eq!((table.len(), table.allocated()), (6, 1));
        assert_eq!(table.get(1)?.map(|e| e.load(Relaxed)), Some(1));
        assert_eq!(table.get(9).err(), Some(ERANGE));
        // Growing keeps them too; the new chunks are missing.
        table.get_mut().resize(SpareChunks::new(20)?);
        assert_eq!((table.len(), table.allocated()), (20, 1));
        assert_eq!(table.get(2)?.map(|e| e.load(Relaxed)), Some(1));
        assert!(table.get(9)?.is_none());
        let mut seen = 0;
        table.get_mut().clear(|e| seen += e.load(Relaxed));
        assert_eq!(seen, 4);
        assert_eq!((table.len(), table.allocated()), (20, 0));
        Ok(())
    }
}
