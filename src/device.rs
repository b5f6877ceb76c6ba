// SPDX-License-Identifier: GPL-2.0

//! A foxramdisk device: a block store served through a blk-mq disk.

use crate::{
    algorithm::Algorithm,
    attributes,
    ext::block::mq::{
        gen_disk::{DiskRef, Features, GenDisk, GenDiskBuilder},
        TagSet,
    },
    geometry::{BLOCK_SIZE, SECTORS_PER_BLOCK_SHIFT},
    io::DiskOps,
    stats::IoStats,
    store::Store,
};
use kernel::{
    bindings,
    block::SECTOR_SHIFT,
    cpu,
    new_mutex,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    }, //
};

/// Requests in flight per hardware queue.
const QUEUE_DEPTH: u32 = 128;

/// The most sectors one request carries: a full bio of pages (`BIO_MAX_VECS`), 1 MiB with
/// 4 KiB pages.
const MAX_REQUEST_SECTORS: u32 =
    bindings::BIO_MAX_VECS * (bindings::PAGE_SIZE >> SECTOR_SHIFT) as u32;

/// What the I/O path and sysfs reach through the request queue: the data and its counters.
#[pin_data]
pub(crate) struct DiskData {
    /// The device number `N` of `/dev/foxramdiskN`.
    pub(crate) id: u32,
    /// The blocks.
    pub(crate) store: Store,
    /// Request counters.
    pub(crate) io: IoStats,
    /// Serialises the controls that change the device (`disksize`, `reset`,
    /// `comp_algorithm`).
    #[pin]
    pub(crate) control: Mutex<()>,
    /// Set while the device is being reset or removed: opens fail with `EBUSY`.
    claimed: Atomic<bool>,
    /// Whether the memory limit has failed a write since it was last set (logged once).
    pub(crate) limit_hit: Atomic<bool>,
}

impl DiskData {
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

/// A claim on a device (see [`DiskData::claim`]), released on drop.
pub(crate) struct Claim<'a> {
    data: &'a DiskData,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.data.claimed.store(false, Relaxed);
    }
}

/// One device, `/dev/foxramdiskN`.
pub(crate) struct Device {
    /// The disk; dropped first, so no request or sysfs access reaches the data afterwards.
    disk: GenDisk<DiskOps>,
    /// The data.
    data: Arc<DiskData>,
}

impl Device {
    /// Creates `/dev/foxramdisk<id>` with `blocks` blocks of [`BLOCK_SIZE`] bytes that new
    /// writes compress with `algorithm`. May sleep.
    pub(crate) fn new(id: u32, blocks: u64, algorithm: Algorithm) -> Result<Self> {
        let nblocks = usize::try_from(blocks).map_err(|_| EINVAL)?;
        let capacity_sectors = blocks
            .checked_shl(SECTORS_PER_BLOCK_SHIFT)
            .filter(|s| s >> SECTORS_PER_BLOCK_SHIFT == blocks)
            .ok_or(EINVAL)?;
        let name = CString::try_from_fmt(fmt!("foxramdisk{id}"))?;
        let data = Arc::pin_init(
            try_pin_init!(DiskData {
                id,
                store: Store::new(&name, nblocks, algorithm)?,
                io: IoStats::new(),
                control <- new_mutex!(()),
                claimed: Atomic::new(false),
                limit_hit: Atomic::new(false),
            }),
            GFP_KERNEL,
        )?;
        // One hardware queue per CPU: requests from different CPUs never share a queue lock.
        let tagset = Arc::pin_init(TagSet::new(cpu::nr_cpu_ids(), QUEUE_DEPTH), GFP_KERNEL)?;
        let disk = GenDiskBuilder::new()
            .logical_block_size(BLOCK_SIZE as u32)?
            .physical_block_size(BLOCK_SIZE as u32)?
            .capacity_sectors(capacity_sectors)
            // Discard and write-zeroes of any size, in whole blocks: they free memory.
            .discard(u32::MAX, BLOCK_SIZE as u32)
            .max_write_zeroes_sectors(u32::MAX)
            // Requests of up to one full bio (1 MiB), in pages: a 128 KiB I/O stays one
            // request, where the block layer's default (255 sectors) would split it in two.
            // A request holds its CPU's compression context from start to end, so this also
            // bounds how long other I/O on that CPU waits for it.
            .max_request(MAX_REQUEST_SECTORS, bindings::BIO_MAX_VECS as u16)?
            // Requests complete before `queue_rq` returns; pages must not change while the
            // store compresses them.
            .features(Features::SYNCHRONOUS | Features::STABLE_WRITES)
            .attribute_groups(&attributes::GROUPS)
            .build(fmt!("foxramdisk{id}"), tagset, data.clone())?;
        pr_info!(
            "foxramdisk{id}: {blocks} blocks of {BLOCK_SIZE} bytes ({} KiB), {algorithm}\n",
            blocks * (BLOCK_SIZE as u64 / 1024)
        );
        Ok(Self { disk, data })
    }

    /// Claims the device for its removal: `EBUSY` if it is open or being reset. The claim
    /// is never released: the device can no longer be opened until it is dropped.
    pub(crate) fn claim_for_removal(&self) -> Result {
        let claim = self.data.claim(&self.disk.disk())?;
        core::mem::forget(claim);
        Ok(())
    }

    /// The device number `N` of `/dev/foxramdiskN`.
    pub(crate) fn id(&self) -> u32 {
        self.data.id
    }

    /// The device's data.
    pub(crate) fn data(&self) -> &DiskData {
        &self.data
    }
}
