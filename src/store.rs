// SPDX-License-Identifier: GPL-2.0

//! The storage engine: a table of block states over a zsmalloc pool.
//!
//! Each 4096-byte block is in one of three states:
//!
//! - **zeroed**: reads as zeros and holds no memory: never written, written with zeros,
//!   discarded or write-zeroed;
//! - **compressed**: its data, compressed, is a zsmalloc object;
//! - **raw**: its data did not compress below the threshold (or the algorithm is
//!   `nocomp`) and is stored as it is, a page-sized zsmalloc object.
//!
//! A block is stored compressed only when that saves memory: when the compressed size is
//! at most zsmalloc's huge class size. Larger objects take a whole page in zsmalloc, so
//! compressing them would save nothing and cost a decompression on every read.
//!
//! # Locking
//!
//! Each table entry has its own lock, bit 0 of its metadata word ([`BitSpinLock`]), so
//! I/O to different blocks never contends and there is no device-wide lock. An entry lock
//! is held only to read or swap the entry and to copy a stored object out of zsmalloc; it
//! is taken inside a compression context's mutex, never the other way round. Compression,
//! decompression, allocation and freeing all happen outside it.

use crate::{
    codec::Algorithm,
    compressor::{Compressor, Context},
    ext::{
        mm::zsmalloc::{Reclaim, ZsPool},
        sync::BitSpinLock,
    },
};
use core::mem::size_of;
use kernel::{
    alloc::VVec,
    bindings,
    pr_err_once,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        MutexGuard,
    }, //
};

/// Bytes per block: the device's logical and physical block size.
pub(crate) const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub(crate) const BLOCK_SHIFT: u32 = 12;

/// The state of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Reads as zeros; holds no memory.
    Zeroed,
    /// Stored compressed.
    Compressed,
    /// Stored as it is.
    Raw,
}

/// The metadata word of an entry, without its lock bit:
/// bits 1-2 the state, bits 3-6 the algorithm, bits 16-31 the stored size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta(usize);

impl Meta {
    const STATE_SHIFT: u32 = 1;
    const ALGORITHM_SHIFT: u32 = 3;
    const SIZE_SHIFT: u32 = 16;

    /// A zeroed block.
    const ZEROED: Self = Self(0);

    /// Packs a stored block's metadata.
    fn stored(state: State, algorithm: Algorithm, size: usize) -> Self {
        let state = match state {
            State::Zeroed => 0,
            State::Compressed => 1,
            State::Raw => 2,
        };
        Self(
            (state << Self::STATE_SHIFT)
                | ((algorithm as usize) << Self::ALGORITHM_SHIFT)
                | (size << Self::SIZE_SHIFT),
        )
    }

    /// The block's state.
    fn state(self) -> State {
        match (self.0 >> Self::STATE_SHIFT) & 0b11 {
            1 => State::Compressed,
            2 => State::Raw,
            _ => State::Zeroed,
        }
    }

    /// The algorithm a compressed block was compressed with.
    fn algorithm(self) -> Option<Algorithm> {
        Algorithm::from_id(((self.0 >> Self::ALGORITHM_SHIFT) & 0b1111) as u8)
    }

    /// The bytes the block's object holds.
    fn size(self) -> usize {
        (self.0 >> Self::SIZE_SHIFT) & 0xffff
    }
}

// The packing must hold every algorithm and a whole block's size, and leave bit 0 free.
const _: () =
    assert!((Algorithm::ALL.len() as u32) <= 1 << (Meta::SIZE_SHIFT - Meta::ALGORITHM_SHIFT));
const _: () = assert!(BLOCK_SIZE < 1 << 16);

/// One entry of the block table: 16 bytes per block on 64-bit machines.
///
/// # Invariants
///
/// While `meta` says the block is compressed or raw, `handle` is a live object of the
/// store's pool whose size class holds `meta.size()` bytes, owned by this entry. `handle` is only read or
/// written with the `meta` lock held (or with exclusive access).
struct Entry {
    handle: Atomic<usize>,
    meta: BitSpinLock,
}

const _: () = assert!(size_of::<Entry>() <= 16);

impl Entry {
    /// A zeroed block.
    const fn new() -> Self {
        // INVARIANT: a zeroed entry owns no object.
        Self {
            handle: Atomic::new(0),
            meta: BitSpinLock::new(0),
        }
    }
}

/// Whether every byte of `data` is zero.
fn is_zero(data: &[u8]) -> bool {
    // SAFETY: any bit pattern is a valid `u64`; `align_to` keeps alignment right.
    let (head, words, tail) = unsafe { data.align_to::<u64>() };
    head.iter().all(|&b| b == 0) && words.iter().all(|&w| w == 0) && tail.iter().all(|&b| b == 0)
}

/// Block counts and sizes of a store; the zeroed count is derived.
struct Counters {
    raw_blocks: Atomic<u64>,
    compressed_blocks: Atomic<u64>,
    compressed_bytes: Atomic<u64>,
}

impl Counters {
    /// Accounts a block entering (`add`) or leaving a state.
    fn account(&self, meta: Meta, add: bool) {
        let update = |counter: &Atomic<u64>, n: u64| {
            if add {
                counter.fetch_add(n, Relaxed);
            } else {
                counter.fetch_sub(n, Relaxed);
            }
        };
        match meta.state() {
            State::Zeroed => {}
            State::Raw => update(&self.raw_blocks, 1),
            State::Compressed => {
                update(&self.compressed_blocks, 1);
                update(&self.compressed_bytes, meta.size() as u64);
            }
        }
    }
}

/// The block store of one device.
pub(crate) struct Store {
    /// One entry per block.
    table: VVec<Entry>,
    /// The stored objects.
    pool: ZsPool,
    /// The per-CPU contexts of the device's algorithm.
    compressor: Compressor,
    /// The largest compressed size stored compressed.
    threshold: usize,
    /// Block counts.
    counters: Counters,
}

impl Store {
    /// Creates a store of `blocks` zeroed blocks that compresses with `algorithm`.
    pub(crate) fn new(blocks: usize, algorithm: Algorithm) -> Result<Self> {
        let mut table = VVec::with_capacity(blocks, GFP_KERNEL | __GFP_NOWARN)?;
        for _ in 0..blocks {
            // Cannot fail: the capacity is reserved above.
            table.push(Entry::new(), GFP_KERNEL)?;
        }
        let pool = ZsPool::new(c"foxramdisk")?;
        let threshold = pool.huge_class_size().min(BLOCK_SIZE);
        Ok(Self {
            table,
            pool,
            compressor: Compressor::new(algorithm)?,
            threshold,
            counters: Counters {
                raw_blocks: Atomic::new(0),
                compressed_blocks: Atomic::new(0),
                compressed_bytes: Atomic::new(0),
            },
        })
    }

    /// The number of blocks.
    pub(crate) fn blocks(&self) -> usize {
        self.table.len()
    }

    /// The algorithm new writes are compressed with.
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.compressor.algorithm()
    }

    /// The largest compressed size that is stored compressed.
    pub(crate) fn threshold(&self) -> usize {
        self.threshold
    }

    /// Takes the compression context of the current CPU. May sleep.
    pub(crate) fn context(&self) -> Result<MutexGuard<'_, Context>> {
        self.compressor.get().ok_or(ENOMEM)
    }

    /// The entry of block `index`, or `EIO` past the end.
    fn entry(&self, index: usize) -> Result<&Entry> {
        self.table.get(index).ok_or(EIO)
    }

    /// Reads block `index` into `ctx.block`. Returns `false`, leaving `ctx.block` alone,
    /// when the block is zeroed.
    pub(crate) fn read_block(&self, ctx: &mut Context, index: usize) -> Result<bool> {
        let entry = self.entry(index)?;
        let guard = entry.meta.lock();
        let meta = Meta(guard.get());
        let handle = entry.handle.load(Relaxed);
        match meta.state() {
            State::Zeroed => Ok(false),
            State::Raw => {
                let dst = ctx.block.get_mut(..BLOCK_SIZE).ok_or(EIO)?;
                // SAFETY: by the invariant of `Entry` a raw block's handle is a live object
                // of `BLOCK_SIZE` bytes; the entry lock keeps it from being freed.
                unsafe { self.pool.read(handle, dst) };
                Ok(true)
            }
            State::Compressed => {
                let size = meta.size();
                let dst = ctx.compressed.get_mut(..size).ok_or(EIO)?;
                // SAFETY: a compressed block's handle is a live object of `size` bytes
                // (invariant of `Entry`); the entry lock keeps it from being freed.
                unsafe { self.pool.read(handle, dst) };
                drop(guard);
                if meta.algorithm() != Some(self.algorithm()) {
                    pr_err_once!("block {index}: stored with an algorithm this device lacks\n");
                    return Err(EIO);
                }
                ctx.decompress(size).inspect_err(|e| {
                    pr_err_once!("block {index}: decompression failed ({e:?})\n");
                })?;
                Ok(true)
            }
        }
    }

    /// Stores `ctx.block` as block `index`: zeroed if all zeros, else compressed if that
    /// saves memory, else raw. May sleep (allocation).
    pub(crate) fn write_block(&self, ctx: &mut Context, index: usize) -> Result {
        let entry = self.entry(index)?;
        if is_zero(&ctx.block) {
            return self.discard(index);
        }
        let algorithm = self.algorithm();
        let (meta, data) = match ctx.compress() {
            Some(len) if len <= self.threshold => (
                Meta::stored(State::Compressed, algorithm, len),
                ctx.compressed.get(..len).ok_or(EIO)?,
            ),
            _ => (
                Meta::stored(State::Raw, algorithm, BLOCK_SIZE),
                ctx.block.get(..BLOCK_SIZE).ok_or(EIO)?,
            ),
        };
        // First without sleeping: this write may be the swap-out that reclaim is waiting
        // for, run by a kblockd worker that, unlike kswapd, may not use the reserves, and
        // an object is smaller than the page the write frees. Then with direct reclaim.
        // An overwrite whose data falls in the size class of the block's object reuses the
        // object: no allocation, no free, and the pool's layout stays as it is.
        let mut guard = entry.meta.lock();
        let old = Meta(guard.get());
        if old.state() != State::Zeroed
            && self.pool.class_index(old.size()) == self.pool.class_index(data.len())
        {
            let handle = entry.handle.load(Relaxed);
            // SAFETY: the entry owns `handle` (type invariant), whose size class holds
            // `data.len()` bytes (checked above); the entry lock keeps readers out.
            unsafe { self.pool.write(handle, data) };
            // INVARIANT: the object's class holds `meta.size()` bytes, checked above.
            guard.replace(meta.0);
            drop(guard);
            self.counters.account(old, false);
            self.counters.account(meta, true);
            return Ok(());
        }
        drop(guard);

        let handle = match self.pool.malloc(data.len(), Reclaim::No) {
            Ok(handle) => handle,
            Err(_) => self.pool.malloc(data.len(), Reclaim::Direct)?,
        };
        // SAFETY: `handle` was just allocated with `data.len()` bytes and is not shared.
        unsafe { self.pool.write(handle, data) };

        let mut guard = entry.meta.lock();
        let old_handle = entry.handle.load(Relaxed);
        entry.handle.store(handle, Relaxed);
        // INVARIANT: the entry now owns `handle`, of `meta.size()` bytes, and gives up the
        // old object, freed below.
        let old = Meta(guard.replace(meta.0));
        drop(guard);

        self.counters.account(meta, true);
        self.release(old, old_handle);
        Ok(())
    }

    /// Makes block `index` zeroed and frees its memory.
    pub(crate) fn discard(&self, index: usize) -> Result {
        let entry = self.entry(index)?;
        let mut guard = entry.meta.lock();
        let old_handle = entry.handle.load(Relaxed);
        // INVARIANT: a zeroed entry owns no object; the old one is freed below.
        let old = Meta(guard.replace(Meta::ZEROED.0));
        drop(guard);
        self.release(old, old_handle);
        Ok(())
    }

    /// Frees the object of a block that left state `old`, and accounts for it.
    fn release(&self, old: Meta, handle: usize) {
        if old.state() != State::Zeroed {
            self.counters.account(old, false);
            // SAFETY: the entry owned `handle` while in state `old` and no longer refers to
            // it; nobody else does.
            unsafe { self.pool.free(handle) };
        }
    }

    /// Blocks stored raw.
    pub(crate) fn raw_blocks(&self) -> u64 {
        self.counters.raw_blocks.load(Relaxed)
    }

    /// Blocks stored compressed.
    pub(crate) fn compressed_blocks(&self) -> u64 {
        self.counters.compressed_blocks.load(Relaxed)
    }

    /// Zeroed blocks.
    pub(crate) fn zeroed_blocks(&self) -> u64 {
        (self.blocks() as u64).saturating_sub(self.raw_blocks() + self.compressed_blocks())
    }

    /// The compressed size of the compressed blocks, in bytes.
    pub(crate) fn compressed_bytes(&self) -> u64 {
        self.counters.compressed_bytes.load(Relaxed)
    }

    /// The data the device holds, in bytes, before compression.
    pub(crate) fn stored_bytes(&self) -> u64 {
        (self.raw_blocks() + self.compressed_blocks()) * BLOCK_SIZE as u64
    }

    /// Every byte the store holds: zsmalloc pages (objects and their fragmentation), the
    /// block table and the compression buffers.
    pub(crate) fn mem_used_total(&self) -> u64 {
        self.pool.total_pages() * bindings::PAGE_SIZE as u64
            + (self.table.capacity() * size_of::<Entry>()) as u64
            + self.compressor.buffer_bytes()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        for entry in self.table.iter_mut() {
            let meta = Meta(entry.meta.get_mut());
            if meta.state() != State::Zeroed {
                // SAFETY: the entry owns its object (type invariant) and is dropped next.
                unsafe { self.pool.free(entry.handle.load(Relaxed)) };
            }
        }
    }
}

#[kunit_tests(foxramdisk_store)]
mod tests {
    use super::*;

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
        Ok(Meta(store.entry(index)?.meta.lock().get()).state())
    }

    /// Writes `data` to block `index`, reads it back and checks it.
    fn round_trip(store: &Store, index: usize, data: &[u8]) -> Result {
        let mut ctx = store.context()?;
        ctx.block.copy_from_slice(data);
        store.write_block(&mut ctx, index)?;
        ctx.block.fill(0xAA);
        let has_data = store.read_block(&mut ctx, index)?;
        if has_data {
            assert!(&ctx.block[..] == data);
        } else {
            assert!(is_zero(data));
        }
        Ok(())
    }

    #[test]
    fn new_store_is_all_zeroed() -> Result {
        let store = Store::new(8, Algorithm::Lz4)?;
        assert_eq!(store.blocks(), 8);
        assert_eq!(store.zeroed_blocks(), 8);
        assert_eq!(store.stored_bytes(), 0);
        let mut ctx = store.context()?;
        for i in 0..8 {
            assert!(!store.read_block(&mut ctx, i)?);
            assert_eq!(state_of(&store, i)?, State::Zeroed);
        }
        Ok(())
    }

    #[test]
    fn every_algorithm_round_trips() -> Result {
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let zero = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 0x1234_5678_9abc_def1);
        fill_text(&mut text);
        for algorithm in Algorithm::ALL {
            // The lab kernel has every algorithm: a missing one is a configuration bug.
            assert!(algorithm.available());
            let store = Store::new(4, algorithm)?;
            round_trip(&store, 0, &random)?;
            round_trip(&store, 1, &text)?;
            round_trip(&store, 2, &zero)?;
            assert_eq!(state_of(&store, 0)?, State::Raw);
            let text_state = if algorithm == Algorithm::NoComp {
                State::Raw
            } else {
                State::Compressed
            };
            assert_eq!(state_of(&store, 1)?, text_state);
            assert_eq!(state_of(&store, 2)?, State::Zeroed);
            // Overwrite compressed with random and back: states follow the data.
            round_trip(&store, 1, &random)?;
            assert_eq!(state_of(&store, 1)?, State::Raw);
            round_trip(&store, 1, &text)?;
            assert_eq!(state_of(&store, 1)?, text_state);
        }
        Ok(())
    }

    #[test]
    fn threshold_is_honoured() -> Result {
        let store = Store::new(1, Algorithm::Lz4)?;
        let threshold = store.threshold();
        assert!(threshold < BLOCK_SIZE);
        // A block that is half random compresses to about half: stored compressed.
        let mut ctx = store.context()?;
        fill_text(&mut ctx.block);
        fill_random(&mut ctx.block[..BLOCK_SIZE / 2], 7);
        store.write_block(&mut ctx, 0)?;
        drop(ctx);
        assert_eq!(state_of(&store, 0)?, State::Compressed);
        assert!(store.compressed_bytes() as usize <= threshold);
        // Mostly random: compresses to more than the threshold, stored raw.
        let mut ctx = store.context()?;
        fill_text(&mut ctx.block);
        fill_random(&mut ctx.block[..BLOCK_SIZE - 64], 9);
        store.write_block(&mut ctx, 0)?;
        drop(ctx);
        assert_eq!(state_of(&store, 0)?, State::Raw);
        assert_eq!(store.compressed_bytes(), 0);
        Ok(())
    }

    #[test]
    fn counters_add_up_and_discard_frees_all() -> Result {
        let store = Store::new(16, Algorithm::Zstd)?;
        let empty = store.mem_used_total();
        let mut random = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut text = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut random, 3);
        fill_text(&mut text);
        for i in 0..4 {
            round_trip(&store, i, &random)?;
        }
        for i in 4..10 {
            round_trip(&store, i, &text)?;
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
        assert_eq!(store.mem_used_total(), empty);
        Ok(())
    }

    #[test]
    fn overwrites_reuse_the_object_of_the_same_size_class() -> Result {
        let store = Store::new(2, Algorithm::Lz4)?;
        let mut a = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut b = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        fill_random(&mut a, 11);
        fill_random(&mut b, 12);
        round_trip(&store, 0, &a)?;
        let after_first = store.mem_used_total();
        // Raw over raw: same class, same memory, new data.
        round_trip(&store, 0, &b)?;
        assert_eq!(store.mem_used_total(), after_first);
        assert_eq!(store.raw_blocks(), 1);
        // Text over raw: another class; the raw object is freed.
        fill_text(&mut a);
        round_trip(&store, 0, &a)?;
        assert_eq!(state_of(&store, 0)?, State::Compressed);
        assert_eq!(store.raw_blocks(), 0);
        // The same text again: same size, same class, counters unchanged.
        let bytes = store.compressed_bytes();
        round_trip(&store, 0, &a)?;
        assert_eq!(store.compressed_bytes(), bytes);
        assert_eq!(store.compressed_blocks(), 1);
        Ok(())
    }

    #[test]
    fn out_of_range_is_rejected() -> Result {
        let store = Store::new(2, Algorithm::NoComp)?;
        let mut ctx = store.context()?;
        assert_eq!(store.read_block(&mut ctx, 2), Err(EIO));
        assert_eq!(store.write_block(&mut ctx, 2), Err(EIO));
        assert_eq!(store.discard(usize::MAX), Err(EIO));
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
                assert_eq!(meta.algorithm(), Some(algorithm));
                assert_eq!(meta.size(), size);
            }
        }
        assert_eq!(Meta::ZEROED.state(), State::Zeroed);
    }
}
