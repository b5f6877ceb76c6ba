// SPDX-License-Identifier: GPL-2.0

//! I/O statistics of a device (`/sys/block/foxramdiskN/io_stat/`).

use kernel::{
    cpu,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// A counter of [`IoStats`].
#[derive(Clone, Copy)]
pub(crate) enum Counter {
    /// Bytes written successfully.
    BytesWritten,
    /// Bytes read successfully.
    BytesRead,
    /// Bytes discarded or write-zeroed successfully.
    BytesDiscarded,
    /// Read requests that failed.
    FailedReads,
    /// Write requests that failed.
    FailedWrites,
    /// Discard and write-zeroes requests that failed.
    FailedDiscards,
}

impl Counter {
    /// Every counter.
    const ALL: [Self; 6] = [
        Self::BytesWritten,
        Self::BytesRead,
        Self::BytesDiscarded,
        Self::FailedReads,
        Self::FailedWrites,
        Self::FailedDiscards,
    ];
}

/// One CPU's counters, on cache lines of their own (64 bytes: `L1_CACHE_BYTES` of x86-64
/// and arm64), so that CPUs serving requests at the same time never write a shared line.
#[repr(C, align(64))]
struct CpuCounters {
    bytes_written: Atomic<u64>,
    bytes_read: Atomic<u64>,
    bytes_discarded: Atomic<u64>,
    failed_reads: Atomic<u64>,
    failed_writes: Atomic<u64>,
    failed_discards: Atomic<u64>,
}

impl CpuCounters {
    /// All zero.
    const fn new() -> Self {
        Self {
            bytes_written: Atomic::new(0),
            bytes_read: Atomic::new(0),
            bytes_discarded: Atomic::new(0),
            failed_reads: Atomic::new(0),
            failed_writes: Atomic::new(0),
            failed_discards: Atomic::new(0),
        }
    }

    /// This CPU's `counter`.
    fn get(&self, counter: Counter) -> &Atomic<u64> {
        match counter {
            Counter::BytesWritten => &self.bytes_written,
            Counter::BytesRead => &self.bytes_read,
            Counter::BytesDiscarded => &self.bytes_discarded,
            Counter::FailedReads => &self.failed_reads,
            Counter::FailedWrites => &self.failed_writes,
            Counter::FailedDiscards => &self.failed_discards,
        }
    }
}

/// Counters of the requests a device served, one set per possible CPU: a request counts on
/// the set of the CPU it runs on, and a reader adds the sets up.
///
/// Relaxed atomics: each counter is exact once the requests it counts have ended; a sum
/// taken meanwhile may miss the ones still running, and the counters are not a snapshot.
pub(crate) struct IoStats {
    cpus: KVec<CpuCounters>,
}

impl IoStats {
    /// All zero, with a set of counters for each possible CPU. May sleep.
    pub(crate) fn new() -> Result<Self> {
        let n = cpu::nr_cpu_ids() as usize;
        let mut cpus = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            cpus.push(CpuCounters::new(), GFP_KERNEL)?;
        }
        Ok(Self { cpus })
    }

    /// The value of `counter`: the sum over all CPUs.
    pub(crate) fn get(&self, counter: Counter) -> u64 {
        self.cpus.iter().fold(0u64, |sum, cpu| {
            sum.wrapping_add(cpu.get(counter).load(Relaxed))
        })
    }

    /// Sets every counter to zero (a reset of the device).
    pub(crate) fn clear(&self) {
        for cpu in self.cpus.iter() {
            for counter in Counter::ALL {
                cpu.get(counter).store(0, Relaxed);
            }
        }
    }

    /// Counts one request: `bytes` to `done` if it succeeded, else one to `failed`.
    ///
    /// The set is the current CPU's; should the task move to another CPU meanwhile, the
    /// atomic add still counts exactly, on the set it picked.
    pub(crate) fn count(&self, done: Counter, failed: Counter, ok: bool, bytes: u64) {
        let cpu = cpu::CpuId::current().as_u32() as usize;
        // `nr_cpu_ids` bounds every CPU number; the first set would do as well otherwise.
        let Some(set) = self.cpus.get(cpu).or_else(|| self.cpus.first()) else {
            return;
        };
        if ok {
            set.get(done).fetch_add(bytes, Relaxed);
        } else {
            set.get(failed).fetch_add(1, Relaxed);
        }
    }
}
