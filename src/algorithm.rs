// SPDX-License-Identifier: GPL-2.0

//! The compression algorithms a device can use, by name.
//!
//! `nocomp` stores blocks as they are; `zstd` is the kernel's zstd library, with parameters
//! for one block (the crypto API cannot be given them); `lz4` and `lz4hc` are the kernel's
//! LZ4 library, called without the crypto API's scomp layer, and `deflate` its zlib
//! library (`lz4hc` and `deflate` at a level the crypto API cannot be given); every other
//! algorithm is the kernel crypto
//! acomp algorithm of the same `cra_name`, used only if the running kernel has it.

use crate::{ext::crypto::acomp, parse::shown};
use kernel::{
    fmt,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Release}, //
};

/// How the blocks of an algorithm are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Not at all: blocks are stored as they are.
    Stored,
    /// The crypto API's acomp algorithm of the algorithm's crypto name.
    Acomp,
    /// The kernel's LZ4 library, called directly.
    Lz4,
    /// The kernel's LZ4HC library, called directly, at a level.
    Lz4hc,
    /// The kernel's zlib library (raw deflate), called directly, at a level.
    Deflate,
    /// The kernel's zstd library, called directly.
    Zstd,
}

/// Defines [`Algorithm`] from the table of algorithms, one row each: the variant (whose
/// discriminant is the id the block table records), the name users write, the crypto API
/// name and the backend. Ids are the rows' indices, in the order `comp_algorithm` lists
/// them; a new algorithm is a new last row (ids of stored blocks must not change).
macro_rules! algorithms {
    ($($(#[$doc:meta])* $variant:ident = $id:literal, $name:literal, $crypto:expr, $backend:ident;)*) => {
        /// A compression algorithm. The discriminant is what the block table records per
        /// block.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum Algorithm {
            $($(#[$doc])* $variant = $id,)*
        }

        impl Algorithm {
            /// Every algorithm, by id: the order `comp_algorithm` lists them in.
            pub(crate) const ALL: [Algorithm; [$($id),*].len()] = [$(Self::$variant),*];

            /// The row of every algorithm, by id.
            const ROWS: [Row; [$($id),*].len()] = [$(Row {
                name: $name,
                crypto_name: $crypto,
                backend: Backend::$backend,
            }),*];
        }
    };
}

algorithms! {
    /// Blocks are stored raw.
    NoComp = 0, "nocomp", None, Stored;
    /// `deflate` (raw deflate), through the zlib library as zram calls it, at a level
    /// (same format).
    Deflate = 1, "deflate", Some(c"deflate"), Deflate;
    /// `842`.
    Sw842 = 2, "842", Some(c"842"), Acomp;
    /// `lz4`, through the LZ4 library as zram calls it, without the crypto API's scomp
    /// layer (same format).
    Lz4 = 3, "lz4", Some(c"lz4"), Lz4;
    /// `lz4hc`, through the LZ4HC library as zram calls it, at a level (same format).
    Lz4hc = 4, "lz4hc", Some(c"lz4hc"), Lz4hc;
    /// `zstd`, through the zstd library with parameters for one block, as zram calls it.
    Zstd = 5, "zstd", Some(c"zstd"), Zstd;
    /// `lzo-rle`.
    LzoRle = 6, "lzo-rle", Some(c"lzo-rle"), Acomp;
    /// `lzo`.
    Lzo = 7, "lzo", Some(c"lzo"), Acomp;
}

/// What the table says of one algorithm.
struct Row {
    /// The name users write.
    name: &'static str,
    /// The crypto API name (`cra_name`); `None` for `nocomp`.
    crypto_name: Option<&'static CStr>,
    /// How its blocks are compressed.
    backend: Backend,
}

impl Algorithm {
    /// The algorithm's row of the table.
    fn row(self) -> &'static Row {
        &Self::ROWS[self as usize]
    }

    /// The algorithm's name, as users write it.
    pub(crate) fn name(self) -> &'static str {
        self.row().name
    }

    /// The crypto API name of the algorithm; `None` for `nocomp`.
    pub(crate) fn crypto_name(self) -> Option<&'static CStr> {
        self.row().crypto_name
    }

    /// How the algorithm's blocks are compressed.
    pub(crate) fn backend(self) -> Backend {
        self.row().backend
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

    /// Whether the running kernel can use this algorithm: an acomp algorithm if the
    /// kernel has it; the others always (the LZ4 and zstd libraries are linked into the
    /// module).
    pub(crate) fn available(self) -> bool {
        match self.backend() {
            Backend::Acomp => self.crypto_name().is_some_and(acomp::available),
            Backend::Stored | Backend::Lz4 | Backend::Lz4hc | Backend::Deflate | Backend::Zstd => {
                true
            }
        }
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
    fn table_rows_are_whole_and_names_unique() {
        for (i, algorithm) in Algorithm::ALL.into_iter().enumerate() {
            // Only `nocomp` lacks a crypto name, and an acomp backend needs one.
            assert_eq!(
                algorithm.crypto_name().is_none(),
                algorithm.backend() == Backend::Stored
            );
            for other in &Algorithm::ALL[i + 1..] {
                assert!(algorithm.name() != other.name());
            }
        }
        assert_eq!(Algorithm::NoComp.backend(), Backend::Stored);
        assert_eq!(Algorithm::Lz4.backend(), Backend::Lz4);
        assert_eq!(Algorithm::Lz4hc.backend(), Backend::Lz4hc);
        assert_eq!(Algorithm::Deflate.backend(), Backend::Deflate);
        assert_eq!(Algorithm::Zstd.backend(), Backend::Zstd);
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
