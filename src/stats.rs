// SPDX-License-Identifier: GPL-2.0

//! I/O statistics of a device (`io_stat`, `io_counters/` and `debug_stat` in
//! `/sys/block/foxramdiskN/`).

use kernel::sync::atomic::{Atomic, Relaxed};

/// Counters of the requests a device served. Relaxed atomics: each counter is exact, the
/// set is not a snapshot.
pub(crate) struct IoStats {
    /// Bytes written successfully.
    pub(crate) bytes_written: Atomic<u64>,
    /// Bytes read successfully.
    pub(crate) bytes_read: Atomic<u64>,
    /// Bytes discarded or write-zeroed successfully.
    pub(crate) bytes_discarded: Atomic<u64>,
    /// Read requests that failed.
    pub(crate) failed_reads: Atomic<u64>,
    /// Write requests that failed.
    pub(crate) failed_writes: Atomic<u64>,
    /// Discard and write-zeroes requests that failed.
    pub(crate) failed_discards: Atomic<u64>,
    /// Requests refused before they were served: beyond the end, or not block-aligned.
    pub(crate) invalid_io: Atomic<u64>,
    /// Swap slots whose freeing swap notified (zram's `notify_free`).
    pub(crate) notify_free: Atomic<u64>,
    /// Notified slots left stored because their entry was busy (zram's `miss_free`).
    pub(crate) miss_free: Atomic<u64>,
    /// Waits of swap-outs that found no memory, not even in the reserves, for reclaim to
    /// free some before they tried again (zram's former `writestall`).
    pub(crate) write_stalls: Atomic<u64>,
}

impl IoStats {
    /// All zero.
    pub(crate) const fn new() -> Self {
        Self {
            bytes_written: Atomic::new(0),
            bytes_read: Atomic::new(0),
            bytes_discarded: Atomic::new(0),
            failed_reads: Atomic::new(0),
            failed_writes: Atomic::new(0),
            failed_discards: Atomic::new(0),
            invalid_io: Atomic::new(0),
            notify_free: Atomic::new(0),
            miss_free: Atomic::new(0),
            write_stalls: Atomic::new(0),
        }
    }

    /// Sets every counter to zero (a reset of the device).
    pub(crate) fn clear(&self) {
        for counter in [
            &self.bytes_written,
            &self.bytes_read,
            &self.bytes_discarded,
            &self.failed_reads,
            &self.failed_writes,
            &self.failed_discards,
            &self.invalid_io,
            &self.notify_free,
            &self.miss_free,
            &self.write_stalls,
        ] {
            counter.store(0, Relaxed);
        }
    }

    /// Counts one request: `bytes` to `done` if it succeeded, else one to `failed`.
    pub(crate) fn count(done: &Atomic<u64>, failed: &Atomic<u64>, ok: bool, bytes: u64) {
        if ok {
            done.fetch_add(bytes, Relaxed);
        } else {
            failed.fetch_add(1, Relaxed);
        }
    }
}
