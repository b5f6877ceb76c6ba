// SPDX-License-Identifier: GPL-2.0

//! A request handed to a driver by blk-mq.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)

use super::super::bio::Segments;
use kernel::{bindings, types::Opaque};

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

/// A request that the driver owns while [`super::Operations::queue_rq`] runs.
///
/// Only ever seen by reference, for the duration of one `queue_rq` call; the vtable starts
/// and ends it.
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
