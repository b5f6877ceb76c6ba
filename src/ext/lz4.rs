// SPDX-License-Identifier: GPL-2.0

//! The kernel's LZ4 library, one block at a time.
//!
//! C header: [`include/linux/lz4.h`](srctree/include/linux/lz4.h)
//!
//! The crypto API's `lz4` is a synchronous algorithm behind the acomp interface: each call
//! goes through the scomp layer (its per-CPU scratch buffers and their lock) before it
//! reaches the same two library functions. [`Lz4Codec`] calls them directly, the way
//! zram's lz4 backend does. The output is the same raw LZ4 block either way.

use super::{ffi, raw_buf::RawBuf};
use kernel::{alloc::KVVec, ffi::c_int, prelude::*};

/// `LZ4_MEM_COMPRESS`: the size of the compression work memory (`LZ4_stream_t`).
/// Checked against the C macro in `src/helpers.c`.
const LZ4_MEM_COMPRESS: usize = 16416;

/// `LZ4_ACCELERATION_DEFAULT`: the acceleration of `LZ4_compress_default()`, which the
/// crypto API's `lz4` uses. Checked against the C macro in `src/helpers.c`.
const LZ4_ACCELERATION_DEFAULT: c_int = 1;

/// The work memory of LZ4 compression, used by one thread at a time.
///
/// # Invariants
///
/// `wrkmem` is at least [`LZ4_MEM_COMPRESS`] bytes, aligned for `LZ4_stream_t` (which
/// holds 64-bit words).
pub(crate) struct Lz4Codec {
    wrkmem: KVVec<u64>,
}

impl Lz4Codec {
    /// Allocates the work memory. May sleep.
    pub(crate) fn new() -> Result<Self> {
        let words = LZ4_MEM_COMPRESS.div_ceil(size_of::<u64>());
        // INVARIANT: `words` 64-bit words hold `LZ4_MEM_COMPRESS` bytes, aligned to 8.
        Ok(Self {
            wrkmem: KVVec::from_elem(0u64, words, GFP_KERNEL)?,
        })
    }

    /// Compresses `src` into `dst`; returns the compressed length. Fails with `ENOSPC`
    /// when the output would not be shorter than `src` or does not fit in `dst`: such a
    /// block is stored uncompressed anyway.
    ///
    /// The library is given all of `dst`. When that holds `LZ4_compressBound()` bytes (the
    /// context's buffer of two blocks does), it runs without output checks, as it does for
    /// zram: the bound follows from the input's length alone, whatever the bytes are, so it
    /// holds even if `src` changes while it is read (a page under direct I/O). A smaller
    /// `dst` puts it in its limited-output mode, which checks every write against the end.
    pub(crate) fn compress(&mut self, src: &RawBuf<'_>, dst: &mut [u8]) -> Result<usize> {
        let input = c_int::try_from(src.len()).map_err(|_| EINVAL)?;
        let output = c_int::try_from(dst.len()).map_err(|_| EINVAL)?;
        // SAFETY: `src` is readable for its length (`RawBuf` invariant), `dst` writable for
        // its length, which the library stays within (see above); `wrkmem` fits and aligns
        // `LZ4_stream_t` (type invariant) and only this call uses it (`&mut self`).
        let ret = unsafe {
            ffi::LZ4_compress_fast(
                src.as_ptr().cast(),
                dst.as_mut_ptr().cast(),
                input,
                output,
                LZ4_ACCELERATION_DEFAULT,
                self.wrkmem.as_mut_ptr().cast(),
            )
        };
        match usize::try_from(ret) {
            Ok(len) if len > 0 && len < src.len() && len <= dst.len() => Ok(len),
            _ => Err(ENOSPC),
        }
    }

    /// Decompresses `src` into `dst`; returns the decompressed length.
    pub(crate) fn decompress(&mut self, src: &[u8], dst: &mut RawBuf<'_>) -> Result<usize> {
        let input = c_int::try_from(src.len()).map_err(|_| EIO)?;
        let cap = c_int::try_from(dst.len()).map_err(|_| EIO)?;
        // SAFETY: `src` is a slice, valid for reads of its length, and `dst` is valid for
        // writes of its length (invariant of `RawBuf`); the library stays within both.
        let ret = unsafe {
            ffi::LZ4_decompress_safe(src.as_ptr().cast(), dst.as_mut_ptr().cast(), input, cap)
        };
        // Never trust a codec's length beyond the buffer it was given.
        match usize::try_from(ret) {
            Ok(len) if len <= dst.len() => Ok(len),
            _ => Err(EIO),
        }
    }
}
