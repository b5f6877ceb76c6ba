// SPDX-License-Identifier: GPL-2.0

//! A spin lock that lives in bit 0 of the word it protects.
//!
//! C header: [`include/linux/bit_spinlock.h`](srctree/include/linux/bit_spinlock.h)
//!
//! Used where a lock per object must cost no memory, such as one per block of a RAM disk:
//! the other bits of the word hold the protected value (a pointer, flags). Like the C
//! primitive it disables preemption while held and is invisible to lockdep, so critical
//! sections must be short and must not sleep.

use super::super::ffi;
use kernel::sync::atomic::{
    Atomic,
    Relaxed, //
};

/// The bit of the word that is the lock.
const LOCK_BIT: usize = 0;
/// Mask of the lock bit.
const LOCK_MASK: usize = 1 << LOCK_BIT;

/// A word whose bit 0 is a spin lock protecting the other bits.
///
/// # Invariants
///
/// Bit [`LOCK_BIT`] of `word` is set exactly while a [`BitSpinLockGuard`] for `self` exists.
#[repr(transparent)]
pub(crate) struct BitSpinLock {
    word: Atomic<usize>,
}

impl BitSpinLock {
    /// The values a [`BitSpinLock`] can protect: any word with bit 0 clear.
    pub(crate) const VALUE_MASK: usize = !LOCK_MASK;

    /// Creates an unlocked word holding `value`, which must have bit 0 clear (it is masked).
    pub(crate) const fn new(value: usize) -> Self {
        // INVARIANT: no guard exists and the lock bit is clear.
        Self {
            word: Atomic::new(value & Self::VALUE_MASK),
        }
    }

    /// Spins until the lock is taken; preemption stays disabled until the guard is dropped.
    #[inline]
    pub(crate) fn lock(&self) -> BitSpinLockGuard<'_> {
        // SAFETY: `word` is a valid, aligned `unsigned long` for the lifetime of `self`, and
        // only `bit_spin_lock()`/`bit_spin_unlock()` touch its lock bit.
        unsafe { ffi::foxramdisk_helper_bit_spin_lock(LOCK_BIT as i32, self.word.as_ptr().cast()) };
        // INVARIANT: the lock bit was set by `bit_spin_lock()` above.
        BitSpinLockGuard { lock: self }
    }

    /// Returns the value with exclusive access, no locking needed.
    pub(crate) fn get_mut(&mut self) -> usize {
        self.word.load(Relaxed) & Self::VALUE_MASK
    }
}

/// Proof that a [`BitSpinLock`] is held; unlocks on drop.
///
/// # Invariants
///
/// The lock bit of `lock` is set and owned by this guard.
pub(crate) struct BitSpinLockGuard<'a> {
    lock: &'a BitSpinLock,
}

impl BitSpinLockGuard<'_> {
    /// The protected value.
    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.lock.word.load(Relaxed) & BitSpinLock::VALUE_MASK
    }

    /// Replaces the protected value (bit 0 of `value` is ignored) and returns the old one.
    #[inline]
    pub(crate) fn replace(&mut self, value: usize) -> usize {
        let old = self.get();
        // The lock bit stays set: by the type invariant this guard owns it.
        self.lock
            .word
            .store((value & BitSpinLock::VALUE_MASK) | LOCK_MASK, Relaxed);
        old
    }
}

impl Drop for BitSpinLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: by the type invariant the lock bit is set and owned by this guard;
        // `bit_spin_unlock()` clears it with release semantics and re-enables preemption.
        unsafe {
            ffi::foxramdisk_helper_bit_spin_unlock(LOCK_BIT as i32, self.lock.word.as_ptr().cast())
        };
    }
}
