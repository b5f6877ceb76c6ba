// SPDX-License-Identifier: GPL-2.0

//! Synchronous use of the asynchronous-compression (acomp) API.
//!
//! C header: [`include/crypto/acompress.h`](srctree/include/crypto/acompress.h)
//!
//! [`AcompRequest`] owns a transform and one request on it, set up once and reused for
//! every operation, as zswap does per CPU. Transforms are allocated with
//! `CRYPTO_ALG_ASYNC` in the mask, so only synchronous implementations are chosen: an
//! operation has finished when the call returns, and no completion needs waiting for.

use crate::ext::{ffi, raw_buf::RawBuf};
use core::ptr::NonNull;
use kernel::{bindings, error::to_result, prelude::*};

/// `CRYPTO_ALG_ASYNC` (pinned by `static_assert` in `src/helpers.c`).
const CRYPTO_ALG_ASYNC: u32 = 0x80;

/// Whether the running kernel has a synchronous acomp implementation of `name`.
pub(crate) fn available(name: &CStr) -> bool {
    // SAFETY: `name` is a valid NUL-terminated string.
    unsafe { ffi::foxramdisk_helper_crypto_has_acomp(name.as_char_ptr(), 0, CRYPTO_ALG_ASYNC) > 0 }
}

/// A compression transform with one request, used synchronously.
///
/// # Invariants
///
/// `tfm` was returned by `crypto_alloc_acomp()` for a synchronous algorithm and `req` by
/// `acomp_request_alloc()` on it, with no completion callback; both are freed on drop.
pub(crate) struct AcompRequest {
    tfm: NonNull<ffi::crypto_acomp>,
    req: NonNull<ffi::acomp_req>,
}

// SAFETY: the transform and request may be used from any thread, one at a time; methods
// that use them take `&mut self`.
unsafe impl Send for AcompRequest {}

impl AcompRequest {
    /// Allocates a synchronous transform of algorithm `name` (a `cra_name` such as `lz4`)
    /// and a request on it. May sleep.
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is a valid NUL-terminated string.
        let tfm = unsafe { ffi::crypto_alloc_acomp(name.as_char_ptr(), 0, CRYPTO_ALG_ASYNC) };
        let tfm = NonNull::new(kernel::error::from_err_ptr(tfm)?).ok_or(ENOMEM)?;
        // SAFETY: `tfm` is a live transform.
        let req = unsafe {
            ffi::foxramdisk_helper_acomp_request_alloc(tfm.as_ptr(), bindings::GFP_KERNEL)
        };
        let Some(req) = NonNull::new(req) else {
            // SAFETY: `tfm` is live and unused.
            unsafe { ffi::foxramdisk_helper_crypto_free_acomp(tfm.as_ptr()) };
            return Err(ENOMEM);
        };
        // SAFETY: `req` is a live request; no callback: the transform is synchronous.
        unsafe {
            ffi::foxramdisk_helper_acomp_request_set_callback(
                req.as_ptr(),
                0,
                None,
                core::ptr::null_mut(),
            )
        };
        // INVARIANT: both were allocated above, the transform for a synchronous algorithm.
        Ok(Self { tfm, req })
    }

    /// Runs `op` from `slen` bytes at `src` into `dlen` bytes at `dst`, returning the
    /// length of the output.
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads of `slen` bytes and `dst` for writes of `dlen` bytes
    /// until the call returns.
    unsafe fn run(
        &mut self,
        op: unsafe extern "C" fn(*mut ffi::acomp_req) -> kernel::ffi::c_int,
        src: *const u8,
        slen: usize,
        dst: *mut u8,
        dlen: usize,
    ) -> Result<usize> {
        let slen32 = u32::try_from(slen).map_err(|_| EINVAL)?;
        let dlen32 = u32::try_from(dlen).map_err(|_| EINVAL)?;
        let req = self.req.as_ptr();
        // The request keeps no use of `src` and `dst` after `op` returns: the transform is
        // synchronous.
        // SAFETY: `req` is live (type invariant) and used by this call only (`&mut self`);
        // `src` and `dst` are valid for `slen` and `dlen` bytes until `op` returns.
        unsafe {
            ffi::foxramdisk_helper_acomp_request_set_src_nondma(req, src, slen32);
            ffi::foxramdisk_helper_acomp_request_set_dst_nondma(req, dst, dlen32);
            to_result(op(req))?;
        }
        // SAFETY: `req` is live and its operation has finished.
        let out = unsafe { ffi::foxramdisk_helper_acomp_request_dlen(req) } as usize;
        // Never trust a codec's length beyond the buffer it was given.
        if out > dlen {
            return Err(EIO);
        }
        Ok(out)
    }

    /// Compresses `src` into `dst`; returns the compressed length. Fails (typically with
    /// `ENOSPC`) when the output does not fit in `dst`.
    ///
    /// `src` may change while it is read (a page under direct I/O): the output then stays
    /// within `dst`, whatever it decompresses to.
    pub(crate) fn compress(&mut self, src: &RawBuf<'_>, dst: &mut [u8]) -> Result<usize> {
        // SAFETY: `src` is valid for reads of its length (invariant of `RawBuf`), `dst` is a
        // slice, valid for writes of its length.
        unsafe {
            self.run(
                ffi::crypto_acomp_compress,
                src.as_ptr(),
                src.len(),
                dst.as_mut_ptr(),
                dst.len(),
            )
        }
    }

    /// Decompresses `src` into `dst`; returns the decompressed length.
    pub(crate) fn decompress(&mut self, src: &[u8], dst: &mut RawBuf<'_>) -> Result<usize> {
        let dlen = dst.len();
        // SAFETY: `src` is a slice, valid for reads of its length; `dst` is valid for writes
        // of its length (invariant of `RawBuf`).
        unsafe {
            self.run(
                ffi::crypto_acomp_decompress,
                src.as_ptr(),
                src.len(),
                dst.as_mut_ptr(),
                dlen,
            )
        }
    }
}

impl Drop for AcompRequest {
    fn drop(&mut self) {
        // SAFETY: by the type invariant both are live and owned; the request goes first.
        unsafe {
            ffi::foxramdisk_helper_acomp_request_free(self.req.as_ptr());
            ffi::foxramdisk_helper_crypto_free_acomp(self.tfm.as_ptr());
        }
    }
}
