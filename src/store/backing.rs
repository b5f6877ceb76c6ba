// SPDX-License-Identifier: GPL-2.0

//! A store's backing store: the block device or file that written-back blocks go to
//! (zram's `backing_dev`), divided in 4096-byte units of eight 512-byte sectors. A
//! compressed block takes the sectors its data needs in a unit, so that several share one;
//! a raw block takes a unit of its own. A map keeps which units are in use and how many
//! blocks each holds.

use crate::{
    ext::{
        fs::{FileKind, KernelFile},
        raw_buf::RawBuf,
    },
    geometry::BLOCK_SIZE,
};
use core::ops::Range;
use kernel::{
    bitmap::BitmapVec,
    new_spinlock,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, SpinLock,
    }, //
};

/// The bytes of a backing unit: a block's.
pub(super) const UNIT_SIZE: usize = BLOCK_SIZE;
/// The bytes of a sector, the granularity at which blocks are packed into a unit.
const SECTOR_SIZE: usize = 512;
/// The sectors of a unit.
const SECTORS_PER_UNIT: usize = UNIT_SIZE / SECTOR_SIZE;

/// Where a written-back block lies on the backing store, and how long its data is: what
/// its slot keeps in place of an object (bits 16 and up the unit, bits 13-15 the first
/// sector in it, bits 0-12 the length, [`BLOCK_SIZE`] for a raw block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Position {
    /// The backing unit it is in.
    pub(super) unit: usize,
    /// The sector of that unit its data starts at.
    pub(super) sector: usize,
    /// The length of its data.
    pub(super) len: usize,
}

impl Position {
    const LEN_BITS: u32 = 13;
    const SECTOR_BITS: u32 = 3;

    /// The word a slot keeps for it.
    pub(super) fn to_word(self) -> usize {
        (self.unit << Self::SECTOR_BITS | self.sector) << Self::LEN_BITS | self.len
    }

    /// The position a slot's word records.
    pub(super) fn from_word(word: usize) -> Self {
        Self {
            unit: word >> (Self::LEN_BITS + Self::SECTOR_BITS),
            sector: (word >> Self::LEN_BITS) & ((1 << Self::SECTOR_BITS) - 1),
            len: word & ((1 << Self::LEN_BITS) - 1),
        }
    }

    /// The bytes of its unit that hold its data; `EIO` if it records more than a unit.
    pub(super) fn bytes(self) -> Result<Range<usize>> {
        let start = self.sector * SECTOR_SIZE;
        match start.checked_add(self.len) {
            Some(end) if end <= UNIT_SIZE => Ok(start..end),
            _ => Err(EIO),
        }
    }
}

// A block's length fits the length's bits, and a sector number the sector's.
const _: () = assert!(BLOCK_SIZE < 1 << Position::LEN_BITS);
const _: () = assert!(SECTORS_PER_UNIT <= 1 << Position::SECTOR_BITS);

/// Places the blocks of one writeback batch in backing units, first fit, at sector
/// granularity: the units' data is built in a buffer of [`UNIT_SIZE`] per unit, which is
/// then written unit by unit ([`Backing::write`]).
pub(super) struct Packer {
    /// The sectors used so far in each unit of the batch.
    used: KVec<u8>,
    /// The blocks placed so far in each unit of the batch.
    blocks: KVec<u8>,
    /// How many units the buffer holds.
    capacity: usize,
}

/// Where [`Packer::place`] put a block: its unit in the batch and the bytes of the batch's
/// buffer it takes.
pub(super) struct Place {
    /// The unit of the batch.
    pub(super) unit: usize,
    /// The first sector it takes there.
    pub(super) sector: usize,
    /// Its bytes in the batch's buffer.
    pub(super) bytes: Range<usize>,
}

impl Packer {
    /// A packer for a buffer of `capacity` units.
    pub(super) fn new(capacity: usize) -> Result<Self> {
        Ok(Self {
            used: KVec::with_capacity(capacity, GFP_KERNEL)?,
            blocks: KVec::with_capacity(capacity, GFP_KERNEL)?,
            capacity,
        })
    }

    /// Empties it for the next batch.
    pub(super) fn clear(&mut self) {
        self.used.clear();
        self.blocks.clear();
    }

    /// Places `len` bytes (at most a unit) in the first unit with room for them, or a new
    /// one; `None` if the buffer is full or `len` is more than a unit.
    pub(super) fn place(&mut self, len: usize) -> Option<Place> {
        let need = len.div_ceil(SECTOR_SIZE).max(1);
        if need > SECTORS_PER_UNIT {
            return None;
        }
        let unit = match self
            .used
            .iter()
            .position(|&used| usize::from(used) + need <= SECTORS_PER_UNIT)
        {
            Some(unit) => unit,
            None if self.used.len() < self.capacity => {
                // Within the capacity reserved by `new`: no allocation.
                self.used.push(0, GFP_NOWAIT).ok()?;
                self.blocks.push(0, GFP_NOWAIT).ok()?;
                self.used.len() - 1
            }
            None => return None,
        };
        let sector = usize::from(self.used[unit]);
        self.used[unit] += need as u8;
        self.blocks[unit] += 1;
        let start = unit * UNIT_SIZE + sector * SECTOR_SIZE;
        Some(Place {
            unit,
            sector,
            bytes: start..start + len,
        })
    }

    /// Takes back a block that [`Packer::place`] placed at `place` and that is not written
    /// after all: its unit holds one block less (its sectors stay used).
    pub(super) fn withdraw(&mut self, place: &Place) {
        if let Some(n) = self.blocks.get_mut(place.unit) {
            *n = n.saturating_sub(1);
        }
    }

    /// How many blocks unit `unit` of the batch holds (0 past the last).
    pub(super) fn blocks_in(&self, unit: usize) -> usize {
        self.blocks.get(unit).map_or(0, |&n| usize::from(n))
    }

    /// How many units the batch uses.
    pub(super) fn units(&self) -> usize {
        self.used.len()
    }
}

/// Which units of a backing store are in use, and by how many blocks each.
///
/// # Invariants
///
/// `used` and `blocks` have one entry per unit; a unit's bit is set exactly when its count
/// is not 0.
struct UnitMap {
    used: BitmapVec,
    blocks: KVVec<u8>,
}

/// A backing store: its file, the map of its units, and its counters.
#[pin_data]
pub(crate) struct Backing {
    file: KernelFile,
    /// The path it was opened by, as `backing_dev` shows it.
    path: CString,
    /// Its units, and the blocks each holds.
    #[pin]
    map: SpinLock<UnitMap>,
    /// Where the search for a free unit starts: after the last one taken.
    next: Atomic<usize>,
    /// Units in use now.
    held: Atomic<u64>,
    /// Units read from it.
    pub(crate) reads: Atomic<u64>,
    /// Units written to it.
    pub(crate) writes: Atomic<u64>,
}

impl Backing {
    /// Opens `path` (see [`KernelFile::open`]) as a backing store of as many units as it
    /// holds, up to what a bitmap can count; `EINVAL` if it holds none. `device` is the
    /// number of the device it is for: a store on that device itself (`ELOOP`) would read
    /// from itself. May sleep.
    pub(crate) fn open(path: &CStr, device: u32) -> Result<Arc<Self>> {
        let file = KernelFile::open(path)?;
        if file.device() == device {
            return Err(ELOOP);
        }
        let units = usize::try_from(file.size() / UNIT_SIZE as u64)
            .unwrap_or(usize::MAX)
            .min(BitmapVec::MAX_LEN);
        if units == 0 {
            return Err(EINVAL);
        }
        // INVARIANT: one bit and one count per unit, all clear.
        let map = UnitMap {
            used: BitmapVec::new(units, GFP_KERNEL)?,
            blocks: KVVec::from_elem(0, units, GFP_KERNEL)?,
        };
        let path = CString::try_from(path)?;
        Arc::pin_init(
            try_pin_init!(Self {
                file,
                path,
                map <- new_spinlock!(map, "foxramdisk backing map"),
                next: Atomic::new(0),
                held: Atomic::new(0),
                reads: Atomic::new(0),
                writes: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// The path it was opened by.
    pub(crate) fn path(&self) -> &CStr {
        &self.path
    }

    /// Whether it is a block device (else a regular file).
    pub(crate) fn is_block_device(&self) -> bool {
        self.file.kind() == FileKind::Block
    }

    /// Whether its I/O bypasses the page cache.
    pub(crate) fn direct(&self) -> bool {
        self.file.direct()
    }

    /// Its size in units.
    pub(crate) fn units(&self) -> usize {
        self.map.lock().used.len()
    }

    /// Units in use now.
    pub(crate) fn held(&self) -> u64 {
        self.held.load(Relaxed)
    }

    /// Takes a free unit for `blocks` blocks (1 to [`SECTORS_PER_UNIT`]); `ENOSPC` if
    /// none is left. Never sleeps.
    pub(super) fn take(&self, blocks: usize) -> Result<usize> {
        let blocks = u8::try_from(blocks)
            .ok()
            .filter(|&n| n != 0 && usize::from(n) <= SECTORS_PER_UNIT)
            .ok_or(EINVAL)?;
        let mut map = self.map.lock();
        let start = self.next.load(Relaxed).min(map.used.len() - 1);
        let unit = map
            .used
            .next_zero_bit(start)
            .or_else(|| map.used.next_zero_bit(0))
            .ok_or(ENOSPC)?;
        // INVARIANT: the unit's bit is set and its count is not 0.
        map.used.set_bit(unit);
        map.blocks[unit] = blocks;
        drop(map);
        self.next.store(unit + 1, Relaxed);
        self.held.fetch_add(1, Relaxed);
        Ok(unit)
    }

    /// Gives back one block's share of unit `unit`, taken by [`Backing::take`]: the unit
    /// is free again when the last of its blocks is given back. Never sleeps.
    pub(super) fn give_back(&self, unit: usize) {
        let mut map = self.map.lock();
        let Some(count) = map.blocks.get_mut(unit).filter(|n| **n != 0) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            // INVARIANT: the count is 0 and the bit is cleared.
            map.used.clear_bit(unit);
            drop(map);
            self.held.fetch_sub(1, Relaxed);
        }
    }

    /// Gives back every unit, and restarts the counters (as zram's reset).
    pub(super) fn reset(&self) {
        let mut map = self.map.lock();
        let mut from = 0;
        while let Some(unit) = map.used.next_bit(from) {
            // INVARIANT: the count and the bit are cleared together.
            map.used.clear_bit(unit);
            map.blocks[unit] = 0;
            from = unit + 1;
            if from >= map.used.len() {
                break;
            }
        }
        drop(map);
        for counter in [&self.held, &self.reads, &self.writes] {
            counter.store(0, Relaxed);
        }
        self.next.store(0, Relaxed);
    }

    /// Writes `data`, one unit long and aligned to one, as unit `unit`. May sleep.
    pub(super) fn write(&self, unit: usize, data: &[u8]) -> Result {
        self.file.write_at(data, (unit * UNIT_SIZE) as u64)?;
        self.writes.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Reads unit `unit` into `buf`, one unit long and aligned to one. May sleep: never
    /// inside `submit_bio()`, where a read of a block device would wait for itself.
    pub(super) fn read(&self, unit: usize, buf: &mut RawBuf<'_>) -> Result {
        self.reads.fetch_add(1, Relaxed);
        self.file.read_at(buf, (unit * UNIT_SIZE) as u64)
    }
}
