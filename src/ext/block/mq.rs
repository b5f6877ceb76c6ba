// SPDX-License-Identifier: GPL-2.0

//! A local staging copy of `kernel::block::mq` with what a RAM disk needs on top.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)
//!
//! The in-tree abstraction (Linux 7.3) cannot be extended from outside the `kernel` crate:
//! its tag set always passes `flags: 0`, its [`Request`] exposes no position, length,
//! operation or data, its disk builder sets no discard or write-zeroes limits, no features
//! and no owner module. This copy keeps its shape and names and adds:
//!
//! - [`Operations::BLOCKING`]: `BLK_MQ_F_BLOCKING`, so that `queue_rq` may sleep;
//! - [`Request::sector`], [`Request::bytes`], [`Request::op`], [`Request::segments`];
//! - [`Operations::queue_rqs`]: a plug's requests in one call ([`RequestBatch`]), ended
//!   together with `blk_mq_end_request_batch()`;
//! - [`gen_disk::GenDiskBuilder`] limits for discard and write-zeroes, [`gen_disk::Features`]
//!   and `fops.owner` set to the driver's module (so a module with an open disk cannot be
//!   unloaded).
//!
//! - [`Operations::serve_deferred`]: a request that `queue_rq` cannot serve without waiting
//!   for another device's I/O ([`Queued::Defer`]) is served and ended in a worker of
//!   `kblockd`, with a work item in the request's driver data.
//!
//! Requests are completed where they are served: [`Operations::queue_rq`] (or
//! `serve_deferred`) borrows the request and the vtable ends it with the status its result
//! maps to, so a request is ended exactly once and no driver code can forget it or panic
//! over it.

pub(crate) mod disk_attribute;
pub(crate) mod gen_disk;
mod operations;
mod request;
mod tag_set;

pub(crate) use operations::Operations;
pub(crate) use request::{
    Queued,
    ReqOp,
    Request,
    RequestBatch, //
};
pub(crate) use tag_set::TagSet;
