// SPDX-License-Identifier: GPL-2.0

//! A store's block counts and sizes.

use super::entry::{Meta, State};
use kernel::sync::atomic::{Atomic, Relaxed};

/// Block counts and sizes of a store; the zeroed count is derived.
pub(super) struct Counters {
    pub(super) raw_blocks: Atomic<u64>,
    pub(super) same_blocks: Atomic<u64>,
    pub(super) compressed_blocks: Atomic<u64>,
    pub(super) compressed_bytes: Atomic<u64>,
    /// Blocks written back to the backing store.
    pub(super) backed_blocks: Atomic<u64>,
    /// Blocks stored raw since the store was created or reset.
    pub(super) raw_writes: Atomic<u64>,
    /// The highest [`Store::mem_used_total`](super::Store::mem_used_total) seen after an
    /// allocation, in bytes.
    pub(super) mem_used_max: Atomic<u64>,
}

impl Counters {
    /// All zero.
    pub(super) const fn new() -> Self {
        Self {
            raw_blocks: Atomic::new(0),
            same_blocks: Atomic::new(0),
            compressed_blocks: Atomic::new(0),
            compressed_bytes: Atomic::new(0),
            backed_blocks: Atomic::new(0),
            raw_writes: Atomic::new(0),
            mem_used_max: Atomic::new(0),
        }
    }

    /// Accounts a block entering (`add`) or leaving state `meta`, with an object of `size`
    /// bytes (none for a block written back).
    pub(super) fn account(&self, meta: Meta, size: usize, add: bool) {
        let update = |counter: &Atomic<u64>, n: u64| {
            if add {
                counter.fetch_add(n, Relaxed);
            } else {
                counter.fetch_sub(n, Relaxed);
            }
        };
        if meta.is_backed() {
            update(&self.backed_blocks, 1);
            return;
        }
        match meta.state() {
            State::Zeroed => {}
            State::Raw => update(&self.raw_blocks, 1),
            State::Same => update(&self.same_blocks, 1),
            State::Compressed => {
                update(&self.compressed_blocks, 1);
                update(&self.compressed_bytes, size as u64);
            }
        }
    }
}
