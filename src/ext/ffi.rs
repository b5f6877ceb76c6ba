// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C helpers in `src/helpers.c`.
//!
//! C header: [`src/helpers.h`](../helpers.h). Each function wraps one static inline kernel
//! function or macro of the same name; keep this list in sync with the header.

use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_ulong}, //
};

// The bindgen types reached from these pointers contain zero-sized placeholder structs
// (for example `its_array`) that the lint flags; `rust/bindings` allows it for the same
// reason. Only pointers to them, and plain-data `bio_vec`/`bvec_iter`, cross the boundary.
#[allow(improper_ctypes)]
extern "C" {
    /// `blk_rq_pos()`: the first sector of a request.
    pub(crate) fn foxramdisk_helper_blk_rq_pos(rq: *const bindings::request) -> bindings::sector_t;
    /// `blk_rq_bytes()`: the bytes left in a request.
    pub(crate) fn foxramdisk_helper_blk_rq_bytes(rq: *const bindings::request) -> c_uint;
    /// `req_op()`: the operation of a request.
    pub(crate) fn foxramdisk_helper_req_op(rq: *const bindings::request) -> c_uint;
    /// `bio_iter_iovec()`: the single-page segment at `iter`.
    pub(crate) fn foxramdisk_helper_bio_iter_iovec(
        bio: *mut bindings::bio,
        iter: bindings::bvec_iter,
    ) -> bindings::bio_vec;
    /// `bio_advance_iter_single()`: moves `iter` forward by `bytes` within one segment.
    pub(crate) fn foxramdisk_helper_bio_advance_iter_single(
        bio: *const bindings::bio,
        iter: *mut bindings::bvec_iter,
        bytes: c_uint,
    );
    /// `bit_spin_lock()`.
    pub(crate) fn foxramdisk_helper_bit_spin_lock(bitnum: c_int, addr: *mut c_ulong);
    /// `bit_spin_unlock()`.
    pub(crate) fn foxramdisk_helper_bit_spin_unlock(bitnum: c_int, addr: *mut c_ulong);
    /// `memalloc_noio_save()`.
    pub(crate) fn foxramdisk_helper_memalloc_noio_save() -> c_uint;
    /// `memalloc_noio_restore()`.
    pub(crate) fn foxramdisk_helper_memalloc_noio_restore(flags: c_uint);
}
