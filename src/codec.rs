// SPDX-License-Identifier: GPL-2.0

//! The compression algorithms a device can use, by name.
//!
//! `nocomp` stores blocks as they are; every other algorithm is the kernel crypto acomp
//! algorithm of the same `cra_name`, used only if the running kernel has it.

use crate::{ext::crypto::acomp, params::shown};
use kernel::{fmt, prelude::*};

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

    /// The algorithm recorded as `id` in the block table.
    pub(crate) fn from_id(id: u8) -> Option<Self> {
        Self::ALL.get(usize::from(id)).copied()
    }

    /// The algorithm named `input`, ignoring one trailing newline (as `sysfs_streq`).
    pub(crate) fn from_name(input: &[u8]) -> Option<Self> {
        let name = input.strip_suffix(b"\n").unwrap_or(input);
        Self::ALL.into_iter().find(|a| a.name().as_bytes() == name)
    }

    /// Whether the running kernel can use this algorithm.
    pub(crate) fn available(self) -> bool {
        self.crypto_name().is_none_or(acomp::available)
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

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
