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

#[kunit_tests(foxramdisk_algorithm)]
mod tests {
    use super::*;

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
}
