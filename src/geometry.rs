// SPDX-License-Identifier: GPL-2.0

//! The device's unit of storage: the block, and how it relates to the block layer's sectors.

use kernel::block::SECTOR_SHIFT;

/// Bytes per block: the device's logical and physical block size.
pub(crate) const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub(crate) const BLOCK_SHIFT: u32 = 12;
/// Sectors per block, as a shift.
pub(crate) const SECTORS_PER_BLOCK_SHIFT: u32 = BLOCK_SHIFT - SECTOR_SHIFT;

const _: () = assert!(BLOCK_SIZE == 1 << BLOCK_SHIFT);
