// SPDX-License-Identifier: GPL-2.0

//! The I/O path: blk-mq requests served from a device's [`Store`].
//!
//! Blocking model: the tag set is `BLK_MQ_F_BLOCKING`, so `queue_rq` runs in a context that
//! may sleep, and every allocation in it happens inside a [`NoIoScope`] (`GFP_NOIO`):
//! reclaim may wait for memory but never issues I/O, which could recurse into this device
//! when it is used as swap. A failed allocation fails only its request (`ENOMEM`).

use crate::{
    ext::{
        block::{
            bio::Segment,
            mq::{Operations, ReqOp, Request},
        },
        mm::NoIoScope,
    },
    store::{Store, BLOCK_SHIFT, BLOCK_SIZE},
};
use core::cell::Cell;
use kernel::{
    block::SECTOR_SHIFT,
    pr_warn_once,
    prelude::*,
    sync::{Arc, ArcBorrow},
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
/// device.
fn for_each_chunk(
    rq: &Request,
    mut pos: u64,
    mut f: impl FnMut(Chunk<'_, '_>) -> Result,
) -> Result {
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
    Ok(())
}

/// Serves a read: stored data or zeros into the request's pages.
fn read(store: &Store, rq: &Request, pos: u64) -> Result {
    for_each_chunk(rq, pos, |c| {
        let mut copied = false;
        store.read(c.index, c.offset, c.len, |data| {
            copied = match data {
                Some(data) => c.segment.copy_from_slice(c.at, data),
                None => c.segment.zero(c.at, c.len),
            }
        })?;
        if copied {
            Ok(())
        } else {
            Err(EIO)
        }
    })
}

/// Serves a write: the request's pages into the store.
fn write(store: &Store, rq: &Request, pos: u64) -> Result {
    for_each_chunk(rq, pos, |c| {
        let copied = Cell::new(true);
        store.write(c.index, c.offset, c.len, |dst| {
            if !c.segment.copy_to_slice(c.at, dst) {
                copied.set(false);
            }
        })?;
        if copied.get() {
            Ok(())
        } else {
            Err(EIO)
        }
    })
}

/// Serves a discard or write-zeroes of `len` bytes at `pos`: whole blocks are freed. For
/// write-zeroes a partly covered block gets zeros written; a discard leaves it alone, as
/// the block layer allows.
fn discard(store: &Store, pos: u64, len: u64, zeroes: bool) -> Result {
    let end = pos + len;
    let mut pos = pos;
    while pos < end {
        let index = usize::try_from(pos >> BLOCK_SHIFT).map_err(|_| EIO)?;
        let offset = (pos & (BLOCK_SIZE as u64 - 1)) as usize;
        let n = ((BLOCK_SIZE - offset) as u64).min(end - pos) as usize;
        if n == BLOCK_SIZE {
            store.discard(index)?;
        } else if zeroes {
            store.write(index, offset, n, |dst| dst.fill(0))?;
        }
        pos += n as u64;
    }
    Ok(())
}

impl Operations for DiskOps {
    type QueueData = Arc<Store>;

    const OWNER: &'static ThisModule = kernel::module::this_module::<crate::FoxRamDisk>();

    const BLOCKING: bool = true;

    fn queue_rq(store: ArcBorrow<'_, Store>, rq: &Request) -> Result {
        let _noio = NoIoScope::enter();
        let pos = rq.sector() << SECTOR_SHIFT;
        let len = u64::from(rq.bytes());
        let capacity = (store.blocks() as u64) << BLOCK_SHIFT;
        if pos.checked_add(len).is_none_or(|end| end > capacity) {
            pr_warn_once!("request beyond the end of the device (byte {pos}, {len} bytes)\n");
            return Err(EIO);
        }
        match rq.op() {
            ReqOp::Read => read(&store, rq, pos),
            ReqOp::Write => write(&store, rq, pos),
            ReqOp::Discard => discard(&store, pos, len, false),
            ReqOp::WriteZeroes => discard(&store, pos, len, true),
            // Data lives in RAM: there is no volatile cache to flush.
            ReqOp::Flush => Ok(()),
            ReqOp::Other(op) => {
                pr_warn_once!("unsupported request operation {op}\n");
                Err(EOPNOTSUPP)
            }
        }
    }
}
