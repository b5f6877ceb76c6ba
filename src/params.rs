// SPDX-License-Identifier: GPL-2.0

//! The module parameters, with the C module's names, types and permissions.
//!
//! `default_capacity` and `default_compression` can be changed at run time in
//! `/sys/module/foxramdisk/parameters/`; they apply to devices created afterwards. Every
//! value, at load time or later, is validated: a bad one is refused with `EINVAL` (or
//! `ENOENT` for an algorithm this kernel lacks) and a log line, and the old value stays.

use crate::{
    codec::{Algorithm, AtomicAlgorithm},
    ext::module_param::ParamOperations,
    module_param, FoxRamDisk,
};
use core::fmt::Write;
use kernel::{
    prelude::*,
    str::{parse_int::ParseInt, BStr, Formatter},
    sync::atomic::{Atomic, Relaxed}, //
};

/// The most devices `initial_devices_count` may ask for.
pub(crate) const MAX_INITIAL_DEVICES: u32 = 1024;
/// The largest capacity, in blocks (16 TiB).
pub(crate) const MAX_CAPACITY_BLOCKS: u64 = 1 << 32;

/// `initial_devices_count`.
static INITIAL_DEVICES_COUNT: Atomic<u32> = Atomic::new(1);
/// `default_capacity`, in blocks.
static DEFAULT_CAPACITY: Atomic<u64> = Atomic::new(4096);
/// `default_compression`.
static DEFAULT_COMPRESSION: AtomicAlgorithm = AtomicAlgorithm::new(Algorithm::Deflate);

/// Devices to create at load.
pub(crate) fn initial_devices_count() -> u32 {
    INITIAL_DEVICES_COUNT.load(Relaxed)
}

/// Capacity of new devices, in blocks.
pub(crate) fn default_capacity() -> u64 {
    DEFAULT_CAPACITY.load(Relaxed)
}

/// Algorithm of new devices.
pub(crate) fn default_compression() -> Algorithm {
    DEFAULT_COMPRESSION.load()
}

/// Parses an unsigned integer as sysfs writers and command lines give it: decimal (or
/// `0x` hexadecimal), one trailing newline allowed, nothing else.
pub(crate) fn parse_u64(input: &[u8]) -> Result<u64> {
    let digits = input.strip_suffix(b"\n").unwrap_or(input);
    u64::from_str(BStr::from_bytes(digits)).map_err(|_| EINVAL)
}

/// Parses a size in bytes as `memparse()` does: a decimal (or `0x` hexadecimal) number
/// with an optional binary suffix `K`, `M`, `G`, `T`, `P` or `E` (either case), one
/// trailing newline allowed. Overflow, signs, spaces and anything else are `EINVAL`.
pub(crate) fn parse_size(input: &[u8]) -> Result<u64> {
    let text = input.strip_suffix(b"\n").unwrap_or(input);
    let hex = text.starts_with(b"0x") || text.starts_with(b"0X");
    let (digits, shift) = match text.split_last() {
        // In `0x1E` the `E` is a digit, as in `memparse()`.
        Some((suffix, rest)) if suffix.is_ascii_alphabetic() && !hex => {
            let shift = match suffix.to_ascii_uppercase() {
                b'K' => 10,
                b'M' => 20,
                b'G' => 30,
                b'T' => 40,
                b'P' => 50,
                b'E' => 60,
                _ => return Err(EINVAL),
            };
            (rest, shift)
        }
        _ => (text, 0),
    };
    // `u64::from_str` accepts a leading `+`; a size is plain digits.
    if digits.first().is_none_or(|c| !c.is_ascii_digit()) {
        return Err(EINVAL);
    }
    let value = u64::from_str(BStr::from_bytes(digits)).map_err(|_| EINVAL)?;
    value
        .checked_shl(shift)
        .filter(|v| v >> shift == value)
        .ok_or(EINVAL)
}

/// A printable form of user input for log lines: at most 32 bytes, trailing space removed.
pub(crate) fn shown(input: &[u8]) -> &str {
    let text = core::str::from_utf8(input)
        .unwrap_or("(not UTF-8)")
        .trim_end();
    text.get(..text.len().min(32)).unwrap_or("(not UTF-8)")
}

/// `initial_devices_count`.
struct InitialDevicesCount;

impl ParamOperations for InitialDevicesCount {
    fn set(input: &[u8]) -> Result {
        let count = parse_u64(input)
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n <= MAX_INITIAL_DEVICES)
            .ok_or_else(|| {
                pr_err!(
                    "initial_devices_count={} is not a number of devices in 0..={MAX_INITIAL_DEVICES}\n",
                    shown(input)
                );
                EINVAL
            })?;
        INITIAL_DEVICES_COUNT.store(count, Relaxed);
        Ok(())
    }

    fn get(out: &mut Formatter<'_>) -> Result {
        Ok(writeln!(out, "{}", initial_devices_count())?)
    }
}

module_param!(initial_devices_count: InitialDevicesCount, module: FoxRamDisk, perm: 0o444,
    type: "uint", description: "Number of devices created at load, 0 to 1024 (default: 1)");

/// `default_capacity`.
struct DefaultCapacity;

impl ParamOperations for DefaultCapacity {
    fn set(input: &[u8]) -> Result {
        let blocks = parse_u64(input)
            .ok()
            .filter(|n| (1..=MAX_CAPACITY_BLOCKS).contains(n))
            .ok_or_else(|| {
                pr_err!(
                    "default_capacity={} blocks is not in 1..={MAX_CAPACITY_BLOCKS}\n",
                    shown(input)
                );
                EINVAL
            })?;
        DEFAULT_CAPACITY.store(blocks, Relaxed);
        Ok(())
    }

    fn get(out: &mut Formatter<'_>) -> Result {
        Ok(writeln!(out, "{}", default_capacity())?)
    }
}

module_param!(default_capacity: DefaultCapacity, module: FoxRamDisk, perm: 0o644,
    type: "ulong", description: "Capacity of new devices in 4096-byte blocks (default: 4096)");

/// `default_compression`.
struct DefaultCompression;

impl ParamOperations for DefaultCompression {
    fn set(input: &[u8]) -> Result {
        let algorithm = Algorithm::parse(input)?;
        DEFAULT_COMPRESSION.store(algorithm);
        Ok(())
    }

    fn get(out: &mut Formatter<'_>) -> Result {
        Ok(writeln!(out, "{}", default_compression().name())?)
    }
}

module_param!(default_compression: DefaultCompression, module: FoxRamDisk, perm: 0o644,
    type: "charp", description: "Compression of new devices: nocomp, deflate, 842, lz4, lz4hc, zstd, lzo-rle, lzo (default: deflate)");

#[kunit_tests(foxramdisk_params)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_memparse() {
        for (input, bytes) in [
            (&b"4096"[..], 4096),
            (b"4096\n", 4096),
            (b"1k", 1 << 10),
            (b"64K\n", 64 << 10),
            (b"512M", 512 << 20),
            (b"2g", 2 << 30),
            (b"16T", 16 << 40),
            (b"1P", 1 << 50),
            (b"15E", 15 << 60),
            (b"0x1E", 0x1e),
            (b"0x1000\n", 4096),
            (b"0", 0),
        ] {
            assert_eq!(parse_size(input), Ok(bytes));
        }
    }

    #[test]
    fn bad_sizes_are_refused() {
        for input in [
            &b""[..],
            b"\n",
            b"-1",
            b"+1",
            b" 1",
            b"1 ",
            b"1\n\n",
            b"abc",
            b"12abc",
            b"1Q",
            b"K",
            b"1KB",
            b"16E",
            b"99999999999999999999",
            b"18446744073709551616",
            b"0x",
        ] {
            assert_eq!(parse_size(input), Err(EINVAL));
        }
    }
}
