// SPDX-License-Identifier: GPL-2.0

//! The compression algorithms a device can use, by name.
//!
//! `nocomp` stores blocks as they are; `zstd` is the kernel's zstd library, with parameters
//! for one block (the crypto API cannot be given them); `lz4` is the kernel's LZ4 library,
//! called without the crypto API's scomp layer; every other algorithm is the kernel crypto
//! acomp algorithm of the same `cra_name`, used only if the running kernel has it.

use crate::{ext::crypto::acomp, parse::shown};
use kernel::{
    fmt,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Release}, //
};

/// A compression algorithm. The discriminant is what the block table records per block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Algorithm {
    /// Blocks are stored raw.
    NoComp = 0,
    /// `deflate` (zlib, raw deflate).
    Deflate = 1,
    /// `842`.
    Sw842 = 2,
    /// `lz4`.
    Lz4 = 3,
    /// `lz4hc`.
    Lz4hc = 4,
    /// `zstd`.
    Zstd = 5,
    /// `lzo-rle`.
    LzoRle = 6,
    /// `lzo`.
    Lzo = 7,
}

impl Algorithm {
    /// Every algorithm, in the order `comp_algorithm` lists them.
    pub(crate) const ALL: [Algorithm; 8] = [
        Self::NoComp,
        Self::Deflate,
        Self::Sw842,
        Self::Lz4,
        Self::Lz4hc,
        Self::Zstd,
        Self::LzoRle,
        Self::Lzo,
    ];

    /// The algorithm's name, as users write it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::NoComp => "nocomp",
            Self::Deflate => "deflate",
            Self::Sw842 => "842",
            Self::Lz4 => "lz4",
            Self::Lz4hc => "lz4hc",
            Self::Zstd => "zstd",
            Self::LzoRle => "lzo-rle",
            Self::Lzo => "lzo",
        }
    }

    /// The crypto API name of the algorithm; `None` for `nocomp`.
    pub(crate) fn crypto_name(self) -> Option<&'static CStr> {
        match self {
            Self::NoComp => None,
            Self::Deflate => Some(c"deflate"),
            Self::Sw842 => Some(c"842"),
            Self::Lz4 => Some(c"lz4"),
            Self::Lz4hc => Some(c"lz4hc"),
            Self::Zstd => Some(c"zstd"),
            Self::LzoRle => Some(c"lzo-rle"),
            Self::Lzo => Some(c"lzo"),
        }
    }

    /// The algorithm recorded as `id` in the block table; `EINVAL` for an id that is none.
    pub(crate) fn from_id(id: u8) -> Result<Self> {
        Self::ALL.get(usize::from(id)).copied().ok_or(EINVAL)
    }

    /// The algorithm named `input`, ignoring one trailing newline (as `sysfs_streq`).
    pub(crate) fn from_name(input: &[u8]) -> Option<Self> {
        let name = input.strip_suffix(b"\n").unwrap_or(input);
        Self::ALL.into_iter().find(|a| a.name().as_bytes() == name)
    }

    /// Whether the running kernel can use this algorithm. The LZ4 and zstd libraries are
    /// linked into the module, so `lz4` and `zstd` always are.
    pub(crate) fn available(self) -> bool {
        matches!(self, Self::Lz4 | Self::Zstd) || self.crypto_name().is_none_or(acomp::available)
    }

    /// Parses a user's algorithm name: `EINVAL` for an unknown name, `ENOENT` for one the
    /// running kernel lacks (each with a log line naming it).
    pub(crate) fn parse(input: &[u8]) -> Result<Self> {
        let Some(algorithm) = Self::from_name(input) else {
            pr_err!("unknown compression algorithm '{}'\n", shown(input));
            return Err(EINVAL);
        };
        if !algorithm.available() {
            pr_err!("compression algorithm {algorithm} is not available in this kernel\n");
            return Err(ENOENT);
        }
        Ok(algorithm)
    }
}

// Every algorithm's id is its index in `ALL`, which [`AtomicAlgorithm`] relies on.
const _: () = {
    let mut i = 0;
    while i < Algorithm::ALL.len() {
        assert!(Algorithm::ALL[i] as usize == i);
        i += 1;
    }
};

/// An [`Algorithm`] that can be read and replaced while others read it.
///
/// # Invariants
///
/// `id` is always the id of an algorithm: an index of [`Algorithm::ALL`].
pub(crate) struct AtomicAlgorithm {
    id: Atomic<u32>,
}

impl AtomicAlgorithm {
    /// Holds `algorithm`.
    pub(crate) const fn new(algorithm: Algorithm) -> Self {
        // INVARIANT: the id of an algorithm.
        Self {
            id: Atomic::new(algorithm as u32),
        }
    }

    /// The algorithm. Acquire: what was written before the [`AtomicAlgorithm::store`] that
    /// set it is seen.
    pub(crate) fn load(&self) -> Algorithm {
        let id = self.id.load(Acquire) as usize;
        // By the type invariant `id` indexes `ALL`, so the remainder is `id` itself; it
        // lets the compiler see that the index is in bounds.
        Algorithm::ALL[id % Algorithm::ALL.len()]
    }

    /// Replaces the algorithm, with release ordering (see [`AtomicAlgorithm::load`]).
    pub(crate) fn store(&self, algorithm: Algorithm) {
        // INVARIANT: the id of an algorithm.
        self.id.store(algorithm as u32, Release);
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[kunit_tests(foxramdisk_codec)]
mod tests {
    use super::*;
    use crate::{
        compressor::Codec,
        ext::{crypto::acomp::AcompRequest, raw_buf::RawBuf},
        geometry::BLOCK_SIZE,
    };

    #[test]
    fn names_round_trip() {
        for algorithm in Algorithm::ALL {
            let name = algorithm.name().as_bytes();
            assert_eq!(Algorithm::from_name(name), Some(algorithm));
            // What `echo` writes to sysfs: one trailing newline.
            let mut line = [0u8; 16];
            line[..name.len()].copy_from_slice(name);
            line[name.len()] = b'\n';
            assert_eq!(Algorithm::from_name(&line[..=name.len()]), Some(algorithm));
            assert_eq!(Algorithm::from_id(algorithm as u8), Ok(algorithm));
        }
        assert_eq!(Algorithm::from_id(Algorithm::ALL.len() as u8), Err(EINVAL));
    }

    #[test]
    fn unknown_names_are_rejected() {
        for bad in [
            &b""[..],
            b"\n",
            b"lz5",
            b"LZ4",
            b" lz4",
            b"lz4\n\n",
            b"lz4 ",
            b"deflat",
        ] {
            assert_eq!(Algorithm::from_name(bad), None);
        }
        assert_eq!(Algorithm::parse(b"bogus"), Err(EINVAL));
        assert_eq!(Algorithm::parse(b"zstd\n"), Ok(Algorithm::Zstd));
    }

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
    fn library_codecs_round_trip_and_speak_the_crypto_format() -> Result {
        let mut plain = repeated(b"a codec called directly compresses this line well; ")?;
        let mut packed = KVec::from_elem(0u8, 2 * BLOCK_SIZE, GFP_KERNEL)?;
        let mut back = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut half = KVec::from_elem(0u8, BLOCK_SIZE / 2, GFP_KERNEL)?;
        for algorithm in [Algorithm::Lz4, Algorithm::Zstd] {
            let mut codec = Codec::new(algorithm)?.ok_or(EINVAL)?;
            assert!(matches!(codec, Codec::Lz4(_) | Codec::Zstd(_)));
            let n = codec.compress(&RawBuf::from(&mut plain[..]), &mut packed)?;
            assert!(n > 0 && n < BLOCK_SIZE / 4);
            assert_eq!(
                codec.decompress(&packed[..n], &mut RawBuf::from(&mut back[..]))?,
                BLOCK_SIZE
            );
            assert!(back == plain);
            if matches!(codec, Codec::Lz4(_)) {
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
        let mut lz4 = Codec::new(Algorithm::Lz4)?.ok_or(EINVAL)?;
        assert_eq!(
            lz4.compress(&RawBuf::from(&mut plain[..]), &mut packed),
            Err(ENOSPC)
        );
        Ok(())
    }
}
