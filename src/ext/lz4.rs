// SPDX-License-Identifier: GPL-2.0

//! The kernel's LZ4 library, one block at a time: LZ4 and its high-compression variant,
//! LZ4HC, which writes the same format more slowly and more densely, at a level.
//!
//! C header: [`include/linux/lz4.h`](srctree/include/linux/lz4.h)
//!
//! The crypto API's `lz4` and `lz4hc` are synchronous algorithms behind the acomp
//! interface: each call goes through the scomp layer (its per-CPU scratch buffers and
//! their lock) before it reaches the same library functions, and `lz4hc` always at its
//! default level. [`Lz4Codec`] calls them directly, the way zram's lz4 and lz4hc backends
//! do, at any level. The output is the same raw LZ4 block either way.

use super::{ffi, raw_buf::RawBuf};
use core::ops::RangeInclusive;
use kernel::{alloc::KVVec, ffi::c_int, prelude::*};

/// `LZ4_MEM_COMPRESS`: the size of the compression work memory (`LZ4_stream_t`).
/// Checked against the C macro in `src/helpers.c`.
const LZ4_MEM_COMPRESS: usize = 16416;

/// `LZ4_ACCELERATION_DEFAULT`: the acceleration of `LZ4_compress_default()`, which the
/// crypto API's `lz4` uses. Checked against the C macro in `src/helpers.c`.
const LZ4_ACCELERATION_DEFAULT: c_int = 1;

/// `LZ4HC_MEM_COMPRESS`: the size of the LZ4HC compression work memory
/// (`LZ4_streamHC_t`). Checked against the C macro in `src/helpers.c`.
const LZ4HC_MEM_COMPRESS: usize = 262192;

/// `LZ4HC_DEFAULT_CLEVEL`: the level of the crypto API's `lz4hc`. Checked in
/// `src/helpers.c`.
const LZ4HC_DEFAULT_CLEVEL: c_int = 9;

/// `LZ4HC_MAX_CLEVEL`: the highest LZ4HC level (higher ones compress as it does). Checked
/// in `src/helpers.c`.
const LZ4HC_MAX_CLEVEL: c_int = 16;

/// How a [`Lz4Codec`] compresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// LZ4 (`LZ4_compress_fast()` at the default acceleration).
    Fast,
    /// LZ4HC at a level of [`Lz4Codec::hc_levels`] (`LZ4_compress_HC()`).
    HighCompression(c_int),
}

/// The work memory of LZ4 or LZ4HC compression, used by one thread at a time.
///
/// # Invariants
///
/// `wrkmem` is at least [`LZ4_MEM_COMPRESS`] bytes for [`Mode::Fast`], and
/// [`LZ4HC_MEM_COMPRESS`] for [`Mode::HighCompression`], aligned for `LZ4_stream_t` and
/// `LZ4_streamHC_t` (which hold 64-bit words and pointers); the level of
/// [`Mode::HighCompression`] is in [`Lz4Codec::hc_levels`].
pub(crate) struct Lz4Codec {
    wrkmem: KVVec<u64>,
    mode: Mode,
}

impl Lz4Codec {
    /// An LZ4 codec: allocates its work memory. May sleep.
    pub(crate) fn new() -> Result<Self> {
        Self::with_mode(LZ4_MEM_COMPRESS, Mode::Fast)
    }

    /// An LZ4HC codec that compresses at `level` (`None`: the crypto API's level):
    /// allocates its work memory (256 KiB). `EINVAL` for a level outside
    /// [`Lz4Codec::hc_levels`]. May sleep.
    pub(crate) fn new_hc(level: Option<i32>) -> Result<Self> {
        let level = level.unwrap_or(LZ4HC_DEFAULT_CLEVEL);
        if !Self::hc_levels().contains(&level) {
            return Err(EINVAL);
        }
        Self::with_mode(LZ4HC_MEM_COMPRESS, Mode::HighCompression(level))
    }

    /// The LZ4HC levels: 1 to 16, as zram's lz4hc backend takes them (the library
    /// compresses levels above 16 as 16, and clamps only those below 1).
    pub(crate) fn hc_levels() -> RangeInclusive<i32> {
        1..=LZ4HC_MAX_CLEVEL
    }

    /// A codec of `mode` with `bytes` of work memory. May sleep.
    fn with_mode(bytes: usize, mode: Mode) -> Result<Self> {
        let words = bytes.div_ceil(size_of::<u64>());
        // INVARIANT: `words` 64-bit words hold `bytes` bytes, aligned to 8; the callers
        // give the size and level of `mode`.
        Ok(Self {
            wrkmem: KVVec::from_elem(0u64, words, GFP_KERNEL)?,
            mode,
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
        let wrkmem = self.wrkmem.as_mut_ptr().cast();
        let ret = match self.mode {
            Mode::Fast => {
                // `wrkmem` fits and aligns `LZ4_stream_t` (type invariant).
                // SAFETY: `src` readable and `dst` writable for their lengths, which the
                // library stays within (see above); `wrkmem` as said, used only here.
                unsafe {
                    ffi::LZ4_compress_fast(
                        src.as_ptr().cast(),
                        dst.as_mut_ptr().cast(),
                        input,
                        output,
                        LZ4_ACCELERATION_DEFAULT,
                        wrkmem,
                    )
                }
            }
            Mode::HighCompression(level) => {
                // SAFETY: as above (LZ4HC drops its output checks by the same bound), and
                // `wrkmem` fits and aligns `LZ4_streamHC_t` (type invariant).
                unsafe {
                    ffi::LZ4_compress_HC(
                        src.as_ptr().cast(),
                        dst.as_mut_ptr().cast(),
                        input,
                        output,
                        level,
                        wrkmem,
                    )
                }
            }
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
