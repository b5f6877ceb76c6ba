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

    /// Counts one request: `bytes` to `done` if it succeeded, else one to `failed`.
    pub(crate) fn count(done: &Atomic<u64>, failed: &Atomic<u64>, ok: bool, bytes: u64) {
        if ok {
            done.fetch_add(bytes, Relaxed);
        } else {
            failed.fetch_add(1, Relaxed);
        }
    }
}

/// The attributes of `/sys/block/foxramdiskN/io_stat/` and `storage_stat/`.
pub(crate) mod attributes {
    use crate::{
        device::DiskData,
        ext::sysfs::{
            AttributeGroup, AttributeGroups, AttributeList, DiskAttribute, DiskAttributeOperations,
        },
        io::DiskOps,
        store::BLOCK_SIZE,
    };
    use core::fmt::Write;
    use kernel::{
        prelude::*,
        str::Formatter,
        sync::{atomic::Relaxed, ArcBorrow},
    };

    /// Attribute ids.
    #[repr(u32)]
    enum Id {
        TotalBytesWritten,
        TotalBytesRead,
        TotalBytesDiscarded,
        FailedReads,
        FailedWrites,
        FailedDiscards,
        ZeroedBlocksCount,
        RawBlocksCount,
        CompressedBlocksCount,
        CompressedDataSize,
        CompressionName,
        BlockSize,
        MemUsedTotal,
    }

    impl DiskAttributeOperations for DiskOps {
        fn show(disk: ArcBorrow<'_, DiskData>, id: u32, out: &mut Formatter<'_>) -> Result {
            let io = &disk.io;
            let store = &disk.store;
            let value = match id {
                x if x == Id::TotalBytesWritten as u32 => io.bytes_written.load(Relaxed),
                x if x == Id::TotalBytesRead as u32 => io.bytes_read.load(Relaxed),
                x if x == Id::TotalBytesDiscarded as u32 => io.bytes_discarded.load(Relaxed),
                x if x == Id::FailedReads as u32 => io.failed_reads.load(Relaxed),
                x if x == Id::FailedWrites as u32 => io.failed_writes.load(Relaxed),
                x if x == Id::FailedDiscards as u32 => io.failed_discards.load(Relaxed),
                x if x == Id::ZeroedBlocksCount as u32 => store.zeroed_blocks(),
                x if x == Id::RawBlocksCount as u32 => store.raw_blocks(),
                x if x == Id::CompressedBlocksCount as u32 => store.compressed_blocks(),
                x if x == Id::CompressedDataSize as u32 => store.compressed_bytes(),
                x if x == Id::BlockSize as u32 => BLOCK_SIZE as u64,
                x if x == Id::MemUsedTotal as u32 => store.mem_used_total(),
                x if x == Id::CompressionName as u32 => {
                    return Ok(writeln!(out, "{}", store.algorithm().name())?);
                }
                _ => return Err(EINVAL),
            };
            Ok(writeln!(out, "{value}")?)
        }

        fn store(_disk: ArcBorrow<'_, DiskData>, _id: u32, _input: &[u8]) -> Result {
            Err(EINVAL)
        }
    }

    /// Declares a read-only statistics attribute of [`DiskOps`].
    macro_rules! stat {
        ($name:literal, $id:ident) => {
            DiskAttribute::new::<DiskOps>($name, 0o444, Id::$id as u32)
        };
    }

    static IO_ATTRS: [DiskAttribute; 6] = [
        stat!(c"total_bytes_written", TotalBytesWritten),
        stat!(c"total_bytes_read", TotalBytesRead),
        stat!(c"total_bytes_discarded", TotalBytesDiscarded),
        stat!(c"failed_reads", FailedReads),
        stat!(c"failed_writes", FailedWrites),
        stat!(c"failed_discards", FailedDiscards),
    ];
    static IO_LIST: AttributeList<7> = AttributeList::of_disk(&IO_ATTRS);
    static IO_GROUP: AttributeGroup = AttributeGroup::new(Some(c"io_stat"), &IO_LIST);

    static STORAGE_ATTRS: [DiskAttribute; 7] = [
        stat!(c"zeroed_blocks_count", ZeroedBlocksCount),
        stat!(c"raw_blocks_count", RawBlocksCount),
        stat!(c"compressed_blocks_count", CompressedBlocksCount),
        stat!(c"compressed_data_size", CompressedDataSize),
        stat!(c"compression_name", CompressionName),
        stat!(c"block_size", BlockSize),
        stat!(c"mem_used_total", MemUsedTotal),
    ];
    static STORAGE_LIST: AttributeList<8> = AttributeList::of_disk(&STORAGE_ATTRS);
    static STORAGE_GROUP: AttributeGroup =
        AttributeGroup::new(Some(c"storage_stat"), &STORAGE_LIST);

    /// Every attribute group of a device.
    pub(crate) static GROUPS: AttributeGroups<3> =
        AttributeGroups::new([&IO_GROUP, &STORAGE_GROUP]);
}
