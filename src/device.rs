// SPDX-License-Identifier: GPL-2.0

//! A foxramdisk device: a block store served through a blk-mq disk.

use crate::{
    codec::Algorithm,
    ext::block::mq::{
        gen_disk::{Features, GenDisk, GenDiskBuilder},
        TagSet,
    },
    io::DiskOps,
    stats::{self, IoStats},
    store::{Store, BLOCK_SHIFT, BLOCK_SIZE},
};
use kernel::{block::SECTOR_SHIFT, cpu, prelude::*, sync::Arc};

/// Requests in flight per hardware queue.
const QUEUE_DEPTH: u32 = 128;

/// Sectors per block, as a shift.
const SECTORS_PER_BLOCK_SHIFT: u32 = BLOCK_SHIFT - SECTOR_SHIFT;

/// What the I/O path and sysfs reach through the request queue: the data and its counters.
pub(crate) struct DiskData {
    /// The device number `N` of `/dev/foxramdiskN`.
    pub(crate) id: u32,
    /// The blocks.
    pub(crate) store: Store,
    /// Request counters.
    pub(crate) io: IoStats,
}

/// One device, `/dev/foxramdiskN`.
pub(crate) struct Device {
    /// The disk; dropped first, so no request or sysfs access reaches the data afterwards.
    _disk: GenDisk<DiskOps>,
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
        let data = Arc::new(
            DiskData {
                id,
                store: Store::new(nblocks, algorithm)?,
                io: IoStats::new(),
            },
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
            // Requests complete before `queue_rq` returns; pages must not change while the
            // store compresses them.
            .features(Features::SYNCHRONOUS | Features::STABLE_WRITES)
            .attribute_groups(&stats::attributes::GROUPS)
            .build(fmt!("foxramdisk{id}"), tagset, data.clone())?;
        pr_info!(
            "foxramdisk{id}: {blocks} blocks of {BLOCK_SIZE} bytes ({} KiB), {algorithm}\n",
            blocks * (BLOCK_SIZE as u64 / 1024)
        );
        Ok(Self { _disk: disk, data })
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
