// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives missing from `kernel::sync`.

mod bit_lock;

pub(crate) use bit_lock::{BitLock, LockdepMap};
