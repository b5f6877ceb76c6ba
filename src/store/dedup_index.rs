// SPDX-License-Identifier: GPL-2.0

//! Where a write looks for a block that holds the same data: a lossy index from a hash of
//! stored data to the block that stored it, of half an 8-byte entry per block of the
//! device, allocated a page at a time as entries are made.
//!
//! An entry is a hint, never a proof: the block it names may have been overwritten or
//! discarded since, or may hold other data of the same hash bits. The writer compares the
//! block's bytes with its own under the block's lock before it shares anything
//! (`StoreIo::store_dedup`), so a stale or colliding entry costs a
//! comparison, and an entry forgotten costs a copy stored twice. A write does not remove
//! the entry of the block it overwrites (a block's hash is not kept beside it): a new entry
//! replaces one of the same hash bits, else an empty one, else one chosen by the hash, in
//! its bucket of [`BUCKET`] entries. The trim after a discard or a compaction
//! ([`Store::trim_table`](super::Store::trim_table)) forgets the entries of blocks that hold
//! no page or object any more and frees the pages left empty; the whole index is emptied on
//! a reset, when `dedup` is switched off, and on a resize, which changes the number of
//! buckets.
//!
//! Entries are read and written with relaxed atomics and no lock: two writers that record
//! an entry in the same bucket at once may both take the same place, and one of the
//! entries is forgotten.

use crate::ext::chunk_table::{ChunkTable, SpareChunks};
use kernel::{
    bindings,
    prelude::*,
    static_lock_class,
    sync::atomic::{Atomic, Relaxed},
};

/// Entries per bucket: a cache line of them, the entries a lookup compares.
pub(super) const BUCKET: usize = 8;

/// Entries per page of the index.
const ENTRIES_PER_CHUNK: usize = bindings::PAGE_SIZE / size_of::<u64>();
const _: () = assert!(ENTRIES_PER_CHUNK % BUCKET == 0);

/// The bits of an entry that hold its block's number plus one; 0 is an empty entry. Blocks
/// from 2^40 - 1 on (past 4 PiB with 4 KiB blocks) are not indexed.
const BLOCK_BITS: u32 = 40;

/// The mask of [`BLOCK_BITS`].
const BLOCK_MASK: u64 = (1 << BLOCK_BITS) - 1;

/// The bits of the hash an entry keeps above its block: the low 24, which the choice of
/// bucket hardly depends on (it takes the high bits of the hash).
const TAG_MASK: u64 = (1 << (u64::BITS - BLOCK_BITS)) - 1;

/// The entries an index for `blocks` blocks has: half as many, in whole buckets, and at
/// least one bucket.
fn entries_for(blocks: usize) -> usize {
    blocks.div_ceil(2 * BUCKET).max(1) * BUCKET
}

/// The entry that records `block` under `hash`; `None` for a block past [`BLOCK_BITS`].
fn entry(hash: u64, block: usize) -> Option<u64> {
    let block = u64::try_from(block).ok()?;
    (block < BLOCK_MASK).then(|| (hash & TAG_MASK) << BLOCK_BITS | (block + 1))
}

/// The block that `entry` records if it is one of `hash`.
fn block_of(entry: u64, hash: u64) -> Option<usize> {
    let block = entry & BLOCK_MASK;
    if block == 0 || entry >> BLOCK_BITS != hash & TAG_MASK {
        return None;
    }
    usize::try_from(block - 1).ok()
}

/// An index of stored data by hash; see the module documentation.
///
/// # Invariants
///
/// The table's length is a whole number of buckets, at least one.
pub(super) struct DedupIndex {
    table: ChunkTable<Atomic<u64>, ENTRIES_PER_CHUNK>,
}

/// What [`DedupIndex::resize`] needs, allocated before the store is changed.
pub(super) struct SpareIndex(SpareChunks<Atomic<u64>, ENTRIES_PER_CHUNK>);

impl SpareIndex {
    /// Room for the index of a store of `blocks` blocks. May sleep.
    pub(super) fn new(blocks: usize) -> Result<Self> {
        Ok(Self(SpareChunks::new(entries_for(blocks))?))
    }
}

impl DedupIndex {
    /// An empty index for a store of `blocks` blocks. May sleep.
    pub(super) fn new(blocks: usize) -> Result<Self> {
        // INVARIANT: `entries_for` gives whole buckets, at least one.
        Ok(Self {
            table: ChunkTable::new(
                entries_for(blocks),
                c"foxramdisk dedup index",
                static_lock_class!(),
            )?,
        })
    }

    /// The first entry of the bucket of `hash`: the high bits of the hash choose it.
    fn bucket(&self, hash: u64) -> usize {
        let buckets = self.table.len() / BUCKET;
        // Below `buckets`: the product's high word is less than its second factor.
        ((u128::from(hash) * buckets as u128) >> u64::BITS) as usize * BUCKET
    }

    /// Runs `f` with the bucket of `hash`, the index's read side held meanwhile, or with
    /// `None` if the bucket's page is not allocated and cannot be: `reserve` is asked with
    /// its size first, and may refuse it. May sleep (allocation), and so may `f`: the
    /// index is emptied or resized only by the store's controls, which never wait for a
    /// block's slot lock, so `f` may lock slots.
    pub(super) fn with_bucket<R>(
        &self,
        hash: u64,
        reserve: impl FnOnce(usize) -> Result,
        f: impl FnOnce(Option<Bucket<'_>>) -> R,
    ) -> R {
        let table = self.table.read();
        let first = self.bucket(hash);
        // Made in place: a page on the stack of the I/O path would be too much.
        let alloc = || {
            reserve(ChunkTable::<Atomic<u64>, ENTRIES_PER_CHUNK>::CHUNK_BYTES)?;
            KBox::init(
                pin_init::init_array_from_fn(|_| Atomic::new(0)),
                GFP_KERNEL | __GFP_NOWARN,
            )
        };
        // The page is looked up once where it is allocated, as it mostly is.
        let chunk = match table.chunk(first) {
            Ok(None) => table
                .get_or_alloc(first, alloc)
                .and_then(|_| table.chunk(first)),
            found => found,
        };
        let start = first % ENTRIES_PER_CHUNK;
        let entries = match chunk {
            Ok(Some(chunk)) => chunk.get(start..start + BUCKET),
            _ => None,
        };
        f(entries.map(|entries| Bucket { entries, hash }))
    }

    /// Forgets the entries whose block `holds_data` says holds none now (stale: the block
    /// was overwritten with nothing to share, discarded or freed) and frees the pages left
    /// with no entry; returns how many pages. `holds_data` must not sleep or take a slot
    /// lock: the index's write side is held meanwhile. May sleep.
    pub(super) fn trim(&self, mut holds_data: impl FnMut(usize) -> bool) -> usize {
        self.table.exclusive().free_chunks_where(|chunk| {
            let mut empty = true;
            for entry in chunk.iter_mut() {
                let block = *entry.get_mut() & BLOCK_MASK;
                if block == 0 {
                    continue;
                }
                match usize::try_from(block - 1) {
                    Ok(block) if holds_data(block) => empty = false,
                    _ => *entry.get_mut() = 0,
                }
            }
            empty
        })
    }

    /// Forgets every entry and frees their pages. May sleep.
    pub(super) fn clear(&self) {
        self.table.exclusive().clear(|_| ());
    }

    /// Forgets every entry and gives the index the spare's length (the buckets change, so
    /// no entry would be found where it is). May sleep.
    pub(super) fn resize(&self, spare: SpareIndex) {
        let mut table = self.table.exclusive();
        table.clear(|_| ());
        // INVARIANT: `SpareIndex::new` sized it with `entries_for`.
        table.resize(spare.0);
    }

    /// The memory the index takes, in bytes.
    pub(super) fn bytes(&self) -> usize {
        self.table.bytes()
    }
}

/// The bucket of one hash in a [`DedupIndex`] (see [`DedupIndex::with_bucket`]).
pub(super) struct Bucket<'a> {
    entries: &'a [Atomic<u64>],
    hash: u64,
}

impl Bucket<'_> {
    /// Writes into `found` the blocks that the bucket's entries of its hash record, and
    /// returns how many. Never sleeps.
    pub(super) fn find(&self, found: &mut [usize; BUCKET]) -> usize {
        let mut n = 0;
        for entry in self.entries {
            if let (Some(block), Some(slot)) =
                (block_of(entry.load(Relaxed), self.hash), found.get_mut(n))
            {
                *slot = block;
                n += 1;
            }
        }
        n
    }

    /// Records that `block` holds data of the bucket's hash, in place of an entry of the
    /// same hash bits, else of an empty one, else of the one the hash picks. A block past
    /// [`BLOCK_BITS`] is not recorded. Never sleeps.
    pub(super) fn record(&self, block: usize) {
        let hash = self.hash;
        let Some(new) = entry(hash, block) else {
            return;
        };
        let place = self
            .entries
            .iter()
            .position(|e| {
                let old = e.load(Relaxed);
                old & BLOCK_MASK == 0 || old >> BLOCK_BITS == hash & TAG_MASK
            })
            .unwrap_or((hash >> (u64::BITS / 2)) as usize % BUCKET);
        if let Some(e) = self.entries.get(place) {
            e.store(new, Relaxed);
        }
    }
}

#[kunit_tests(foxramdisk_dedup_index)]
mod tests {
    use super::*;

    impl DedupIndex {
        /// The blocks the entries of `hash` record, into `found`: how many.
        fn find(&self, hash: u64, found: &mut [usize; BUCKET]) -> usize {
            self.with_bucket(hash, |_| Err(ENOSPC), |b| b.map_or(0, |b| b.find(found)))
        }

        /// Records `block` under `hash`, the page allocated if `reserve` allows it.
        fn record(&self, hash: u64, block: usize, reserve: impl FnOnce(usize) -> Result) {
            self.with_bucket(hash, reserve, |b| b.map(|b| b.record(block)));
        }
    }

    #[test]
    fn entries_find_blocks_by_hash_and_are_replaced() -> Result {
        let index = DedupIndex::new(1000)?;
        assert_eq!(index.table.len(), 504);
        let mut found = [0; BUCKET];
        assert_eq!(index.find(7, &mut found), 0);
        let before = index.bytes();
        index.record(7, 42, |_| Ok(()));
        assert!(index.bytes() > before);
        assert_eq!(index.find(7, &mut found), 1);
        assert_eq!(found[0], 42);
        // Another hash of the same bucket with other low bits finds nothing of it.
        assert_eq!(index.find(7 | 1 << 23, &mut found), 0);
        // The same hash: the entry is replaced.
        index.record(7, 43, |_| Ok(()));
        assert_eq!(index.find(7, &mut found), 1);
        assert_eq!(found[0], 43);
        // Another bucket fills up; then each new entry takes the place the hash picks:
        // the bucket keeps `BUCKET` entries, the last one among them.
        let high = 1 << 63;
        for i in 0..2 * BUCKET as u64 {
            index.record(high | i, 100 + i as usize, |_| Ok(()));
        }
        let mut total = 0;
        for i in 0..2 * BUCKET as u64 {
            total += index.find(high | i, &mut found);
        }
        assert_eq!(total, BUCKET);
        assert_eq!(index.find(high | (2 * BUCKET as u64 - 1), &mut found), 1);
        assert_eq!(found[0], 100 + 2 * BUCKET - 1);
        assert_eq!(index.find(7, &mut found), 1);
        // Block 0 is an entry; blocks past the entry's bits are not recorded.
        index.record(9, 0, |_| Ok(()));
        assert_eq!(index.find(9, &mut found), 1);
        assert_eq!(found[0], 0);
        index.record(11, 1 << 40, |_| Ok(()));
        assert_eq!(index.find(11, &mut found), 0);
        index.clear();
        assert_eq!(index.find(7, &mut found), 0);
        assert_eq!(index.bytes(), before);
        Ok(())
    }

    #[test]
    fn trim_forgets_blocks_without_data_and_frees_their_pages() -> Result {
        // Two pages of entries.
        let index = DedupIndex::new(2048)?;
        assert_eq!(index.table.len(), 2 * ENTRIES_PER_CHUNK);
        let empty = index.bytes();
        let mut found = [0; BUCKET];
        // The lowest bucket holds blocks 5 and 6, the highest block 7.
        index.record(0, 5, |_| Ok(()));
        index.record(1, 6, |_| Ok(()));
        index.record(u64::MAX, 7, |_| Ok(()));
        let page = bindings::PAGE_SIZE;
        assert_eq!(index.bytes(), empty + 2 * page);
        // Blocks 6 and 7 hold no data: their entries go, and so does the page of 7.
        assert_eq!(index.trim(|block| block == 5), 1);
        assert_eq!(index.find(0, &mut found), 1);
        assert_eq!(found[0], 5);
        assert_eq!(index.find(1, &mut found), 0);
        assert_eq!(index.find(u64::MAX, &mut found), 0);
        assert_eq!(index.bytes(), empty + page);
        assert_eq!(index.trim(|_| false), 1);
        assert_eq!(index.find(0, &mut found), 0);
        assert_eq!(index.bytes(), empty);
        Ok(())
    }

    #[test]
    fn a_refused_page_records_nothing_and_a_resize_forgets() -> Result {
        let index = DedupIndex::new(1 << 20)?;
        let mut found = [0; BUCKET];
        index.record(3, 1, |_| Err(ENOSPC));
        assert_eq!(index.find(3, &mut found), 0);
        index.record(3, 1, |bytes| {
            assert_eq!(bytes, bindings::PAGE_SIZE);
            Ok(())
        });
        assert_eq!(index.find(3, &mut found), 1);
        index.resize(SpareIndex::new(10)?);
        assert_eq!(index.table.len(), BUCKET);
        assert_eq!(index.find(3, &mut found), 0);
        // One bucket: every hash lands in it.
        index.record(u64::MAX, 2, |_| Ok(()));
        assert_eq!(index.find(u64::MAX, &mut found), 1);
        Ok(())
    }
}
