// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives missing from `kernel::sync`.

mod bit_lock;
mod global_mutex;

pub(crate) use bit_lock::{BitLock, LockdepMap};
pub(crate) use global_mutex::GlobalMutex;
