// SPDX-License-Identifier: GPL-2.0

//! A sleeping lock that lives in bit 0 of the word it protects, with a lockdep map.
//!
//! C header: [`include/linux/wait_bit.h`](srctree/include/linux/wait_bit.h)
//!
//! Used where a lock per object must cost no memory, such as one per block of a RAM disk:
//! the other bits of the word hold the protected value (a pointer, flags). It is the lock
//! of zram's table entries (`slot_lock()` in `drivers/block/zram/zram_drv.c`): taking it
//! may sleep in `wait_on_bit_lock()` until the holder drops it, the holder may sleep and be
//! preempted, and [`BitLock::try_lock`] serves atomic context. The bit carries no lockdep
//! state of its own, so every lock of a set (a table) is acquired and released on one
//! [`LockdepMap`], as zram does with its `table_lock_map`: lockdep then checks the set's
//! ordering against every other lock, and reports one of them taken while another is held.

use super::super::ffi;
use kernel::{
    bindings,
    prelude::*,
    str::CStr,
    sync::{
        atomic::{Atomic, Relaxed},
        LockClassKey,
    },
    types::Opaque, //
};

/// The bit of the word that is the lock.
const LOCK_BIT: u32 = 0;
/// Mask of the lock bit.
const LOCK_MASK: usize = 1 << LOCK_BIT;

/// A lockdep map: the lockdep identity of a set of locks that has no lock type of its own
/// (`struct lockdep_map`). Empty, and each of its operations nothing, without
/// `CONFIG_DEBUG_LOCK_ALLOC`.
///
/// # Invariants
///
/// `map` was initialised by `lockdep_init_map()` with a static name and key.
#[pin_data]
pub(crate) struct LockdepMap {
    #[pin]
    map: Opaque<bindings::lockdep_map>,
}

// SAFETY: lockdep keeps the state of a held map in the task that holds it, not in the map,
// so a map may be acquired and released from any thread.
unsafe impl Send for LockdepMap {}
// SAFETY: as above; lockdep serialises its own updates of a map.
unsafe impl Sync for LockdepMap {}

impl LockdepMap {
    /// A map named `name` in the lock class `key` (`kernel::static_lock_class!()`).
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        // INVARIANT: the map is initialised in place, with a static name and key.
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned; `name` and `key` are static,
            // as lockdep requires of both.
            map <- Opaque::ffi_init(|slot| unsafe {
                ffi::foxramdisk_helper_lockdep_init_map(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// The raw map.
    #[inline]
    fn as_ptr(&self) -> *mut bindings::lockdep_map {
        self.map.get()
    }
}

/// A word whose bit 0 is a sleeping lock protecting the other bits.
///
/// # Invariants
///
/// Bit [`LOCK_BIT`] of `word` is set exactly while a [`BitLockGuard`] for `self` exists.
#[repr(transparent)]
pub(crate) struct BitLock {
    word: Atomic<usize>,
}

impl BitLock {
    /// The values a [`BitLock`] can protect: any word with bit 0 clear.
    pub(crate) const VALUE_MASK: usize = !LOCK_MASK;

    /// Creates an unlocked word holding `value`, which must have bit 0 clear (it is masked).
    pub(crate) const fn new(value: usize) -> Self {
        // INVARIANT: no guard exists and the lock bit is clear.
        Self {
            word: Atomic::new(value & Self::VALUE_MASK),
        }
    }

    /// The word, as the `unsigned long` the bit operations take.
    #[inline]
    fn as_ptr(&self) -> *mut kernel::ffi::c_ulong {
        self.word.as_ptr().cast()
    }

    /// Takes the lock, sleeping until its holder drops it, and acquires `map` for lockdep.
    /// May sleep, so only in process context.
    #[inline]
    pub(crate) fn lock<'a>(&'a self, map: &'a LockdepMap) -> BitLockGuard<'a> {
        // SAFETY: `word` is a valid, aligned `unsigned long` for the lifetime of `self`, only
        // these helpers touch its lock bit, and `map` is initialised (its type invariant).
        unsafe { ffi::foxramdisk_helper_bit_lock(self.as_ptr(), LOCK_BIT, map.as_ptr()) };
        // INVARIANT: the helper returns with the lock bit set by this caller.
        BitLockGuard { lock: self, map }
    }

    /// Takes the lock if it is free, without sleeping: for atomic context. `None` if it is
    /// held.
    #[inline]
    pub(crate) fn try_lock<'a>(&'a self, map: &'a LockdepMap) -> Option<BitLockGuard<'a>> {
        // SAFETY: as in `lock()`; this helper never sleeps.
        let taken =
            unsafe { ffi::foxramdisk_helper_bit_trylock(self.as_ptr(), LOCK_BIT, map.as_ptr()) };
        // A guard is made only if the lock was taken: made and dropped otherwise, it would
        // unlock the holder's lock.
        if taken {
            // INVARIANT: the helper set the lock bit for this caller.
            Some(BitLockGuard { lock: self, map })
        } else {
            None
        }
    }

    /// The value as it is now, without the lock: a holder may change it at any moment, so
    /// it is a hint (a value that cannot change back while the caller looks, or a
    /// check repeated under the lock), never a basis for using what the value names.
    #[inline]
    pub(crate) fn peek(&self) -> usize {
        self.word.load(Relaxed) & Self::VALUE_MASK
    }

    /// Returns the value with exclusive access, no locking needed.
    pub(crate) fn get_mut(&mut self) -> usize {
        self.word.load(Relaxed) & Self::VALUE_MASK
    }
}

/// Proof that a [`BitLock`] is held; unlocks on drop.
///
/// # Invariants
///
/// The lock bit of `lock` is set and owned by this guard, which acquired `map`.
pub(crate) struct BitLockGuard<'a> {
    lock: &'a BitLock,
    map: &'a LockdepMap,
}

impl BitLockGuard<'_> {
    /// The protected value.
    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.lock.word.load(Relaxed) & BitLock::VALUE_MASK
    }

    /// Replaces the protected value (bit 0 of `value` is ignored) and returns the old one.
    #[inline]
    pub(crate) fn replace(&mut self, value: usize) -> usize {
        let old = self.get();
        // The lock bit stays set: by the type invariant this guard owns it.
        self.lock
            .word
            .store((value & BitLock::VALUE_MASK) | LOCK_MASK, Relaxed);
        old
    }
}

impl Drop for BitLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: by the type invariant the lock bit is set and owned by this guard, which
        // acquired `map`; the helper releases the map, clears the bit with release
        // semantics and wakes a waiter.
        unsafe {
            ffi::foxramdisk_helper_bit_unlock(self.lock.as_ptr(), LOCK_BIT, self.map.as_ptr())
        };
    }
}
