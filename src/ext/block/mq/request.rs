// SPDX-License-Identifier: GPL-2.0

//! A request handed to a driver by blk-mq.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)

use super::super::{super::ffi, bio::Segments};
use core::marker::PhantomData;
use kernel::{bindings, prelude::*, types::Opaque};

/// The operation of a request (`enum req_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReqOp {
    /// `REQ_OP_READ`.
    Read,
    /// `REQ_OP_WRITE`.
    Write,
    /// `REQ_OP_FLUSH`.
    Flush,
    /// `REQ_OP_DISCARD`.
    Discard,
    /// `REQ_OP_WRITE_ZEROES`.
    WriteZeroes,
    /// Any other operation, by its C value.
    Other(u32),
}

impl ReqOp {
    /// Decodes a C `enum req_op`.
    fn from_raw(op: bindings::req_op) -> Self {
        match op {
            bindings::req_op_REQ_OP_READ => Self::Read,
            bindings::req_op_REQ_OP_WRITE => Self::Write,
            bindings::req_op_REQ_OP_FLUSH => Self::Flush,
            bindings::req_op_REQ_OP_DISCARD => Self::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Self::WriteZeroes,
            other => Self::Other(other),
        }
    }

    /// Whether the operation addresses bytes without carrying their pages
    /// (`bio_no_advance_iter()`): discard, secure erase and write-zeroes.
    fn has_no_pages(self) -> bool {
        matches!(
            self,
            Self::Discard | Self::WriteZeroes | Self::Other(bindings::req_op_REQ_OP_SECURE_ERASE)
        )
    }
}

/// What [`super::Operations::queue_rq`] did with a request it served without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Served: the request ends successfully.
    Done,
    /// Left for a worker: serving it would wait for something that `queue_rq` must not
    /// wait for, such as another block device's I/O (`queue_rq` may run inside
    /// `submit_bio()`, which only queues the bios submitted meanwhile). The request is
    /// handed to a worker of `kblockd`, which serves it with
    /// [`super::Operations::serve_deferred`] and ends it; the task that submitted it goes
    /// on.
    Defer,
}

/// A request that the driver owns while [`super::Operations::queue_rq`] runs.
///
/// Only ever seen by reference, for the duration of one `queue_rq` call, or of the
/// [`super::Operations::serve_deferred`] call of a request that `queue_rq` deferred; the
/// vtable starts and ends it.
///
/// # Invariants
///
/// The wrapped `struct request` is started, owned by the driver and not yet ended for as
/// long as a reference to `Request` exists.
#[repr(transparent)]
pub(crate) struct Request(Opaque<bindings::request>);

impl Request {
    /// Borrows a raw request.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a started request that the driver owns and does not end for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::request) -> &'a Self {
        // SAFETY: `Request` is a transparent wrapper of `bindings::request`, and the caller
        // guarantees validity and ownership for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The raw request.
    #[inline]
    fn as_raw(&self) -> *mut bindings::request {
        self.0.get()
    }

    /// The first sector (512 bytes each) the request addresses (`blk_rq_pos()`).
    #[inline]
    pub(crate) fn sector(&self) -> u64 {
        // SAFETY: the request is valid by the type invariant, and the block layer does not
        // change its position while the driver owns it.
        unsafe { (*self.as_raw()).__sector }
    }

    /// The number of bytes the request addresses (`blk_rq_bytes()`).
    #[inline]
    pub(crate) fn bytes(&self) -> u32 {
        // SAFETY: the request is valid by the type invariant, and the block layer does not
        // change its length while the driver owns it.
        unsafe { (*self.as_raw()).__data_len }
    }

    /// The operation of the request (`req_op()`).
    #[inline]
    pub(crate) fn op(&self) -> ReqOp {
        // SAFETY: the request is valid by the type invariant, and the block layer does not
        // change its flags while the driver owns it.
        let flags = unsafe { (*self.as_raw()).cmd_flags };
        // `REQ_OP_MASK`, which bindgen cannot translate (pinned in `src/helpers.c`).
        ReqOp::from_raw(flags & ((1 << bindings::REQ_OP_BITS) - 1))
    }

    /// Whether the request is swap's I/O (`REQ_SWAP`): a swap-in, or a swap-out, which
    /// memory reclaim issues.
    #[inline]
    pub(crate) fn is_swap(&self) -> bool {
        // SAFETY: as in `op()`.
        let flags = unsafe { (*self.as_raw()).cmd_flags };
        flags & (1 << bindings::req_flag_bits___REQ_SWAP) != 0
    }

    /// The data segments of the request, in order (`rq_for_each_segment()`); none for an
    /// operation without data pages (discard, secure erase, write-zeroes).
    pub(crate) fn segments(&self) -> Segments<'_> {
        let bio = if self.op().has_no_pages() {
            core::ptr::null_mut()
        } else {
            // SAFETY: the request is valid by the type invariant.
            unsafe { (*self.as_raw()).bio }
        };
        // SAFETY: `bio` is null or the request's bio chain, valid since the request is; the
        // driver owns the request, so the chain and its pages stay unchanged while borrowed,
        // and the bios of a request share its operation, which carries data pages here.
        unsafe { Segments::new(bio) }
    }
}

/// The requests of one queue that a plug gathered, handed to
/// [`super::Operations::queue_rqs`] together (`struct rq_list`).
///
/// # Invariants
///
/// `list` is the list blk-mq handed to `queue_rqs`, of requests of one queue that the
/// driver owns and has not started; `iob` is a completion batch of requests that were
/// started and served successfully, ended with `blk_mq_end_request_batch()` after
/// `queue_rqs` returns; `defer` takes over a started request of that queue and has it
/// served and ended in a worker.
pub(crate) struct RequestBatch<'a> {
    list: *mut bindings::rq_list,
    iob: *mut bindings::io_comp_batch,
    defer: unsafe fn(*mut bindings::request),
    _p: PhantomData<&'a mut bindings::rq_list>,
}

impl RequestBatch<'_> {
    /// Wraps the list `list` and the completion batch `iob`; requests the driver defers go
    /// to `defer`.
    ///
    /// # Safety
    ///
    /// `list` must be a list that blk-mq hands to `queue_rqs`, and `iob` a zeroed
    /// `io_comp_batch` (`DEFINE_IO_COMP_BATCH`) that the caller ends with
    /// `blk_mq_end_request_batch()` if it holds requests when `'a` ends; both valid and
    /// used by nobody else for `'a`. `defer` must be safe to call with a started request
    /// of the list's queue that the caller hands over, and see to it that it is served
    /// and ended.
    pub(super) unsafe fn new(
        list: *mut bindings::rq_list,
        iob: *mut bindings::io_comp_batch,
        defer: unsafe fn(*mut bindings::request),
    ) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            list,
            iob,
            defer,
            _p: PhantomData,
        }
    }

    /// Starts and serves every request of the batch in turn with `serve`, in order. A
    /// request `serve` fails is ended at once with the status its error maps to, and one
    /// it defers is handed to a worker, as [`super::Operations::queue_rq`]'s; the others
    /// end together, after the batch (`blk_mq_end_request_batch()`: one tag release and
    /// one time stamp for all).
    pub(crate) fn serve_each(&mut self, mut serve: impl FnMut(&Request) -> Result<Queued>) {
        loop {
            // SAFETY: `list` is blk-mq's list, used by nobody else (type invariant).
            let rq = unsafe { ffi::foxramdisk_helper_rq_list_pop(self.list) };
            if rq.is_null() {
                return;
            }
            // SAFETY: the driver owns `rq`, which has not been started yet (type
            // invariant); it is off the list now.
            unsafe { bindings::blk_mq_start_request(rq) };
            // SAFETY: `rq` was started above and is ended or deferred only below, after the
            // borrow ends.
            let result = serve(unsafe { Request::from_raw(rq) });
            let status = match result {
                Ok(Queued::Defer) => {
                    // SAFETY: `rq` is a started request of the batch's queue, owned by the
                    // driver; `defer` takes it over (type invariant), and it is not used
                    // here again.
                    unsafe { (self.defer)(rq) };
                    continue;
                }
                Ok(Queued::Done) => {
                    // SAFETY: `rq` is started, served and owned by the driver; the batch
                    // `iob` ends it after `queue_rqs` (type invariant), if it takes it.
                    let batched = unsafe {
                        ffi::foxramdisk_helper_blk_mq_add_to_batch(
                            rq,
                            self.iob,
                            false,
                            Some(bindings::blk_mq_end_request_batch),
                        )
                    };
                    if batched {
                        continue;
                    }
                    bindings::BLK_STS_OK as bindings::blk_status_t
                }
                // SAFETY: `errno_to_blk_status()` accepts any errno.
                Err(e) => unsafe { bindings::errno_to_blk_status(e.to_errno()) },
            };
            // SAFETY: `rq` is started and owned by the driver, and not in the batch; it
            // is ended exactly once, here.
            unsafe { bindings::blk_mq_end_request(rq, status) };
        }
    }
}
