// SPDX-License-Identifier: GPL-2.0

//! I/O statistics of a device (`/sys/block/foxramdiskN/io_stat/`).

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
