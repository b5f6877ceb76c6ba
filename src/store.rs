// SPDX-License-Identifier: GPL-2.0

//! The storage engine: a table with one entry per 4096-byte block.
//!
//! Each entry is one word: a pointer to the block's data, or zero for a block that reads as
//! zeros and costs no memory (never written, all-zero data written, or discarded). Bit 0
//! of the word is the entry's own spin lock ([`BitSpinLock`]), so I/O to different blocks
//! never contends and there is no device-wide lock on the I/O path.
//!
//! Lock rules: an entry lock is held only to look at or change that entry and to copy its
//! data; nothing that sleeps (allocation) happens under it. Data buffers are allocated
//! before the lock is taken and freed after it is released.

use crate::ext::sync::{BitSpinLock, BitSpinLockGuard};
use kernel::{
    alloc::{KBox, VVec},
    prelude::*,
    sync::atomic::{Atomic, Relaxed}, //
};

/// Bytes per block: the device's logical and physical block size.
pub(crate) const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub(crate) const BLOCK_SHIFT: u32 = 12;

/// The data of one stored block.
type Block = [u8; BLOCK_SIZE];

/// One entry of the block table.
///
/// # Invariants
///
/// The value of `word` is 0 or a pointer from `KBox::<Block>::into_raw` that this entry
/// owns; `KBox` allocations are at least 8-byte aligned, so bit 0 is free for the lock.
struct Entry {
    word: BitSpinLock,
}

/// An entry, locked.
struct LockedEntry<'a> {
    guard: BitSpinLockGuard<'a>,
}

impl Entry {
    /// An empty entry: the block reads as zeros.
    const fn new() -> Self {
        // INVARIANT: 0 is allowed.
        Self {
            word: BitSpinLock::new(0),
        }
    }

    /// Locks the entry.
    fn lock(&self) -> LockedEntry<'_> {
        LockedEntry {
            guard: self.word.lock(),
        }
    }
}

impl LockedEntry<'_> {
    /// The block's data, if it has any.
    fn data(&mut self) -> Option<&mut Block> {
        let ptr = self.guard.get() as *mut Block;
        // SAFETY: by the invariant of `Entry` a non-zero value is a live `KBox<Block>` that
        // the entry owns; the lock gives exclusive access while `self` is borrowed.
        unsafe { ptr.as_mut() }
    }

    /// Stores `data` as the block's data, returning what it held before.
    fn replace(&mut self, data: Option<KBox<Block>>) -> Option<KBox<Block>> {
        let new = data.map_or(0, |b| KBox::into_raw(b) as usize);
        // INVARIANT: the entry now owns `new`, a pointer from `KBox::into_raw` (or 0), and
        // gives up ownership of the old pointer, which is turned back into a box below.
        let old = self.guard.replace(new) as *mut Block;
        if old.is_null() {
            None
        } else {
            // SAFETY: `old` was owned by the entry (type invariant) and is no longer in it.
            Some(unsafe { KBox::from_raw(old) })
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let ptr = self.word.get_mut() as *mut Block;
        if !ptr.is_null() {
            // SAFETY: by the type invariant `ptr` is an owned `KBox<Block>` pointer.
            drop(unsafe { KBox::from_raw(ptr) });
        }
    }
}

/// Whether every byte of `data` is zero.
fn is_zero(data: &[u8]) -> bool {
    let (head, words, tail) = {
        // SAFETY: any bit pattern is a valid `u64`, and `align_to` handles alignment.
        unsafe { data.align_to::<u64>() }
    };
    head.iter().all(|&b| b == 0) && words.iter().all(|&w| w == 0) && tail.iter().all(|&b| b == 0)
}

/// The block store of one device.
pub(crate) struct Store {
    /// One entry per block.
    table: VVec<Entry>,
    /// How many blocks hold data (the rest read as zeros).
    stored_blocks: Atomic<u64>,
}

impl Store {
    /// Creates a store of `blocks` blocks, all reading as zeros.
    pub(crate) fn new(blocks: usize) -> Result<Self> {
        let mut table = VVec::with_capacity(blocks, GFP_KERNEL | __GFP_NOWARN)?;
        for _ in 0..blocks {
            // Cannot fail: the capacity is reserved above.
            table.push(Entry::new(), GFP_KERNEL)?;
        }
        Ok(Self {
            table,
            stored_blocks: Atomic::new(0),
        })
    }

    /// The number of blocks.
    pub(crate) fn blocks(&self) -> usize {
        self.table.len()
    }

    /// The number of blocks that hold data.
    pub(crate) fn stored_blocks(&self) -> u64 {
        self.stored_blocks.load(Relaxed)
    }

    /// The entry of block `index`, or `EIO` past the end.
    fn entry(&self, index: usize) -> Result<&Entry> {
        self.table.get(index).ok_or(EIO)
    }

    /// Checks that `[offset, offset + len)` lies within one block.
    fn check_range(offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= BLOCK_SIZE => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Reads `len` bytes at `offset` of block `index`: `sink` gets them, or `None` when they
    /// are zeros. `sink` runs under the entry lock and must not sleep.
    pub(crate) fn read(
        &self,
        index: usize,
        offset: usize,
        len: usize,
        sink: impl FnOnce(Option<&[u8]>),
    ) -> Result {
        Self::check_range(offset, len)?;
        let mut entry = self.entry(index)?.lock();
        sink(entry.data().map(|b| &b[offset..offset + len]));
        Ok(())
    }

    /// Writes `len` bytes at `offset` of block `index`; `source` fills the slice it is given
    /// with them. `source` runs under the entry lock (it must not sleep) and may run twice.
    ///
    /// A block whose data becomes all zeros gives its memory back.
    pub(crate) fn write(
        &self,
        index: usize,
        offset: usize,
        len: usize,
        source: impl Fn(&mut [u8]),
    ) -> Result {
        Self::check_range(offset, len)?;
        let entry = self.entry(index)?;

        // Common case: the block has data; update it in place.
        let mut locked = entry.lock();
        if let Some(data) = locked.data() {
            source(&mut data[offset..offset + len]);
            let freed = if is_zero(&data[..]) {
                locked.replace(None)
            } else {
                None
            };
            drop(locked);
            if freed.is_some() {
                self.stored_blocks.fetch_sub(1, Relaxed);
            }
            return Ok(());
        }
        drop(locked);

        // The block reads as zeros: build its new data outside the lock.
        let mut new = KBox::<Block>::init(pin_init::zeroed::<Block>(), GFP_KERNEL | __GFP_NOWARN)?;
        source(&mut new[offset..offset + len]);
        if is_zero(&new[..]) {
            return Ok(());
        }

        let mut locked = entry.lock();
        if let Some(data) = locked.data() {
            // Another writer stored data meanwhile: apply this write on top of it.
            source(&mut data[offset..offset + len]);
            return Ok(());
        }
        locked.replace(Some(new));
        drop(locked);
        self.stored_blocks.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Makes block `index` read as zeros and frees its memory (discard, write-zeroes).
    pub(crate) fn discard(&self, index: usize) -> Result {
        let old = self.entry(index)?.lock().replace(None);
        if old.is_some() {
            self.stored_blocks.fetch_sub(1, Relaxed);
        }
        Ok(())
    }
}

#[kunit_tests(foxramdisk_store)]
mod tests {
    use super::*;

    /// Reads a whole block into a buffer (zeros when it has no data).
    fn read_block(store: &Store, index: usize) -> Result<KVec<u8>> {
        let mut out = KVec::from_elem(0xAAu8, BLOCK_SIZE, GFP_KERNEL)?;
        store.read(index, 0, BLOCK_SIZE, |data| match data {
            Some(d) => out.copy_from_slice(d),
            None => out.fill(0),
        })?;
        Ok(out)
    }

    /// A block of a repeating, non-zero pattern seeded by `seed`.
    fn pattern(seed: u8) -> Result<KVec<u8>> {
        let mut v = KVec::with_capacity(BLOCK_SIZE, GFP_KERNEL)?;
        for i in 0..BLOCK_SIZE {
            v.push(
                (i as u8).wrapping_mul(31).wrapping_add(seed) | 1,
                GFP_KERNEL,
            )?;
        }
        Ok(v)
    }

    #[test]
    fn new_store_reads_zeros_and_holds_nothing() -> Result {
        let store = Store::new(8)?;
        assert_eq!(store.blocks(), 8);
        assert_eq!(store.stored_blocks(), 0);
        for i in 0..8 {
            assert!(read_block(&store, i)?.iter().all(|&b| b == 0));
        }
        Ok(())
    }

    #[test]
    fn write_then_read_round_trips() -> Result {
        let store = Store::new(4)?;
        let data = pattern(7)?;
        store.write(2, 0, BLOCK_SIZE, |dst| dst.copy_from_slice(&data))?;
        assert_eq!(store.stored_blocks(), 1);
        assert!(read_block(&store, 2)? == data);
        assert!(read_block(&store, 1)?.iter().all(|&b| b == 0));
        Ok(())
    }

    #[test]
    fn zero_write_frees_the_block() -> Result {
        let store = Store::new(2)?;
        let data = pattern(1)?;
        store.write(0, 0, BLOCK_SIZE, |dst| dst.copy_from_slice(&data))?;
        assert_eq!(store.stored_blocks(), 1);
        store.write(0, 0, BLOCK_SIZE, |dst| dst.fill(0))?;
        assert_eq!(store.stored_blocks(), 0);
        assert!(read_block(&store, 0)?.iter().all(|&b| b == 0));
        // Zeros into an empty block allocate nothing.
        store.write(1, 0, BLOCK_SIZE, |dst| dst.fill(0))?;
        assert_eq!(store.stored_blocks(), 0);
        Ok(())
    }

    #[test]
    fn partial_writes_merge() -> Result {
        let store = Store::new(1)?;
        store.write(0, 100, 4, |dst| dst.copy_from_slice(&[1, 2, 3, 4]))?;
        store.write(0, 4092, 4, |dst| dst.copy_from_slice(&[9, 9, 9, 9]))?;
        let got = read_block(&store, 0)?;
        assert_eq!(&got[100..104], &[1, 2, 3, 4]);
        assert_eq!(&got[4092..], &[9, 9, 9, 9]);
        assert!(got[..100].iter().all(|&b| b == 0));
        assert!(got[104..4092].iter().all(|&b| b == 0));
        assert_eq!(store.stored_blocks(), 1);
        Ok(())
    }

    #[test]
    fn discard_frees_and_zeroes() -> Result {
        let store = Store::new(3)?;
        let data = pattern(3)?;
        for i in 0..3 {
            store.write(i, 0, BLOCK_SIZE, |dst| dst.copy_from_slice(&data))?;
        }
        assert_eq!(store.stored_blocks(), 3);
        store.discard(1)?;
        store.discard(1)?;
        assert_eq!(store.stored_blocks(), 2);
        assert!(read_block(&store, 1)?.iter().all(|&b| b == 0));
        assert!(read_block(&store, 2)? == data);
        Ok(())
    }

    #[test]
    fn out_of_range_is_rejected() -> Result {
        let store = Store::new(2)?;
        assert_eq!(store.write(2, 0, 1, |_| {}), Err(EIO));
        assert_eq!(store.read(5, 0, 1, |_| {}), Err(EIO));
        assert_eq!(store.discard(2), Err(EIO));
        assert_eq!(store.write(0, 4095, 2, |_| {}), Err(EINVAL));
        assert_eq!(store.read(0, usize::MAX, 2, |_| {}), Err(EINVAL));
        assert_eq!(store.stored_blocks(), 0);
        Ok(())
    }
}
