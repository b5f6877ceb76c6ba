// SPDX-License-Identifier: GPL-2.0

//! The module parameters, with the C module's names, types and permissions.
//!
//! `default_capacity` and `default_compression` can be changed at run time in
//! `/sys/module/foxramdisk/parameters/`; they apply to devices created afterwards. Every
//! value, at load time or later, is validated: a bad one is refused with `EINVAL` (or
//! `ENOENT` for an algorithm this kernel lacks) and a log line, and the old value stays.

use crate::{
    algorithm::{Algorithm, AtomicAlgorithm},
    ext::module_param::ParamOperations,
    geometry::BLOCK_SHIFT,
    module_param,
    parse::{parse_u64, shown},
    FoxRamDisk,
};
use core::fmt::Write;
use kernel::{
    prelude::*,
    str::Formatter,
    sync::atomic::{Atomic, Relaxed}, //
};

/// The most devices `initial_devices_count` may ask for.
pub(crate) const MAX_INITIAL_DEVICES: u32 = 1024;
/// The largest capacity, in blocks: what the block layer can address, a size in bytes
/// that fits a `loff_t` (8 EiB less 4 KiB). The table is sparse, so a device of any such
/// size costs memory for what is written to it only.
pub(crate) const MAX_CAPACITY_BLOCKS: u64 = (i64::MAX as u64) >> BLOCK_SHIFT;

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
