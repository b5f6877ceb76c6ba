// SPDX-License-Identifier: GPL-2.0

//! The kernel's zstd library, one block at a time.
//!
//! C header: [`include/linux/zstd.h`](srctree/include/linux/zstd.h)
//!
//! The crypto API's `zstd` cannot be told the size of its inputs: it sets up its context for
//! 256 KiB (`ZSTD_MAX_WINDOWLOG` 18) on every call, and the hash and chain tables of that
//! set-up are cleared for each block. [`ZstdCodec`] instead uses the library the way zram's
//! zstd backend does: parameters chosen for one block (`zstd_get_params(level, size)`), and
//! a compression and a decompression context made once in workspaces of their own. The
//! output is a standard zstd frame either way.

use super::{ffi, raw_buf::RawBuf};
use core::ptr::NonNull;
use kernel::{alloc::KVVec, prelude::*};

/// A zstd compression and decompression context for inputs of one size, used by one
/// thread at a time.
///
/// # Invariants
///
/// `cctx` and `dctx` were made by `zstd_init_cctx()` and `zstd_init_dctx()` in `_cwksp` and
/// `_dwksp`, which are never read, written or freed by Rust while the codec lives (only
/// their ownership is kept); `params` is what `zstd_get_params()` returned, and `_cwksp`
/// is large enough for its compression parameters.
pub(crate) struct ZstdCodec {
    params: ffi::zstd_parameters,
    cctx: NonNull<ffi::zstd_cctx>,
    dctx: NonNull<ffi::zstd_dctx>,
    /// The memory `cctx` lives in: kept, never touched.
    _cwksp: KVVec<u8>,
    /// The memory `dctx` lives in: kept, never touched.
    _dwksp: KVVec<u8>,
}

// SAFETY: the contexts live in workspaces the codec owns and may be used from any thread,
// one at a time; methods that use them take `&mut self`.
unsafe impl Send for ZstdCodec {}

impl ZstdCodec {
    /// Makes the contexts of compression level `level` for inputs of `size` bytes. May
    /// sleep.
    pub(crate) fn new(level: i32, size: usize) -> Result<Self> {
        // SAFETY: `zstd_get_params()` only computes a value.
        let params = unsafe { ffi::zstd_get_params(level, size as u64) };
        // SAFETY: `params.cParams` is a valid set of compression parameters.
        let cbound = unsafe { ffi::zstd_cctx_workspace_bound(&params.cParams) };
        // SAFETY: `zstd_dctx_workspace_bound()` only computes a value.
        let dbound = unsafe { ffi::zstd_dctx_workspace_bound() };
        if cbound == 0 || dbound == 0 {
            return Err(EINVAL);
        }
        let mut cwksp = KVVec::from_elem(0u8, cbound, GFP_KERNEL)?;
        let mut dwksp = KVVec::from_elem(0u8, dbound, GFP_KERNEL)?;
        // SAFETY: `cwksp` is writable for `cbound` bytes and stays allocated (and untouched
        // by Rust) as long as the context, which the codec owns with it.
        let cctx = unsafe { ffi::zstd_init_cctx(cwksp.as_mut_ptr().cast(), cbound) };
        // SAFETY: as above, for `dwksp`.
        let dctx = unsafe { ffi::zstd_init_dctx(dwksp.as_mut_ptr().cast(), dbound) };
        // INVARIANT: both contexts were just made in their workspaces, for `params`.
        Ok(Self {
            params,
            cctx: NonNull::new(cctx).ok_or(EINVAL)?,
            dctx: NonNull::new(dctx).ok_or(EINVAL)?,
            _cwksp: cwksp,
            _dwksp: dwksp,
        })
    }

    /// The library's default compression level (3).
    pub(crate) fn default_level() -> i32 {
        // SAFETY: `zstd_default_clevel()` only returns a constant.
        unsafe { ffi::zstd_default_clevel() }
    }

    /// The compression levels the library takes: `zstd_min_clevel()` (negative: faster
    /// than level 1) to `zstd_max_clevel()` (22).
    pub(crate) fn levels() -> core::ops::RangeInclusive<i32> {
        // SAFETY: both only return constants.
        unsafe { ffi::zstd_min_clevel()..=ffi::zstd_max_clevel() }
    }

    /// Turns a library result into a length, or `err` for an error code.
    fn checked(ret: usize, err: Error) -> Result<usize> {
        // SAFETY: `zstd_is_error()` only looks at its argument.
        if unsafe { ffi::zstd_is_error(ret) } != 0 {
            Err(err)
        } else {
            Ok(ret)
        }
    }

    /// Compresses `src` into `dst`; returns the compressed length. Fails with `ENOSPC`
    /// when the output does not fit in `dst`.
    ///
    /// `src` may change while it is read (a page under direct I/O): the output then stays
    /// within `dst`, whatever it decompresses to.
    pub(crate) fn compress(&mut self, src: &RawBuf<'_>, dst: &mut [u8]) -> Result<usize> {
        // SAFETY: `cctx` is live and sized for `params` (type invariant), used by this call
        // only (`&mut self`); `src` is valid for reads of its length (invariant of `RawBuf`),
        // and `dst`, a slice, for writes of its length.
        let ret = unsafe {
            ffi::zstd_compress_cctx(
                self.cctx.as_ptr(),
                dst.as_mut_ptr().cast(),
                dst.len(),
                src.as_ptr().cast(),
                src.len(),
                &self.params,
            )
        };
        Self::checked(ret, ENOSPC).and_then(|len| if len > dst.len() { Err(EIO) } else { Ok(len) })
    }

    /// Decompresses `src` into `dst`; returns the decompressed length.
    pub(crate) fn decompress(&mut self, src: &[u8], dst: &mut RawBuf<'_>) -> Result<usize> {
        let cap = dst.len();
        // SAFETY: `dctx` is a live context (type invariant) used by this call only
        // (`&mut self`); `src` is a slice, valid for reads of its length, and `dst` is valid
        // for writes of its length (invariant of `RawBuf`).
        let ret = unsafe {
            ffi::zstd_decompress_dctx(
                self.dctx.as_ptr(),
                dst.as_mut_ptr().cast(),
                cap,
                src.as_ptr().cast(),
                src.len(),
            )
        };
        // Never trust a codec's length beyond the buffer it was given.
        Self::checked(ret, EIO).and_then(|len| if len > cap { Err(EIO) } else { Ok(len) })
    }
}
