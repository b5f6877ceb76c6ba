// SPDX-License-Identifier: GPL-2.0

//! The sysfs attributes of a device, in `/sys/block/foxramdiskN/`.
//!
//! Controls at the top: `disksize`, `comp_algorithm`, `mem_limit`, `mem_used_max`, `reset`,
//! `compact`, `dedup`, and zram's tiering controls `idle`, `recomp_algorithm`, `recompress`,
//! `algorithm_params`, `backing_dev`, `writeback`, `writeback_limit` and
//! `writeback_limit_enable`; zram's one-line statistics `mm_stat`, `io_stat`, `bd_stat` and
//! `debug_stat`, in zram's formats; the C module's counters, one per file, in
//! `io_counters/` and `storage_stat/`.
//! Every write is validated: bad input is refused with an errno and a log line, and
//! leaves the device as it was.

use crate::{
    algorithm::Algorithm,
    codec::Codec,
    disk_data::DiskData,
    ext::{
        block::mq::{
            disk_attribute::{DiskAttribute, DiskAttributeOperations},
            gen_disk::DiskRef,
        },
        sysfs::{AttributeGroup, AttributeGroups, AttributeList},
        workqueue::WithWork,
    },
    geometry::{BLOCK_SIZE, SECTORS_PER_BLOCK_SHIFT},
    io::DiskOps,
    params,
    parse::{key_values, parse_i32, parse_size, parse_u64, shown},
    store::{Backing, Recompression, Store, Writeback, RECOMP_ALGORITHMS},
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
    SameBlocksCount,
    CompressedDataSize,
    CompressionName,
    BlockSize,
    MemUsedTotal,
    DiskSize,
    CompAlgorithm,
    MemLimit,
    Reset,
    Compact,
    MmStat,
    IoStat,
    DebugStat,
    MemUsedMax,
    Dedup,
    DupDataSize,
    MetaDataSize,
    Idle,
    RecompAlgorithm,
    Recompress,
    AlgorithmParams,
    BackingDev,
    Writeback,
    WritebackLimit,
    WritebackLimitEnable,
    BdStat,
}

/// Whether `id` is attribute `attr`.
fn is(id: u32, attr: Id) -> bool {
    id == attr as u32
}

impl DiskAttributeOperations for DiskOps {
    fn show(disk: ArcBorrow<'_, WithWork<DiskData>>, id: u32, out: &mut Formatter<'_>) -> Result {
        let io = &disk.io;
        let store = &disk.store;
        let value = match id {
            x if is(x, Id::TotalBytesWritten) => io.bytes_written.load(Relaxed),
            x if is(x, Id::TotalBytesRead) => io.bytes_read.load(Relaxed),
            x if is(x, Id::TotalBytesDiscarded) => io.bytes_discarded.load(Relaxed),
            x if is(x, Id::FailedReads) => io.failed_reads.load(Relaxed),
            x if is(x, Id::FailedWrites) => io.failed_writes.load(Relaxed),
            x if is(x, Id::FailedDiscards) => io.failed_discards.load(Relaxed),
            x if is(x, Id::ZeroedBlocksCount) => store.zeroed_blocks(),
            x if is(x, Id::RawBlocksCount) => store.raw_blocks(),
            x if is(x, Id::CompressedBlocksCount) => store.compressed_blocks(),
            x if is(x, Id::SameBlocksCount) => store.same_blocks(),
            x if is(x, Id::CompressedDataSize) => store.compressed_bytes(),
            x if is(x, Id::BlockSize) => BLOCK_SIZE as u64,
            x if is(x, Id::MemUsedTotal) => store.mem_used_total(),
            x if is(x, Id::DiskSize) => store.blocks() as u64 * BLOCK_SIZE as u64,
            x if is(x, Id::MemLimit) => store.mem_limit(),
            x if is(x, Id::MemUsedMax) => store.mem_used_max(),
            x if is(x, Id::Dedup) => u64::from(store.dedup()),
            x if is(x, Id::DupDataSize) => store.dup_data_size(),
            x if is(x, Id::MetaDataSize) => store.meta_data_size(),
            x if is(x, Id::CompressionName) => {
                return Ok(writeln!(out, "{}", store.algorithm().name())?);
            }
            x if is(x, Id::CompAlgorithm) => return show_algorithms(store.algorithm(), out),
            x if is(x, Id::RecompAlgorithm) => return show_recomp_algorithms(&disk, out),
            x if is(x, Id::AlgorithmParams) => return show_algorithm_params(store, out),
            x if is(x, Id::MmStat) => return show_mm_stat(&disk, out),
            x if is(x, Id::BackingDev) => {
                return match store.backing() {
                    Some(backing) => Ok(writeln!(out, "{}", backing.path().to_str()?)?),
                    None => Ok(writeln!(out, "none")?),
                };
            }
            x if is(x, Id::WritebackLimit) => store.writeback_limit().1,
            x if is(x, Id::WritebackLimitEnable) => u64::from(store.writeback_limit().0),
            x if is(x, Id::BdStat) => {
                // zram's format, in 4 KiB pages: the backing store's units in use now, read
                // from it, written to it.
                let (count, reads, writes) = store.backing().map_or((0, 0, 0), |b| {
                    (b.held(), b.reads.load(Relaxed), b.writes.load(Relaxed))
                });
                return Ok(writeln!(out, "{count:8} {reads:8} {writes:8}")?);
            }
            // zram's fields and format: failed_reads failed_writes invalid_io notify_free.
            x if is(x, Id::IoStat) => {
                return Ok(writeln!(
                    out,
                    "{:8} {:8} {:8} {:8}",
                    io.failed_reads.load(Relaxed),
                    io.failed_writes.load(Relaxed),
                    io.invalid_io.load(Relaxed),
                    io.notify_free.load(Relaxed)
                )?);
            }
            // zram's format, version 1: writestall (a field zram now leaves at 0), then
            // miss_free.
            x if is(x, Id::DebugStat) => {
                return Ok(writeln!(
                    out,
                    "version: 1\n{:8} {:8}",
                    io.write_stalls.load(Relaxed),
                    io.miss_free.load(Relaxed)
                )?);
            }
            _ => return Err(EINVAL),
        };
        Ok(writeln!(out, "{value}")?)
    }

    fn store(
        disk: DiskRef<'_>,
        data: ArcBorrow<'_, WithWork<DiskData>>,
        id: u32,
        input: &[u8],
    ) -> Result {
        match id {
            x if is(x, Id::DiskSize) => set_disksize(&disk, &data, input),
            x if is(x, Id::CompAlgorithm) => set_algorithm(&data, input),
            x if is(x, Id::MemLimit) => set_mem_limit(&data, input),
            x if is(x, Id::Reset) => reset(&disk, &data, input),
            x if is(x, Id::Compact) => compact(&disk, &data, input),
            x if is(x, Id::MemUsedMax) => reset_mem_used_max(&data, input),
            x if is(x, Id::Dedup) => set_dedup(&data, input),
            x if is(x, Id::Idle) => mark_idle(&data, input),
            x if is(x, Id::RecompAlgorithm) => set_recomp_algorithm(&data, input),
            x if is(x, Id::Recompress) => recompress(&data, input),
            x if is(x, Id::AlgorithmParams) => set_algorithm_params(&data, input),
            x if is(x, Id::BackingDev) => set_backing_dev(&disk, &data, input),
            x if is(x, Id::Writeback) => writeback(&data, input),
            x if is(x, Id::WritebackLimit) => set_writeback_limit(&data, input),
            x if is(x, Id::WritebackLimitEnable) => enable_writeback_limit(&data, input),
            _ => Err(EINVAL),
        }
    }
}

/// `comp_algorithm`: the available algorithms, the current one in brackets.
fn show_algorithms(current: Algorithm, out: &mut Formatter<'_>) -> Result {
    let mut separator = "";
    for algorithm in Algorithm::ALL.into_iter().filter(|a| a.available()) {
        let name = algorithm.name();
        if algorithm == current {
            write!(out, "{separator}[{name}]")?;
        } else {
            write!(out, "{separator}{name}")?;
        }
        separator = " ";
    }
    Ok(writeln!(out)?)
}

/// `recomp_algorithm`: for each priority that has a secondary algorithm, `#N: ` and the
/// available algorithms with that one in brackets, as zram lists them.
fn show_recomp_algorithms(disk: &DiskData, out: &mut Formatter<'_>) -> Result {
    let control = disk.control.lock();
    for priority in 1..=RECOMP_ALGORITHMS {
        if let Some(algorithm) = control.recomp_algorithm(priority) {
            write!(out, "#{priority}: ")?;
            show_algorithms(algorithm, out)?;
        }
    }
    Ok(())
}

/// `algorithm_params`: `algo=NAME level=N` for each algorithm whose level is set.
fn show_algorithm_params(store: &Store, out: &mut Formatter<'_>) -> Result {
    for algorithm in Algorithm::ALL {
        if let Some(level) = store.level(algorithm) {
            writeln!(out, "algo={} level={level}", algorithm.name())?;
        }
    }
    Ok(())
}

/// `mm_stat`, in zram's field order: orig_data_size compr_data_size mem_used_total
/// mem_limit mem_used_max same_pages pages_compacted huge_pages huge_pages_since, then
/// dup_data_size and meta_data_size, as zram's deduplication patches added them.
fn show_mm_stat(disk: &DiskData, out: &mut Formatter<'_>) -> Result {
    let store = &disk.store;
    let compr_data_size = store.compressed_bytes() + store.raw_blocks() * BLOCK_SIZE as u64;
    Ok(writeln!(
        out,
        "{:8} {:8} {:8} {:8} {:8} {:8} {:8} {:8} {:8} {:8} {:8}",
        store.stored_bytes(),
        compr_data_size,
        store.mem_used_total(),
        store.mem_limit(),
        store.mem_used_max(),
        // Unlike zram's, without zero-filled blocks: those are zeroed, not data.
        store.same_blocks(),
        store.pages_compacted(),
        store.raw_blocks(),
        store.raw_writes(),
        store.dup_data_size(),
        store.meta_data_size(),
    )?)
}

/// Parses a size in bytes, or logs why it is not one.
fn size_arg(disk: &DiskData, name: &str, input: &[u8]) -> Result<u64> {
    parse_size(input).inspect_err(|_| {
        pr_err!(
            "foxramdisk{}: {name}: '{}' is not a size in bytes (like 4096, 512M, 2G)\n",
            disk.id,
            shown(input)
        );
    })
}

/// Parses a non-zero trigger value (`1`), or logs why it is not one.
fn trigger_arg(disk: &DiskData, name: &str, input: &[u8]) -> Result {
    match parse_u64(input) {
        Ok(n) if n != 0 => Ok(()),
        _ => {
            pr_err!(
                "foxramdisk{}: {name}: write 1, not '{}'\n",
                disk.id,
                shown(input)
            );
            Err(EINVAL)
        }
    }
}

/// `disksize`: grows the device, or shrinks it if no data lies beyond the new end.
fn set_disksize(disk: &DiskRef<'_>, data: &DiskData, input: &[u8]) -> Result {
    let id = data.id;
    let bytes = size_arg(data, "disksize", input)?;
    // Whole blocks, rounded up, as zram rounds to pages.
    let blocks = bytes.div_ceil(BLOCK_SIZE as u64);
    if !(1..=params::MAX_CAPACITY_BLOCKS).contains(&blocks) {
        pr_err!(
            "foxramdisk{id}: disksize {bytes} is not between {BLOCK_SIZE} and {} bytes\n",
            params::MAX_CAPACITY_BLOCKS * BLOCK_SIZE as u64
        );
        return Err(EINVAL);
    }
    let nblocks = usize::try_from(blocks).map_err(|_| EINVAL)?;
    let mut control = data.control.lock();
    let old = data.store.blocks();
    if nblocks == old {
        return Ok(());
    }
    let spare = data.store.spare(&control, nblocks).inspect_err(|_| {
        pr_err!("foxramdisk{id}: no memory for a table of {nblocks} blocks\n");
    })?;
    // Frozen, so that no request waits for the table, and none sees the old size after it.
    let frozen = disk.freeze();
    let resized = data.store.resize(&mut control, spare);
    drop(frozen);
    resized.inspect_err(|_| {
        pr_err!("foxramdisk{id}: disksize {bytes}: data beyond the new end; reset first\n");
    })?;
    disk.set_capacity_and_notify(blocks << SECTORS_PER_BLOCK_SHIFT);
    pr_info!("foxramdisk{id}: disksize {old} -> {nblocks} blocks\n");
    Ok(())
}

/// `comp_algorithm`: new writes use the algorithm; stored blocks keep theirs.
fn set_algorithm(data: &DiskData, input: &[u8]) -> Result {
    let algorithm = Algorithm::parse(input)?;
    let _control = data.control.lock();
    let old = data.store.algorithm();
    data.store.set_algorithm(algorithm).inspect_err(|e| {
        pr_err!("foxramdisk{}: cannot set up {algorithm}: {e:?}\n", data.id);
    })?;
    if old != algorithm {
        pr_info!(
            "foxramdisk{}: new writes use {algorithm} (was {old})\n",
            data.id
        );
    }
    Ok(())
}

/// `dedup`: `1` makes new writes share the stored data of blocks that hold the same, `0`
/// stops it; stored blocks stay as they are.
fn set_dedup(data: &DiskData, input: &[u8]) -> Result {
    let on = match parse_u64(input) {
        Ok(0) => false,
        Ok(1) => true,
        _ => {
            pr_err!(
                "foxramdisk{}: dedup: write 0 or 1, not '{}'\n",
                data.id,
                shown(input)
            );
            return Err(EINVAL);
        }
    };
    let control = data.control.lock();
    let was = data.store.dedup();
    data.store.set_dedup(&control, on).inspect_err(|e| {
        pr_err!(
            "foxramdisk{}: dedup: no memory for the index ({e:?})\n",
            data.id
        );
    })?;
    if was != on {
        pr_info!(
            "foxramdisk{}: deduplication of new writes {}\n",
            data.id,
            if on { "on" } else { "off" }
        );
    }
    Ok(())
}

/// `idle`: `all` marks every block that holds memory idle, as in zram; an age in seconds
/// (up to `u32::MAX`) marks those not accessed for longer, and keeps access times from
/// then on ([`Store::mark_idle`]).
///
/// [`Store::mark_idle`]: crate::store::Store::mark_idle
fn mark_idle(data: &DiskData, input: &[u8]) -> Result {
    let id = data.id;
    let value = input.strip_suffix(b"\n").unwrap_or(input);
    let age = match value {
        b"all" => None,
        _ => match parse_u64(value).ok().and_then(|n| u32::try_from(n).ok()) {
            Some(age) => Some(age),
            None => {
                pr_err!(
                    "foxramdisk{id}: idle: write 'all' or an age in seconds, not '{}'\n",
                    shown(input)
                );
                return Err(EINVAL);
            }
        },
    };
    let marked = data
        .store
        .mark_idle(&data.control.lock(), age)
        .inspect_err(|e| pr_err!("foxramdisk{id}: idle: {e:?}\n"))?;
    pr_debug!("foxramdisk{id}: {marked} blocks marked idle\n");
    Ok(())
}

/// `backing_dev`: a block device or a regular file to write blocks back to, or `none`;
/// only while the device holds no data, as in zram.
fn set_backing_dev(disk: &DiskRef<'_>, data: &DiskData, input: &[u8]) -> Result {
    let id = data.id;
    let path = input.strip_suffix(b"\n").unwrap_or(input);
    let mut control = data.control.lock();
    if data.store.stored_bytes() != 0 {
        pr_err!("foxramdisk{id}: backing_dev: the device holds data; reset it first\n");
        return Err(EBUSY);
    }
    if path == b"none" {
        data.store.set_backing(&mut control, None)?;
        pr_info!("foxramdisk{id}: no backing store\n");
        return Ok(());
    }
    let mut name = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
    name.extend_from_slice(path, GFP_KERNEL)?;
    name.push(0, GFP_KERNEL)?;
    let name = match CStr::from_bytes_with_nul(&name) {
        Ok(name) if !path.is_empty() => name,
        _ => {
            pr_err!(
                "foxramdisk{id}: backing_dev: '{}' is not a path\n",
                shown(path)
            );
            return Err(EINVAL);
        }
    };
    let backing = Backing::open(name, disk.devt()).inspect_err(|e| {
        pr_err!(
            "foxramdisk{id}: backing_dev: cannot use '{}': {e:?} (a block device not held by another, or a regular file not open for writing elsewhere, not on this device)\n",
            shown(path)
        );
    })?;
    pr_info!(
        "foxramdisk{id}: backing store {} ({}, {} units of 4 KiB{})\n",
        shown(path),
        if backing.is_block_device() {
            "block device"
        } else {
            "file"
        },
        backing.units(),
        if backing.direct() {
            ", direct I/O"
        } else {
            ", page cache"
        }
    );
    data.store.set_backing(&mut control, Some(backing))
}

/// `writeback`: writes blocks to the backing store, as zram's: a mode (`idle`, `huge`,
/// `huge_idle`, `incompressible`, alone or as `type=MODE`), and any number of
/// `page_index=N` and `page_indexes=FIRST-LAST` to limit it to those blocks.
fn writeback(data: &DiskData, input: &[u8]) -> Result {
    let (id, name) = (data.id, "writeback");
    if data.store.backing().is_none() {
        pr_err!("foxramdisk{id}: {name}: no backing store; set backing_dev first\n");
        return Err(ENODEV);
    }
    let blocks = data.store.blocks();
    let mode = |value: &[u8]| match value {
        b"idle" => Ok((true, false)),
        b"huge" | b"incompressible" => Ok((false, true)),
        b"huge_idle" => Ok((true, true)),
        _ => Err(bad_arg(data, name, value)),
    };
    let index = |value: &[u8]| {
        parse_u64(value)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n < blocks)
            .ok_or_else(|| {
                pr_err!(
                    "foxramdisk{id}: {name}: '{}' is not a block below {blocks}\n",
                    shown(value)
                );
                ERANGE
            })
    };
    let (mut idle, mut huge, mut any_mode) = (false, false, false);
    let mut ranges = KVec::new();
    let trimmed = input.strip_suffix(b"\n").unwrap_or(input);
    if !trimmed.is_empty() && !trimmed.contains(&b'=') {
        // zram's older form: the mode alone.
        (idle, huge) = mode(trimmed)?;
        any_mode = true;
    } else {
        for arg in key_values(input) {
            match arg.map_err(|_| bad_arg(data, name, input))? {
                (b"type", value) => {
                    (idle, huge) = mode(value)?;
                    any_mode = true;
                }
                (b"page_index", value) => {
                    let n = index(value)?;
                    ranges.push(n..n + 1, GFP_KERNEL)?;
                }
                (b"page_indexes", value) => {
                    let at = value.iter().position(|&c| c == b'-');
                    let (first, last) = match at {
                        Some(at) => (index(&value[..at])?, index(&value[at + 1..])?),
                        None => return Err(bad_arg(data, name, value)),
                    };
                    if first > last {
                        return Err(bad_arg(data, name, value));
                    }
                    ranges.push(first..last + 1, GFP_KERNEL)?;
                }
                (key, _) => return Err(bad_arg(data, name, key)),
            }
        }
    }
    if !any_mode && ranges.is_empty() {
        pr_err!("foxramdisk{id}: {name}: give a mode or page_index=/page_indexes=\n");
        return Err(EINVAL);
    }
    if ranges.is_empty() {
        ranges.push(0..blocks, GFP_KERNEL)?;
    }
    let control = data.control.lock();
    let mut written = 0;
    for blocks in ranges.iter() {
        let how = Writeback {
            idle,
            huge,
            blocks: blocks.clone(),
        };
        written += data.store.writeback(&control, &how).inspect_err(|e| {
            // How many it wrote is in bd_stat.
            pr_err!("foxramdisk{id}: {name} stopped: {e:?}\n");
        })?;
    }
    pr_info!("foxramdisk{id}: {written} blocks written back\n");
    Ok(())
}

/// `writeback_limit`: how many more 4 KiB blocks `writeback` may write while
/// `writeback_limit_enable` is 1.
fn set_writeback_limit(data: &DiskData, input: &[u8]) -> Result {
    let blocks = parse_u64(input).map_err(|_| {
        pr_err!(
            "foxramdisk{}: writeback_limit: '{}' is not a number of blocks\n",
            data.id,
            shown(input)
        );
        EINVAL
    })?;
    data.store.set_writeback_limit(blocks);
    Ok(())
}

/// `writeback_limit_enable`: 1 makes `writeback` count against `writeback_limit`, 0 not.
fn enable_writeback_limit(data: &DiskData, input: &[u8]) -> Result {
    match parse_u64(input) {
        Ok(n @ (0 | 1)) => {
            data.store.enable_writeback_limit(n == 1);
            Ok(())
        }
        _ => {
            pr_err!(
                "foxramdisk{}: writeback_limit_enable: write 0 or 1, not '{}'\n",
                data.id,
                shown(input)
            );
            Err(EINVAL)
        }
    }
}

/// Parses the priority of a secondary algorithm, 1 to [`RECOMP_ALGORITHMS`], or logs why
/// it is not one.
fn priority_arg(disk: &DiskData, name: &str, value: &[u8]) -> Result<usize> {
    parse_u64(value)
        .ok()
        .and_then(|p| usize::try_from(p).ok())
        .filter(|p| (1..=RECOMP_ALGORITHMS).contains(p))
        .ok_or_else(|| {
            pr_err!(
                "foxramdisk{}: {name}: priority '{}' is not 1 to {RECOMP_ALGORITHMS}\n",
                disk.id,
                shown(value)
            );
            EINVAL
        })
}

/// Logs an argument of `name` that is not `key=value`, or not one of its keys.
fn bad_arg(disk: &DiskData, name: &str, input: &[u8]) -> Error {
    pr_err!(
        "foxramdisk{}: {name}: cannot use '{}' (see Documentation/ABI)\n",
        disk.id,
        shown(input)
    );
    EINVAL
}

/// `recomp_algorithm`: `algo=NAME [priority=N]` makes NAME the secondary algorithm of
/// priority N (1 by default, up to 3), for `recompress`.
fn set_recomp_algorithm(data: &DiskData, input: &[u8]) -> Result {
    let name = "recomp_algorithm";
    let (mut algorithm, mut priority) = (None, 1);
    for arg in key_values(input) {
        match arg.map_err(|_| bad_arg(data, name, input))? {
            (b"algo", value) => algorithm = Some(Algorithm::parse(value)?),
            (b"priority", value) => priority = priority_arg(data, name, value)?,
            (key, _) => return Err(bad_arg(data, name, key)),
        }
    }
    let algorithm = match algorithm {
        Some(Algorithm::NoComp) | None => {
            pr_err!(
                "foxramdisk{}: {name}: give a compressing algorithm as algo=NAME\n",
                data.id
            );
            return Err(EINVAL);
        }
        Some(algorithm) => algorithm,
    };
    data.control
        .lock()
        .set_recomp_algorithm(priority, algorithm)?;
    pr_info!(
        "foxramdisk{}: recompression algorithm #{priority}: {algorithm}\n",
        data.id
    );
    Ok(())
}

/// `recompress`: compresses stored blocks again with a secondary algorithm, as zram's:
/// `[type=idle|huge|huge_idle] [max_pages=N] [threshold=BYTES] [algo=NAME] [priority=N]`.
fn recompress(data: &DiskData, input: &[u8]) -> Result {
    let (id, name) = (data.id, "recompress");
    let mut how = Recompression {
        idle: false,
        huge: false,
        threshold: 0,
        max_blocks: u64::MAX,
        priority: 1,
    };
    let (mut algorithm, mut priority) = (None, None);
    for arg in key_values(input) {
        match arg.map_err(|_| bad_arg(data, name, input))? {
            (b"type", b"idle") => (how.idle, how.huge) = (true, false),
            (b"type", b"huge") => (how.idle, how.huge) = (false, true),
            (b"type", b"huge_idle") => (how.idle, how.huge) = (true, true),
            (b"type", value) => return Err(bad_arg(data, name, value)),
            (b"max_pages", value) => {
                how.max_blocks = parse_u64(value).map_err(|_| bad_arg(data, name, value))?;
            }
            (b"threshold", value) => {
                how.threshold = parse_u64(value)
                    .ok()
                    .and_then(|t| usize::try_from(t).ok())
                    .filter(|&t| t < data.store.threshold())
                    .ok_or_else(|| {
                        pr_err!(
                            "foxramdisk{id}: {name}: threshold '{}' is not below {}\n",
                            shown(value),
                            data.store.threshold()
                        );
                        EINVAL
                    })?;
            }
            (b"algo", value) => algorithm = Some(Algorithm::parse(value)?),
            (b"priority", value) => priority = Some(priority_arg(data, name, value)?),
            (key, _) => return Err(bad_arg(data, name, key)),
        }
    }
    let control = data.control.lock();
    how.priority = match (algorithm, priority) {
        (Some(algorithm), Some(priority)) => Some(priority)
            .filter(|&p| control.recomp_algorithm(p) == Some(algorithm))
            .ok_or_else(|| {
                pr_err!(
                    "foxramdisk{id}: {name}: {algorithm} is not #{priority} of recomp_algorithm\n"
                );
                EINVAL
            })?,
        (Some(algorithm), None) => control.recomp_priority(algorithm).ok_or_else(|| {
            pr_err!("foxramdisk{id}: {name}: {algorithm} is not in recomp_algorithm\n");
            EINVAL
        })?,
        (None, priority) => priority.unwrap_or(1),
    };
    let Some(algorithm) = control.recomp_algorithm(how.priority) else {
        pr_err!(
            "foxramdisk{id}: {name}: no algorithm #{} in recomp_algorithm\n",
            how.priority
        );
        return Err(EINVAL);
    };
    let done = data.store.recompress(&control, &how).inspect_err(|e| {
        pr_err!("foxramdisk{id}: {name} with {algorithm} stopped: {e:?}\n");
    })?;
    pr_info!(
        "foxramdisk{id}: {name}: {} of {} blocks tried stored smaller with {algorithm}\n",
        done.stored,
        done.tried
    );
    Ok(())
}

/// `algorithm_params`: `algo=NAME level=N` (or `priority=N level=N`, priority 0 being
/// `comp_algorithm`'s) sets the level the algorithm compresses at, as zram's; without
/// `level`, its default again. zstd and lz4hc take a level (their libraries are called
/// directly); the others take none. zram's `dict=` and `deflate.winbits=` are refused.
fn set_algorithm_params(data: &DiskData, input: &[u8]) -> Result {
    let (id, name) = (data.id, "algorithm_params");
    let (mut algorithm, mut priority, mut level) = (None, None, None);
    for arg in key_values(input) {
        match arg.map_err(|_| bad_arg(data, name, input))? {
            (b"algo", value) => algorithm = Some(Algorithm::parse(value)?),
            (b"priority", b"0") => priority = Some(0),
            (b"priority", value) => priority = Some(priority_arg(data, name, value)?),
            (b"level", value) => {
                level = Some(parse_i32(value).map_err(|_| bad_arg(data, name, value))?);
            }
            (key @ (b"dict" | b"deflate.winbits"), _) => {
                pr_err!("foxramdisk{id}: {name}: {} is not supported\n", shown(key));
                return Err(EINVAL);
            }
            (key, _) => return Err(bad_arg(data, name, key)),
        }
    }
    let mut control = data.control.lock();
    let at = |priority| match priority {
        0 => Some(data.store.algorithm()),
        p => control.recomp_algorithm(p),
    };
    let algorithm = match (algorithm, priority) {
        (Some(algorithm), Some(p)) if at(p) == Some(algorithm) => algorithm,
        (Some(algorithm), None) => algorithm,
        (None, Some(p)) if at(p).is_some() => at(p).ok_or(EINVAL)?,
        _ => {
            pr_err!("foxramdisk{id}: {name}: give algo=NAME, or the priority of one in use\n");
            return Err(EINVAL);
        }
    };
    if let Some(level) = level {
        let Some(levels) = Codec::levels(algorithm) else {
            pr_err!("foxramdisk{id}: {name}: {algorithm} takes no level (zstd and lz4hc do)\n");
            return Err(EINVAL);
        };
        if !levels.contains(&level) {
            pr_err!(
                "foxramdisk{id}: {name}: {algorithm} level {level} is not {} to {}\n",
                levels.start(),
                levels.end()
            );
            return Err(EINVAL);
        }
    }
    data.store
        .set_level(&mut control, algorithm, level)
        .inspect_err(|e| {
            pr_err!("foxramdisk{id}: {name}: cannot set up {algorithm}: {e:?}\n");
        })?;
    match level {
        Some(level) => pr_info!("foxramdisk{id}: {algorithm} compresses at level {level}\n"),
        None => pr_info!("foxramdisk{id}: {algorithm} compresses at its default level\n"),
    }
    Ok(())
}

/// `mem_limit`: bytes, 0 for no limit.
fn set_mem_limit(data: &DiskData, input: &[u8]) -> Result {
    let bytes = size_arg(data, "mem_limit", input)?;
    data.store.set_mem_limit(bytes);
    data.limit_hit.store(false, Relaxed);
    Ok(())
}

/// `reset`: frees every block; refused with `EBUSY` while the device is open.
fn reset(disk: &DiskRef<'_>, data: &DiskData, input: &[u8]) -> Result {
    trigger_arg(data, "reset", input)?;
    let mut control = data.control.lock();
    let _claim = data.claim(disk).inspect_err(|_| {
        pr_warn!(
            "foxramdisk{}: reset refused: the device is in use\n",
            data.id
        );
    })?;
    let freed = data.store.stored_bytes();
    let frozen = disk.freeze();
    data.store.reset(&mut control);
    drop(frozen);
    // Writes since the unfreeze use the current algorithm: the others have no blocks.
    data.store.drop_unused_codecs();
    data.io.clear();
    data.limit_hit.store(false, Relaxed);
    pr_info!(
        "foxramdisk{}: reset ({freed} bytes of data freed)\n",
        data.id
    );
    Ok(())
}

/// `compact`: frees the table chunks that hold no data, then compacts the memory pool.
fn compact(disk: &DiskRef<'_>, data: &DiskData, input: &[u8]) -> Result {
    trigger_arg(data, "compact", input)?;
    let chunks = {
        let mut control = data.control.lock();
        let _frozen = disk.freeze();
        data.store.trim_table(&mut control)
    };
    let pages = data.store.compact();
    pr_debug!(
        "foxramdisk{}: compaction freed {chunks} table chunks and {pages} pages\n",
        data.id
    );
    Ok(())
}

/// `mem_used_max`: writing `0` restarts it from the memory in use now, as in zram.
fn reset_mem_used_max(data: &DiskData, input: &[u8]) -> Result {
    match parse_u64(input) {
        Ok(0) => {
            data.store.reset_mem_used_max();
            Ok(())
        }
        _ => {
            pr_err!(
                "foxramdisk{}: mem_used_max: write 0 to reset it, not '{}'\n",
                data.id,
                shown(input)
            );
            Err(EINVAL)
        }
    }
}

/// Declares an attribute of [`DiskOps`].
macro_rules! attr {
    ($name:literal, $mode:literal, $id:ident) => {
        DiskAttribute::new::<DiskOps>($name, $mode, Id::$id as u32)
    };
}

static CONTROL_ATTRS: [DiskAttribute; 19] = [
    attr!(c"disksize", 0o644, DiskSize),
    attr!(c"comp_algorithm", 0o644, CompAlgorithm),
    attr!(c"mem_limit", 0o644, MemLimit),
    attr!(c"mem_used_max", 0o644, MemUsedMax),
    attr!(c"reset", 0o200, Reset),
    attr!(c"compact", 0o200, Compact),
    attr!(c"mm_stat", 0o444, MmStat),
    attr!(c"io_stat", 0o444, IoStat),
    attr!(c"debug_stat", 0o444, DebugStat),
    attr!(c"dedup", 0o644, Dedup),
    attr!(c"idle", 0o200, Idle),
    attr!(c"recomp_algorithm", 0o644, RecompAlgorithm),
    attr!(c"recompress", 0o200, Recompress),
    attr!(c"algorithm_params", 0o644, AlgorithmParams),
    attr!(c"backing_dev", 0o644, BackingDev),
    attr!(c"writeback", 0o200, Writeback),
    attr!(c"writeback_limit", 0o644, WritebackLimit),
    attr!(c"writeback_limit_enable", 0o644, WritebackLimitEnable),
    attr!(c"bd_stat", 0o444, BdStat),
];
static CONTROL_LIST: AttributeList<20> = DiskAttribute::list(&CONTROL_ATTRS);
static CONTROL_GROUP: AttributeGroup = AttributeGroup::new(None, &CONTROL_LIST);

static IO_ATTRS: [DiskAttribute; 6] = [
    attr!(c"total_bytes_written", 0o444, TotalBytesWritten),
    attr!(c"total_bytes_read", 0o444, TotalBytesRead),
    attr!(c"total_bytes_discarded", 0o444, TotalBytesDiscarded),
    attr!(c"failed_reads", 0o444, FailedReads),
    attr!(c"failed_writes", 0o444, FailedWrites),
    attr!(c"failed_discards", 0o444, FailedDiscards),
];
static IO_LIST: AttributeList<7> = DiskAttribute::list(&IO_ATTRS);
// The C module's `io_stat/` directory, renamed: zram's one-line `io_stat` file has its name.
static IO_GROUP: AttributeGroup = AttributeGroup::new(Some(c"io_counters"), &IO_LIST);

static STORAGE_ATTRS: [DiskAttribute; 10] = [
    attr!(c"zeroed_blocks_count", 0o444, ZeroedBlocksCount),
    attr!(c"raw_blocks_count", 0o444, RawBlocksCount),
    attr!(c"compressed_blocks_count", 0o444, CompressedBlocksCount),
    attr!(c"same_blocks_count", 0o444, SameBlocksCount),
    attr!(c"compressed_data_size", 0o444, CompressedDataSize),
    attr!(c"compression_name", 0o444, CompressionName),
    attr!(c"block_size", 0o444, BlockSize),
    attr!(c"mem_used_total", 0o444, MemUsedTotal),
    attr!(c"dup_data_size", 0o444, DupDataSize),
    attr!(c"meta_data_size", 0o444, MetaDataSize),
];
static STORAGE_LIST: AttributeList<11> = DiskAttribute::list(&STORAGE_ATTRS);
static STORAGE_GROUP: AttributeGroup = AttributeGroup::new(Some(c"storage_stat"), &STORAGE_LIST);

/// Every attribute group of a device.
pub(crate) static GROUPS: AttributeGroups<4> =
    AttributeGroups::new([&CONTROL_GROUP, &IO_GROUP, &STORAGE_GROUP]);
