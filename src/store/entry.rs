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
/// bits 0-1 the state, bits 2-5 the algorithm. The slot itself records what it holds
/// and the size of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Meta(pub(super) usize);

impl Meta {
    const ALGORITHM_SHIFT: u32 = 2;

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

    /// The algorithm a compressed block was compressed with.
    pub(super) fn algorithm(self) -> Result<Algorithm> {
        Algorithm::from_id(((self.0 >> Self::ALGORITHM_SHIFT) & 0b1111) as u8)
    }
}

// The packing must hold every algorithm, within the bits a slot keeps.
const _: () = assert!(Algorithm::ALL.len() <= 1 << 4);
const _: () = assert!(0b11_1111 <= ObjectTable::VALUE_MASK);
