// SPDX-License-Identifier: GPL-2.0

//! A codec: one CPU's means to compress and decompress with one algorithm.

use crate::{
    algorithm::{Algorithm, Backend},
    ext::{
        crypto::acomp::AcompRequest, deflate::DeflateCodec, lz4::Lz4Codec, raw_buf::RawBuf,
        zstd::ZstdCodec,
    },
    geometry::BLOCK_SIZE,
};
use core::ops::RangeInclusive;
use kernel::prelude::*;

/// One CPU's codec of one algorithm.
pub(crate) enum Codec {
    /// A crypto acomp transform and request: every algorithm but `lz4`, `lz4hc`,
    /// `deflate` and `zstd`.
    Acomp(AcompRequest),
    /// The LZ4 library called directly, LZ4 or LZ4HC, as zram's lz4 and lz4hc backends
    /// (the crypto API's reach the same functions through the scomp layer; see
    /// [`Lz4Codec`]).
    Lz4(Lz4Codec),
    /// The zstd library with parameters for one block, as zram's zstd backend (the crypto
    /// API's `zstd` is set up for 256 KiB inputs on every call; see [`ZstdCodec`]).
    Zstd(ZstdCodec),
    /// The zlib library's raw deflate, as zram's deflate backend (the crypto API's takes no
    /// level; see [`DeflateCodec`]).
    Deflate(DeflateCodec),
}

impl Codec {
    /// A new codec of `algorithm`, by its backend, that compresses at `level` (`None`: the
    /// algorithm's default); `None` for `nocomp`. `EINVAL` for a level the backend does not
    /// take ([`Codec::check_level`]). May sleep.
    pub(crate) fn new(algorithm: Algorithm, level: Option<i32>) -> Result<Option<Self>> {
        Self::check_level(algorithm, level)?;
        Ok(match algorithm.backend() {
            Backend::Stored => None,
            Backend::Lz4 => Some(Self::Lz4(Lz4Codec::new()?)),
            Backend::Lz4hc => Some(Self::Lz4(Lz4Codec::new_hc(level)?)),
            Backend::Deflate => Some(Self::Deflate(DeflateCodec::new(level)?)),
            Backend::Zstd => Some(Self::Zstd(ZstdCodec::new(
                level.unwrap_or_else(ZstdCodec::default_level),
                BLOCK_SIZE,
            )?)),
            Backend::Acomp => Some(Self::Acomp(AcompRequest::new(
                algorithm.crypto_name().ok_or(EINVAL)?,
            )?)),
        })
    }

    /// `EINVAL` for a `level` that `algorithm`'s codec does not take ([`Codec::levels`]);
    /// `None`, the default, it always takes.
    pub(crate) fn check_level(algorithm: Algorithm, level: Option<i32>) -> Result {
        match (level, Self::levels(algorithm)) {
            (None, _) => Ok(()),
            (Some(level), Some(levels)) if levels.contains(&level) => Ok(()),
            (Some(_), _) => Err(EINVAL),
        }
    }

    /// The compression levels `algorithm`'s codec takes, if it takes one: zstd's, lz4hc's
    /// and deflate's, through their libraries; lz4 and the crypto API's algorithms take
    /// none.
    pub(crate) fn levels(algorithm: Algorithm) -> Option<RangeInclusive<i32>> {
        match algorithm.backend() {
            Backend::Zstd => Some(ZstdCodec::levels()),
            Backend::Lz4hc => Some(Lz4Codec::hc_levels()),
            Backend::Deflate => Some(DeflateCodec::levels()),
            Backend::Stored | Backend::Lz4 | Backend::Acomp => None,
        }
    }

    /// Compresses `src` into `dst`; returns the compressed length. Fails (typically with
    /// `ENOSPC`) when the output does not fit in `dst`.
    pub(crate) fn compress(&mut self, src: &RawBuf<'_>, dst: &mut [u8]) -> Result<usize> {
        match self {
            Self::Acomp(codec) => codec.compress(src, dst),
            Self::Lz4(codec) => codec.compress(src, dst),
            Self::Zstd(codec) => codec.compress(src, dst),
            Self::Deflate(codec) => codec.compress(src, dst),
        }
    }

    /// Decompresses `src` into `dst`; returns the decompressed length.
    pub(crate) fn decompress(&mut self, src: &[u8], dst: &mut RawBuf<'_>) -> Result<usize> {
        match self {
            Self::Acomp(codec) => codec.decompress(src, dst),
            Self::Lz4(codec) => codec.decompress(src, dst),
            Self::Zstd(codec) => codec.decompress(src, dst),
            Self::Deflate(codec) => codec.decompress(src, dst),
        }
    }
}

#[kunit_tests(foxramdisk_codec)]
mod tests {
    use super::*;

    /// A block of `text` repeated.
    fn repeated(text: &[u8]) -> Result<KVec<u8>> {
        let mut block = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        for (b, t) in block.iter_mut().zip(text.iter().cycle()) {
            *b = *t;
        }
        Ok(block)
    }

    #[test]
    fn acomp_round_trips_and_refuses_overflow() -> Result {
        let mut plain = repeated(b"a compressed RAM disk keeps repeated text small; ")?;
        let mut packed = KVec::from_elem(0u8, 2 * BLOCK_SIZE, GFP_KERNEL)?;
        let mut back = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        for algorithm in Algorithm::ALL {
            let Some(name) = algorithm.crypto_name() else {
                continue;
            };
            let mut codec = AcompRequest::new(name)?;
            let n = codec.compress(&RawBuf::from(&mut plain[..]), &mut packed)?;
            assert!(n > 0 && n < BLOCK_SIZE / 4);
            let mut out = RawBuf::from(&mut back[..]);
            assert_eq!(codec.decompress(&packed[..n], &mut out)?, BLOCK_SIZE);
            assert!(back == plain);
            // Output that does not fit is an error, never an overrun.
            let mut tiny = [0u8; 8];
            assert!(codec
                .compress(&RawBuf::from(&mut plain[..]), &mut tiny)
                .is_err());
            // Garbage input must not crash; whatever comes out stays within the buffer.
            packed[..64].fill(0xA5);
            let mut out = RawBuf::from(&mut back[..]);
            if let Ok(len) = codec.decompress(&packed[..64], &mut out) {
                assert!(len <= BLOCK_SIZE);
            }
        }
        Ok(())
    }

    #[test]
    fn lz4hc_takes_levels_1_to_16() -> Result {
        let mut plain = repeated(b"lz4hc at its lowest and highest level; 0123456789 ")?;
        let mut packed = KVec::from_elem(0u8, 2 * BLOCK_SIZE, GFP_KERNEL)?;
        let mut back = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        for level in [1, 3, 9, 16] {
            let mut codec = Codec::new(Algorithm::Lz4hc, Some(level))?.ok_or(EINVAL)?;
            let n = codec.compress(&RawBuf::from(&mut plain[..]), &mut packed)?;
            // Any level decodes with the crypto API's lz4hc.
            let mut crypto = AcompRequest::new(c"lz4hc")?;
            back.fill(0);
            assert_eq!(
                crypto.decompress(&packed[..n], &mut RawBuf::from(&mut back[..]))?,
                BLOCK_SIZE
            );
            assert!(back == plain);
        }
        for level in [i32::MIN, -1, 0, 17, i32::MAX] {
            assert!(Codec::new(Algorithm::Lz4hc, Some(level)).is_err());
            assert_eq!(
                Codec::check_level(Algorithm::Lz4hc, Some(level)),
                Err(EINVAL)
            );
        }
        assert_eq!(Codec::check_level(Algorithm::Lz4, Some(1)), Err(EINVAL));
        assert_eq!(Codec::levels(Algorithm::Lz4hc), Some(1..=16));
        Ok(())
    }

    #[test]
    fn deflate_takes_levels_minus_1_to_9() -> Result {
        let mut plain = repeated(b"deflate at its fastest and its best level; 0123456789 ")?;
        let mut packed = KVec::from_elem(0u8, 2 * BLOCK_SIZE, GFP_KERNEL)?;
        let mut back = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut sizes = [0; 3];
        for (size, level) in sizes.iter_mut().zip([0, 1, 9]) {
            let mut codec = Codec::new(Algorithm::Deflate, Some(level))?.ok_or(EINVAL)?;
            match codec.compress(&RawBuf::from(&mut plain[..]), &mut packed) {
                Ok(n) => {
                    // Any level decodes with the crypto API's deflate.
                    let mut crypto = AcompRequest::new(c"deflate")?;
                    back.fill(0);
                    assert_eq!(
                        crypto.decompress(&packed[..n], &mut RawBuf::from(&mut back[..]))?,
                        BLOCK_SIZE
                    );
                    assert!(back == plain);
                    *size = n;
                }
                // Level 0 stores: not shorter than the block.
                Err(e) => assert!(level == 0 && e == ENOSPC),
            }
        }
        assert!(sizes[0] == 0 && sizes[2] <= sizes[1]);
        for level in [i32::MIN, -2, 10, i32::MAX] {
            assert!(Codec::new(Algorithm::Deflate, Some(level)).is_err());
        }
        assert_eq!(Codec::levels(Algorithm::Deflate), Some(-1..=9));
        Ok(())
    }

    #[test]
    fn library_codecs_round_trip_and_speak_the_crypto_format() -> Result {
        let mut plain = repeated(b"a codec called directly compresses this line well; ")?;
        let mut packed = KVec::from_elem(0u8, 2 * BLOCK_SIZE, GFP_KERNEL)?;
        let mut back = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut half = KVec::from_elem(0u8, BLOCK_SIZE / 2, GFP_KERNEL)?;
        for algorithm in [
            Algorithm::Lz4,
            Algorithm::Lz4hc,
            Algorithm::Deflate,
            Algorithm::Zstd,
        ] {
            let mut codec = Codec::new(algorithm, None)?.ok_or(EINVAL)?;
            assert!(matches!(
                codec,
                Codec::Lz4(_) | Codec::Deflate(_) | Codec::Zstd(_)
            ));
            let n = codec.compress(&RawBuf::from(&mut plain[..]), &mut packed)?;
            assert!(n > 0 && n < BLOCK_SIZE / 4);
            assert_eq!(
                codec.decompress(&packed[..n], &mut RawBuf::from(&mut back[..]))?,
                BLOCK_SIZE
            );
            assert!(back == plain);
            if algorithm == Algorithm::Lz4 {
                // With no room beyond the output, LZ4 checks every write (limited-output
                // mode) and must produce the same bytes as without the checks.
                let mut exact = KVec::from_elem(0u8, n, GFP_KERNEL)?;
                assert_eq!(
                    codec.compress(&RawBuf::from(&mut plain[..]), &mut exact)?,
                    n
                );
                assert!(exact[..] == packed[..n]);
            }
            // The same format as the crypto API's algorithm of the same name, both ways.
            let mut crypto = AcompRequest::new(algorithm.crypto_name().ok_or(EINVAL)?)?;
            back.fill(0);
            assert_eq!(
                crypto.decompress(&packed[..n], &mut RawBuf::from(&mut back[..]))?,
                BLOCK_SIZE
            );
            assert!(back == plain);
            let m = crypto.compress(&RawBuf::from(&mut plain[..]), &mut packed)?;
            back.fill(0);
            assert_eq!(
                codec.decompress(&packed[..m], &mut RawBuf::from(&mut back[..]))?,
                BLOCK_SIZE
            );
            assert!(back == plain);
            // No room: an error, never an overrun.
            let mut tiny = [0u8; 8];
            assert_eq!(
                codec.compress(&RawBuf::from(&mut plain[..]), &mut tiny),
                Err(ENOSPC)
            );
            // Garbage and truncated input are refused.
            assert_eq!(
                codec.decompress(&packed[..m / 2], &mut RawBuf::from(&mut back[..])),
                Err(EIO)
            );
            // Output larger than the buffer is refused, not cut.
            assert_eq!(
                codec.decompress(&packed[..m], &mut RawBuf::from(&mut half[..])),
                Err(EIO)
            );
            packed[..64].fill(0xA5);
            assert_eq!(
                codec.decompress(&packed[..64], &mut RawBuf::from(&mut back[..])),
                Err(EIO)
            );
        }
        // Data that does not shrink is refused, to be stored uncompressed.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for b in plain.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        let mut lz4 = Codec::new(Algorithm::Lz4, None)?.ok_or(EINVAL)?;
        assert_eq!(
            lz4.compress(&RawBuf::from(&mut plain[..]), &mut packed),
            Err(ENOSPC)
        );
        Ok(())
    }

    #[test]
    fn zstd_takes_levels_and_others_refuse_them() -> Result {
        let levels = Codec::levels(Algorithm::Zstd).ok_or(EINVAL)?;
        assert!(levels.contains(&1) && levels.contains(&19) && !levels.contains(&23));
        for algorithm in [Algorithm::Lz4, Algorithm::NoComp] {
            assert!(Codec::levels(algorithm).is_none());
            assert_eq!(Codec::new(algorithm, Some(1)).err(), Some(EINVAL));
        }
        assert_eq!(Codec::new(Algorithm::Zstd, Some(23)).err(), Some(EINVAL));
        // Random letters of four: a stronger level finds more.
        let mut plain = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for b in plain.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = b"ACGT"[(seed & 3) as usize];
        }
        let mut packed = KVec::from_elem(0u8, 2 * BLOCK_SIZE, GFP_KERNEL)?;
        let mut back = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut sizes = KVec::new();
        for level in [-5, 1, 19] {
            let mut codec = Codec::new(Algorithm::Zstd, Some(level))?.ok_or(EINVAL)?;
            let n = codec.compress(&RawBuf::from(&mut plain[..]), &mut packed)?;
            // Any level's output decodes with a codec of another.
            let mut default = Codec::new(Algorithm::Zstd, None)?.ok_or(EINVAL)?;
            back.fill(0);
            assert_eq!(
                default.decompress(&packed[..n], &mut RawBuf::from(&mut back[..]))?,
                BLOCK_SIZE
            );
            assert!(back == plain);
            sizes.push(n, GFP_KERNEL)?;
        }
        assert!(sizes[0] > sizes[2]);
        Ok(())
    }
}
