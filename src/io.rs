// SPDX-License-Identifier: GPL-2.0

//! The I/O path: blk-mq requests served from a device's [`Store`].
//!
//! Requests are served synchronously, with the block table held for shared use and the
//! compression context of the CPU they run on taken once per request, in that order; a
//! read takes the context only at its first block that needs it (see
//! [`StoreIo::read_block`]), so a read of zeroed, same-filled or raw blocks takes none. The
//! requests a plug gathers (io_uring's batches, a filesystem's writeback) come in one
//! call ([`Operations::queue_rqs`]), which takes both once for all of them, and blk-mq ends
//! them together (`blk_mq_end_request_batch()`). A plug hands over at most 32 requests
//! of one queue (`BLK_MAX_REQUEST_COUNT`), so a batch keeps its CPU's context for at most
//! that many.
//!
//! Reads of blocks written back to a backing store are the exception: `queue_rq` may run
//! inside `submit_bio()`, where it cannot wait for another block device's I/O, so such a
//! read is handed to a worker of `kblockd` ([`Operations::serve_deferred`]), which serves
//! it again, waits for the backing store with no compression context held, and ends it
//! (as zram ends its bio from the backing read's completion). The task that submitted the
//! request goes on meanwhile, and so does the other I/O of its CPU.
//!
//! Blocking model: the tag set is `BLK_MQ_F_BLOCKING`, so `queue_rq` runs in a context that
//! may sleep, and every allocation in it happens inside a no-I/O scope (`GFP_NOIO`), the
//! one the table's shared use carries ([`Store::io`](crate::store::Store::io), taken
//! first): reclaim may wait for memory but never issues I/O, which could recurse into this
//! device when it is used as swap, or wait for the queue that a control froze to change
//! the table. The store allocates once, as zram does, and may wait in reclaim
//! with the compression context held. A swap-out also runs inside a [`NoReclaimScope`]:
//! reclaim issued it and waits for it, and when blk-mq runs it in a kblockd worker rather
//! than in the reclaiming task, the worker would otherwise lack the reserves that task may
//! use, and loop in the page allocator while reclaim waits for this write. When even the
//! reserves are empty, a swap-out waits for reclaim elsewhere and tries again, for up to
//! two seconds (zram fails it at once). A write fails, with `EIO`, only when the
//! allocator gives up.
//!
//! Swap's slot-free notification ([`Operations::swap_slot_free_notify`]) frees the blocks
//! of a slot at once, as zram does; it never sleeps.

use crate::{
    compressor::{Codecs, Context},
    disk_data::DiskData,
    ext::{
        block::{
            bio::Segment,
            mq::{Operations, Queued, ReqOp, Request, RequestBatch},
        },
        mm::{self, NoReclaimScope},
        raw_buf::RawBuf,
        workqueue::WithWork,
    },
    geometry::{BLOCK_SHIFT, BLOCK_SIZE},
    stats::IoStats,
    store::{ReadCodecs, StoreIo},
};
use kernel::{
    block::SECTOR_SHIFT,
    pr_warn_once,
    prelude::*,
    sync::{atomic::Relaxed, Arc, ArcBorrow, MutexGuard},
    ThisModule, //
};

/// The blk-mq operations of a foxramdisk device.
pub(crate) struct DiskOps;

/// A piece of a request that lies within one block: `len` bytes at `offset` of block
/// `index`, which are bytes `at..at + len` of the segment `segment`.
struct Chunk<'s, 'a> {
    segment: &'s Segment<'a>,
    at: usize,
    index: usize,
    offset: usize,
    len: usize,
}

/// Calls `f` for every chunk of the request's data, in order, starting at byte `pos` of the
/// device. `EIO` if the segments do not hold the request's `bytes` bytes.
fn for_each_chunk(
    rq: &Request,
    mut pos: u64,
    bytes: u64,
    mut f: impl FnMut(Chunk<'_, '_>) -> Result,
) -> Result {
    let end = pos.checked_add(bytes).ok_or(EIO)?;
    for segment in rq.segments() {
        let mut at = 0;
        while at < segment.len() {
            let index = usize::try_from(pos >> BLOCK_SHIFT).map_err(|_| EIO)?;
            let offset = (pos & (BLOCK_SIZE as u64 - 1)) as usize;
            let len = (segment.len() - at).min(BLOCK_SIZE - offset);
            f(Chunk {
                segment: &segment,
                at,
                index,
                offset,
                len,
            })?;
            at += len;
            pos += len as u64;
        }
    }
    if pos != end {
        pr_warn_once!("request segments end at byte {pos}, not {end}\n");
        return Err(EIO);
    }
    Ok(())
}

/// Serves a read. A block that one segment covers whole is decompressed straight into
/// it, the CPU's context taken into `ctx` only if the block needs it (see
/// [`StoreIo::read_block`]); a block split across segments is read into the context,
/// then copied out. Fails with `EAGAIN` at a block written back to the backing store:
/// the request is then served again by [`read_waiting`], in a worker.
fn read<'a>(
    store: &'a StoreIo<'_>,
    ctx: &mut Option<MutexGuard<'a, Context>>,
    rq: &Request,
    pos: u64,
    len: u64,
) -> Result {
    for_each_chunk(rq, pos, len, |c| {
        if c.len == BLOCK_SIZE {
            return c.segment.map(c.at, c.len, |dst| {
                store.read_block(&mut ReadCodecs::Lazy(ctx), c.index, dst)
            })?;
        }
        read_split(context(store, ctx)?, &c, |codecs, block| {
            store.read_block(&mut ReadCodecs::Held(codecs), c.index, block)
        })
    })
}

/// Serves chunk `c` of a block that the request's segments split: at the block's first
/// chunk, `read_into` reads the whole block into the context's block buffer; each chunk
/// is then copied out of it.
#[inline]
fn read_split(
    ctx: &mut Context,
    c: &Chunk<'_, '_>,
    read_into: impl FnOnce(&mut Codecs, &mut RawBuf<'_>) -> Result,
) -> Result {
    if c.offset == 0 {
        read_into(&mut ctx.codecs, &mut RawBuf::from(&mut ctx.block[..]))?;
    }
    let data = ctx.block.get(c.offset..c.offset + c.len).ok_or(EIO)?;
    c.segment.copy_from_slice(c.at, data)
}

/// Serves a read that [`read`] left for a worker. A block that one segment covers whole is
/// read with [`StoreIo::read_block_waiting`], which takes the CPU's context only to
/// decompress, never while it waits for the backing store; the context is given back before
/// each such block. A block split across segments is read into the context, taken into
/// `ctx` and held until the next whole block, and its unit with it if it was written back.
fn read_waiting<'a>(
    store: &'a StoreIo<'_>,
    ctx: &mut Option<MutexGuard<'a, Context>>,
    rq: &Request,
    pos: u64,
    len: u64,
) -> Result {
    for_each_chunk(rq, pos, len, |c| {
        if c.len == BLOCK_SIZE {
            *ctx = None;
            return c
                .segment
                .map(c.at, c.len, |dst| store.read_block_waiting(c.index, dst))?;
        }
        read_split(context(store, ctx)?, &c, |codecs, block| {
            store.read_block_held(codecs, c.index, block)
        })
    })
}

/// Serves a write. A block that one segment covers whole is compressed straight from it;
/// the segments of a block split across several are gathered in the context first.
/// Requests are block-aligned (checked by the caller), so every block is covered whole.
/// Fails with `ENOSPC` when the memory limit refuses a block and `ENOMEM` when the allocator
/// gives no memory; the caller decides what the request ends with ([`write_error`]).
fn write(store: &StoreIo<'_>, ctx: &mut Context, rq: &Request, pos: u64, len: u64) -> Result {
    for_each_chunk(rq, pos, len, |c| {
        if c.len == BLOCK_SIZE {
            c.segment.map(c.at, c.len, |src| {
                store.write_block(&mut ctx.codecs, c.index, src)
            })?
        } else {
            let dst = ctx.block.get_mut(c.offset..c.offset + c.len).ok_or(EIO)?;
            c.segment.copy_to_slice(c.at, dst)?;
            if c.offset + c.len < BLOCK_SIZE {
                return Ok(());
            }
            store.write_block(&mut ctx.codecs, c.index, &RawBuf::from(&mut ctx.block[..]))
        }
    })
}

/// How many times a swap-out that found no memory waits for reclaim ([`mm::retry_wait`],
/// 20 ms) and tries again before it fails: two seconds in all. Half a second was seen to be
/// too short in the VM when its host was busy: reclaim then took longer to free memory.
const SWAP_OUT_RETRIES: u32 = 100;

/// Serves a swap-out: a write with reclaim's rights ([`NoReclaimScope`]). Reclaim issued it
/// and waits for it; when blk-mq runs it in a kblockd worker rather than in the reclaiming
/// task, the worker would otherwise lack the reserves that task may use, and loop in the
/// page allocator while reclaim waits for this write.
///
/// When even the reserves are empty, the write waits a little for reclaim elsewhere to free
/// memory and starts over, up to [`SWAP_OUT_RETRIES`] times, with the compression context
/// given back meanwhile; each wait is counted (`write_stalls`). Blocks it stored before
/// the failure are stored again, with the same data. Then it fails as any write.
fn swap_out<'a>(
    disk: &DiskData,
    store: &'a StoreIo<'_>,
    ctx: &mut Option<MutexGuard<'a, Context>>,
    rq: &Request,
    pos: u64,
    len: u64,
) -> Result {
    let mut retries = 0;
    loop {
        let result = {
            let _reclaim = NoReclaimScope::enter();
            write(store, context(store, ctx)?, rq, pos, len)
        };
        match result {
            Err(e) if e == ENOMEM && retries < SWAP_OUT_RETRIES => {
                retries += 1;
                disk.io.write_stalls.fetch_add(1, Relaxed);
                *ctx = None;
                mm::retry_wait();
            }
            other => return other,
        }
    }
}

/// A write's error as the request ends with it. A block that the memory limit refused
/// (`ENOSPC`) fails the write with `EIO`, logged once per limit setting. One that the
/// allocator gave no memory (`ENOMEM`) fails it with `EIO` too, as in zram, since an
/// `ENOMEM` would end the request with blk-mq's `BLK_STS_RESOURCE`, which is not an I/O
/// error.
fn write_error(disk: &DiskData, store: &StoreIo<'_>, result: Result) -> Result {
    result.map_err(|e| {
        if e == ENOSPC {
            if !disk.limit_hit.xchg(true, Relaxed) {
                pr_warn!(
                    "foxramdisk{}: mem_limit of {} bytes reached: writes fail\n",
                    disk.id,
                    store.mem_limit()
                );
            }
            return EIO;
        }
        if e == ENOMEM {
            pr_warn_once!("out of memory for a block: the write fails\n");
            return EIO;
        }
        e
    })
}

/// Serves a discard or write-zeroes of `len` bytes at `pos` (block-aligned): every block
/// becomes zeroed and its memory is freed, and the table chunks left with no data are
/// freed soon after, by the device's work item.
fn discard(
    disk: ArcBorrow<'_, WithWork<DiskData>>,
    store: &StoreIo<'_>,
    pos: u64,
    len: u64,
) -> Result {
    let first = usize::try_from(pos >> BLOCK_SHIFT).map_err(|_| EIO)?;
    let count = usize::try_from(len >> BLOCK_SHIFT).map_err(|_| EIO)?;
    if store.discard_range(first, count)? > 0 {
        WithWork::schedule(disk);
    }
    Ok(())
}

/// The compression context of the current CPU, taken on first use into `slot`, where it
/// stays until the caller drops it: after the table's read side (the lock order).
fn context<'s, 'a>(
    store: &'a StoreIo<'_>,
    slot: &'s mut Option<MutexGuard<'a, Context>>,
) -> Result<&'s mut Context> {
    if slot.is_none() {
        *slot = Some(store.context()?);
    }
    slot.as_deref_mut().ok_or(EIO)
}

/// Serves request `rq` with the table held for shared use (`store`) and the context in
/// `ctx`, taken if the request needs one and not yet there; counts it. A read that meets a
/// block written back to the backing store is left for a worker ([`Queued::Defer`], not
/// counted yet) unless this is that worker (`waiting`).
fn serve<'a>(
    disk: ArcBorrow<'_, WithWork<DiskData>>,
    store: &'a StoreIo<'_>,
    ctx: &mut Option<MutexGuard<'a, Context>>,
    rq: &Request,
    waiting: bool,
) -> Result<Queued> {
    let io = &disk.io;
    let pos = rq.sector() << SECTOR_SHIFT;
    let len = u64::from(rq.bytes());
    let capacity = (store.blocks() as u64) << BLOCK_SHIFT;
    let op = rq.op();
    let result = if pos.checked_add(len).is_none_or(|end| end > capacity) {
        pr_warn_once!("request beyond the end of the device (byte {pos}, {len} bytes)\n");
        io.invalid_io.fetch_add(1, Relaxed);
        Err(EIO)
    } else if (pos | len) & (BLOCK_SIZE as u64 - 1) != 0 {
        // Cannot happen with a 4096-byte logical block size; refuse rather than guess.
        pr_warn_once!("request not aligned to blocks (byte {pos}, {len} bytes)\n");
        io.invalid_io.fetch_add(1, Relaxed);
        Err(EIO)
    } else {
        match op {
            ReqOp::Read if waiting => read_waiting(store, ctx, rq, pos, len),
            ReqOp::Read => match read(store, ctx, rq, pos, len) {
                Err(e) if e == EAGAIN => return Ok(Queued::Defer),
                other => other,
            },
            ReqOp::Write => {
                let written = if rq.is_swap() {
                    swap_out(&disk, store, ctx, rq, pos, len)
                } else {
                    context(store, ctx).and_then(|ctx| write(store, ctx, rq, pos, len))
                };
                write_error(&disk, store, written)
            }
            ReqOp::Discard | ReqOp::WriteZeroes => discard(disk, store, pos, len),
            // Data lives in RAM: there is no volatile cache to flush.
            ReqOp::Flush => Ok(()),
            ReqOp::Other(op) => {
                pr_warn_once!("unsupported request operation {op}\n");
                Err(EOPNOTSUPP)
            }
        }
    };
    let ok = result.is_ok();
    match op {
        ReqOp::Read => IoStats::count(&io.bytes_read, &io.failed_reads, ok, len),
        ReqOp::Write => IoStats::count(&io.bytes_written, &io.failed_writes, ok, len),
        ReqOp::Discard | ReqOp::WriteZeroes => {
            IoStats::count(&io.bytes_discarded, &io.failed_discards, ok, len)
        }
        ReqOp::Flush | ReqOp::Other(_) => {}
    }
    result.map(|()| Queued::Done)
}

#[vtable]
impl Operations for DiskOps {
    type QueueData = Arc<WithWork<DiskData>>;

    const OWNER: &'static ThisModule = kernel::module::this_module::<crate::FoxRamDisk>();

    const BLOCKING: bool = true;

    fn queue_rq(disk: ArcBorrow<'_, WithWork<DiskData>>, rq: &Request) -> Result<Queued> {
        // Also the no-I/O allocation scope of the whole request.
        let store = disk.store.io();
        // Dropped first: the context's mutex before the table's read side.
        let mut ctx = None;
        serve(disk, &store, &mut ctx, rq, false)
    }

    fn queue_rqs(disk: ArcBorrow<'_, WithWork<DiskData>>, batch: &mut RequestBatch<'_>) {
        // The table's read side and the CPU's context once for the whole batch, in the
        // same order as for one request.
        let store = disk.store.io();
        let mut ctx = None;
        batch.serve_each(|rq| serve(disk, &store, &mut ctx, rq, false));
    }

    fn serve_deferred(disk: ArcBorrow<'_, WithWork<DiskData>>, rq: &Request) -> Result {
        // The table's read side again, in this worker: the request keeps the queue from
        // freezing, so no control changes the table between `queue_rq` and here.
        let store = disk.store.io();
        let mut ctx = None;
        match serve(disk, &store, &mut ctx, rq, true)? {
            Queued::Done => Ok(()),
            // A worker's read waits for the backing store: it is never left again.
            Queued::Defer => Err(EIO),
        }
    }

    fn open(disk: ArcBorrow<'_, WithWork<DiskData>>) -> Result {
        disk.check_open()
    }

    fn swap_slot_free_notify(disk: ArcBorrow<'_, WithWork<DiskData>>, slot: usize) {
        disk.io.notify_free.fetch_add(1, Relaxed);
        // A slot past the end (after a shrink under swap) holds nothing: not a miss.
        if disk.store.slot_free(slot) == Err(EBUSY) {
            disk.io.miss_free.fetch_add(1, Relaxed);
        }
    }
}
