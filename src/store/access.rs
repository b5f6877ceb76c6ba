// SPDX-License-Identifier: GPL-2.0

//! When each block was last read or written (zram's `ac_time`), for `echo N > idle`: kept
//! only from the first time it is asked for, so that a device that never marks blocks by
//! age pays nothing for it.

use crate::ext::chunk_table::{ChunkTable, SpareChunks};
use kernel::{
    bindings,
    prelude::*,
    static_lock_class,
    sync::atomic::{Atomic, Relaxed},
    time::{BootTime, Instant},
};

/// Times per table chunk: a page of them.
const TIMES_PER_CHUNK: usize = bindings::PAGE_SIZE / size_of::<u32>();

/// Nanoseconds per second.
const NSEC_PER_SEC: i64 = 1_000_000_000;

/// The access times of a store's blocks, in a sparse table of 4 bytes per block, allocated
/// a page at a time as blocks are accessed: for each block, 0 if it was not read or
/// written since the times were first kept (it counts as accessed then), else 1 plus the
/// whole seconds from then to its last access. The boot-time clock, as zram's, which goes
/// on while the machine is suspended; 32 bits of seconds last 136 years.
pub(super) struct AccessTimes {
    table: ChunkTable<Atomic<u32>, TIMES_PER_CHUNK>,
    /// When the times were first kept.
    since: Instant<BootTime>,
}

/// What [`AccessTimes::resize`] needs, allocated before the store is changed.
pub(super) struct SpareTimes(SpareChunks<Atomic<u32>, TIMES_PER_CHUNK>);

impl SpareTimes {
    /// Room for `len` times. May sleep.
    pub(super) fn new(len: usize) -> Result<Self> {
        Ok(Self(SpareChunks::new(len)?))
    }
}

impl AccessTimes {
    /// Times for `blocks` blocks, all "not accessed since now". May sleep.
    pub(super) fn new(blocks: usize) -> Result<Self> {
        Ok(Self {
            table: ChunkTable::new(blocks, c"foxramdisk access times", static_lock_class!())?,
            since: Instant::now(),
        })
    }

    /// The whole seconds from when the times were first kept to now.
    pub(super) fn now(&self) -> u32 {
        let nanos = self.since.elapsed().as_nanos().max(0);
        u32::try_from(nanos / NSEC_PER_SEC).unwrap_or(u32::MAX - 1)
    }

    /// Records an access of block `index` now. Nothing is recorded if the page of times
    /// that holds it cannot be allocated (the block then looks older than it is, which may
    /// only mark it idle too early). May sleep.
    pub(super) fn touch(&self, index: usize) {
        self.record(index, self.now());
    }

    /// Records an access of block `index` at `seconds` ([`AccessTimes::now`]'s clock).
    fn record(&self, index: usize, seconds: u32) {
        let table = self.table.read();
        // Made in place: a page on the stack of the I/O path would be too much.
        let chunk = || {
            KBox::init(
                pin_init::init_array_from_fn(|_| Atomic::new(0)),
                GFP_KERNEL | __GFP_NOWARN,
            )
        };
        if let Ok(time) = table.get_or_alloc(index, chunk) {
            time.store(seconds.saturating_add(1), Relaxed);
        }
    }

    /// Forgets block `index`'s time, as when it is discarded, so that the page of times of
    /// a range of blocks discarded whole can be freed ([`AccessTimes::trim`]). Never sleeps:
    /// if the table is being changed, the time stays.
    pub(super) fn forget(&self, index: usize) {
        if let Some(table) = self.table.try_read() {
            if let Ok(Some(time)) = table.get(index) {
                time.store(0, Relaxed);
            }
        }
    }

    /// Whether block `index` was last accessed more than `age` seconds before `now`
    /// ([`AccessTimes::now`]): zram's test, `ac_time < uptime - age`.
    pub(super) fn older_than(&self, index: usize, age: u32, now: u32) -> bool {
        let table = self.table.read();
        let last = match table.get(index) {
            Ok(Some(time)) => time.load(Relaxed).saturating_sub(1),
            _ => 0,
        };
        u64::from(last) + u64::from(age) < u64::from(now)
    }

    /// Gives the times the spare's length; the times of the blocks kept stay. May sleep.
    pub(super) fn resize(&self, spare: SpareTimes) {
        self.table.exclusive().resize(spare.0);
    }

    /// Forgets every time (as after a reset: every block counts as accessed when the times
    /// were first kept), and frees their pages. May sleep.
    pub(super) fn clear(&self) {
        self.table.exclusive().clear(|_| ());
    }

    /// Frees the pages of times that hold none; returns how many. May sleep.
    pub(super) fn trim(&self) -> usize {
        self.table
            .exclusive()
            .free_chunks_where(|chunk| chunk.iter_mut().all(|time| *time.get_mut() == 0))
    }

    /// The memory the times take, in bytes.
    pub(super) fn bytes(&self) -> usize {
        self.table.bytes()
    }
}

#[kunit_tests(foxramdisk_access_times)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_idle_by_their_last_access() -> Result {
        let times = AccessTimes::new(3000)?;
        assert_eq!(times.bytes(), times.table.bytes());
        let before = times.bytes();
        // Not accessed since the times were first kept: as old as the times.
        assert!(!times.older_than(5, 10, 10));
        assert!(times.older_than(5, 10, 11));
        times.record(5, 100);
        times.record(2999, 50);
        assert!(times.bytes() > before);
        assert!(!times.older_than(5, 30, 130));
        assert!(times.older_than(5, 30, 131));
        assert!(times.older_than(2999, 0, 51));
        assert!(!times.older_than(2999, 0, 50));
        // The largest age never overflows.
        assert!(!times.older_than(5, u32::MAX, u32::MAX));
        // Forgotten: as old as the times again; pages with no time are freed.
        times.forget(5);
        assert!(times.older_than(5, 30, 31));
        assert_eq!(times.trim(), 1);
        times.forget(2999);
        assert_eq!(times.trim(), 1);
        assert_eq!(times.bytes(), before);
        // Out of range: nothing recorded, nothing found.
        times.record(3000, 1);
        assert!(times.older_than(3000, 0, 1));
        Ok(())
    }

    #[test]
    fn times_follow_a_resize_and_a_clear() -> Result {
        let times = AccessTimes::new(100)?;
        times.record(10, 7);
        times.resize(SpareTimes::new(5000)?);
        assert!(!times.older_than(10, 0, 7));
        times.record(4999, 9);
        assert!(!times.older_than(4999, 0, 9));
        times.resize(SpareTimes::new(20)?);
        assert!(!times.older_than(10, 0, 7));
        times.clear();
        assert!(times.older_than(10, 0, 1));
        Ok(())
    }
}
