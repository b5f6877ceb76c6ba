// SPDX-License-Identifier: GPL-2.0

//! A block's table entry: its state, its packed metadata word and its object handle.

use crate::{algorithm::Algorithm, ext::sync::BitLock, geometry::BLOCK_SIZE};
use core::mem::size_of;
use kernel::{prelude::*, sync::atomic::Atomic};

/// The state of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Reads as zeros; holds no memory.
    Zeroed,
    /// Stored compressed.
    Compressed,
    /// Stored as it is.
    Raw,
    /// One machine word repeated, kept in the entry.
    Same,
}

/// The metadata word of an entry, without its lock bit:
/// bits 1-2 the state, bits 3-6 the algorithm, bits 16-31 the stored size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Meta(pub(super) usize);

impl Meta {
    const STATE_SHIFT: u32 = 1;
    const ALGORITHM_SHIFT: u32 = 3;
    const SIZE_SHIFT: u32 = 16;

    /// A zeroed block.
    pub(super) const ZEROED: Self = Self(0);

    /// Packs a stored block's metadata.
    pub(super) fn stored(state: State, algorithm: Algorithm, size: usize) -> Self {
        let state = match state {
            State::Zeroed => 0,
            State::Compressed => 1,
            State::Raw => 2,
            State::Same => 3,
        };
        Self(
            (state << Self::STATE_SHIFT)
                | ((algorithm as usize) << Self::ALGORITHM_SHIFT)
                | (size << Self::SIZE_SHIFT),
        )
    }

    /// Whether a block in this state owns an object (a zsmalloc object or a page).
    pub(super) fn has_object(self) -> bool {
        matches!(self.state(), State::Compressed | State::Raw)
    }

    /// The block's state.
    pub(super) fn state(self) -> State {
        match (self.0 >> Self::STATE_SHIFT) & 0b11 {
            1 => State::Compressed,
            2 => State::Raw,
            3 => State::Same,
            _ => State::Zeroed,
        }
    }

    /// The algorithm a compressed block was compressed with.
    pub(super) fn algorithm(self) -> Result<Algorithm> {
        Algorithm::from_id(((self.0 >> Self::ALGORITHM_SHIFT) & 0b1111) as u8)
    }

    /// The bytes the block's object holds.
    pub(super) fn size(self) -> usize {
        (self.0 >> Self::SIZE_SHIFT) & 0xffff
    }
}

// The packing must hold every algorithm and a whole block's size, and leave bit 0 free.
const _: () =
    assert!((Algorithm::ALL.len() as u32) <= 1 << (Meta::SIZE_SHIFT - Meta::ALGORITHM_SHIFT));
const _: () = assert!(BLOCK_SIZE < 1 << 16);

/// One entry of the block table: 16 bytes per block on 64-bit machines.
///
/// # Invariants
///
/// While `meta` says the block is compressed or raw, `handle` is a live object of the
/// store's pool whose size class holds `meta.size()` bytes (or, for a raw block where
/// blocks are pages, an owned page), owned by this entry; while it says same-filled,
/// `handle` is the word that fills the block. `handle` is only read or
/// written with the `meta` lock held (or with exclusive access).
pub(super) struct Entry {
    pub(super) handle: Atomic<usize>,
    pub(super) meta: BitLock,
}

const _: () = assert!(size_of::<Entry>() <= 16);

impl Entry {
    /// A zeroed block.
    pub(super) const fn new() -> Self {
        // INVARIANT: a zeroed entry owns no object.
        Self {
            handle: Atomic::new(0),
            meta: BitLock::new(0),
        }
    }
}
