// SPDX-License-Identifier: GPL-2.0

//! The storage engine: a table of block states over a zsmalloc pool.
//!
//! Each 4096-byte block is in one of four states:
//!
//! - **zeroed**: reads as zeros and holds no memory: never written, written with zeros,
//!   discarded or write-zeroed;
//! - **same-filled**: every machine word of its data is the same non-zero word, kept in
//!   the table entry instead of an object: no memory (zram's `same_pages`);
//! - **compressed**: its data, compressed, is a zsmalloc object;
//! - **raw**: its data did not compress below the threshold (or the algorithm is
//!   `nocomp`) and is stored as it is, in a page of its own ([`PageBox`]; a zsmalloc
//!   object where a page is larger than a block).
//!
//! A block is stored compressed only when that saves memory: when the compressed size is
//! below zsmalloc's huge class size. Objects of that size or larger take a whole page in
//! zsmalloc, so compressing them would save nothing and cost a decompression on every
//! read (zram's rule: `comp_len >= huge_class_size` is stored as it is).
//!
//! # Locking
//!
//! Each table entry has its own lock, bit 0 of its metadata word ([`BitLock`]), so I/O to
//! different blocks never contends and there is no device-wide lock. It is a sleeping lock,
//! as zram's entry lock: a waiter sleeps, the holder may be preempted, and lockdep checks
//! every entry lock of a store through one map. It is taken inside a compression context's
//! mutex, never the other way round. A write holds it only to swap the entry, or to copy
//! its data into the block's own object when that object can take it; compression,
//! allocation and freeing happen outside it. A read holds it while it maps the object and
//! decompresses (or copies) it, so that no writer frees the object meanwhile, as zram does.
//! [`Store::slot_free`] runs under swap's spin lock and only try-locks it.
//!
//! The table itself is replaced only by [`Store::resize`] and emptied only by
//! [`Store::reset`], which the caller runs while no I/O uses the store (the disk's queue
//! frozen). Freezing does not stop [`Store::slot_free`], so both first close the table to
//! it (an RCU grace period); slots freed meanwhile keep their blocks and count as misses.
//! The statistics never read the table, so they stay available meanwhile.
//!
//! # Memory limit
//!
//! With a limit set ([`Store::set_mem_limit`]), a write that would need new memory while
//! [`Store::mem_used_total`] plus the object exceeds the limit fails with `ENOSPC`; writes
//! that free memory or reuse their block's object still succeed. Concurrent writers may
//! overshoot the limit by about one object each.
//!
//! [`BitLock`]: crate::ext::sync::BitLock

mod counters;
mod entry;
mod object;
mod table;

pub(crate) use table::SpareTable;

use crate::{
    algorithm::Algorithm,
    compressor::{Codecs, Compressor, Context},
    ext::{
        mm::{page::PageBox, zsmalloc::ZsPool},
        raw_buf::RawBuf,
        sync::LockdepMap,
    },
    geometry::BLOCK_SIZE,
};
use core::mem::size_of;
use counters::Counters;
use entry::{Entry, Meta, State};
use kernel::{
    bindings,
    pr_err_once,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        rcu, MutexGuard,
    }, //
};
use object::RAW_PAGES;
use table::{alloc_chunk, Chunk, Table, CHUNK_ENTRIES};

/// Proof that [`Store::slot_free`] leaves the table alone; reopens it on drop.
struct TableClosed<'a> {
    store: &'a Store,
}

impl Drop for TableClosed<'_> {
    fn drop(&mut self) {
        // Release: a `slot_free` that sees the table open again sees it as changed.
        self.store.table_closed.store(false, Release);
    }
}

/// The block store of one device.
pub(crate) struct Store {
    /// One entry per block.
    table: Table,
    /// The lockdep identity of every entry lock of the table.
    entry_lock: Pin<KBox<LockdepMap>>,
    /// Set while [`Store::resize`] or [`Store::reset`] changes the table: [`Store::slot_free`]
    /// then leaves it alone (see [`Store::close_table`]).
    table_closed: Atomic<bool>,
    /// The stored objects.
    pool: ZsPool,
    /// The per-CPU contexts, with a codec for each algorithm the store has used.
    compressor: Compressor,
    /// Compressed sizes below it are stored compressed: zsmalloc's huge class size.
    threshold: usize,
    /// Block counts.
    counters: Counters,
    /// The most memory the store may use, in bytes; 0 for no limit.
    mem_limit: Atomic<u64>,
}

impl Store {
    /// Creates a store of `blocks` zeroed blocks that compresses with `algorithm`; `name`
    /// names its memory pool (`foxramdiskN` for a device). May sleep.
    pub(crate) fn new(name: &CStr, blocks: usize, algorithm: Algorithm) -> Result<Self> {
        let table = Table::new(blocks)?;
        let pool = ZsPool::new(name)?;
        let threshold = pool.huge_class_size().min(BLOCK_SIZE);
        let store = Self {
            table,
            entry_lock: KBox::pin_init(
                LockdepMap::new(
                    c"foxramdisk->table[index].lock",
                    kernel::static_lock_class!(),
                ),
                GFP_KERNEL,
            )?,
            table_closed: Atomic::new(false),
            pool,
            compressor: Compressor::new(algorithm)?,
            threshold,
            counters: Counters::new(),
            mem_limit: Atomic::new(0),
        };
        store
            .counters
            .mem_used_max
            .store(store.mem_used_total(), Relaxed);
        Ok(store)
    }

    /// The number of blocks.
    pub(crate) fn blocks(&self) -> usize {
        self.table.len()
    }

    /// The algorithm new writes are compressed with.
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.compressor.algorithm()
    }

    /// Makes new writes use `algorithm`; stored blocks keep theirs and stay readable.
    /// May sleep.
    pub(crate) fn set_algorithm(&self, algorithm: Algorithm) -> Result {
        self.compressor.set_algorithm(algorithm)
    }

    /// The memory limit in bytes, 0 for none.
    pub(crate) fn mem_limit(&self) -> u64 {
        self.mem_limit.load(Relaxed)
    }

    /// Sets the memory limit in bytes, 0 for none. Stored data stays readable whatever the
    /// limit; writes that need memory beyond it fail.
    pub(crate) fn set_mem_limit(&self, bytes: u64) {
        self.mem_limit.store(bytes, Relaxed);
    }

    /// Whether `bytes` more would go over the memory limit.
    fn over_limit(&self, bytes: usize) -> bool {
        let limit = self.mem_limit();
        limit != 0 && self.mem_used_total() + bytes as u64 > limit
    }

    /// Records the memory in use as the maximum if it is one.
    fn note_mem_used(&self) {
        let used = self.mem_used_total();
        let max = &self.counters.mem_used_max;
        let mut seen = max.load(Relaxed);
        while used > seen {
            match max.cmpxchg(seen, used, Relaxed) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
    }

    /// Resizes the store to the spare table's number of blocks; blocks beyond the new end
    /// must be zeroed (`EBUSY` otherwise, nothing changed). Blocks keep their data.
    ///
    /// [`Store::slot_free`] may run meanwhile: the table is closed to it first. May sleep.
    ///
    /// # Safety
    ///
    /// Nothing else may use the store's blocks during the call: no [`Store::read_block`],
    /// [`Store::write_block`] or [`Store::discard`] runs meanwhile (for a disk, its
    /// queue is frozen), nor another `resize` or [`Store::reset`].
    pub(crate) unsafe fn resize(&self, spare: SpareTable) -> Result {
        let _closed = self.close_table();
        // SAFETY: nothing else uses the table: the I/O by the safety requirements, and
        // `slot_free` because the table is closed to it.
        let mut table = unsafe { self.table.exclusive() };
        let blocks = spare.0.len();
        // The blocks past the new end, in the chunks that hold them, must be zeroed.
        table.try_for_each_chunk(|first, chunk| {
            let skip = blocks.saturating_sub(first).min(CHUNK_ENTRIES);
            match chunk[skip..]
                .iter_mut()
                .position(|e| Meta(e.meta.get_mut()).state() != State::Zeroed)
            {
                Some(i) => {
                    pr_warn!(
                        "cannot shrink to {blocks} blocks: block {} holds data\n",
                        first + skip + i
                    );
                    Err(EBUSY)
                }
                None => Ok(()),
            }
        })?;
        // The chunks dropped past the new end hold zeroed entries only (checked above),
        // which own nothing.
        table.resize(spare.0);
        Ok(())
    }

    /// Frees the table chunks whose blocks are all zeroed, as after a discard or a swap's
    /// slot frees; returns how many. [`Store::slot_free`] may run meanwhile, as for
    /// [`Store::resize`]. May sleep.
    ///
    /// # Safety
    ///
    /// As for [`Store::resize`]: nothing else may use the store's blocks during the call.
    pub(crate) unsafe fn trim_table(&self) -> usize {
        let _closed = self.close_table();
        // SAFETY: nothing else uses the table: the I/O by the safety requirements, and
        // `slot_free` because the table is closed to it.
        let mut table = unsafe { self.table.exclusive() };
        // A chunk whose entries are all zeroed owns nothing.
        table.free_chunks_where(|chunk| {
            chunk
                .iter_mut()
                .all(|e| Meta(e.meta.get_mut()).state() == State::Zeroed)
        })
    }

    /// Frees every block: all become zeroed and the counters restart. Follow with
    /// [`Store::drop_unused_codecs`] once the queue is unfrozen.
    ///
    /// [`Store::slot_free`] may run meanwhile, as for [`Store::resize`]. May sleep.
    ///
    /// # Safety
    ///
    /// As for [`Store::resize`]: nothing else may use the store's blocks during the call.
    pub(crate) unsafe fn reset(&self) {
        let _closed = self.close_table();
        // SAFETY: nothing else uses the table: the I/O by the safety requirements, and
        // `slot_free` because the table is closed to it.
        unsafe { self.table.exclusive() }.clear(|entry| Self::free_entry(&self.pool, entry));
        let counters = &self.counters;
        for counter in [
            &counters.raw_blocks,
            &counters.same_blocks,
            &counters.compressed_blocks,
            &counters.compressed_bytes,
            &counters.raw_writes,
        ] {
            counter.store(0, Relaxed);
        }
        counters.mem_used_max.store(self.mem_used_total(), Relaxed);
    }

    /// The compressed size from which a block is stored raw: zsmalloc's huge class size,
    /// as in zram (at most a block).
    pub(crate) fn threshold(&self) -> usize {
        self.threshold
    }

    /// Whether a block that compressed to `len` bytes is stored compressed.
    fn keeps_compressed(&self, len: usize) -> bool {
        len < self.threshold
    }

    /// Takes the compression context of the current CPU. May sleep.
    pub(crate) fn context(&self) -> Result<MutexGuard<'_, Context>> {
        self.compressor.get()
    }

    /// Frees the codecs of algorithms other than the current one. Only right after
    /// [`Store::reset`] (no stored block may use them), and never with the queue frozen.
    /// May sleep.
    pub(crate) fn drop_unused_codecs(&self) {
        self.compressor.retain_only_current();
    }

    /// The entry of block `index` for a write, allocating its table chunk if needed (which
    /// counts against the memory limit like an object); `ERANGE` past the end. May sleep.
    fn entry_for_write(&self, index: usize) -> Result<&Entry> {
        self.table.get_or_alloc(index, || {
            if self.over_limit(size_of::<Chunk>()) {
                return Err(ENOSPC);
            }
            alloc_chunk()
        })
    }

    /// Frees the object of `entry`, which is going away with its chunk.
    fn free_entry(pool: &ZsPool, entry: &mut Entry) {
        let meta = Meta(entry.meta.get_mut());
        // SAFETY: the entry owns its object, if any (type invariant), and is not used after
        // this.
        unsafe { Self::free_object(pool, meta, entry.handle.load(Relaxed)) };
    }

    /// Reads block `index` into `dst`, which must be one block long (`EINVAL` otherwise).
    /// A zeroed block fills it with zeros. May sleep (the entry lock).
    ///
    /// A compressed block is decompressed straight from its object into `dst`, with the
    /// entry locked so that no writer frees the object meanwhile.
    pub(crate) fn read_block(
        &self,
        codecs: &mut Codecs,
        index: usize,
        dst: &mut RawBuf<'_>,
    ) -> Result {
        if dst.len() != BLOCK_SIZE {
            return Err(EINVAL);
        }
        let Some(entry) = self.table.get(index)? else {
            dst.zero();
            return Ok(());
        };
        let guard = entry.meta.lock(&self.entry_lock);
        let meta = Meta(guard.get());
        let handle = entry.handle.load(Relaxed);
        match meta.state() {
            State::Zeroed => {
                drop(guard);
                dst.zero();
                Ok(())
            }
            State::Same => {
                drop(guard);
                dst.fill_words(handle)
            }
            State::Raw if Self::is_page(meta) => {
                // SAFETY: by the invariant of `Entry` the handle is an owned page; the entry
                // lock keeps it from being freed or written.
                unsafe { PageBox::read_raw(handle, dst) }
            }
            State::Raw => {
                // SAFETY: by the invariant of `Entry` a raw block's handle is a live object
                // of `BLOCK_SIZE` bytes; the entry lock keeps it from being freed or written.
                unsafe {
                    self.pool
                        .read_with(handle, BLOCK_SIZE, &mut codecs.compressed, |src| {
                            dst.copy_from_slice(src)
                        })
                }?
            }
            State::Compressed => {
                let algorithm = meta.algorithm().map_err(|_| {
                    pr_err_once!("block {index}: no algorithm recorded\n");
                    EIO
                })?;
                let (codec, local_copy) = codecs.decompressor(algorithm)?;
                // SAFETY: a compressed block's handle is a live object of `meta.size()`
                // bytes (invariant of `Entry`); the entry lock keeps it from being freed or
                // written.
                let decompressed = unsafe {
                    self.pool.read_with(handle, meta.size(), local_copy, |src| {
                        codec.decompress(src, dst)
                    })
                };
                drop(guard);
                match decompressed {
                    Ok(Ok(BLOCK_SIZE)) => Ok(()),
                    other => {
                        pr_err_once!("block {index}: decompression failed ({other:?})\n");
                        Err(EIO)
                    }
                }
            }
        }
    }

    /// Stores `src`, one block long (`EINVAL` otherwise), as block `index`: zeroed if all
    /// zeros, else compressed if that saves memory, else raw. May sleep (allocation).
    ///
    /// `src` is compressed where it is. Page cache pages stay stable while under write; a
    /// user buffer rewritten during its own direct-I/O write leaves the block undefined, as
    /// with zram: some mix of old and new data, or, with algorithms whose output then no
    /// longer decodes, a block that reads as `EIO` until it is written again.
    pub(crate) fn write_block(
        &self,
        codecs: &mut Codecs,
        index: usize,
        src: &RawBuf<'_>,
    ) -> Result {
        if src.len() != BLOCK_SIZE {
            return Err(EINVAL);
        }
        match src.same_filled() {
            Some(0) => return self.discard(index),
            Some(word) => {
                let entry = self.entry_for_write(index)?;
                let meta = Meta::stored(State::Same, Algorithm::NoComp, 0);
                // INVARIANT: a same-filled entry's handle is its word.
                self.set_without_object(entry, meta, word);
                return Ok(());
            }
            None => {}
        }
        let entry = self.entry_for_write(index)?;
        let algorithm = self.algorithm();
        let compressed;
        let compressed_len = codecs.compress(algorithm, src).inspect_err(|_| {
            pr_err_once!("block {index}: no codec of {algorithm}\n");
        })?;
        let (meta, data) = match compressed_len {
            Some(len) if self.keeps_compressed(len) => {
                compressed = RawBuf::from(codecs.compressed.get_mut(..len).ok_or(EIO)?);
                (Meta::stored(State::Compressed, algorithm, len), &compressed)
            }
            _ => (Meta::stored(State::Raw, algorithm, BLOCK_SIZE), src),
        };
        // An overwrite whose data fits the block's object (same size class, or a page over
        // a page) reuses it: no allocation, no free, and the pool's layout stays as it is.
        let mut guard = entry.meta.lock(&self.entry_lock);
        let old = Meta(guard.get());
        if self.reusable(old, meta) {
            let handle = entry.handle.load(Relaxed);
            // SAFETY: the entry owns `handle` (type invariant), which can take the data
            // (checked above); the entry lock keeps readers out.
            unsafe { self.write_object(old, handle, data) }?;
            // INVARIANT: the object can hold `meta.size()` bytes, checked above.
            guard.replace(meta.0);
            drop(guard);
            self.counters.account(old, false);
            self.counters.account(meta, true);
            self.count_raw_write(meta);
            return Ok(());
        }
        drop(guard);

        // A new object, allocated with the context held: it is a mutex, so the allocation
        // may sleep in reclaim.
        if self.over_limit(Self::object_bytes(meta)) {
            return Err(ENOSPC);
        }
        let handle = self.alloc_object(meta, data)?;
        self.note_mem_used();

        let mut guard = entry.meta.lock(&self.entry_lock);
        let old_handle = entry.handle.load(Relaxed);
        entry.handle.store(handle, Relaxed);
        // INVARIANT: the entry now owns `handle`, an object for `meta`, and gives up the
        // old object, freed below.
        let old = Meta(guard.replace(meta.0));
        drop(guard);

        self.counters.account(meta, true);
        self.count_raw_write(meta);
        self.release(old, old_handle);
        Ok(())
    }

    /// Counts a block written raw (`huge_pages_since` of `mm_stat`).
    fn count_raw_write(&self, meta: Meta) {
        if meta.state() == State::Raw {
            self.counters.raw_writes.fetch_add(1, Relaxed);
        }
    }

    /// Closes the table to [`Store::slot_free`] until the returned value is dropped: once
    /// this returns, no `slot_free` uses the table, and those that start meanwhile leave it
    /// alone. May sleep (an RCU grace period).
    fn close_table(&self) -> TableClosed<'_> {
        self.table_closed.store(true, Relaxed);
        // Every `slot_free` that may have seen the table open runs inside an RCU read-side
        // critical section: after a grace period, all of them have ended, and the ones
        // that start later see it closed.
        rcu::synchronize_rcu();
        TableClosed { store: self }
    }

    /// Frees the memory of the blocks of swap slot `slot`, which swap no longer uses (the
    /// disk's `swap_slot_free_notify`): they become zeroed, as after a discard. Never
    /// sleeps: swap calls it under a spin lock. `EBUSY`, and the blocks stay as they are,
    /// if one of their entries is locked by I/O or the table is being changed (zram's
    /// `miss_free`); `ERANGE` for a slot beyond the end.
    pub(crate) fn slot_free(&self, slot: usize) -> Result {
        const BLOCKS_PER_SLOT: usize = bindings::PAGE_SIZE / BLOCK_SIZE;
        let first = slot.checked_mul(BLOCKS_PER_SLOT).ok_or(EIO)?;
        let _rcu = rcu::read_lock();
        // Acquire: pairs with the release that reopens the table, so that a changed table
        // is seen whole.
        if self.table_closed.load(Acquire) {
            return Err(EBUSY);
        }
        for index in first..first + BLOCKS_PER_SLOT {
            let Some(entry) = self.table.get(index)? else {
                continue;
            };
            let mut guard = entry.meta.try_lock(&self.entry_lock).ok_or(EBUSY)?;
            let old_handle = entry.handle.load(Relaxed);
            entry.handle.store(0, Relaxed);
            // INVARIANT: a zeroed entry owns no object; the old one is freed below.
            let old = Meta(guard.replace(Meta::ZEROED.0));
            drop(guard);
            self.release(old, old_handle);
        }
        Ok(())
    }

    /// Makes block `index` zeroed and frees its memory.
    pub(crate) fn discard(&self, index: usize) -> Result {
        if let Some(entry) = self.table.get(index)? {
            self.set_without_object(entry, Meta::ZEROED, 0);
        }
        Ok(())
    }

    /// Puts `entry` in state `meta`, one that owns no object (zeroed or same-filled), with
    /// `word` as its handle, and frees the object it had.
    fn set_without_object(&self, entry: &Entry, meta: Meta, word: usize) {
        let mut guard = entry.meta.lock(&self.entry_lock);
        let old_handle = entry.handle.load(Relaxed);
        entry.handle.store(word, Relaxed);
        // INVARIANT: the new state owns no object; the old one is freed below.
        let old = Meta(guard.replace(meta.0));
        drop(guard);
        self.counters.account(meta, true);
        self.release(old, old_handle);
    }

    /// Frees the object of a block that left state `old`, and accounts for it.
    fn release(&self, old: Meta, handle: usize) {
        self.counters.account(old, false);
        // SAFETY: the entry owned `handle` while in state `old` and no longer refers to it;
        // nobody else does.
        unsafe { Self::free_object(&self.pool, old, handle) };
    }

    /// Blocks stored raw.
    pub(crate) fn raw_blocks(&self) -> u64 {
        self.counters.raw_blocks.load(Relaxed)
    }

    /// Blocks stored compressed.
    pub(crate) fn compressed_blocks(&self) -> u64 {
        self.counters.compressed_blocks.load(Relaxed)
    }

    /// Same-filled blocks.
    pub(crate) fn same_blocks(&self) -> u64 {
        self.counters.same_blocks.load(Relaxed)
    }

    /// Zeroed blocks.
    pub(crate) fn zeroed_blocks(&self) -> u64 {
        (self.blocks() as u64)
            .saturating_sub(self.raw_blocks() + self.compressed_blocks() + self.same_blocks())
    }

    /// The compressed size of the compressed blocks, in bytes.
    pub(crate) fn compressed_bytes(&self) -> u64 {
        self.counters.compressed_bytes.load(Relaxed)
    }

    /// The data the device holds, in bytes, before compression.
    pub(crate) fn stored_bytes(&self) -> u64 {
        (self.raw_blocks() + self.compressed_blocks() + self.same_blocks()) * BLOCK_SIZE as u64
    }

    /// Blocks stored raw since the store was created or reset.
    pub(crate) fn raw_writes(&self) -> u64 {
        self.counters.raw_writes.load(Relaxed)
    }

    /// The highest [`Store::mem_used_total`] since the store was created or reset.
    pub(crate) fn mem_used_max(&self) -> u64 {
        self.counters.mem_used_max.load(Relaxed)
    }

    /// Restarts [`Store::mem_used_max`] from the memory in use now.
    pub(crate) fn reset_mem_used_max(&self) {
        self.counters
            .mem_used_max
            .store(self.mem_used_total(), Relaxed);
    }

    /// Pages freed by compaction of the pool so far.
    pub(crate) fn pages_compacted(&self) -> u64 {
        self.pool.pages_compacted()
    }

    /// Compacts the pool; returns the pages freed. May sleep.
    pub(crate) fn compact(&self) -> u64 {
        self.pool.compact()
    }

    /// Every byte the store holds: zsmalloc pages (objects and their fragmentation), raw
    /// block pages, the block table (the chunks written to) and the compression buffers.
    pub(crate) fn mem_used_total(&self) -> u64 {
        let raw_pages = if RAW_PAGES { self.raw_blocks() } else { 0 };
        (self.pool.total_pages() + raw_pages) * bindings::PAGE_SIZE as u64
            + self.table.bytes() as u64
            + self.compressor.buffer_bytes()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let pool = &self.pool;
        self.table
            .get_mut()
            .clear(|entry| Self::free_entry(pool, entry));
    }
}

#[kunit_tests(foxramdisk_store)]
mod tests {
    use super::*;

    /// A store for a test, with a pool of its own name.
    fn test_store(blocks: usize, algorithm: Algorithm) -> Result<Store> {
        Store::new(c"foxramdisk-kunit", blocks, algorithm)
    }

    /// Fills `buf` with incompressible bytes (xorshift64, seeded).
    fn fill_random(buf: &mut [u8], mut seed: u64) {
        for b in buf.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
    }

    /// Fills `buf` with repetitive text.
    fn fill_text(buf: &mut [u8]) {
        let text = b"foxramdisk stores this sentence again and again; it compresses well. ";
        for (i, b) in buf.iter_mut().enumerate() {
            *b = text[i % text.len()];
        }
    }

    /// The state of block `index` (the store has no such query outside tests).
    fn state_of(store: &Store, index: usize) -> Result<State> {
        Ok(match store.table.get(index)? {
            Some(entry) => Meta(entry.meta.lock(&store.entry_lock).get()).state(),
            None => State::Zeroed,
        })
    }

    /// Writes `data` to block `index`.
    fn write(store: &Store, index: usize, data: &mut [u8]) -> Result {
        let mut ctx = store.context()?;
        store.write_block(&mut ctx.codecs, index, &RawBuf::from(data))
    }

    /// Reads block `index` into `out`.
    fn read(store: &Store, index: usize, out: &mut [u8]) -> Result {
        let mut ctx = store.context()?;
        store.read_block(&mut ctx.codecs, index, &mut RawBuf::from(out))
    }

    /// Writes `data` to block `index`, reads it back (over other bytes) and checks it.
    fn round_trip(store: &Store, index: usize, data: &mut [u8]) -> Result {
        write(store, index, data)?;
        let mut back = KVec::from_elem(0xAAu8, BLOCK_SIZE, GFP_KERNEL)?;
        read(store, index, &mut back)?;
        assert!(back[..] == data[..]);
        Ok(())
    }

    #[test]
    fn new_store_is_all_zeroed() -> Result {
        let store = test_store(8, Algorithm::Lz4)?;
        assert_eq!(store.blocks(), 8);
        assert_eq!(store.zeroed_blocks(), 8);
        assert_eq!(store.stored_bytes(), 0);
        let mut out = KVec::from_elem(0xAAu8, BLOCK_SIZE, GFP_KERNEL)?;
        for i in 0..8 {
            read(&store, i, &mut out)?;
            assert!(out.iter().all(|&b| b == 0));
            assert_eq!(state_of(&store, i)?, State::Zeroed);
        }
        // Buffers must be one block long.
        assert_eq!(read(&store, 0, &mut out[1..]), Err(EINVAL));
        assert_eq!(write(&store, 0, &mut out[1..]), Err(EINVAL));
        Ok(())
    }

    #[test]
    fn every_algorithm_round_trips() -> Result {
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut zero = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 0x1234_5678_9abc_def1);
        fill_text(&mut text);
        for algorithm in Algorithm::ALL {
            // The lab kernel has every algorithm: a missing one is a configuration bug.
            assert!(algorithm.available());
            let store = test_store(4, algorithm)?;
            round_trip(&store, 0, &mut random)?;
            round_trip(&store, 1, &mut text)?;
            round_trip(&store, 2, &mut zero)?;
            assert_eq!(state_of(&store, 0)?, State::Raw);
            let text_state = if algorithm == Algorithm::NoComp {
                State::Raw
            } else {
                State::Compressed
            };
            assert_eq!(state_of(&store, 1)?, text_state);
            assert_eq!(state_of(&store, 2)?, State::Zeroed);
            // Overwrite compressed with random and back: states follow the data.
            round_trip(&store, 1, &mut random)?;
            assert_eq!(state_of(&store, 1)?, State::Raw);
            round_trip(&store, 1, &mut text)?;
            assert_eq!(state_of(&store, 1)?, text_state);
        }
        Ok(())
    }

    #[test]
    fn threshold_is_honoured() -> Result {
        let store = test_store(1, Algorithm::Lz4)?;
        let threshold = store.threshold();
        assert!(threshold < BLOCK_SIZE);
        // zsmalloc's rule: an object of the huge class size takes a page of its own.
        assert!(store.keeps_compressed(threshold - 1));
        assert!(!store.keeps_compressed(threshold));
        // A block that is half random compresses to about half: stored compressed.
        let mut data = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_text(&mut data);
        fill_random(&mut data[..BLOCK_SIZE / 2], 7);
        round_trip(&store, 0, &mut data)?;
        assert_eq!(state_of(&store, 0)?, State::Compressed);
        assert!((store.compressed_bytes() as usize) < threshold);
        // Mostly random: compresses to more than the threshold, stored raw.
        fill_text(&mut data);
        fill_random(&mut data[..BLOCK_SIZE - 64], 9);
        round_trip(&store, 0, &mut data)?;
        assert_eq!(state_of(&store, 0)?, State::Raw);
        assert_eq!(store.compressed_bytes(), 0);
        Ok(())
    }

    #[test]
    fn counters_add_up_and_discard_frees_all() -> Result {
        let store = test_store(16, Algorithm::Zstd)?;
        let empty = store.mem_used_total();
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 3);
        fill_text(&mut text);
        for i in 0..4 {
            round_trip(&store, i, &mut random)?;
        }
        for i in 4..10 {
            round_trip(&store, i, &mut text)?;
        }
        assert_eq!(store.raw_blocks(), 4);
        assert_eq!(store.compressed_blocks(), 6);
        assert_eq!(store.zeroed_blocks(), 6);
        assert_eq!(store.stored_bytes(), 10 * BLOCK_SIZE as u64);
        assert!(store.compressed_bytes() > 0);
        assert!(store.compressed_bytes() < 6 * BLOCK_SIZE as u64 / 4);
        assert!(store.mem_used_total() > empty);
        for i in 0..16 {
            store.discard(i)?;
        }
        assert_eq!(store.zeroed_blocks(), 16);
        assert_eq!(store.compressed_bytes(), 0);
        // Every object is freed; the table chunk written to stays until a reset.
        assert_eq!(store.mem_used_total(), empty + size_of::<Chunk>() as u64);
        Ok(())
    }

    #[test]
    fn same_filled_blocks_hold_no_memory() -> Result {
        let store = test_store(4, Algorithm::Lz4)?;
        let mut same = KVec::from_elem(0x5au8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 31);
        round_trip(&store, 0, &mut same)?;
        let one = store.mem_used_total();
        round_trip(&store, 1, &mut same)?;
        assert_eq!(state_of(&store, 1)?, State::Same);
        assert_eq!(store.same_blocks(), 2);
        assert_eq!(store.stored_bytes(), 2 * BLOCK_SIZE as u64);
        assert_eq!(store.zeroed_blocks(), 2);
        assert_eq!(store.mem_used_total(), one);
        // Data over a same-filled block, and a same-filled block over data.
        round_trip(&store, 1, &mut random)?;
        assert_eq!(store.same_blocks(), 1);
        assert_eq!(store.raw_blocks(), 1);
        assert!(store.mem_used_total() > one);
        same[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        for i in 1..BLOCK_SIZE / 8 {
            same.copy_within(..8, i * 8);
        }
        round_trip(&store, 1, &mut same)?;
        assert_eq!(state_of(&store, 1)?, State::Same);
        assert_eq!(store.raw_blocks(), 0);
        assert_eq!(store.mem_used_total(), one);
        // A same-filled block is data: it cannot be cut off, and a discard zeroes it.
        // SAFETY: nothing else uses this store (the test owns it).
        assert_eq!(unsafe { store.resize(SpareTable::new(1)?) }, Err(EBUSY));
        store.discard(1)?;
        assert_eq!(state_of(&store, 1)?, State::Zeroed);
        assert_eq!(store.same_blocks(), 1);
        Ok(())
    }

    #[test]
    fn table_chunks_are_allocated_on_first_write_only() -> Result {
        let blocks = 4 * CHUNK_ENTRIES + 1;
        let store = test_store(blocks, Algorithm::Lz4)?;
        let empty = store.mem_used_total();
        let chunk = size_of::<Chunk>() as u64;
        let mut data = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        // Reads, zero writes and discards of unwritten blocks allocate nothing.
        read(&store, 2 * CHUNK_ENTRIES, &mut data)?;
        assert!(data.iter().all(|&b| b == 0));
        write(&store, 2 * CHUNK_ENTRIES, &mut data)?;
        store.discard(3 * CHUNK_ENTRIES)?;
        assert_eq!(store.mem_used_total(), empty);
        // The first write to a chunk allocates it; a second write to the chunk does not.
        fill_random(&mut data, 21);
        let table = store.table.bytes() as u64;
        round_trip(&store, 2 * CHUNK_ENTRIES + 1, &mut data)?;
        assert_eq!(store.table.bytes() as u64, table + chunk);
        round_trip(&store, 3 * CHUNK_ENTRIES - 1, &mut data)?;
        assert_eq!(store.table.bytes() as u64, table + chunk);
        // The last block, alone in its chunk, and the blocks around it stay zeroed.
        round_trip(&store, blocks - 1, &mut data)?;
        assert_eq!(state_of(&store, 2 * CHUNK_ENTRIES)?, State::Zeroed);
        assert_eq!(state_of(&store, blocks - 2)?, State::Zeroed);
        assert_eq!(store.table.allocated(), 2);
        // Shrinking frees the chunks past the new end once they hold no data.
        store.discard(blocks - 1)?;
        // SAFETY: nothing else uses this store (the test owns it).
        unsafe { store.resize(SpareTable::new(3 * CHUNK_ENTRIES)?) }?;
        assert_eq!(store.table.allocated(), 1);
        read(&store, 3 * CHUNK_ENTRIES - 1, &mut data)?;
        // A reset frees the chunks, and the memory is what a new store of that size takes.
        // SAFETY: as above.
        unsafe { store.reset() };
        assert_eq!(store.table.allocated(), 0);
        assert_eq!(
            store.mem_used_total(),
            test_store(3 * CHUNK_ENTRIES, Algorithm::Lz4)?.mem_used_total()
        );
        Ok(())
    }

    #[test]
    fn overwrites_reuse_the_object_of_the_same_size_class() -> Result {
        let store = test_store(2, Algorithm::Lz4)?;
        let mut a = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut b = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut a, 11);
        fill_random(&mut b, 12);
        round_trip(&store, 0, &mut a)?;
        let after_first = store.mem_used_total();
        // Raw over raw: same class, same memory, new data.
        round_trip(&store, 0, &mut b)?;
        assert_eq!(store.mem_used_total(), after_first);
        assert_eq!(store.raw_blocks(), 1);
        // Text over raw: another class; the raw object is freed.
        fill_text(&mut a);
        round_trip(&store, 0, &mut a)?;
        assert_eq!(state_of(&store, 0)?, State::Compressed);
        assert_eq!(store.raw_blocks(), 0);
        // The same text again: same size, same class, counters unchanged.
        let bytes = store.compressed_bytes();
        round_trip(&store, 0, &mut a)?;
        assert_eq!(store.compressed_bytes(), bytes);
        assert_eq!(store.compressed_blocks(), 1);
        Ok(())
    }

    #[test]
    fn out_of_range_is_rejected() -> Result {
        let store = test_store(2, Algorithm::NoComp)?;
        let mut data = KVec::from_elem(1u8, BLOCK_SIZE, GFP_KERNEL)?;
        assert_eq!(read(&store, 2, &mut data), Err(ERANGE));
        assert_eq!(write(&store, 2, &mut data), Err(ERANGE));
        assert_eq!(store.discard(usize::MAX), Err(ERANGE));
        Ok(())
    }

    #[test]
    fn algorithm_changes_keep_old_blocks_readable() -> Result {
        let store = test_store(8, Algorithm::Lz4)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_text(&mut text);
        let mut written = KVec::new();
        for (index, algorithm) in Algorithm::ALL.into_iter().enumerate() {
            store.set_algorithm(algorithm)?;
            assert_eq!(store.algorithm(), algorithm);
            // Each block has different text, written with the algorithm of its turn.
            text[0] = index as u8;
            round_trip(&store, index, &mut text)?;
            written.push(text[0], GFP_KERNEL)?;
        }
        // Every block, each with another algorithm, reads back after the last change.
        let mut out = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        for (index, &first) in written.iter().enumerate() {
            read(&store, index, &mut out)?;
            assert_eq!(out[0], first);
            assert!(out[1..] == text[1..]);
        }
        Ok(())
    }

    #[test]
    fn resize_keeps_data_and_refuses_to_cut_it() -> Result {
        let store = test_store(4, Algorithm::Zstd)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_text(&mut text);
        round_trip(&store, 3, &mut text)?;
        // SAFETY: nothing else uses this store (the test owns it).
        unsafe { store.resize(SpareTable::new(16)?) }?;
        assert_eq!(store.blocks(), 16);
        assert_eq!(store.zeroed_blocks(), 15);
        round_trip(&store, 3, &mut text)?;
        round_trip(&store, 15, &mut text)?;
        // Block 15 holds data: shrinking to 8 is refused and changes nothing.
        // SAFETY: as above.
        assert_eq!(unsafe { store.resize(SpareTable::new(8)?) }, Err(EBUSY));
        assert_eq!(store.blocks(), 16);
        store.discard(15)?;
        // SAFETY: as above.
        unsafe { store.resize(SpareTable::new(4)?) }?;
        assert_eq!(store.blocks(), 4);
        round_trip(&store, 3, &mut text)?;
        assert_eq!(read(&store, 4, &mut text), Err(ERANGE));
        Ok(())
    }

    #[test]
    fn reset_frees_everything() -> Result {
        let store = test_store(8, Algorithm::Lz4)?;
        let empty = store.mem_used_total();
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 5);
        for i in 0..8 {
            round_trip(&store, i, &mut random)?;
        }
        store.set_algorithm(Algorithm::Deflate)?;
        assert_eq!(store.raw_writes(), 8);
        assert!(store.mem_used_max() > empty);
        // SAFETY: nothing else uses this store (the test owns it).
        unsafe { store.reset() };
        store.drop_unused_codecs();
        assert_eq!(store.zeroed_blocks(), 8);
        assert_eq!(store.raw_writes(), 0);
        assert_eq!(store.mem_used_total(), empty);
        assert_eq!(store.mem_used_max(), empty);
        assert_eq!(store.algorithm(), Algorithm::Deflate);
        round_trip(&store, 0, &mut random)?;
        Ok(())
    }

    #[test]
    fn mem_limit_refuses_new_memory_only() -> Result {
        let store = test_store(8, Algorithm::Lz4)?;
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 6);
        round_trip(&store, 0, &mut random)?;
        store.set_mem_limit(store.mem_used_total());
        // A new block needs a new object: refused.
        assert_eq!(write(&store, 1, &mut random), Err(ENOSPC));
        // Overwriting a block in its own object needs nothing: allowed.
        random[0] ^= 1;
        round_trip(&store, 0, &mut random)?;
        // Lifting the limit lets writes through.
        store.set_mem_limit(0);
        round_trip(&store, 1, &mut random)?;
        Ok(())
    }

    #[test]
    fn slot_free_frees_blocks_and_misses_busy_ones() -> Result {
        // One block per swap slot where a page is a block, as in the lab.
        if bindings::PAGE_SIZE != BLOCK_SIZE {
            return Ok(());
        }
        let store = test_store(8, Algorithm::Lz4)?;
        let empty = store.mem_used_total();
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut same = KVec::from_elem(0x5au8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 41);
        fill_text(&mut text);
        round_trip(&store, 0, &mut random)?;
        round_trip(&store, 1, &mut text)?;
        round_trip(&store, 2, &mut same)?;
        for slot in 0..3 {
            store.slot_free(slot)?;
            assert_eq!(state_of(&store, slot)?, State::Zeroed);
        }
        assert_eq!(store.stored_bytes(), 0);
        assert_eq!(store.compressed_bytes(), 0);
        assert_eq!(store.mem_used_total(), empty + size_of::<Chunk>() as u64);
        // A slot never written, and one past the end.
        store.slot_free(5)?;
        assert_eq!(store.slot_free(8), Err(ERANGE));
        // A busy entry is a miss: the block stays as it is.
        round_trip(&store, 3, &mut text)?;
        {
            let entry = store.table.get(3)?.ok_or(EIO)?;
            let _held = entry.meta.lock(&store.entry_lock);
            assert_eq!(store.slot_free(3), Err(EBUSY));
        }
        assert_eq!(state_of(&store, 3)?, State::Compressed);
        // So is a table closed for a resize or reset.
        {
            let _closed = store.close_table();
            assert_eq!(store.slot_free(3), Err(EBUSY));
        }
        assert_eq!(state_of(&store, 3)?, State::Compressed);
        store.slot_free(3)?;
        // With every block zeroed, the chunk goes too: the memory of a new store.
        // SAFETY: nothing else uses this store (the test owns it).
        assert_eq!(unsafe { store.trim_table() }, 1);
        assert_eq!(store.mem_used_total(), empty);
        round_trip(&store, 7, &mut text)?;
        // SAFETY: as above.
        assert_eq!(unsafe { store.trim_table() }, 0);
        Ok(())
    }

    #[test]
    fn meta_packing_round_trips() {
        for algorithm in Algorithm::ALL {
            for (state, size) in [
                (State::Compressed, 1),
                (State::Raw, BLOCK_SIZE),
                (State::Compressed, 3000),
            ] {
                let meta = Meta::stored(state, algorithm, size);
                assert_eq!(meta.0 & 1, 0);
                assert_eq!(meta.state(), state);
                assert_eq!(meta.algorithm(), Ok(algorithm));
                assert_eq!(meta.size(), size);
            }
        }
        assert_eq!(Meta::ZEROED.state(), State::Zeroed);
    }
}
