// SPDX-License-Identifier: GPL-2.0

//! The kernel's zlib library, raw deflate, one block at a time.
//!
//! C header: [`include/linux/zlib.h`](srctree/include/linux/zlib.h)
//!
//! The crypto API's `deflate` compresses at zlib's default level only, through the acomp
//! interface (scatterlists, a stream per call). [`DeflateCodec`] uses the library the way
//! zram's deflate backend does: a compression and a decompression stream made once in
//! workspaces of their own, reset for each block, at any level. The format is the crypto
//! API's: raw deflate with a window of 2^11 bytes and zlib's largest memory level.

use super::{ffi, raw_buf::RawBuf};
use core::{ops::RangeInclusive, ptr};
use kernel::{alloc::KVVec, ffi::c_int, prelude::*};

/// `Z_OK`. The zlib constants here are checked against the C macros in `src/helpers.c`.
const Z_OK: c_int = 0;
/// `Z_STREAM_END`.
const Z_STREAM_END: c_int = 1;
/// `Z_SYNC_FLUSH`.
const Z_SYNC_FLUSH: c_int = 3;
/// `Z_FINISH`.
const Z_FINISH: c_int = 5;
/// `Z_DEFLATED`.
const Z_DEFLATED: c_int = 8;
/// `Z_DEFAULT_STRATEGY`.
const Z_DEFAULT_STRATEGY: c_int = 0;
/// `MAX_MEM_LEVEL`: the memory level of the crypto API's `deflate` and of zram's.
const MAX_MEM_LEVEL: c_int = 8;
/// `Z_DEFAULT_COMPRESSION`: the crypto API's level (zlib's 6).
const Z_DEFAULT_COMPRESSION: c_int = -1;
/// `Z_BEST_COMPRESSION`.
const Z_BEST_COMPRESSION: c_int = 9;
/// `-DEFLATE_DEF_WINBITS` of the crypto API's `deflate` and of zram's: raw deflate
/// (negative: no zlib header), a window of 2^11 bytes.
const WINDOW_BITS: c_int = -11;

/// A zlib stream in a workspace of its own.
///
/// # Invariants
///
/// `stream` was initialised by `zlib_deflateInit2()` or `zlib_inflateInit2()` with
/// `stream.workspace` pointing into `_workspace`, which is never read, written or freed by
/// Rust while the stream lives; `stream` is boxed, so that the library's state, which
/// points back to it, stays valid.
struct Stream {
    stream: KBox<ffi::z_stream_s>,
    /// The memory the library's state lives in: kept, never touched.
    _workspace: KVVec<u64>,
}

impl Stream {
    /// A stream, not yet initialised, with a workspace of `bytes` bytes (zeroed). May
    /// sleep.
    fn alloc(bytes: c_int) -> Result<(KBox<ffi::z_stream_s>, KVVec<u64>)> {
        let bytes = usize::try_from(bytes).map_err(|_| EINVAL)?;
        let mut workspace = KVVec::from_elem(0u64, bytes.div_ceil(size_of::<u64>()), GFP_KERNEL)?;
        let stream = KBox::new(
            ffi::z_stream_s {
                next_in: ptr::null(),
                avail_in: 0,
                total_in: 0,
                next_out: ptr::null_mut(),
                avail_out: 0,
                total_out: 0,
                msg: ptr::null_mut(),
                state: ptr::null_mut(),
                workspace: workspace.as_mut_ptr().cast(),
                data_type: 0,
                adler: 0,
                reserved: 0,
            },
            GFP_KERNEL,
        )?;
        Ok((stream, workspace))
    }
}

/// A raw-deflate compression and decompression stream at one level, used by one thread at
/// a time.
///
/// # Invariants
///
/// `deflate` was initialised for compression at `level`, `inflate` for decompression (see
/// [`Stream`]); between calls, neither stream points to memory outside its workspace.
pub(crate) struct DeflateCodec {
    deflate: Stream,
    inflate: Stream,
}

// SAFETY: the streams live in memory the codec owns and may be used from any thread, one at
// a time; methods that use them take `&mut self`.
unsafe impl Send for DeflateCodec {}

impl DeflateCodec {
    /// The streams of compression level `level` (`None`: the crypto API's, zlib's
    /// default); `EINVAL` for a level outside [`DeflateCodec::levels`]. May sleep.
    pub(crate) fn new(level: Option<i32>) -> Result<Self> {
        let level = level.unwrap_or(Z_DEFAULT_COMPRESSION);
        if !Self::levels().contains(&level) {
            return Err(EINVAL);
        }
        // SAFETY: both only compute a size.
        let (dbytes, ibytes) = unsafe {
            (
                ffi::zlib_deflate_workspacesize(WINDOW_BITS, MAX_MEM_LEVEL),
                ffi::zlib_inflate_workspacesize(),
            )
        };
        let (mut dstream, dworkspace) = Stream::alloc(dbytes)?;
        let (mut istream, iworkspace) = Stream::alloc(ibytes)?;
        // SAFETY: `dstream` is boxed and its workspace is as large as the library asked
        // for these parameters; both stay allocated with the codec.
        let ret = unsafe {
            ffi::zlib_deflateInit2(
                &mut *dstream,
                level,
                Z_DEFLATED,
                WINDOW_BITS,
                MAX_MEM_LEVEL,
                Z_DEFAULT_STRATEGY,
            )
        };
        if ret != Z_OK {
            return Err(EINVAL);
        }
        // SAFETY: as above, for `istream`.
        if unsafe { ffi::zlib_inflateInit2(&mut *istream, WINDOW_BITS) } != Z_OK {
            return Err(EINVAL);
        }
        // INVARIANT: both streams were just initialised in their workspaces.
        Ok(Self {
            deflate: Stream {
                stream: dstream,
                _workspace: dworkspace,
            },
            inflate: Stream {
                stream: istream,
                _workspace: iworkspace,
            },
        })
    }

    /// The levels zlib takes: -1 (its default, 6) to 9, as zram's deflate backend takes
    /// them; 0 stores without compressing.
    pub(crate) fn levels() -> RangeInclusive<i32> {
        Z_DEFAULT_COMPRESSION..=Z_BEST_COMPRESSION
    }

    /// Compresses `src` into `dst`; returns the compressed length. Fails with `ENOSPC` when
    /// the output would not be shorter than `src` or does not fit in `dst`: such a block
    /// is stored uncompressed anyway. zlib checks every write against the room left.
    pub(crate) fn compress(&mut self, src: &RawBuf<'_>, dst: &mut [u8]) -> Result<usize> {
        let s = &mut *self.deflate.stream;
        // SAFETY: `s` was initialised for compression (type invariant).
        if unsafe { ffi::zlib_deflateReset(s) } != Z_OK {
            return Err(EINVAL);
        }
        // SAFETY: `src` is readable for its length (`RawBuf` invariant) and `dst` writable
        // for its length; `zlib_deflate()` is a step of a stream initialised for it.
        let (ret, len) = unsafe {
            Stream::step(
                s,
                src.as_ptr(),
                src.len(),
                dst.as_mut_ptr(),
                dst.len(),
                |s| ffi::zlib_deflate(s, Z_FINISH),
            )
        };
        match ret {
            Z_STREAM_END if len > 0 && len < src.len() && len <= dst.len() => Ok(len),
            _ => Err(ENOSPC),
        }
    }

    /// Decompresses `src` into `dst`; returns the decompressed length. `EIO` for input
    /// that is not one whole raw-deflate stream whose output fits in `dst`.
    pub(crate) fn decompress(&mut self, src: &[u8], dst: &mut RawBuf<'_>) -> Result<usize> {
        let s = &mut *self.inflate.stream;
        // SAFETY: `s` was initialised for decompression (type invariant).
        if unsafe { ffi::zlib_inflateReset(s) } != Z_OK {
            return Err(EIO);
        }
        // SAFETY: `src` is a slice, readable for its length, and `dst` is writable for its
        // length (`RawBuf` invariant); `zlib_inflate()` is a step of a stream initialised
        // for it.
        let (ret, len) = unsafe {
            Stream::step(
                s,
                src.as_ptr(),
                src.len(),
                dst.as_mut_ptr(),
                dst.len(),
                |s| ffi::zlib_inflate(s, Z_SYNC_FLUSH),
            )
        };
        // Never trust a codec's length beyond the buffer it was given.
        match ret {
            Z_STREAM_END if len <= dst.len() => Ok(len),
            _ => Err(EIO),
        }
    }
}

impl Stream {
    /// Points `s` at `input_len` bytes at `input` and `output_len` bytes of room at
    /// `output`, runs `call` on it, and points it at nothing again; returns what `call`
    /// returned and the bytes written.
    ///
    /// # Safety
    ///
    /// `input` must be readable for `input_len` bytes and `output` writable for
    /// `output_len` bytes until this returns, and `call` must be a zlib step that `s` was
    /// initialised for, which stays within what the stream says.
    unsafe fn step(
        s: &mut ffi::z_stream_s,
        input: *const u8,
        input_len: usize,
        output: *mut u8,
        output_len: usize,
        call: impl FnOnce(*mut ffi::z_stream_s) -> c_int,
    ) -> (c_int, usize) {
        s.next_in = input;
        s.avail_in = input_len;
        s.next_out = output;
        s.avail_out = output_len;
        let ret = call(s);
        let len = s.total_out;
        // INVARIANT (of `DeflateCodec`): the stream points to no buffer of the caller's
        // after this.
        s.next_in = ptr::null();
        s.avail_in = 0;
        s.next_out = ptr::null_mut();
        s.avail_out = 0;
        (ret, len)
    }
}

impl Drop for DeflateCodec {
    fn drop(&mut self) {
        // SAFETY: both streams were initialised (type invariant) and are not used after
        // this; the ends only release what the library holds in the workspaces.
        unsafe {
            ffi::zlib_deflateEnd(&mut *self.deflate.stream);
            ffi::zlib_inflateEnd(&mut *self.inflate.stream);
        }
    }
}
