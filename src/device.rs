// SPDX-License-Identifier: GPL-2.0

//! A foxramdisk device: a block store served through a blk-mq disk.

use crate::{
    ext::block::mq::{
        gen_disk::{Features, GenDisk, GenDiskBuilder},
        TagSet,
    },
    io::DiskOps,
    store::{Store, BLOCK_SHIFT, BLOCK_SIZE},
};
use kernel::{block::SECTOR_SHIFT, cpu, prelude::*, sync::Arc};

/// Requests in flight per hardware queue.
const QUEUE_DEPTH: u32 = 128;

/// Sectors per block.
const SECTORS_PER_BLOCK_SHIFT: u32 = BLOCK_SHIFT - SECTOR_SHIFT;

/// One device, `/dev/foxramdiskN`.
pub(crate) struct Device {
    /// The device number `N`.
    id: u32,
    /// The disk; dropped first, so no request touches the store afterwards.
    _disk: GenDisk<DiskOps>,
    /// The data.
    store: Arc<Store>,
}

impl Device {
    /// Creates `/dev/foxramdisk<id>` with `blocks` blocks of [`BLOCK_SIZE`] bytes.
    pub(crate) fn new(id: u32, blocks: u64) -> Result<Self> {
        let nblocks = usize::try_from(blocks).map_err(|_| EINVAL)?;
        let capacity_sectors = blocks
            .checked_shl(SECTORS_PER_BLOCK_SHIFT)
            .filter(|s| s >> SECTORS_PER_BLOCK_SHIFT == blocks)
            .ok_or(EINVAL)?;
        let store = Arc::new(Store::new(nblocks)?, GFP_KERNEL)?;
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
            // store copies (and, later, compresses) them.
            .features(Features::SYNCHRONOUS | Features::STABLE_WRITES)
            .build(fmt!("foxramdisk{id}"), tagset, store.clone())?;
        pr_info!(
            "foxramdisk{id}: {} blocks of {BLOCK_SIZE} bytes ({} KiB)\n",
            blocks,
            blocks * (BLOCK_SIZE as u64 / 1024)
        );
        Ok(Self {
            id,
            _disk: disk,
            store,
        })
    }

    /// The device number `N` of `/dev/foxramdiskN`.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The number of blocks that hold data.
    pub(crate) fn stored_blocks(&self) -> u64 {
        self.store.stored_blocks()
    }
}
