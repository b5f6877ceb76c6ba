// SPDX-License-Identifier: GPL-2.0

//! The storage engine: a table of block states over a zsmalloc pool.
//!
//! Each 4096-byte block is in one of four states:
//!
//! - **zeroed**: reads as zeros and holds no memory: never written, written with zeros,
//!   discarded or write-zeroed;
//! - **same-filled**: every machine word of its data is the same non-zero word, kept in
//!   the table slot instead of an object: no memory (zram's `same_pages`);
//! - **compressed**: its data, compressed, is a zsmalloc object;
//! - **raw**: its data did not compress below the threshold (or the algorithm is
//!   `nocomp`) and is stored as it is, in a page of its own (a zsmalloc object where a
//!   page is larger than a block).
//!
//! A block is stored compressed only when that saves memory: when the compressed size is
//! below zsmalloc's huge class size. Objects of that size or larger take a whole page in
//! zsmalloc, so compressing them would save nothing and cost a decompression on every
//! read (zram's rule: `comp_len >= huge_class_size` is stored as it is).
//!
//! The table is an [`ObjectTable`]: one slot per block, which owns the block's page or
//! object, keeps its state ([`entry::Meta`]) and frees what it held when it is replaced.
//!
//! The tiering controls have modules of their own: `writeback` (blocks written to the
//! backing store of `backing`, and read back from there) and `recompress`; `access` keeps
//! the access times that `idle` by age needs.
//!
//! # Locking
//!
//! The I/O path uses the table through [`Store::io`], which holds the table's per-CPU
//! read side for a whole request: a counter of the CPU, no shared cache line. Each slot has
//! its own lock, bit 0 of its word, so I/O to different blocks never contends and there is
//! no device-wide lock. It is a sleeping lock, as zram's slot lock: a waiter sleeps, the
//! holder may be preempted, and lockdep checks every slot lock of a table through one map.
//! The order is: table read side, then a compression context's mutex, then a slot lock. A
//! read that finds, with the slot locked, that its block needs the context it has not
//! taken yet only tries the context's mutex; if another task holds it, the read unlocks
//! the slot, waits for the mutex, and reads the slot again from the start. A
//! write holds the slot lock only to swap the slot's content, or to copy its data into the
//! block's own object when that object can take it; compression, allocation and freeing
//! happen outside it. A read holds it while it maps the object and decompresses (or
//! copies) it, so that no writer frees the object meanwhile, as zram does; a read of a
//! written-back block ([`StoreIo::read_block_waiting`], in a worker) holds it while the
//! block's unit is read from the backing store, with no context held, and takes the
//! context to decompress only after it unlocks the slot. Recompression
//! ([`Store::recompress`]) holds it while it decompresses, compresses and allocates the
//! new object, as zram's `recompress_slot()`.
//! [`Store::slot_free`] runs under swap's spin lock and only tries the read side and the
//! slot lock.
//!
//! Access times, once kept (see [`Store::mark_idle`]), are a table of their own with its
//! own per-CPU read side, taken after the block table's: for a moment by each read and
//! write before the slot lock (never while it is held), under a slot lock by `idle` with
//! an age, and only tried by a discard and a slot free. Its write side is taken by
//! resize (inside the block table's), and by reset and the trim after a discard (not while
//! the block table's is held), each under the store's control, which `idle` also takes.
//!
//! The index of `dedup`, once made, is a table of its own too: a write with `dedup` on
//! takes its read side after the context, and holds it while it locks a candidate's slot
//! and then its own block's, one at a time (`StoreIo::store_dedup`). Its write side is
//! taken by resize (inside the block table's), by reset and `dedup` 0 (not while the block
//! table's is held), and by the trim after a discard inside the block table's read side, as
//! a write takes them: none of them waits for a slot lock.
//!
//! [`Store::resize`], [`Store::reset`] and [`Store::trim_table`] change the table as a
//! whole: they take its write side, which waits for every reader to leave and keeps new
//! ones out, so they are safe whenever they run. Each takes the [`StoreControl`] of the
//! store, which the device keeps in the mutex that serialises its controls. The device
//! freezes its queue around the controls, so that no request waits for the table
//! meanwhile, but not around the trim that follows a discard ([`StoreIo::discard_range`]
//! counts the chunks it empties), which frees memory only. Slots freed meanwhile keep their blocks and count as misses. The statistics never read
//! the table, so they stay available meanwhile.
//!
//! # Memory limit
//!
//! With a limit set ([`Store::set_mem_limit`]), a write that would need new memory while
//! [`Store::mem_used_total`] plus the object exceeds the limit fails with `ENOSPC`; writes
//! that free memory or reuse their block's object still succeed. Concurrent writers may
//! overshoot the limit by about one object each.

mod access;
mod backing;
mod counters;
mod dedup_index;
mod entry;
mod object;
mod recompress;
mod writeback;

pub(crate) use backing::Backing;
pub(crate) use recompress::Recompression;
pub(crate) use writeback::Writeback;

use crate::{
    algorithm::Algorithm,
    compressor::{Codecs, Compressor, Context},
    ext::{
        object_table::{
            Content, Framed, ObjectTable, SlotGuard, SlotRef, SpareEntry, SpareSlots, TableRef,
            HEADER_BYTES, SLOTS_PER_CHUNK,
        },
        raw_buf::RawBuf,
    },
    geometry::BLOCK_SIZE,
};
use access::{AccessTimes, SpareTimes};
use backing::{Packer, Position, UNIT_SIZE};
use core::ops::{Deref, Range};
use counters::Counters;
use dedup_index::{DedupIndex, SpareIndex, BUCKET};
use entry::{same_from_slot, same_to_slot, Meta, State};
use kernel::{
    bindings,
    new_spinlock,
    pr_err_once,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, MutexGuard, SetOnce, SpinLock,
    }, //
};
use object::{Stored, RAW_PAGES};

/// The most secondary algorithms a store keeps for recompression, as zram's priorities 1
/// to 3.
pub(crate) const RECOMP_ALGORITHMS: usize = 3;

/// The right to change a store as a whole ([`Store::resize`], [`Store::reset`],
/// [`Store::trim_table`], [`Store::recompress`]), and the state of those controls: one
/// per store, made with it. A device keeps it in the mutex that serialises its controls,
/// so that holding that mutex is what these need.
pub(crate) struct StoreControl {
    /// The secondary algorithms for recompression, by priority from 1.
    recomp: [Option<Algorithm>; RECOMP_ALGORITHMS],
}

impl StoreControl {
    /// The secondary algorithm of `priority` (1 to [`RECOMP_ALGORITHMS`]), if one is set.
    pub(crate) fn recomp_algorithm(&self, priority: usize) -> Option<Algorithm> {
        let index = priority.checked_sub(1)?;
        self.recomp.get(index).copied().flatten()
    }

    /// Makes `algorithm` the secondary algorithm of `priority`; `EINVAL` for a priority
    /// out of 1 to [`RECOMP_ALGORITHMS`].
    pub(crate) fn set_recomp_algorithm(&mut self, priority: usize, algorithm: Algorithm) -> Result {
        let index = priority.checked_sub(1).ok_or(EINVAL)?;
        *self.recomp.get_mut(index).ok_or(EINVAL)? = Some(algorithm);
        Ok(())
    }

    /// The priority of the first secondary algorithm `algorithm` is set at.
    pub(crate) fn recomp_priority(&self, algorithm: Algorithm) -> Option<usize> {
        let index = self.recomp.iter().position(|&a| a == Some(algorithm))?;
        Some(index + 1)
    }

    /// Whether a block stored with `algorithm` counts as recompressed at `priority` or
    /// above: `algorithm` is the secondary algorithm of `priority` or of a higher one.
    fn recompressed_at(&self, priority: usize, algorithm: Algorithm) -> bool {
        let from = priority.saturating_sub(1);
        self.recomp
            .get(from..)
            .is_some_and(|higher| higher.contains(&Some(algorithm)))
    }
}

/// The block store of one device.
pub(crate) struct Store {
    /// One slot per block, over the pool of the stored objects.
    table: ObjectTable,
    /// The per-CPU contexts, with a codec for each algorithm the store has used.
    compressor: Compressor,
    /// Compressed sizes below it are stored compressed: zsmalloc's huge class size.
    threshold: usize,
    /// Block counts.
    counters: Counters,
    /// The most memory the store may use, in bytes; 0 for no limit.
    mem_limit: Atomic<u64>,
    /// Whether new writes share the object of a block that holds the same data.
    dedup: Atomic<bool>,
    /// The hash that finds candidates for sharing ([`RawBuf::xxh64_ends`] of 256-byte
    /// ends: the length and both ends of what is stored; the tests weaken it).
    hash: fn(&RawBuf<'_>) -> u64,
    /// Where written-back blocks go, if anywhere. Set and cleared only while no block is
    /// written back ([`Store::set_backing`]); the I/O path takes a reference to it only
    /// for a block written back.
    backing: Pin<KBox<SpinLock<Option<Arc<Backing>>>>>,
    /// Whether [`Store::writeback`] counts against `wb_limit`.
    wb_limit_enable: Atomic<bool>,
    /// How many more blocks [`Store::writeback`] may write while the limit is enabled.
    wb_limit: Atomic<u64>,
    /// When each block was last accessed, kept from the first [`Store::mark_idle`] by age
    /// on. Set under the store's control, which also serialises its resizes and resets.
    access: SetOnce<AccessTimes>,
    /// Where writes with deduplication on look for blocks that hold their data, made the
    /// first time it is switched on ([`Store::set_dedup`]), under the store's control.
    index: SetOnce<DedupIndex>,
}

/// What [`Store::resize`] needs, allocated before the store is changed
/// ([`Store::spare`]).
pub(crate) struct Spare {
    slots: SpareSlots,
    times: Option<SpareTimes>,
    index: Option<SpareIndex>,
}

impl Store {
    /// Creates a store of `blocks` zeroed blocks that compresses with `algorithm`, and its
    /// [`StoreControl`]; `name` names its memory pool (`foxramdiskN` for a device). May
    /// sleep.
    pub(crate) fn new(
        name: &CStr,
        blocks: usize,
        algorithm: Algorithm,
    ) -> Result<(Self, StoreControl)> {
        let table = ObjectTable::new(name, blocks)?;
        // An object holds its header too: one of the huge class size or more takes a page.
        let threshold = (table.pool().huge_class_size())
            .saturating_sub(HEADER_BYTES)
            .min(BLOCK_SIZE);
        let store = Self {
            table,
            compressor: Compressor::new(algorithm)?,
            threshold,
            counters: Counters::new(),
            mem_limit: Atomic::new(0),
            dedup: Atomic::new(false),
            hash: |data| data.xxh64_ends(256),
            backing: KBox::pin_init(new_spinlock!(None, "foxramdisk backing store"), GFP_KERNEL)?,
            wb_limit_enable: Atomic::new(false),
            wb_limit: Atomic::new(0),
            access: SetOnce::new(),
            index: SetOnce::new(),
        };
        store
            .counters
            .mem_used_max
            .store(store.mem_used_total(), Relaxed);
        Ok((
            store,
            StoreControl {
                recomp: [None; RECOMP_ALGORITHMS],
            },
        ))
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

    /// The level `algorithm` compresses at on this store; `None` for its default.
    pub(crate) fn level(&self, algorithm: Algorithm) -> Option<i32> {
        self.compressor.level(algorithm)
    }

    /// Makes `algorithm` compress at `level` (`None`: its default) from the next block on;
    /// stored blocks stay readable. `EINVAL` for a level it does not take. May sleep.
    pub(crate) fn set_level(
        &self,
        _control: &mut StoreControl,
        algorithm: Algorithm,
        level: Option<i32>,
    ) -> Result {
        self.compressor.set_level(algorithm, level)
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

    /// Whether new writes share stored data (deduplication).
    pub(crate) fn dedup(&self) -> bool {
        self.dedup.load(Relaxed)
    }

    /// Makes new writes share stored data, or not; stored blocks stay as they are. The
    /// first time it is switched on, makes the index that finds the data (half an 8-byte
    /// entry per block, allocated a page at a time as writes record their data): `ENOMEM`,
    /// with nothing changed, if its root cannot be allocated. Switched off, frees the
    /// index's pages (a write that started before may still record its entry). May sleep.
    pub(crate) fn set_dedup(&self, _control: &StoreControl, on: bool) -> Result {
        if on && self.index.as_ref().is_none() {
            // Under the control, as every other setter: this one sets it.
            self.index.populate(DedupIndex::new(self.blocks())?);
        }
        self.dedup.store(on, Relaxed);
        if let (false, Some(index)) = (on, self.index.as_ref()) {
            index.clear();
        }
        Ok(())
    }

    /// Whether `bytes` more would go over the memory limit.
    fn over_limit(&self, bytes: usize) -> bool {
        let limit = self.mem_limit();
        limit != 0 && self.mem_used_total() + bytes as u64 > limit
    }

    /// `ENOSPC` if `bytes` more would go over the memory limit.
    fn reserve(&self, bytes: usize) -> Result {
        if self.over_limit(bytes) {
            Err(ENOSPC)
        } else {
            Ok(())
        }
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

    /// Allocates what [`Store::resize`] to `blocks` blocks needs. May sleep.
    pub(crate) fn spare(&self, _control: &StoreControl, blocks: usize) -> Result<Spare> {
        Ok(Spare {
            slots: SpareSlots::new(blocks)?,
            times: match self.access.as_ref() {
                Some(_) => Some(SpareTimes::new(blocks)?),
                None => None,
            },
            index: match self.index.as_ref() {
                Some(_) => Some(SpareIndex::new(blocks)?),
                None => None,
            },
        })
    }

    /// Resizes the store to the spare's number of blocks; blocks beyond the new end must
    /// be zeroed (`EBUSY` otherwise, nothing changed). Blocks keep their data and access
    /// times. Waits for the requests using the table. May sleep.
    pub(crate) fn resize(&self, _control: &mut StoreControl, spare: Spare) -> Result {
        let blocks = spare.slots.len();
        let mut table = self.table.exclusive();
        if let Some(index) = table.first_used_from(blocks) {
            pr_warn!("cannot shrink to {blocks} blocks: block {index} holds data\n");
            return Err(EBUSY);
        }
        // The access times are kept only from a control on, which holds the control as
        // the caller does: the spare was made for them if they were kept then.
        if let (Some(times), Some(spare)) = (self.access.as_ref(), spare.times) {
            times.resize(spare);
        }
        // The same for the index, made only by a control.
        if let (Some(index), Some(spare)) = (self.index.as_ref(), spare.index) {
            index.resize(spare);
        }
        table.resize(spare.slots);
        Ok(())
    }

    /// Frees the table chunks whose blocks are all zeroed, as after a discard or a swap's
    /// slot frees, the pages of access times that hold none, and the index's entries of
    /// blocks that hold no page or object any more, with the pages they leave empty;
    /// returns how many table chunks. Waits for the requests using the table. May sleep.
    pub(crate) fn trim_table(&self, _control: &mut StoreControl) -> usize {
        if let Some(times) = self.access.as_ref() {
            times.trim();
        }
        let trimmed = self.table.exclusive().trim();
        self.trim_index();
        trimmed
    }

    /// Forgets the index's entries of blocks that hold no page or object any more, and
    /// frees the pages they leave empty, if there is an index. The caller holds the
    /// store's control. Waits for the writes using the index. May sleep.
    fn trim_index(&self) {
        if let Some(index) = self.index.as_ref() {
            // The index's write side inside the table's read side, as a write takes them.
            // A block is only peeked at, not locked: a block written meanwhile may lose its
            // entry, and is then only not found.
            let table = self.table.read();
            index.trim(|block| matches!(table.get(block), Ok(Some(slot)) if slot.may_hold_data()));
        }
    }

    /// Records an access of block `index`, if access times are kept. May sleep.
    #[inline]
    fn touch(&self, index: usize) {
        if let Some(times) = self.access.as_ref() {
            times.touch(index);
        }
    }

    /// Forgets the access time of block `index`, now zeroed, if access times are kept.
    /// Never sleeps.
    #[inline]
    fn forget(&self, index: usize) {
        if let Some(times) = self.access.as_ref() {
            times.forget(index);
        }
    }

    /// Marks blocks that hold memory idle: the compressed and raw ones, shared or not, but
    /// not those written back (zeroed and same-filled blocks hold nothing that tiering
    /// could move, and zram does not mark its same-filled pages either). With no `age`,
    /// every such block (zram's `idle` with `all`); with an `age` in seconds, those not
    /// read or written for longer, and the others' marks are taken off (zram's `idle` with
    /// a number). Access times are kept from the first call with an age on (4 bytes per
    /// block accessed since): a block not accessed since then counts as accessed then.
    /// Any later access of a block, read or write, clears its mark. Returns how many it
    /// marked. Takes the store's control, so that no [`Store::writeback`], which relies on
    /// the marks it makes, runs meanwhile. May sleep.
    pub(crate) fn mark_idle(&self, _control: &StoreControl, age: Option<u32>) -> Result<u64> {
        let times = match age {
            Some(age) => {
                if self.access.as_ref().is_none() {
                    // Under the control, as every other setter: this one sets them.
                    self.access.populate(AccessTimes::new(self.blocks())?);
                }
                let times = self.access.as_ref().ok_or(ENOMEM)?;
                Some((times, age, times.now()))
            }
            None => None,
        };
        let io = self.io();
        let mut marked = 0;
        io.for_each_written(0, self.blocks(), |blocks| {
            for index in blocks {
                let Some(block) = io.table.get(index)? else {
                    continue;
                };
                let mut guard = block.lock();
                if !Meta(guard.value()).is_tierable(false) {
                    continue;
                }
                let idle = times.is_none_or(|(times, age, now)| times.older_than(index, age, now));
                guard.set_idle(idle);
                marked += u64::from(idle);
            }
            Ok(())
        })?;
        Ok(marked)
    }

    /// Frees every block: all become zeroed and the counters restart. Follow with
    /// [`Store::drop_unused_codecs`] once the queue is unfrozen. Waits for the requests
    /// using the table. May sleep.
    pub(crate) fn reset(&self, _control: &mut StoreControl) {
        self.table.exclusive().clear();
        if let Some(times) = self.access.as_ref() {
            times.clear();
        }
        if let Some(index) = self.index.as_ref() {
            index.clear();
        }
        if let Some(backing) = self.backing() {
            backing.reset();
        }
        let counters = &self.counters;
        for counter in [
            &counters.raw_blocks,
            &counters.same_blocks,
            &counters.compressed_blocks,
            &counters.compressed_bytes,
            &counters.backed_blocks,
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

    /// Takes the compression context of the current CPU if no other task holds it, else
    /// fails with `EBUSY`. Never sleeps.
    fn try_context(&self) -> Result<MutexGuard<'_, Context>> {
        self.compressor.try_get()
    }

    /// Frees the codecs of algorithms other than the current one. Only right after
    /// [`Store::reset`] (no stored block may use them), and never with the queue frozen.
    /// May sleep.
    pub(crate) fn drop_unused_codecs(&self) {
        self.compressor.retain_only_current();
    }

    /// Counts a block written raw (`huge_pages_since` of `mm_stat`).
    fn count_raw_write(&self, meta: Meta) {
        if meta.state() == State::Raw {
            self.counters.raw_writes.fetch_add(1, Relaxed);
        }
    }

    /// The store for the I/O path: the table held for shared use until the returned value
    /// is dropped (see the locking rules above), and allocations meanwhile made as with
    /// `GFP_NOIO`. Take it once per request, before the compression context; never twice
    /// in one task. May sleep.
    #[inline]
    pub(crate) fn io(&self) -> StoreIo<'_> {
        StoreIo {
            store: self,
            table: self.table.read(),
        }
    }

    /// Frees the memory of the blocks of swap slot `slot`, which swap no longer uses (the
    /// disk's `swap_slot_free_notify`): they become zeroed, as after a discard. Never
    /// sleeps: swap calls it under a spin lock. `EBUSY`, and the blocks stay as they are,
    /// if one of their slots is locked by I/O or the table is being changed (zram's
    /// `miss_free`); `ERANGE` for a slot beyond the end.
    pub(crate) fn slot_free(&self, slot: usize) -> Result {
        const BLOCKS_PER_SLOT: usize = bindings::PAGE_SIZE / BLOCK_SIZE;
        let first = slot.checked_mul(BLOCKS_PER_SLOT).ok_or(EIO)?;
        let table = self.table.try_read().ok_or(EBUSY)?;
        for index in first..first + BLOCKS_PER_SLOT {
            let Some(block) = table.get(index)? else {
                continue;
            };
            let mut guard = block.try_lock().ok_or(EBUSY)?;
            let old = (Meta(guard.value()), guard.size());
            let content = guard.replace(Meta::ZEROED.0, Content::Empty)?;
            drop(guard);
            self.forget(index);
            self.counters.account(old.0, old.1, false);
            self.release_backed(old.0, &content);
            drop(content);
        }
        Ok(())
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

    /// Blocks written back to the backing store.
    pub(crate) fn backed_blocks(&self) -> u64 {
        self.counters.backed_blocks.load(Relaxed)
    }

    /// Zeroed blocks.
    pub(crate) fn zeroed_blocks(&self) -> u64 {
        (self.blocks() as u64).saturating_sub(self.written_blocks())
    }

    /// Blocks that hold data, in memory or on the backing store.
    fn written_blocks(&self) -> u64 {
        self.raw_blocks() + self.compressed_blocks() + self.same_blocks() + self.backed_blocks()
    }

    /// The compressed size of the compressed blocks, in bytes.
    pub(crate) fn compressed_bytes(&self) -> u64 {
        self.counters.compressed_bytes.load(Relaxed)
    }

    /// The data the device holds, in bytes, before compression, written back included
    /// (as zram's `orig_data_size`).
    pub(crate) fn stored_bytes(&self) -> u64 {
        self.written_blocks() * BLOCK_SIZE as u64
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
        self.table.pool().pages_compacted()
    }

    /// Compacts the pool; returns the pages freed. May sleep.
    pub(crate) fn compact(&self) -> u64 {
        self.table.pool().compact()
    }

    /// Every byte the store holds: zsmalloc pages (objects and their fragmentation), raw
    /// block pages, the metadata ([`Store::meta_data_size`]) and the compression buffers.
    pub(crate) fn mem_used_total(&self) -> u64 {
        (self.table.pool().total_pages() + self.own_raw_pages()) * bindings::PAGE_SIZE as u64
            + self.meta_data_size()
            + self.compressor.buffer_bytes()
    }

    /// The raw blocks' pages of their own, in memory: each raw block's, but a shared
    /// page's once.
    fn own_raw_pages(&self) -> u64 {
        if RAW_PAGES {
            self.raw_blocks()
                .saturating_sub(self.table.shared_saved_pages())
        } else {
            0
        }
    }

    /// The metadata, in bytes: the block table (the chunks written to), the entries of
    /// shared objects, the index that finds stored data and the access times, the last
    /// two if kept.
    pub(crate) fn meta_data_size(&self) -> u64 {
        let times = self.access.as_ref().map_or(0, |times| times.bytes());
        let index = self.index.as_ref().map_or(0, |index| index.bytes());
        (self.table.bytes() + self.table.shared_bytes() + index + times) as u64
    }

    /// The bytes that sharing saved: each shared object's stored size (a page for a raw
    /// block) times its blocks beyond the first (zram's `dup_data_size`).
    pub(crate) fn dup_data_size(&self) -> u64 {
        self.table.shared_saved()
    }
}

/// The result of decompressing block `index`: `Ok` if it gave a whole block, else `EIO`,
/// logged once.
fn whole_block(index: usize, decompressed: Result<usize>) -> Result {
    match decompressed {
        Ok(BLOCK_SIZE) => Ok(()),
        other => {
            pr_err_once!("block {index}: decompression failed ({other:?})\n");
            Err(EIO)
        }
    }
}

/// Where a read finds the codecs and buffers of a compression context, if the block it
/// reads needs them (see [`StoreIo::read_block`]).
pub(crate) enum ReadCodecs<'c, 'a> {
    /// A context that the caller holds.
    Held(&'c mut Codecs),
    /// The current CPU's context, taken on first need into the option, where it stays
    /// until the caller drops it; `None` until then.
    Lazy(&'c mut Option<MutexGuard<'a, Context>>),
}

impl<'a> ReadCodecs<'_, 'a> {
    /// The codecs, taking the CPU's context into a [`ReadCodecs::Lazy`] if it is not there
    /// yet and no other task holds it: `EBUSY` if one does. Never sleeps.
    fn try_codecs(&mut self, io: &'a StoreIo<'_>) -> Result<&mut Codecs> {
        let slot = match self {
            Self::Held(codecs) => return Ok(codecs),
            Self::Lazy(slot) => slot,
        };
        if slot.is_none() {
            **slot = Some(io.try_context()?);
        }
        slot.as_deref_mut().map(|ctx| &mut ctx.codecs).ok_or(EIO)
    }

    /// Takes the CPU's context into a [`ReadCodecs::Lazy`] that has none, waiting for the
    /// task that holds it. May sleep: never with a slot lock held (the lock order).
    fn wait(&mut self, io: &'a StoreIo<'_>) -> Result {
        if let Self::Lazy(slot) = self {
            if slot.is_none() {
                **slot = Some(io.context()?);
            }
        }
        Ok(())
    }
}

/// A store in use by the I/O path, its table held for shared use (see [`Store::io`]); the
/// store's other methods are reached through it.
pub(crate) struct StoreIo<'a> {
    store: &'a Store,
    table: TableRef<'a>,
}

impl Deref for StoreIo<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        self.store
    }
}

impl StoreIo<'_> {
    /// The slot of block `index` for a write, allocating its table chunk if needed (which
    /// counts against the memory limit like an object, and in `mem_used_max`); `ERANGE`
    /// past the end. May sleep.
    #[inline]
    fn slot_for_write(&self, index: usize) -> Result<SlotRef<'_>> {
        let mut grew = false;
        let slot = self.table.get_or_alloc(index, |bytes| {
            grew = true;
            self.store.reserve(bytes)
        })?;
        if grew {
            self.store.note_mem_used();
        }
        Ok(slot)
    }

    /// Reads block `index` into `dst`, which must be one block long (`EINVAL` otherwise).
    /// A zeroed block fills it with zeros. May sleep (the slot lock, the context's mutex).
    ///
    /// A compressed block is decompressed straight from its object into `dst`, with the
    /// slot locked so that no writer frees the object meanwhile. A block written back to
    /// the backing store is not read: that fails with `EAGAIN`, and the caller reads it
    /// with [`StoreIo::read_block_waiting`] where it may wait for the backing store (not
    /// inside `submit_bio()`, where the I/O path runs).
    ///
    /// Only a block that needs a context's codecs or buffers (a compressed block, a raw or
    /// same-filled one in a pool object) takes one from `codecs`: a zeroed block, a word the
    /// slot keeps and a raw page take none, and a [`ReadCodecs::Lazy`] stays empty.
    #[inline]
    pub(crate) fn read_block<'a>(
        &'a self,
        codecs: &mut ReadCodecs<'_, 'a>,
        index: usize,
        dst: &mut RawBuf<'_>,
    ) -> Result {
        self.read_block_with(codecs, index, dst, false)
    }

    /// Reads block `index` into `dst` (one block long, `EINVAL` otherwise), where it may
    /// wait for the backing store's I/O: in a worker, not inside `submit_bio()`. Takes the
    /// current CPU's compression context only while it needs it. A written-back block's
    /// unit is read straight into `dst`, with the slot locked and no context held, and a
    /// compressed block is decompressed from there afterwards; so a slow backing store
    /// holds up no other I/O of the CPU. Only where `dst` is not aligned to a unit (an
    /// unaligned direct I/O), or on a kernel with highmem, is the unit read into the
    /// context's buffer, with the context held meanwhile. May sleep.
    pub(crate) fn read_block_waiting(&self, index: usize, dst: &mut RawBuf<'_>) -> Result {
        if dst.len() != BLOCK_SIZE {
            return Err(EINVAL);
        }
        // A direct I/O of the backing store finds the pages of `dst` from its address:
        // that takes a linear-map address, which a mapped highmem page does not have.
        if !cfg!(CONFIG_HIGHMEM) && dst.as_ptr() as usize % UNIT_SIZE == 0 {
            if let Some(block) = self.table.get(index)? {
                self.store.touch(index);
                let mut guard = block.lock();
                let meta = Meta(guard.value());
                if meta.is_backed() {
                    guard.set_idle(false);
                    return self.read_backed_in_place(index, meta, guard, dst);
                }
            }
        }
        // Not written back when looked at, or not aligned: with the context, if needed.
        let mut ctx = None;
        self.read_block_with(&mut ReadCodecs::Lazy(&mut ctx), index, dst, true)
    }

    /// [`StoreIo::read_block`] where it may wait for the backing store (in a worker, see
    /// [`StoreIo::read_block_waiting`]), with the compression context held by the caller:
    /// a written-back block's unit is read into the context's buffer, the context held
    /// meanwhile. May sleep.
    pub(crate) fn read_block_held(
        &self,
        codecs: &mut Codecs,
        index: usize,
        dst: &mut RawBuf<'_>,
    ) -> Result {
        self.read_block_with(&mut ReadCodecs::Held(codecs), index, dst, true)
    }

    /// [`StoreIo::read_block`], reading a written-back block if `wait` (through the
    /// context's buffer), else failing with `EAGAIN`.
    ///
    /// The slot lock comes after the context's mutex in the lock order: with the slot
    /// locked, a context not yet taken is only tried. If another task holds it (one that
    /// was preempted on this CPU, or migrated from it), the slot is unlocked, the context
    /// waited for, and the slot read again from the start, since it may have changed.
    #[inline]
    fn read_block_with<'a>(
        &'a self,
        codecs: &mut ReadCodecs<'_, 'a>,
        index: usize,
        dst: &mut RawBuf<'_>,
        wait: bool,
    ) -> Result {
        if dst.len() != BLOCK_SIZE {
            return Err(EINVAL);
        }
        let Some(block) = self.table.get(index)? else {
            dst.zero();
            return Ok(());
        };
        self.store.touch(index);
        loop {
            let mut guard = block.lock();
            guard.set_idle(false);
            let meta = Meta(guard.value());
            // What needs no codecs is read at once.
            match meta.state() {
                State::Zeroed => {
                    drop(guard);
                    dst.zero();
                    return Ok(());
                }
                State::Same => {
                    if let Ok(kept) = guard.word() {
                        drop(guard);
                        return dst.fill_words(same_from_slot(kept));
                    }
                }
                State::Compressed | State::Raw if meta.is_backed() => {
                    if !wait {
                        return Err(EAGAIN);
                    }
                }
                State::Raw => {
                    if guard.holds_page() {
                        return guard.copy_to(dst, &mut []);
                    }
                }
                State::Compressed => {}
            }
            let codecs = match codecs.try_codecs(self) {
                Err(e) if e == EBUSY => {
                    drop(guard);
                    codecs.wait(self)?;
                    continue;
                }
                other => other?,
            };
            return match meta.state() {
                // A word the slot could not keep, in an object of its own.
                State::Same => {
                    let word = guard.read(&mut codecs.compressed, |bytes| {
                        bytes.try_into().map(usize::from_ne_bytes).map_err(|_| EIO)
                    })?;
                    drop(guard);
                    dst.fill_words(word?)
                }
                State::Compressed | State::Raw if meta.is_backed() => {
                    self.read_backed(codecs, index, meta, guard, dst)
                }
                State::Raw => guard.copy_to(dst, &mut codecs.compressed),
                State::Compressed => Self::decompress(codecs, index, meta, &guard, dst),
                // Read above, with no codecs.
                State::Zeroed => Err(EIO),
            };
        }
    }

    /// Decompresses block `index`, in state `meta` (compressed), from the object of its
    /// locked slot `guard` into `dst`: `EIO`, logged once, if the algorithm is unknown or
    /// the data does not decompress to a whole block.
    fn decompress(
        codecs: &mut Codecs,
        index: usize,
        meta: Meta,
        guard: &SlotGuard<'_>,
        dst: &mut RawBuf<'_>,
    ) -> Result {
        let algorithm = meta.algorithm().map_err(|_| {
            pr_err_once!("block {index}: no algorithm recorded\n");
            EIO
        })?;
        let (codec, local_copy) = codecs.decompressor(algorithm)?;
        let decompressed = guard.read(local_copy, |src| codec.decompress(src, dst));
        whole_block(index, decompressed.and_then(|len| len))
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
        let store = self.store;
        let same = src.same_filled();
        if same != Some(0) {
            store.touch(index);
        }
        match same {
            Some(0) => return self.discard(index),
            Some(word) => {
                let block = self.slot_for_write(index)?;
                let meta = Meta::stored(State::Same, Algorithm::NoComp);
                if let Some(kept) = same_to_slot(word) {
                    return self.set(&block, meta, Content::Word(kept));
                }
                // A word the slot cannot keep is kept in an object of its own.
                let (mut framed, spare) =
                    Framed::split(&mut codecs.compressed, size_of::<usize>())?;
                framed.data().copy_from_slice(&word.to_ne_bytes())?;
                return self.store_data(index, &block, meta, Stored::Object(framed), spare);
            }
            None => {}
        }
        let block = self.slot_for_write(index)?;
        let algorithm = store.algorithm();
        let compressed_len = codecs.compress(algorithm, src).inspect_err(|_| {
            pr_err_once!("block {index}: no codec of {algorithm}\n");
        })?;
        // The data, framed for a pool object where it is one, and the rest of the buffer,
        // which a shared object spanning two pages is copied into to be compared.
        let (meta, data, spare) = match compressed_len {
            Some(len) if store.keeps_compressed(len) => {
                let (framed, spare) = Framed::split(&mut codecs.compressed, len)?;
                let meta = Meta::stored(State::Compressed, algorithm);
                (meta, Stored::Object(framed), spare)
            }
            _ => {
                let meta = Meta::stored(State::Raw, algorithm);
                let (data, spare) = Store::raw_data(meta, src, &mut codecs.compressed)?;
                (meta, data, spare)
            }
        };
        self.store_data(index, &block, meta, data, spare)
    }

    /// Stores `data` as block `index` (`block`) in state `meta`: with deduplication on,
    /// through the index ([`StoreIo::store_dedup`]); else over the block's object where it
    /// fits, else in a new object. `spare` is the rest of the buffer that holds `data`.
    /// May sleep.
    fn store_data(
        &self,
        index: usize,
        block: &SlotRef<'_>,
        meta: Meta,
        mut data: Stored<'_, '_>,
        spare: &mut [u8],
    ) -> Result {
        let store = self.store;
        if store.dedup() {
            if let Some(dedup) = store.index.as_ref() {
                return self.store_dedup(dedup, index, block, meta, data, spare);
            }
        }
        self.store_own(block, meta, &mut data)
    }

    /// Stores `data` as block `block` in state `meta`, in a page or object of its own: over
    /// the block's own where it fits, else in a new one. May sleep.
    ///
    /// Inlined into both its callers: with a second caller, a hint would leave it out of
    /// line, and every write without deduplication would pay a call more.
    #[inline(always)]
    fn store_own(&self, block: &SlotRef<'_>, meta: Meta, data: &mut Stored<'_, '_>) -> Result {
        let store = self.store;
        // An overwrite whose data fits the block's object (same size class, or a page over
        // a page) reuses it: no allocation, no free, and the pool's layout stays as it is.
        let mut guard = block.lock();
        let overwritten = match data {
            Stored::Page(page) => guard.overwrite_page(meta.0, page)?,
            Stored::Object(framed) => guard.overwrite_object(meta.0, framed)?,
        };
        if let Some((old, old_size)) = overwritten {
            drop(guard);
            store.counters.account(Meta(old), old_size, false);
            store.counters.account(meta, data.len(), true);
            store.count_raw_write(meta);
            return Ok(());
        }
        drop(guard);

        // A new object, allocated with the context held: it is a mutex, so the allocation
        // may sleep in reclaim.
        if store.over_limit(Store::object_bytes(meta, data.len())) {
            return Err(ENOSPC);
        }
        let object = store.new_object(meta, data)?;
        store.note_mem_used();
        self.set(block, meta, object)
    }

    /// Stores `data` as block `index` (`block`) in state `meta` through the index `dedup`:
    /// as a share of a stored block's page or object that holds the same bytes in the
    /// same state, if the bucket of the data's hash names one; else as
    /// [`StoreIo::store_own`] does, and then recorded in the bucket. `local_copy` takes a
    /// candidate object that spans two pages. Out of line, so that the path without
    /// deduplication stays as lean as it was. May sleep.
    #[inline(never)]
    fn store_dedup(
        &self,
        dedup: &DedupIndex,
        index: usize,
        block: &SlotRef<'_>,
        meta: Meta,
        mut data: Stored<'_, '_>,
        local_copy: &mut [u8],
    ) -> Result {
        let store = self.store;
        let hash = data.with_data(|data| (store.hash)(data));
        // Whether the index allocated a page, to count in `mem_used_max`.
        let mut grew = false;
        let stored = dedup.with_bucket(
            hash,
            |bytes| {
                grew = true;
                store.reserve(bytes)
            },
            |bucket| {
                let mut found = [0; BUCKET];
                let n = bucket.as_ref().map_or(0, |bucket| bucket.find(&mut found));
                let candidates = found.get(..n).unwrap_or(&[]);
                if self.share_found(candidates, index, block, meta, &mut data, local_copy)? {
                    return Ok(());
                }
                self.store_own(block, meta, &mut data)?;
                if let Some(bucket) = bucket {
                    bucket.record(index);
                }
                Ok(())
            },
        );
        if grew {
            store.note_mem_used();
        }
        stored
    }

    /// Makes block `index` (`block`) share the page or object of the first of the blocks
    /// `candidates` that holds the bytes of `data` in state `meta`: `true` if one does,
    /// else `false`, with nothing changed. `local_copy` as for [`StoreIo::store_dedup`].
    /// May sleep.
    ///
    /// A hash only finds candidates: each one's bytes are compared with `data`, its slot
    /// locked, before it is shared. Compressed data is compared compressed: two blocks
    /// whose compressed bytes and algorithm are the same hold the same data, since
    /// decompression gives each its own back. The writer holds no slot lock meanwhile, so
    /// it takes the candidate's as any writer takes a slot lock, after its context. Two
    /// writers of the same new data at once may both miss, and store it twice; the index
    /// then finds the block recorded last.
    fn share_found(
        &self,
        candidates: &[usize],
        index: usize,
        block: &SlotRef<'_>,
        meta: Meta,
        data: &mut Stored<'_, '_>,
        local_copy: &mut [u8],
    ) -> Result<bool> {
        let store = self.store;
        let mut spare = None;
        for &other in candidates {
            // The block itself holds what it is about to lose.
            if other == index {
                continue;
            }
            let Ok(Some(slot)) = self.table.get(other) else {
                continue;
            };
            let mut guard = slot.lock();
            if guard.value() != meta.0 {
                continue;
            }
            // A block of its own becomes shared in a new entry, allocated with its slot
            // unlocked; a shared one takes none.
            if spare.is_none() && !guard.is_shared() {
                drop(guard);
                if store.over_limit(ObjectTable::SHARED_ENTRY_BYTES) {
                    return Ok(false);
                }
                match SpareEntry::new() {
                    Ok(entry) => spare = Some(entry),
                    // Without memory for it, the block is stored unshared.
                    Err(_) => return Ok(false),
                }
                guard = slot.lock();
                if guard.value() != meta.0 {
                    continue;
                }
            }
            if !data.with_data(|data| guard.same_bytes(data, local_copy))? {
                continue;
            }
            let had_spare = spare.is_some();
            let Ok(shared) = guard.share(&mut spare) else {
                continue;
            };
            drop(guard);
            self.set(block, meta, Content::Shared(shared))?;
            if had_spare && spare.is_none() {
                // The spare became a shared entry.
                store.note_mem_used();
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// Puts block `block` in state `meta` with `content`, and frees what it held.
    #[inline]
    fn set(&self, block: &SlotRef<'_>, meta: Meta, content: Content<'_>) -> Result {
        let mut guard = block.lock();
        let old = (Meta(guard.value()), guard.size());
        let old_content = guard.replace(meta.0, content)?;
        let size = guard.size();
        drop(guard);
        let counters = &self.store.counters;
        counters.account(meta, size, true);
        counters.account(old.0, old.1, false);
        self.store.count_raw_write(meta);
        self.store.release_backed(old.0, &old_content);
        drop(old_content);
        Ok(())
    }

    /// Makes the `count` blocks from `first` on zeroed and frees their memory; `ERANGE` if
    /// they go past the end. Blocks in table chunks never written are skipped, so that a
    /// discard of a huge device takes time for what it holds, not for its size. Returns how
    /// many table chunks it left with no data, which [`Store::trim_table`] would free.
    pub(crate) fn discard_range(&self, first: usize, count: usize) -> Result<usize> {
        let mut emptied = 0;
        self.for_each_written(first, count, |blocks| {
            let chunk = blocks.start;
            for block in blocks {
                self.discard(block)?;
            }
            if self.table.chunk_is_empty(chunk) {
                emptied += 1;
            }
            Ok(())
        })?;
        Ok(emptied)
    }

    /// Calls `f` with the blocks of each table chunk ever written that lie among the
    /// `count` blocks from `first` on, in order, until it fails; `ERANGE` if they go past
    /// the end. Chunks never written hold only zeroed blocks and are skipped a subtree at
    /// a time, so that a walk of a huge device takes time for what it holds.
    fn for_each_written(
        &self,
        first: usize,
        count: usize,
        mut f: impl FnMut(Range<usize>) -> Result,
    ) -> Result {
        let end = first
            .checked_add(count)
            .filter(|&end| end <= self.blocks())
            .ok_or(ERANGE)?;
        let mut index = first;
        while let Some(next) = self.table.next_used(index).filter(|&i| i < end) {
            // `next` lies in a chunk that exists: its blocks up to `end` are walked without
            // another walk of the tree to find them.
            let chunk_end = (next / SLOTS_PER_CHUNK + 1) * SLOTS_PER_CHUNK;
            f(next..chunk_end.min(end))?;
            index = chunk_end;
        }
        Ok(())
    }

    /// Makes block `index` zeroed and frees its memory.
    pub(crate) fn discard(&self, index: usize) -> Result {
        match self.table.get(index)? {
            Some(block) => {
                self.store.forget(index);
                self.set(&block, Meta::ZEROED, Content::Empty)
            }
            None => Ok(()),
        }
    }
}

#[kunit_tests(foxramdisk_store)]
mod tests {
    use super::*;

    use core::mem::size_of;

    /// A store for a test, with a pool of its own name, and its control.
    fn controlled_store(blocks: usize, algorithm: Algorithm) -> Result<(Store, StoreControl)> {
        Store::new(c"foxramdisk-kunit", blocks, algorithm)
    }

    /// A store for a test that does not change it as a whole.
    fn test_store(blocks: usize, algorithm: Algorithm) -> Result<Store> {
        Ok(controlled_store(blocks, algorithm)?.0)
    }

    /// The table chunks a store holds.
    fn chunks(store: &Store) -> usize {
        let pointers = store.blocks().div_ceil(SLOTS_PER_CHUNK) * size_of::<usize>();
        (store.table.bytes() - pointers) / ObjectTable::CHUNK_BYTES
    }

    /// Discards block `index`.
    fn discard(store: &Store, index: usize) -> Result {
        store.io().discard(index)
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
    fn is_shared(store: &Store, index: usize) -> Result<bool> {
        Ok(match store.table.read().get(index)? {
            Some(block) => block.lock().is_shared(),
            None => false,
        })
    }

    fn state_of(store: &Store, index: usize) -> Result<State> {
        Ok(match store.table.read().get(index)? {
            Some(block) => Meta(block.lock().value()).state(),
            None => State::Zeroed,
        })
    }

    /// The algorithm block `index` records.
    fn algorithm_of(store: &Store, index: usize) -> Result<Algorithm> {
        let table = store.table.read();
        let block = table.get(index)?.ok_or(ENOENT)?;
        let meta = Meta(block.lock().value());
        meta.algorithm()
    }

    /// Fills `buf` with random letters of four: data that entropy coding (zstd) shrinks
    /// well below what LZ77 alone (lz4) does.
    fn fill_letters(buf: &mut [u8], seed: u64) {
        fill_random(buf, seed);
        buf.iter_mut()
            .for_each(|b| *b = b"ACGT"[usize::from(*b & 3)]);
    }

    /// Writes `data` to block `index`.
    fn write(store: &Store, index: usize, data: &mut [u8]) -> Result {
        let io = store.io();
        let mut ctx = io.context()?;
        io.write_block(&mut ctx.codecs, index, &RawBuf::from(data))
    }

    /// Reads block `index` into `out`.
    fn read(store: &Store, index: usize, out: &mut [u8]) -> Result {
        let io = store.io();
        let mut ctx = None;
        io.read_block(
            &mut ReadCodecs::Lazy(&mut ctx),
            index,
            &mut RawBuf::from(out),
        )
    }

    /// Reads block `index` (over other bytes) and checks it holds `data`.
    fn check_block(store: &Store, index: usize, data: &[u8]) -> Result {
        let mut back = KVec::from_elem(0xAAu8, BLOCK_SIZE, GFP_KERNEL)?;
        read(store, index, &mut back)?;
        assert!(back[..] == data[..]);
        Ok(())
    }

    /// Writes `data` to block `index`, reads it back and checks it.
    fn round_trip(store: &Store, index: usize, data: &mut [u8]) -> Result {
        write(store, index, data)?;
        check_block(store, index, data)
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
    fn reads_take_a_context_only_for_blocks_that_need_one() -> Result {
        let store = test_store(6, Algorithm::Lz4)?;
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut kept = KVec::from_elem(0x5au8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut word = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 77);
        fill_text(&mut text);
        // Halves that differ, above 2^51: the slot cannot keep it, an object does.
        word.chunks_exact_mut(8)
            .for_each(|chunk| chunk.copy_from_slice(&0x0807_0605_0403_0201_usize.to_ne_bytes()));
        write(&store, 0, &mut random)?;
        write(&store, 1, &mut text)?;
        write(&store, 3, &mut kept)?;
        write(&store, 4, &mut word)?;
        let zero = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        // Block, data, whether the read took the context: a raw page, a compressed block,
        // a zeroed one, a word the slot keeps, a word in an object, one never written.
        let cases: [(usize, &[u8], bool); 6] = [
            (0, &random, false),
            (1, &text, true),
            (2, &zero, false),
            (3, &kept, false),
            (4, &word, true),
            (5, &zero, false),
        ];
        let mut back = KVec::from_elem(0xAAu8, BLOCK_SIZE, GFP_KERNEL)?;
        for (index, data, takes) in cases {
            back.fill(0xAA);
            let io = store.io();
            let mut ctx = None;
            io.read_block(
                &mut ReadCodecs::Lazy(&mut ctx),
                index,
                &mut RawBuf::from(&mut back[..]),
            )?;
            assert!(back[..] == data[..]);
            assert_eq!(ctx.is_some(), takes);
        }
        assert_eq!(state_of(&store, 0)?, State::Raw);
        assert_eq!(state_of(&store, 4)?, State::Same);
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
            discard(&store, i)?;
        }
        assert_eq!(store.zeroed_blocks(), 16);
        assert_eq!(store.compressed_bytes(), 0);
        // Every object is freed; the table chunk written to stays until a reset.
        assert_eq!(
            store.mem_used_total(),
            empty + ObjectTable::CHUNK_BYTES as u64
        );
        Ok(())
    }

    #[test]
    fn same_filled_blocks_hold_no_memory() -> Result {
        let (store, mut control) = controlled_store(4, Algorithm::Lz4)?;
        let mut same = KVec::from_elem(0x5au8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 31);
        round_trip(&store, 0, &mut same)?;
        let one = store.mem_used_total();
        // The table's chunk counts in the peak, with no object after it.
        assert!(store.mem_used_max() >= one);
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
        // Words the slot keeps (below 2^51, or with equal halves) hold no memory; a word
        // whose halves differ, above 2^51, takes an object of its own.
        let words = [
            (0x0807_0605_0403_0201_usize, true),
            (0x0403_0201_0403_0201, false),
            (1 << 48 | 7, false),
        ];
        for (word, holds_memory) in words {
            same.chunks_exact_mut(8)
                .for_each(|chunk| chunk.copy_from_slice(&word.to_ne_bytes()));
            round_trip(&store, 1, &mut same)?;
            assert_eq!(state_of(&store, 1)?, State::Same);
            assert_eq!((store.raw_blocks(), store.compressed_bytes()), (0, 0));
            let grew = store.mem_used_total() > one;
            assert_eq!(grew, holds_memory);
        }
        assert_eq!(store.same_blocks(), 2);
        // A same-filled block is data: it cannot be cut off, and a discard zeroes it.
        let spare = store.spare(&control, 1)?;
        assert_eq!(store.resize(&mut control, spare), Err(EBUSY));
        discard(&store, 1)?;
        assert_eq!(state_of(&store, 1)?, State::Zeroed);
        assert_eq!(store.same_blocks(), 1);
        Ok(())
    }

    #[test]
    fn table_chunks_are_allocated_on_first_write_only() -> Result {
        let blocks = 4 * SLOTS_PER_CHUNK + 1;
        let (store, mut control) = controlled_store(blocks, Algorithm::Lz4)?;
        let empty = store.mem_used_total();
        let chunk = ObjectTable::CHUNK_BYTES as u64;
        let mut data = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        // Reads, zero writes and discards of unwritten blocks allocate nothing.
        read(&store, 2 * SLOTS_PER_CHUNK, &mut data)?;
        assert!(data.iter().all(|&b| b == 0));
        write(&store, 2 * SLOTS_PER_CHUNK, &mut data)?;
        discard(&store, 3 * SLOTS_PER_CHUNK)?;
        assert_eq!(store.mem_used_total(), empty);
        // The first write to a chunk allocates it; a second write to the chunk does not.
        fill_random(&mut data, 21);
        let table = store.table.bytes() as u64;
        round_trip(&store, 2 * SLOTS_PER_CHUNK + 1, &mut data)?;
        assert_eq!(store.table.bytes() as u64, table + chunk);
        round_trip(&store, 3 * SLOTS_PER_CHUNK - 1, &mut data)?;
        assert_eq!(store.table.bytes() as u64, table + chunk);
        // The last block, alone in its chunk, and the blocks around it stay zeroed.
        round_trip(&store, blocks - 1, &mut data)?;
        assert_eq!(state_of(&store, 2 * SLOTS_PER_CHUNK)?, State::Zeroed);
        assert_eq!(state_of(&store, blocks - 2)?, State::Zeroed);
        assert_eq!(chunks(&store), 2);
        // Shrinking frees the chunks past the new end once they hold no data.
        discard(&store, blocks - 1)?;
        let spare = store.spare(&control, 3 * SLOTS_PER_CHUNK)?;
        store.resize(&mut control, spare)?;
        assert_eq!(chunks(&store), 1);
        read(&store, 3 * SLOTS_PER_CHUNK - 1, &mut data)?;
        // A reset frees the chunks, and the memory is what a new store of that size takes.
        store.reset(&mut control);
        assert_eq!(chunks(&store), 0);
        assert_eq!(
            store.mem_used_total(),
            test_store(3 * SLOTS_PER_CHUNK, Algorithm::Lz4)?.mem_used_total()
        );
        Ok(())
    }

    #[test]
    fn a_huge_store_costs_what_it_holds_and_discards_fast() -> Result {
        // 4 TiB: three levels of table; a discard of all of it walks only what exists.
        let blocks = 1usize << 30;
        let (store, mut control) = controlled_store(blocks, Algorithm::Lz4)?;
        let empty = store.mem_used_total();
        assert!(store.table.bytes() <= 4096);
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_text(&mut text);
        for index in [0, 5, blocks / 2, blocks - 1] {
            round_trip(&store, index, &mut text)?;
        }
        assert_eq!(store.compressed_blocks(), 4);
        assert_eq!(state_of(&store, blocks / 2 + 1)?, State::Zeroed);
        // Only the chunk of block `blocks / 2` is left with no data.
        assert_eq!(store.io().discard_range(1, blocks - 2)?, 1);
        assert_eq!(store.compressed_blocks(), 2);
        assert_eq!(state_of(&store, 0)?, State::Compressed);
        assert_eq!(state_of(&store, 5)?, State::Zeroed);
        assert_eq!(state_of(&store, blocks - 1)?, State::Compressed);
        assert_eq!(store.io().discard_range(blocks - 1, 2), Err(ERANGE));
        assert_eq!(store.io().discard_range(0, blocks)?, 3);
        assert_eq!(store.stored_bytes(), 0);
        // The chunks and the nodes above them stay until the table is trimmed.
        assert!(store.mem_used_total() > empty);
        assert_eq!(store.trim_table(&mut control), 3);
        assert_eq!(store.mem_used_total(), empty);
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
        assert_eq!(discard(&store, usize::MAX), Err(ERANGE));
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
        let (store, mut control) = controlled_store(4, Algorithm::Zstd)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_text(&mut text);
        round_trip(&store, 3, &mut text)?;
        let spare = store.spare(&control, 16)?;
        store.resize(&mut control, spare)?;
        assert_eq!(store.blocks(), 16);
        assert_eq!(store.zeroed_blocks(), 15);
        round_trip(&store, 3, &mut text)?;
        round_trip(&store, 15, &mut text)?;
        // Block 15 holds data: shrinking to 8 is refused and changes nothing.
        let spare = store.spare(&control, 8)?;
        assert_eq!(store.resize(&mut control, spare), Err(EBUSY));
        assert_eq!(store.blocks(), 16);
        discard(&store, 15)?;
        let spare = store.spare(&control, 4)?;
        store.resize(&mut control, spare)?;
        assert_eq!(store.blocks(), 4);
        round_trip(&store, 3, &mut text)?;
        assert_eq!(read(&store, 4, &mut text), Err(ERANGE));
        Ok(())
    }

    #[test]
    fn reset_frees_everything() -> Result {
        let (store, mut control) = controlled_store(8, Algorithm::Lz4)?;
        let empty = store.mem_used_total();
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 5);
        for i in 0..8 {
            round_trip(&store, i, &mut random)?;
        }
        store.set_algorithm(Algorithm::Deflate)?;
        assert_eq!(store.raw_writes(), 8);
        assert!(store.mem_used_max() > empty);
        store.reset(&mut control);
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
        let (store, mut control) = controlled_store(8, Algorithm::Lz4)?;
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
        assert_eq!(
            store.mem_used_total(),
            empty + ObjectTable::CHUNK_BYTES as u64
        );
        // A slot never written, and one past the end.
        store.slot_free(5)?;
        assert_eq!(store.slot_free(8), Err(ERANGE));
        // A busy slot is a miss: the block stays as it is.
        round_trip(&store, 3, &mut text)?;
        {
            let table = store.table.read();
            let block = table.get(3)?.ok_or(EIO)?;
            let _held = block.lock();
            assert_eq!(store.slot_free(3), Err(EBUSY));
        }
        assert_eq!(state_of(&store, 3)?, State::Compressed);
        // So is a table held for a resize or reset.
        {
            let _changing = store.table.exclusive();
            assert_eq!(store.slot_free(3), Err(EBUSY));
        }
        assert_eq!(state_of(&store, 3)?, State::Compressed);
        store.slot_free(3)?;
        // With every block zeroed, the chunk goes too: the memory of a new store.
        assert_eq!(store.trim_table(&mut control), 1);
        assert_eq!(store.mem_used_total(), empty);
        round_trip(&store, 7, &mut text)?;
        assert_eq!(store.trim_table(&mut control), 0);
        Ok(())
    }

    #[test]
    fn dedup_shares_equal_blocks_until_the_last_goes() -> Result {
        let (store, control) = controlled_store(600, Algorithm::Lz4)?;
        store.set_dedup(&control, true)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut other = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_text(&mut text);
        fill_random(&mut random, 99);
        fill_random(&mut other, 100);
        // The three chunks of the table are there from the start to the end.
        for index in [0, 300, 599] {
            round_trip(&store, index, &mut other)?;
            discard(&store, index)?;
        }
        let empty = store.mem_used_total();
        round_trip(&store, 0, &mut text)?;
        let size = store.compressed_bytes();
        assert!(size > 0 && size < BLOCK_SIZE as u64);
        // One block: its own object, no shared entry.
        assert!(!is_shared(&store, 0)?);
        assert_eq!(store.table.shared_bytes(), 0);
        for index in [1, 300, 2] {
            round_trip(&store, index, &mut text)?;
        }
        // Four blocks, one object in one shared entry, since the second.
        assert!(is_shared(&store, 0)? && is_shared(&store, 2)?);
        assert_eq!(store.table.shared_bytes(), ObjectTable::SHARED_ENTRY_BYTES);
        assert_eq!(store.compressed_blocks(), 4);
        assert_eq!(store.dup_data_size(), 3 * size);
        assert_eq!(store.compressed_bytes(), 4 * size);
        // The entry and the index's page count in the peak.
        assert!(store.mem_used_max() >= store.mem_used_total());
        // Raw blocks share one page: one more page, not two.
        let with_text = store.mem_used_total();
        round_trip(&store, 10, &mut random)?;
        round_trip(&store, 11, &mut random)?;
        assert_eq!(store.raw_blocks(), 2);
        assert_eq!(store.dup_data_size(), 3 * size + BLOCK_SIZE as u64);
        let pages = store.mem_used_total() - with_text;
        assert!(pages >= BLOCK_SIZE as u64 && pages < 2 * BLOCK_SIZE as u64);
        // An overwrite, a discard and a slot free each drop one reference; the others
        // still read their data.
        round_trip(&store, 1, &mut other)?;
        discard(&store, 300)?;
        store.slot_free(10)?;
        check_block(&store, 0, &text)?;
        check_block(&store, 2, &text)?;
        check_block(&store, 11, &random)?;
        assert_eq!(store.dup_data_size(), size);
        // Turned off, new writes store their own objects; shared ones stay shared. The
        // index's one page goes.
        let meta = store.meta_data_size();
        // Two entries: the text's, and the random page's, which block 11 alone refers to
        // now: an entry stays until its last reference goes.
        let entries = 2 * ObjectTable::SHARED_ENTRY_BYTES as u64;
        assert_eq!(store.table.shared_bytes() as u64, entries);
        store.set_dedup(&control, false)?;
        let index_page = bindings::PAGE_SIZE as u64;
        assert_eq!(store.meta_data_size(), meta - index_page);
        round_trip(&store, 3, &mut text)?;
        assert_eq!(store.dup_data_size(), size);
        check_block(&store, 2, &text)?;
        // With the last references gone, so is every object and the index.
        for index in [0, 1, 2, 3, 11] {
            discard(&store, index)?;
        }
        assert_eq!(store.dup_data_size(), 0);
        assert_eq!(store.table.shared_bytes(), 0);
        assert_eq!(store.stored_bytes(), 0);
        assert_eq!(store.raw_blocks(), 0);
        assert_eq!(store.table.pool().total_pages(), 0);
        assert_eq!(store.meta_data_size(), meta - index_page - entries);
        assert_eq!(store.mem_used_total(), empty - index_page);
        Ok(())
    }

    #[test]
    fn a_hash_collision_never_returns_another_block() -> Result {
        let (mut store, control) = controlled_store(8, Algorithm::Zstd)?;
        // Every block has the same hash: each write finds a candidate to compare.
        store.hash = |_| 0;
        store.set_dedup(&control, true)?;
        let mut blocks = KVec::new();
        for seed in 1..=3u64 {
            let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
            fill_text(&mut text);
            // Similar text, different bytes.
            text[seed as usize * 100] = b'0' + seed as u8;
            let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
            fill_random(&mut random, seed);
            blocks.push(text, GFP_KERNEL)?;
            blocks.push(random, GFP_KERNEL)?;
        }
        for (index, data) in blocks.iter_mut().enumerate() {
            round_trip(&store, index, data)?;
        }
        for (index, data) in blocks.iter().enumerate() {
            check_block(&store, index, data)?;
        }
        assert_eq!(store.dup_data_size(), 0);
        // A real duplicate of the block recorded last for its hash is still shared.
        let last = blocks.len() - 1;
        write(&store, 7, &mut blocks[last])?;
        check_block(&store, 7, &blocks[last])?;
        assert_eq!(store.dup_data_size(), BLOCK_SIZE as u64);
        Ok(())
    }

    #[test]
    fn dedup_shares_within_one_algorithm() -> Result {
        let (store, control) = controlled_store(4, Algorithm::Lz4)?;
        store.set_dedup(&control, true)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_text(&mut text);
        round_trip(&store, 0, &mut text)?;
        store.set_algorithm(Algorithm::Zstd)?;
        round_trip(&store, 1, &mut text)?;
        assert_eq!(store.dup_data_size(), 0);
        round_trip(&store, 2, &mut text)?;
        assert!(store.dup_data_size() > 0);
        check_block(&store, 0, &text)?;
        Ok(())
    }

    #[test]
    fn recompression_takes_idle_blocks_to_a_secondary_algorithm() -> Result {
        let (store, mut control) = controlled_store(10, Algorithm::Lz4)?;
        let mut blocks = KVec::new();
        for index in 0..8 {
            let mut data = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
            fill_letters(&mut data, index + 1);
            blocks.push(data, GFP_KERNEL)?;
        }
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 99);
        blocks.push(random, GFP_KERNEL)?;
        for (index, data) in blocks.iter_mut().enumerate() {
            write(&store, index, data)?;
        }
        let mut same = KVec::from_elem(0x42u8, BLOCK_SIZE, GFP_KERNEL)?;
        write(&store, 9, &mut same)?;
        assert_eq!(state_of(&store, 7)?, State::Compressed);
        assert_eq!(state_of(&store, 8)?, State::Raw);
        let lz4_bytes = store.compressed_bytes();
        let how = |idle, max_blocks| Recompression {
            idle,
            huge: false,
            threshold: 0,
            max_blocks,
            priority: 1,
        };
        // No secondary algorithm yet; priorities are 1 to 3.
        assert_eq!(
            store.recompress(&control, &how(false, 9)).err(),
            Some(EINVAL)
        );
        for priority in [0, RECOMP_ALGORITHMS + 1] {
            assert_eq!(
                control
                    .set_recomp_algorithm(priority, Algorithm::Zstd)
                    .err(),
                Some(EINVAL)
            );
        }
        control.set_recomp_algorithm(1, Algorithm::Zstd)?;
        assert_eq!(control.recomp_priority(Algorithm::Zstd), Some(1));
        // Every block that holds memory, not the same-filled one.
        assert_eq!(store.mark_idle(&control, None)?, 9);
        // A read or a write clears the mark.
        check_block(&store, 0, &blocks[0])?;
        check_block(&store, 1, &blocks[1])?;
        write(&store, 2, &mut blocks[2])?;
        let done = store.recompress(&control, &how(true, 4))?;
        assert_eq!((done.tried, done.stored), (4, 4));
        // Blocks 7 and 8 are left, and zstd cannot compress 8, random, either.
        let done = store.recompress(&control, &how(true, u64::MAX))?;
        assert_eq!((done.tried, done.stored), (2, 1));
        // Recompression cleared the marks; then every block zstd has not stored is tried.
        assert_eq!(store.recompress(&control, &how(true, u64::MAX))?.tried, 0);
        let done = store.recompress(&control, &how(false, u64::MAX))?;
        assert_eq!((done.tried, done.stored), (4, 3));
        for index in 0..8 {
            assert_eq!(algorithm_of(&store, index)?, Algorithm::Zstd);
        }
        assert_eq!(algorithm_of(&store, 8)?, Algorithm::Lz4);
        for (index, data) in blocks.iter().enumerate() {
            check_block(&store, index, data)?;
        }
        check_block(&store, 9, &same)?;
        assert_eq!(
            (
                store.compressed_blocks(),
                store.raw_blocks(),
                store.same_blocks()
            ),
            (8, 1, 1)
        );
        assert!(store.compressed_bytes() < lz4_bytes);
        // Raw blocks only: block 8 is tried once more, and stays raw.
        let huge = Recompression {
            huge: true,
            ..how(false, u64::MAX)
        };
        let done = store.recompress(&control, &huge)?;
        assert_eq!((done.tried, done.stored), (1, 0));
        Ok(())
    }

    #[test]
    fn recompression_leaves_objects_shared_with_others() -> Result {
        let (store, mut control) = controlled_store(4, Algorithm::Lz4)?;
        store.set_dedup(&control, true)?;
        control.set_recomp_algorithm(1, Algorithm::Zstd)?;
        let how = Recompression {
            idle: false,
            huge: false,
            threshold: 0,
            max_blocks: u64::MAX,
            priority: 1,
        };
        let mut letters = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_letters(&mut letters, 7);
        round_trip(&store, 0, &mut letters)?;
        round_trip(&store, 1, &mut letters)?;
        assert!(is_shared(&store, 0)? && is_shared(&store, 1)?);
        assert_eq!(store.recompress(&control, &how)?.tried, 0);
        // Block 1 gone, block 0 alone refers to the entry: it is recompressed as its own,
        // and the entry goes with the old object.
        discard(&store, 1)?;
        assert!(is_shared(&store, 0)?);
        let done = store.recompress(&control, &how)?;
        assert_eq!((done.tried, done.stored), (1, 1));
        assert!(!is_shared(&store, 0)?);
        assert_eq!(algorithm_of(&store, 0)?, Algorithm::Zstd);
        assert_eq!(store.table.shared_bytes(), 0);
        assert_eq!(store.dup_data_size(), 0);
        assert_eq!(store.compressed_blocks(), 1);
        check_block(&store, 0, &letters)
    }

    #[test]
    fn the_recompression_threshold_selects_and_bounds() -> Result {
        let (store, mut control) = controlled_store(4, Algorithm::Lz4)?;
        let mut data = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut largest = 0;
        for index in 0..4 {
            fill_letters(&mut data, index as u64 + 10);
            write(&store, index, &mut data)?;
            let table = store.table.read();
            let block = table.get(index)?.ok_or(ENOENT)?;
            largest = largest.max(block.lock().size());
        }
        assert_eq!(store.compressed_blocks(), 4);
        control.set_recomp_algorithm(1, Algorithm::Zstd)?;
        let how = |threshold| Recompression {
            idle: false,
            huge: false,
            threshold,
            max_blocks: u64::MAX,
            priority: 1,
        };
        // Objects below the threshold are not tried.
        let done = store.recompress(&control, &how(largest + 1))?;
        assert_eq!((done.tried, done.stored), (0, 0));
        // Results of the threshold or more are not kept.
        let done = store.recompress(&control, &how(100))?;
        assert_eq!((done.tried, done.stored), (4, 0));
        let done = store.recompress(&control, &how(0))?;
        assert_eq!((done.tried, done.stored), (4, 4));
        Ok(())
    }

    #[test]
    fn a_higher_priority_counts_as_recompressed() -> Result {
        let (_store, mut control) = controlled_store(1, Algorithm::Lz4)?;
        control.set_recomp_algorithm(1, Algorithm::Lz4hc)?;
        control.set_recomp_algorithm(3, Algorithm::Zstd)?;
        assert_eq!(control.recomp_algorithm(2), None);
        assert!(control.recompressed_at(1, Algorithm::Lz4hc));
        assert!(control.recompressed_at(1, Algorithm::Zstd));
        assert!(!control.recompressed_at(2, Algorithm::Lz4hc));
        assert!(control.recompressed_at(3, Algorithm::Zstd));
        assert!(!control.recompressed_at(1, Algorithm::Lz4));
        assert_eq!(control.recomp_priority(Algorithm::Lz4), None);
        assert_eq!(control.recomp_priority(Algorithm::Zstd), Some(3));
        Ok(())
    }

    #[test]
    fn meta_packing_round_trips() {
        for algorithm in Algorithm::ALL {
            for state in [State::Compressed, State::Raw, State::Same] {
                let meta = Meta::stored(state, algorithm);
                assert_eq!(meta.0 & !ObjectTable::VALUE_MASK, 0);
                assert_eq!(meta.state(), state);
                assert_eq!(meta.algorithm(), Ok(algorithm));
                assert!(!meta.is_backed());
                // Tiering takes compressed and raw blocks, only raw ones for `huge`.
                assert_eq!(meta.is_tierable(false), state != State::Same);
                assert_eq!(meta.is_tierable(true), state == State::Raw);
                // Written back: the same state and algorithm, and the mark, in the bits a
                // slot keeps.
                let backed = meta.backed();
                assert_eq!(backed.0 & !ObjectTable::VALUE_MASK, 0);
                assert_eq!(
                    (backed.state(), backed.algorithm(), backed.is_backed()),
                    (state, Ok(algorithm), true)
                );
                assert!(!backed.is_tierable(false));
            }
        }
        assert_eq!(Meta::ZEROED.state(), State::Zeroed);
        assert!(!Meta::ZEROED.is_backed());
    }

    #[test]
    fn backing_positions_fit_a_slot() {
        let largest = ObjectTable::MAX_WORD >> 16;
        for (unit, sector, len) in [
            (0, 0, 1),
            (1, 0, BLOCK_SIZE),
            (12345, 3, 2047),
            (7, 7, 512),
            (largest, 0, BLOCK_SIZE),
        ] {
            let position = Position { unit, sector, len };
            let word = position.to_word();
            assert!(word <= ObjectTable::MAX_WORD);
            assert_eq!(Position::from_word(word), position);
        }
        let bytes = |sector, len| {
            Position {
                unit: 0,
                sector,
                len,
            }
            .bytes()
        };
        assert_eq!(bytes(7, 512), Ok(3584..4096));
        assert_eq!(bytes(0, BLOCK_SIZE), Ok(0..BLOCK_SIZE));
        assert_eq!(bytes(7, 513), Err(EIO));
    }

    #[test]
    fn writeback_packs_blocks_by_sectors_first_fit() -> Result {
        let mut packer = Packer::new(3)?;
        let mut placed = |len| packer.place(len).map(|p| (p.unit, p.sector, p.bytes));
        // 2 sectors, a whole unit, 5 sectors (after the first), 2 that no unit has room
        // for but a new one, 1 that fits after the first two (2 + 5 = 7 used).
        assert_eq!(placed(600), Some((0, 0, 0..600)));
        assert_eq!(placed(BLOCK_SIZE), Some((1, 0, 4096..8192)));
        assert_eq!(placed(2560), Some((0, 2, 1024..3584)));
        assert_eq!(placed(1000), Some((2, 0, 8192..9192)));
        assert_eq!(placed(1), Some((0, 7, 3584..3585)));
        // Three units is the capacity; a block longer than a unit never fits.
        assert_eq!(placed(BLOCK_SIZE), None);
        assert_eq!(placed(BLOCK_SIZE + 1), None);
        assert_eq!(placed(3072), Some((2, 2, 9216..12288)));
        assert_eq!(
            [0, 1, 2, 3].map(|unit| packer.blocks_in(unit)),
            [3, 1, 2, 0]
        );
        Ok(())
    }
}
