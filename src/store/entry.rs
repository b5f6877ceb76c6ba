// SPDX-License-Identifier: GPL-2.0

//! A block's entry: its state and algorithm, packed into the value its table slot keeps.

use crate::{algorithm::Algorithm, ext::object_table::ObjectTable};
use kernel::prelude::*;

/// The state of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Reads as zeros; holds no memory.
    Zeroed,
    /// Stored compressed.
    Compressed,
    /// Stored as it is.
    Raw,
    /// One machine word repeated, kept in the slot.
    Same,
}

/// A block's state and algorithm, as its slot keeps them ([`ObjectTable::VALUE_MASK`]):
/// bits 0-1 the state, bits 2-5 the algorithm, bit 6 set for a compressed or raw block
/// written back to the backing store, whose slot then keeps its position there
/// ([`super::backing::Position`]) in place of an object. The slot itself records what it
/// holds and the size of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Meta(pub(super) usize);

impl Meta {
    const ALGORITHM_SHIFT: u32 = 2;
    const BACKED: usize = 1 << 6;

    /// A zeroed block.
    pub(super) const ZEROED: Self = Self(0);

    /// Packs a stored block's metadata.
    pub(super) fn stored(state: State, algorithm: Algorithm) -> Self {
        let state = match state {
            State::Zeroed => 0,
            State::Compressed => 1,
            State::Raw => 2,
            State::Same => 3,
        };
        Self(state | ((algorithm as usize) << Self::ALGORITHM_SHIFT))
    }

    /// The block's state.
    pub(super) fn state(self) -> State {
        match self.0 & 0b11 {
            1 => State::Compressed,
            2 => State::Raw,
            3 => State::Same,
            _ => State::Zeroed,
        }
    }

    /// The same block, written back to the backing store.
    pub(super) fn backed(self) -> Self {
        Self(self.0 | Self::BACKED)
    }

    /// Whether the block is written back to the backing store.
    pub(super) fn is_backed(self) -> bool {
        self.0 & Self::BACKED != 0
    }

    /// Whether the block holds memory that tiering can move or shrink: it is compressed
    /// or raw, and not written back; and raw, if `huge_only`. What `idle` marks, and
    /// what recompression and writeback select.
    pub(super) fn is_tierable(self, huge_only: bool) -> bool {
        let state = self.state();
        !self.is_backed() && (state == State::Raw || (state == State::Compressed && !huge_only))
    }

    /// The algorithm a compressed block was compressed with.
    pub(super) fn algorithm(self) -> Result<Algorithm> {
        Algorithm::from_id(((self.0 >> Self::ALGORITHM_SHIFT) & 0b1111) as u8)
    }
}

/// A word below this is kept as it is ([`same_to_slot`]).
const SAME_PLAIN_LIMIT: usize = 1 << 51;

/// The word a slot keeps ([`ObjectTable::MAX_WORD`], 52 bits) for a block filled with
/// `word`: a word below 2^51 as it is; a word whose two 32-bit halves are equal as its low
/// half with bit 51 set; `None` for others, which the block keeps in an object of its own.
pub(super) fn same_to_slot(word: usize) -> Option<usize> {
    let low = word & 0xffff_ffff;
    if word < SAME_PLAIN_LIMIT {
        Some(word)
    } else if word >> 32 == low {
        Some(SAME_PLAIN_LIMIT | low)
    } else {
        None
    }
}

/// The word a block is filled with, from what its slot keeps ([`same_to_slot`]).
pub(super) fn same_from_slot(kept: usize) -> usize {
    if kept & SAME_PLAIN_LIMIT == 0 {
        kept
    } else {
        let low = kept & 0xffff_ffff;
        low | low << 32
    }
}

// What a slot keeps of a same-filled block's word fits its bits.
const _: () = assert!(2 * SAME_PLAIN_LIMIT - 1 <= ObjectTable::MAX_WORD);
// The packing must hold every algorithm, within the bits a slot keeps.
const _: () = assert!(Algorithm::ALL.len() <= 1 << 4);
const _: () = assert!(0b111_1111 <= ObjectTable::VALUE_MASK);
