// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives missing from `kernel::sync`.

mod bit_spinlock;

pub(crate) use bit_spinlock::BitSpinLock;
