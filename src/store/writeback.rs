// SPDX-License-Identifier: GPL-2.0

//! Writeback: blocks copied out to the backing store, packed by sectors into its units,
//! and read back from there; the writeback limit.

use super::{
    backing::{Backing, Packer, Position, UNIT_SIZE},
    entry::{Meta, State},
    whole_block, Store, StoreControl, StoreIo,
};
use crate::{
    compressor::Codecs,
    ext::{
        object_table::{Content, SlotGuard, SLOTS_PER_CHUNK},
        raw_buf::RawBuf,
    },
    geometry::BLOCK_SIZE,
};
use core::ops::Range;
use kernel::{
    pr_err_once,
    prelude::*,
    sync::{atomic::Relaxed, Arc},
};

/// Which blocks [`Store::writeback`] writes to the backing store.
pub(crate) struct Writeback {
    /// Only blocks marked idle ([`Store::mark_idle`]).
    pub(crate) idle: bool,
    /// Only blocks stored raw (zram's huge pages; also its incompressible ones, the huge
    /// pages that recompression could not compress: no such mark is kept here, and after
    /// `recompress type=huge` the blocks still raw are those).
    pub(crate) huge: bool,
    /// Only the blocks in this range.
    pub(crate) blocks: Range<usize>,
}

/// How many blocks [`Store::writeback`] copies out before it writes them.
const WRITEBACK_BATCH: usize = 32;

/// A block that [`Store::writeback`] copied out to write back.
struct WritebackBlock {
    /// Its index.
    index: usize,
    /// Its state and the size of its object when it was copied.
    meta: Meta,
    size: usize,
    /// Whether it was marked idle before (else the writeback marked it).
    was_idle: bool,
    /// Where its copy is: [`Position::unit`] is the unit of the batch.
    place: Position,
    /// The backing unit that the batch's unit was written to, if it was.
    written_to: Option<usize>,
}

impl Store {
    /// Gives back the backing block of `content`, the content of a block that was in state
    /// `meta`, if it was written back. Never sleeps.
    pub(super) fn release_backed(&self, meta: Meta, content: &Content<'_>) {
        if let (true, Content::Word(word)) = (meta.is_backed(), content) {
            if let Some(backing) = self.backing() {
                backing.give_back(Position::from_word(*word).unit);
            }
        }
    }

    /// The backing store, if one is set. Never sleeps.
    pub(crate) fn backing(&self) -> Option<Arc<Backing>> {
        self.backing.lock().clone()
    }

    /// Makes `backing` the backing store, or sets none: `EBUSY` while the device holds
    /// data (as zram, which takes a backing device only before it is initialised), since
    /// the blocks written back to one store must not be looked for on another.
    pub(crate) fn set_backing(
        &self,
        _control: &mut StoreControl,
        backing: Option<Arc<Backing>>,
    ) -> Result {
        if self.stored_bytes() != 0 {
            return Err(EBUSY);
        }
        // The old one is closed, which may sleep, after the spin lock is released.
        let old = core::mem::replace(&mut *self.backing.lock(), backing);
        drop(old);
        Ok(())
    }

    /// Whether [`Store::writeback`] counts against a limit, and how many blocks it may
    /// still write then.
    pub(crate) fn writeback_limit(&self) -> (bool, u64) {
        (
            self.wb_limit_enable.load(Relaxed),
            self.wb_limit.load(Relaxed),
        )
    }

    /// Makes [`Store::writeback`] count against a limit, or not (zram's
    /// `writeback_limit_enable`).
    pub(crate) fn enable_writeback_limit(&self, on: bool) {
        self.wb_limit_enable.store(on, Relaxed);
    }

    /// Sets how many blocks [`Store::writeback`] may still write while the limit is
    /// enabled (zram's `writeback_limit`, in 4 KiB pages).
    pub(crate) fn set_writeback_limit(&self, blocks: u64) {
        self.wb_limit.store(blocks, Relaxed);
    }

    /// Takes one block of the writeback limit, if it is enabled: `EIO` when it is used up,
    /// as in zram.
    fn take_writeback_limit(&self) -> Result {
        if !self.wb_limit_enable.load(Relaxed) {
            return Ok(());
        }
        let mut left = self.wb_limit.load(Relaxed);
        loop {
            if left == 0 {
                return Err(EIO);
            }
            match self.wb_limit.cmpxchg(left, left - 1, Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => left = now,
            }
        }
    }

    /// Gives back one block of the writeback limit, taken for a write that failed.
    fn refund_writeback_limit(&self) {
        if self.wb_limit_enable.load(Relaxed) {
            self.wb_limit.fetch_add(1, Relaxed);
        }
    }

    /// Writes blocks that `how` selects to the backing store and frees their memory, as
    /// zram's `writeback`: compressed blocks as they are stored, compressed, packed at
    /// 512-byte granularity into 4096-byte backing units that several share (a block
    /// takes the sectors its data needs), raw blocks whole, a unit each. Blocks written
    /// back, zeroed or same-filled are skipped. A block that shares its object with others
    /// (deduplication) is written on its own and drops its reference: the backing store
    /// holds a copy per block, and the object is freed with the last block that refers to
    /// it, written back or not. At the end, the index's entries of the blocks written back
    /// are forgotten ([`Store::trim_table`] does the same). Returns how many it wrote.
    /// `ENODEV` with no backing store; `ENOSPC` when the backing store is full, `EIO` when
    /// the writeback limit (counted in units written) is used up (both stop it); a failed
    /// write leaves its blocks as they were, the rest goes on, and the last error is
    /// returned. May sleep.
    ///
    /// It goes in batches of [`WRITEBACK_BATCH`] blocks, in three steps, as zram's
    /// post-processing: with the table's read side and each block's lock held, a selected
    /// block's data is copied out, into the unit the batch's [`Packer`] places it in, and
    /// the block marked idle; then, holding no lock of the store, the units are written to
    /// the backing store; then, with the locks again, a block that is still marked idle,
    /// so that no request read or wrote it meanwhile, takes its position there and its
    /// memory is freed (any other gives its share of its unit back). A unit is free again
    /// when the last of its blocks gives its share back; units are only ever written
    /// whole and free, so a unit's other blocks never need to be read first. The backing
    /// store's writes may wait for its filesystem and for memory, which may wait for this
    /// device's queue: a control that froze it and waits for the table must not wait for
    /// them. The caller holds the store's control, so that nothing else marks blocks idle
    /// meanwhile.
    pub(crate) fn writeback(&self, _control: &StoreControl, how: &Writeback) -> Result<u64> {
        let backing = self.backing().ok_or(ENODEV)?;
        // Unit-aligned units (a vmalloc() area is page-aligned), one per block at most, and
        // room to copy an object that spans two pages.
        let mut data = KVVec::from_elem(0u8, WRITEBACK_BATCH * UNIT_SIZE, GFP_KERNEL)?;
        let mut local_copy = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut batch = KVec::with_capacity(WRITEBACK_BATCH, GFP_KERNEL)?;
        let mut packer = Packer::new(WRITEBACK_BATCH)?;
        let end = how.blocks.end.min(self.blocks());
        let mut next = how.blocks.start;
        let (mut written, mut failed) = (0, Ok(()));
        while next < end {
            batch.clear();
            packer.clear();
            data.fill(0);
            next = self.io().prepare_writeback(
                next..end,
                how,
                &mut data,
                &mut local_copy,
                &mut packer,
                &mut batch,
            )?;
            let mut stop = Ok(());
            for unit in (0..packer.units()).filter(|&u| packer.blocks_in(u) != 0) {
                let taken = self
                    .take_writeback_limit()
                    .and_then(|()| backing.take(packer.blocks_in(unit)));
                let at = match taken {
                    Ok(at) => at,
                    Err(e) => {
                        stop = Err(e);
                        break;
                    }
                };
                let blocks = batch.iter_mut().filter(|b| b.place.unit == unit);
                match backing.write(at, &data[unit * UNIT_SIZE..][..UNIT_SIZE]) {
                    Ok(()) => blocks.for_each(|b| b.written_to = Some(at)),
                    Err(e) => {
                        for b in blocks {
                            backing.give_back(at);
                            pr_err_once!("block {}: writeback failed ({e:?})\n", b.index);
                        }
                        self.refund_writeback_limit();
                        failed = Err(e);
                    }
                }
            }
            written += self.io().commit_writeback(&backing, &batch);
            if let Err(e) = stop {
                failed = Err(e);
                break;
            }
        }
        // The index's entries of the blocks written back are stale now.
        if written != 0 {
            self.trim_index();
        }
        failed.map(|()| written)
    }
}

impl StoreIo<'_> {
    /// Copies the blocks of `blocks` that `how` selects (see [`Store::writeback`]) into
    /// `data`, one block each, until [`WRITEBACK_BATCH`] are, marks them idle, and records
    /// them in `batch`; returns the index to go on from. `local_copy` takes an object that
    /// spans two pages.
    fn prepare_writeback(
        &self,
        blocks: Range<usize>,
        how: &Writeback,
        data: &mut [u8],
        local_copy: &mut [u8],
        packer: &mut Packer,
        batch: &mut KVec<WritebackBlock>,
    ) -> Result<usize> {
        let mut index = blocks.start;
        while batch.len() < WRITEBACK_BATCH {
            // Chunks never written hold only zeroed blocks.
            let Some(used) = self.table.next_used(index).filter(|&i| i < blocks.end) else {
                return Ok(blocks.end);
            };
            index = used.max(index);
            let chunk_end = ((index / SLOTS_PER_CHUNK + 1) * SLOTS_PER_CHUNK).min(blocks.end);
            while index < chunk_end && batch.len() < WRITEBACK_BATCH {
                if let Some(block) = self.copy_for_writeback(index, how, data, local_copy, packer) {
                    batch.push(block, GFP_KERNEL)?;
                }
                index += 1;
            }
            if index >= blocks.end {
                break;
            }
        }
        Ok(index)
    }

    /// Copies block `index` into `data`, where `packer` places it, if `how` selects it,
    /// and marks it idle; `None` if it is not selected or cannot be read (logged).
    fn copy_for_writeback(
        &self,
        index: usize,
        how: &Writeback,
        data: &mut [u8],
        local_copy: &mut [u8],
        packer: &mut Packer,
    ) -> Option<WritebackBlock> {
        let block = self.table.get(index).ok()??;
        let mut guard = block.lock();
        let meta = Meta(guard.value());
        let size = guard.size();
        let was_idle = guard.is_idle();
        if !meta.is_tierable(how.huge) || (how.idle && !was_idle) {
            return None;
        }
        let raw = meta.state() == State::Raw;
        let len = if raw { BLOCK_SIZE } else { size };
        let place = packer.place(len)?;
        let copied = match data.get_mut(place.bytes.clone()) {
            None => Err(EINVAL),
            Some(copy) if raw => guard.copy_to(&mut RawBuf::from(copy), local_copy),
            Some(copy) => guard
                .read(local_copy, |src| match copy.get_mut(..src.len()) {
                    Some(dst) if src.len() == len => {
                        dst.copy_from_slice(src);
                        Ok(())
                    }
                    _ => Err(EIO),
                })
                .and_then(|copied| copied),
        };
        if let Err(e) = copied {
            packer.withdraw(&place);
            pr_err_once!("block {index}: cannot be read for writeback ({e:?})\n");
            return None;
        }
        guard.set_idle(true);
        Some(WritebackBlock {
            index,
            meta,
            size,
            was_idle,
            place: Position {
                unit: place.unit,
                sector: place.sector,
                len,
            },
            written_to: None,
        })
    }

    /// Makes each block of `batch` whose copy was written back and that is unchanged since
    /// it was copied (still marked idle, in the same state, of the same size) keep its
    /// backing position instead of its memory; gives the others' shares of their units
    /// back, and
    /// takes off the idle marks the writeback made. Returns how many it made written back.
    fn commit_writeback(&self, backing: &Backing, batch: &[WritebackBlock]) -> u64 {
        let mut written = 0;
        for copied in batch {
            let block = match self.table.get(copied.index) {
                Ok(Some(block)) => block,
                // Its table chunk was freed meanwhile: the block was discarded.
                _ => {
                    if let Some(unit) = copied.written_to {
                        backing.give_back(unit);
                    }
                    continue;
                }
            };
            let mut guard = block.lock();
            let unchanged = guard.is_idle()
                && Meta(guard.value()) == copied.meta
                && guard.size() == copied.size;
            let Some(unit) = copied.written_to else {
                if unchanged && !copied.was_idle {
                    guard.set_idle(false);
                }
                continue;
            };
            if !unchanged {
                drop(guard);
                backing.give_back(unit);
                continue;
            }
            let position = Position {
                unit,
                ..copied.place
            };
            match guard.replace(copied.meta.backed().0, Content::Word(position.to_word())) {
                Ok(old) => {
                    drop(guard);
                    self.counters.account(copied.meta, copied.size, false);
                    self.counters.account(copied.meta.backed(), 0, true);
                    drop(old);
                    written += 1;
                }
                Err(_) => {
                    drop(guard);
                    backing.give_back(unit);
                }
            }
        }
        written
    }

    /// Reads the backing unit of block `index`, written back at the position its slot
    /// (locked in `guard`) keeps, into `buf`, one unit long, and unlocks the slot; returns
    /// that position. The slot stays locked until the unit is read, so that the unit is
    /// not given back and taken by another meanwhile. `EIO`, logged once, if the backing
    /// store fails. May sleep (the backing store's I/O): never inside `submit_bio()`.
    fn read_unit(
        &self,
        index: usize,
        guard: SlotGuard<'_>,
        buf: &mut RawBuf<'_>,
    ) -> Result<Position> {
        let position = Position::from_word(guard.word()?);
        let backing = self.backing().ok_or(EIO)?;
        let read = backing.read(position.unit, buf);
        drop(guard);
        read.inspect_err(|e| {
            pr_err_once!("block {index}: read from the backing store failed ({e:?})\n");
        })
        .map_err(|_| EIO)?;
        Ok(position)
    }

    /// Reads block `index`, in state `meta` and written back to the backing store at the
    /// position its slot keeps (locked in `guard`), into `dst`, one unit-aligned block:
    /// its unit is read into `dst`, and a compressed block's bytes are then copied into
    /// the context's buffer, taken after the slot is unlocked (the lock order), and
    /// decompressed back into `dst`. The slot stays locked until the data is read, so
    /// that its backing unit is not given back and taken by another meanwhile. May sleep
    /// (the backing store's I/O).
    pub(super) fn read_backed_in_place(
        &self,
        index: usize,
        meta: Meta,
        guard: SlotGuard<'_>,
        dst: &mut RawBuf<'_>,
    ) -> Result {
        let bytes = self.read_unit(index, guard, dst)?.bytes()?;
        if meta.state() == State::Raw {
            // A raw block takes a unit of its own, whole: it is in place.
            return if bytes == (0..UNIT_SIZE) {
                Ok(())
            } else {
                Err(EIO)
            };
        }
        let algorithm = meta.algorithm()?;
        let mut ctx = self.context()?;
        let (codec, buf) = ctx.codecs.decompressor(algorithm)?;
        let src = buf.get_mut(..bytes.len()).ok_or(EINVAL)?;
        dst.part(bytes)?.copy_to_slice(src)?;
        whole_block(index, codec.decompress(src, dst))
    }

    /// Reads block `index`, in state `meta` and written back to the backing store at the
    /// position its slot keeps, into `dst`, through [`Codecs::compressed`]. The slot stays
    /// locked until the data is read, so that its backing block is not given back and
    /// taken by another meanwhile. May sleep (the backing store's I/O): never inside
    /// `submit_bio()`.
    pub(super) fn read_backed(
        &self,
        codecs: &mut Codecs,
        index: usize,
        meta: Meta,
        guard: SlotGuard<'_>,
        dst: &mut RawBuf<'_>,
    ) -> Result {
        let raw = meta.state() == State::Raw;
        let (codec, buf) = if raw {
            (None, &mut codecs.compressed[..])
        } else {
            let (codec, buf) = codecs.decompressor(meta.algorithm()?)?;
            (Some(codec), buf)
        };
        let buf = buf.get_mut(..UNIT_SIZE).ok_or(EINVAL)?;
        let position = self.read_unit(index, guard, &mut RawBuf::from(&mut buf[..]))?;
        let data = buf.get(position.bytes()?).ok_or(EIO)?;
        match codec {
            None => dst.copy_from_slice(data),
            Some(codec) => whole_block(index, codec.decompress(data, dst)),
        }
    }
}
