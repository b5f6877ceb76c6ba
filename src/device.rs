// SPDX-License-Identifier: GPL-2.0

//! A foxramdisk device: a block store served through a blk-mq disk.

use crate::{
    algorithm::Algorithm,
    attributes,
    disk_data::DiskData,
    ext::{
        block::mq::{
            gen_disk::{Features, GenDisk, GenDiskBuilder},
            TagSet,
        },
        workqueue::WithWork,
    },
    geometry::{BLOCK_SIZE, SECTORS_PER_BLOCK_SHIFT},
    io::DiskOps,
    store::Store,
};
use kernel::{bindings, block::SECTOR_SHIFT, cpu, prelude::*, str::CString, sync::Arc};

/// Requests in flight per hardware queue.
const QUEUE_DEPTH: u32 = 128;

/// The most sectors one request carries: a full bio of pages (`BIO_MAX_VECS`), 1 MiB with
/// 4 KiB pages.
const MAX_REQUEST_SECTORS: u32 =
    bindings::BIO_MAX_VECS * (bindings::PAGE_SIZE >> SECTOR_SHIFT) as u32;

/// One device, `/dev/foxramdiskN`.
pub(crate) struct Device {
    /// The disk; dropped first, so no request or sysfs access reaches the data afterwards.
    disk: GenDisk<DiskOps>,
    /// The data.
    data: Data,
}

/// A device's data, and its work item, which may still be queued by the last discard.
///
/// Dropped after the disk, when no request can queue the item again: waits for it, so
/// that no run is left when the module goes.
struct Data(Arc<WithWork<DiskData>>);

impl Drop for Data {
    fn drop(&mut self) {
        self.0.flush();
    }
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
        let (store, control) = Store::new(&name, nblocks, algorithm)?;
        // Deduplication is on from the start: on data without duplicates it costs 2% more
        // instructions per write and 0.2% more memory (`Documentation/benchmarks.rst`).
        store.set_dedup(&control, true)?;
        let data = Arc::pin_init(
            WithWork::new(
                DiskData::new((store, control), id),
                c"foxramdisk_trim",
                kernel::static_lock_class!(),
            ),
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
        Ok(Self {
            disk,
            data: Data(data),
        })
    }

    /// Claims the device for its removal: `EBUSY` if it is open or being reset. The claim
    /// is never released: the device can no longer be opened until it is dropped.
    pub(crate) fn claim_for_removal(&self) -> Result {
        let claim = self.data.0.claim(&self.disk.disk())?;
        core::mem::forget(claim);
        Ok(())
    }

    /// The device number `N` of `/dev/foxramdiskN`.
    pub(crate) fn id(&self) -> u32 {
        self.data.0.id
    }

    /// The device's data.
    pub(crate) fn data(&self) -> &DiskData {
        &self.data.0
    }
}
