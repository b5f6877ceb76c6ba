// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives missing from `kernel::sync`.

mod bit_lock;
mod global_mutex;
mod percpu_rw_sem;

pub(crate) use bit_lock::{BitLock, BitLockGuard, LockdepMap};
pub(crate) use global_mutex::GlobalMutex;
pub(crate) use percpu_rw_sem::{PercpuReadGuard, PercpuRwSem, PercpuWriteGuard};
