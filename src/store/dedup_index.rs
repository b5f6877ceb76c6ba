// SPDX-License-Identifier: GPL-2.0

//! Where a write looks for a block that holds the same data: a lossy index from a hash of
//! stored data to the block that stored it, of half an 8-byte entry per block of the
//! device, allocated a page at a time as entries are made.
//!
//! An entry is a hint, never a proof: the block it names may have been overwritten or
//! discarded since, or may hold other data of the same hash bits. The writer compares the
//! block's bytes with its own under the block's lock before it shares anything
//! ([`Store`](super::Store)'s `write_shared`), so a stale or colliding entry costs a
//! comparison, and an entry forgotten costs a copy stored twice. Entries are never removed
//! one by one (a block's hash is not kept beside it): a new entry replaces one of the same
//! hash bits, else an empty one, else one chosen by the hash, in its bucket of
//! [`BUCKET`] entries; the whole index is emptied when the device holds no data any more
//! ([`Store::trim_table`](super::Store::trim_table)), on a reset, and on a resize, which
//! changes the number of buckets.
//!
//! Entries are read and written with relaxed atomics and no lock: two writers that record
//! an entry in the same bucket at once may both take the same place, and one of the
//! entries is forgotten.

use crate::ext::chunk_table::{ChunkTable, SpareChunks};
use core::ops::Range;
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

    /// The entries of the bucket of `hash`: the high bits of the hash choose it.
    fn bucket(&self, hash: u64) -> Range<usize> {
        let buckets = self.table.len() / BUCKET;
        // Below `buckets`: the product's high word is less than its second factor.
        let first = ((u128::from(hash) * buckets as u128) >> u64::BITS) as usize * BUCKET;
        first..first + BUCKET
    }

    /// Writes into `found` the blocks that the entries of `hash` record, and returns how
    /// many. Never sleeps, unless the index is being emptied or resized.
    pub(super) fn find(&self, hash: u64, found: &mut [usize; BUCKET]) -> usize {
        let table = self.table.read();
        let bucket = self.bucket(hash);
        let Ok(Some(chunk)) = table.chunk(bucket.start) else {
            return 0;
        };
        let start = bucket.start % ENTRIES_PER_CHUNK;
        let mut n = 0;
        for entry in chunk.iter().skip(start).take(BUCKET) {
            if let Some(block) = block_of(entry.load(Relaxed), hash) {
                found[n] = block;
                n += 1;
            }
        }
        n
    }

    /// Records that `block` holds data of `hash`, in place of the entry of `hash` that the
    /// bucket holds, else an empty one, else one the hash picks. A page of entries not yet
    /// allocated is allocated if `reserve`, asked with its size, allows it; else, and for a
    /// block past [`BLOCK_BITS`], nothing is recorded. May sleep (allocation).
    pub(super) fn record(&self, hash: u64, block: usize, reserve: impl FnOnce(usize) -> Result) {
        let Some(new) = entry(hash, block) else {
            return;
        };
        let table = self.table.read();
        let bucket = self.bucket(hash);
        // Made in place: a page on the stack of the I/O path would be too much.
        let chunk = || {
            reserve(ChunkTable::<Atomic<u64>, ENTRIES_PER_CHUNK>::CHUNK_BYTES)?;
            KBox::init(
                pin_init::init_array_from_fn(|_| Atomic::new(0)),
                GFP_KERNEL | __GFP_NOWARN,
            )
        };
        if table.get_or_alloc(bucket.start, chunk).is_err() {
            return;
        }
        let Ok(Some(entries)) = table.chunk(bucket.start) else {
            return;
        };
        let start = bucket.start % ENTRIES_PER_CHUNK;
        let Some(entries) = entries.get(start..start + BUCKET) else {
            return;
        };
        let place = entries
            .iter()
            .position(|e| {
                let old = e.load(Relaxed);
                old & BLOCK_MASK == 0 || old >> BLOCK_BITS == hash & TAG_MASK
            })
            .unwrap_or((hash >> (u64::BITS / 2)) as usize % BUCKET);
        if let Some(e) = entries.get(place) {
            e.store(new, Relaxed);
        }
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

#[kunit_tests(foxramdisk_dedup_index)]
mod tests {
    use super::*;

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
