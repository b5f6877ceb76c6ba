// SPDX-License-Identifier: GPL-2.0

//! A store's backing store: the block device or file that written-back blocks go to
//! (zram's `backing_dev`), divided in 4096-byte blocks of which a bitmap keeps the used.

use crate::{
    ext::fs::{FileKind, KernelFile},
    geometry::BLOCK_SIZE,
};
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

/// Where a written-back block lies on the backing store, and how long its data is: what
/// its slot keeps in place of an object (bits 13 and up the block number, bits 0-12 the
/// length, [`BLOCK_SIZE`] for a raw block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Position {
    /// The backing block it takes.
    pub(super) block: usize,
    /// The length of its data at the start of that block.
    pub(super) len: usize,
}

impl Position {
    const LEN_BITS: u32 = 13;

    /// The word a slot keeps for it.
    pub(super) fn to_word(self) -> usize {
        self.block << Self::LEN_BITS | self.len
    }

    /// The position a slot's word records.
    pub(super) fn from_word(word: usize) -> Self {
        Self {
            block: word >> Self::LEN_BITS,
            len: word & ((1 << Self::LEN_BITS) - 1),
        }
    }
}

// A block's length fits the length's bits.
const _: () = assert!(BLOCK_SIZE < 1 << Position::LEN_BITS);

/// A backing store: its file, the map of its blocks in use, and its counters.
#[pin_data]
pub(crate) struct Backing {
    file: KernelFile,
    /// The path it was opened by, as `backing_dev` shows it.
    path: CString,
    /// One bit per backing block, set while a written-back block takes it.
    #[pin]
    used: SpinLock<BitmapVec>,
    /// Where the search for a free block starts: after the last one taken.
    next: Atomic<usize>,
    /// Blocks held now.
    pub(crate) held: Atomic<u64>,
    /// Blocks read back from it.
    pub(crate) reads: Atomic<u64>,
    /// Blocks written to it.
    pub(crate) writes: Atomic<u64>,
}

impl Backing {
    /// Opens `path` (see [`KernelFile::open`]) as a backing store of as many blocks as it
    /// holds, up to what a bitmap can count; `EINVAL` if it holds none. `device` is the
    /// number of the device it is for: a store on that device itself (`ELOOP`) would read
    /// from itself. May sleep.
    pub(crate) fn open(path: &CStr, device: u32) -> Result<Arc<Self>> {
        let file = KernelFile::open(path)?;
        if file.device() == device {
            return Err(ELOOP);
        }
        let blocks = usize::try_from(file.size() / BLOCK_SIZE as u64)
            .unwrap_or(usize::MAX)
            .min(BitmapVec::MAX_LEN);
        if blocks == 0 {
            return Err(EINVAL);
        }
        let used = BitmapVec::new(blocks, GFP_KERNEL)?;
        let path = CString::try_from(path)?;
        Arc::pin_init(
            try_pin_init!(Self {
                file,
                path,
                used <- new_spinlock!(used, "foxramdisk backing map"),
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

    /// Its size in blocks.
    pub(crate) fn blocks(&self) -> usize {
        self.used.lock().len()
    }

    /// Takes a free block; `ENOSPC` if none is left. Never sleeps.
    pub(super) fn take(&self) -> Result<usize> {
        let mut used = self.used.lock();
        let start = self.next.load(Relaxed).min(used.len() - 1);
        let block = used
            .next_zero_bit(start)
            .or_else(|| used.next_zero_bit(0))
            .ok_or(ENOSPC)?;
        used.set_bit(block);
        drop(used);
        self.next.store(block + 1, Relaxed);
        self.held.fetch_add(1, Relaxed);
        Ok(block)
    }

    /// Gives back block `block`, taken by [`Backing::take`]. Never sleeps.
    pub(super) fn give_back(&self, block: usize) {
        let mut used = self.used.lock();
        if block < used.len() {
            used.clear_bit(block);
            drop(used);
            self.held.fetch_sub(1, Relaxed);
        }
    }

    /// Gives back every block.
    pub(super) fn give_back_all(&self) {
        let mut used = self.used.lock();
        let mut from = 0;
        while let Some(block) = used.next_bit(from) {
            used.clear_bit(block);
            from = block + 1;
            if from >= used.len() {
                break;
            }
        }
        drop(used);
        self.held.store(0, Relaxed);
        self.next.store(0, Relaxed);
    }

    /// Writes `data`, one block long and aligned to one, as block `block`. May sleep.
    pub(super) fn write(&self, block: usize, data: &[u8]) -> Result {
        self.file.write_at(data, (block * BLOCK_SIZE) as u64)?;
        self.writes.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Reads block `block` into `buf`, one block long and aligned to one, in a worker
    /// ([`KernelFile::read_at_in_worker`]): the I/O path reads while it serves a request.
    /// May sleep.
    pub(super) fn read(&self, block: usize, buf: &mut [u8]) -> Result {
        self.reads.fetch_add(1, Relaxed);
        self.file
            .read_at_in_worker(buf, (block * BLOCK_SIZE) as u64)
    }
}
