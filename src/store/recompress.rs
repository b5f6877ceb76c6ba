// SPDX-License-Identifier: GPL-2.0

//! Recompression: blocks compressed again with a secondary algorithm, as zram's
//! `recompress`.

use super::{
    entry::{Meta, State},
    object::Stored,
    Store, StoreControl, StoreIo,
};
use crate::{
    algorithm::Algorithm,
    compressor::Context,
    ext::{
        object_table::{Framed, HEADER_BYTES},
        raw_buf::RawBuf,
    },
};
use kernel::prelude::*;

/// Which blocks [`Store::recompress`] tries, and with what.
pub(crate) struct Recompression {
    /// Only blocks marked idle ([`Store::mark_idle`]).
    pub(crate) idle: bool,
    /// Only blocks stored raw (zram's huge pages).
    pub(crate) huge: bool,
    /// Only blocks whose object is at least this many bytes, and only into fewer; 0 for
    /// any. Below [`Store::threshold`].
    pub(crate) threshold: usize,
    /// The most blocks to try.
    pub(crate) max_blocks: u64,
    /// The priority of the secondary algorithm to recompress with, from 1.
    pub(crate) priority: usize,
}

/// What [`Store::recompress`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recompressed {
    /// Blocks decompressed and compressed again.
    pub(crate) tried: u64,
    /// Blocks whose data, compressed again, takes less memory, and was stored so.
    pub(crate) stored: u64,
}

impl Store {
    /// Compresses blocks again with the secondary algorithm of `how.priority`, as zram's
    /// `recompress`: each compressed or raw block that `how` selects, and that no secondary
    /// algorithm of that priority or a higher one stored, is decompressed and compressed
    /// again; the result replaces it if it takes a smaller zsmalloc size class (for a raw
    /// block: if it is stored compressed at all). Blocks that share their object with
    /// others are left as they are: replacing one reference would take memory, not free
    /// it; one whose other references were dropped is recompressed as its own, and its
    /// old object freed with the entry. `EINVAL` if no algorithm
    /// is set at that priority. May sleep.
    ///
    /// A block is locked while it is recompressed, and its new object allocated, as in
    /// zram; the table's read side and the context of the CPU are taken first, in the
    /// order of the I/O path. On an error the block keeps its data and the walk stops.
    pub(crate) fn recompress(
        &self,
        control: &StoreControl,
        how: &Recompression,
    ) -> Result<Recompressed> {
        let target = control.recomp_algorithm(how.priority).ok_or(EINVAL)?;
        self.compressor.add(target)?;
        let io = self.io();
        let mut done = Recompressed::default();
        let already = |algorithm| control.recompressed_at(how.priority, algorithm);
        io.for_each_written(0, self.blocks(), |blocks| {
            for index in blocks {
                if done.tried >= how.max_blocks {
                    break;
                }
                io.recompress_block(index, how, target, already, &mut done)?;
            }
            Ok(())
        })?;
        Ok(done)
    }
}

impl StoreIo<'_> {
    /// Recompresses block `index` with `target` if `how` selects it and `already` does not
    /// say its algorithm recompressed it already (see [`Store::recompress`]); counts it in
    /// `done`.
    fn recompress_block(
        &self,
        index: usize,
        how: &Recompression,
        target: Algorithm,
        already: impl Fn(Algorithm) -> bool,
        done: &mut Recompressed,
    ) -> Result {
        let Some(block) = self.table.get(index)? else {
            return Ok(());
        };
        let mut context = self.context()?;
        let Context {
            codecs,
            block: plain,
        } = &mut *context;
        let mut guard = block.lock();
        let meta = Meta(guard.value());
        let old_size = guard.size();
        if !meta.is_tierable(how.huge)
            || guard.shares_with_others()
            || (how.idle && !guard.is_idle())
            || old_size < how.threshold
            || meta.algorithm().is_ok_and(&already)
        {
            return Ok(());
        }
        done.tried += 1;
        // Touched: no later pass takes it as idle, as in zram.
        guard.set_idle(false);
        let mut plain = RawBuf::from(&mut plain[..]);
        if meta.state() == State::Raw {
            guard.copy_to(&mut plain, &mut codecs.compressed)?;
        } else {
            Self::decompress(codecs, index, meta, &guard, &mut plain)?;
        }
        let Some(len) = codecs.compress(target, &plain)? else {
            return Ok(());
        };
        let pool = self.store.table.pool();
        let smaller = if meta.state() == State::Raw {
            self.keeps_compressed(len)
        } else {
            pool.class_index(HEADER_BYTES + len) < pool.class_index(HEADER_BYTES + old_size)
        };
        if !smaller || (how.threshold != 0 && len >= how.threshold) {
            return Ok(());
        }
        let new = Meta::stored(State::Compressed, target);
        let (framed, _) = Framed::split(&mut codecs.compressed, len)?;
        let object = self.new_object(new, &mut Stored::Object(framed))?;
        let old = guard.replace(new.0, object)?;
        drop(guard);
        self.counters.account(meta, old_size, false);
        self.counters.account(new, len, true);
        done.stored += 1;
        drop(old);
        Ok(())
    }
}
