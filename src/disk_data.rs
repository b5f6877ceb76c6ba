// SPDX-License-Identifier: GPL-2.0

//! A device's data: what its I/O path and its sysfs files reach through the request queue.

use crate::{
    ext::{
        block::mq::gen_disk::DiskRef,
        workqueue::{Job, WithWork},
    },
    stats::IoStats,
    store::{Store, StoreControl},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Mutex,
    }, //
};

/// What the I/O path and sysfs reach through the request queue: the data and its counters.
#[pin_data]
pub(crate) struct DiskData {
    /// The device number `N` of `/dev/foxramdiskN`.
    pub(crate) id: u32,
    /// The blocks.
    pub(crate) store: Store,
    /// Request counters.
    pub(crate) io: IoStats,
    /// Serialises the controls that change the device (`disksize`, `reset`, `compact`,
    /// `comp_algorithm`, `recomp_algorithm`, `recompress`, `idle`, `backing_dev`,
    /// `writeback`), and holds the store's control, which the ones that change the store
    /// as a whole need, with the secondary algorithms.
    #[pin]
    pub(crate) control: Mutex<StoreControl>,
    /// Set while the device is being reset or removed: opens fail with `EBUSY`.
    claimed: Atomic<bool>,
    /// Whether the memory limit has failed a write since it was last set (logged once).
    pub(crate) limit_hit: Atomic<bool>,
}

impl DiskData {
    /// The data of device `id`, serving `store`, whose control it keeps.
    pub(crate) fn new(
        (store, control): (Store, StoreControl),
        id: u32,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(DiskData {
            id,
            store,
            io: IoStats::new(),
            control <- new_mutex!(control),
            claimed: Atomic::new(false),
            limit_hit: Atomic::new(false),
        })
    }

    /// Claims the device of `disk` for a reset or removal: fails with `EBUSY` if it is
    /// open (a mounted filesystem or active swap holds it open) or already claimed; else
    /// no one can open it until the claim is dropped. May sleep.
    pub(crate) fn claim<'a>(&'a self, disk: &DiskRef<'_>) -> Result<Claim<'a>> {
        disk.with_open_mutex(|openers| {
            if openers > 0 || self.claimed.load(Relaxed) {
                return Err(EBUSY);
            }
            self.claimed.store(true, Relaxed);
            Ok(Claim { data: self })
        })
    }

    /// Refuses opens while the device is claimed; runs under the disk's `open_mutex`.
    pub(crate) fn check_open(&self) -> Result {
        if self.claimed.load(Relaxed) {
            Err(EBUSY)
        } else {
            Ok(())
        }
    }
}

/// The device's work item: frees the table chunks that discards left with no data. A
/// discard cannot free them itself: that takes the table's write side, which waits for
/// every request in flight, and the control mutex, which a control holds while it
/// freezes the queue. The queue is not frozen for it: requests that come meanwhile wait
/// for the table's read side, only while the chunks are freed.
impl Job for DiskData {
    fn run(this: &WithWork<Self>) {
        let mut control = this.control.lock();
        let chunks = this.store.trim_table(&mut control);
        pr_debug!(
            "foxramdisk{}: {chunks} table chunks freed after a discard\n",
            this.id
        );
    }
}

/// A claim on a device (see [`DiskData::claim`]), released on drop.
pub(crate) struct Claim<'a> {
    data: &'a DiskData,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.data.claimed.store(false, Relaxed);
    }
}
