// SPDX-License-Identifier: GPL-2.0

//! A reader-writer lock for data read on every I/O and changed as a whole rarely.
//!
//! C header: [`include/linux/percpu-rwsem.h`](srctree/include/linux/percpu-rwsem.h)
//!
//! A reader of a `percpu_rw_semaphore` only increments and decrements a counter of its own
//! CPU, so readers on different CPUs share no cache line; a writer waits for an RCU grace
//! period and for every reader to leave. Readers may sleep while they hold it. It is the
//! lock the block layer and file systems use where reads are hot and writes are rare
//! (`super_block::s_writers`, cgroup's threadgroup lock).

use super::super::ffi;
use core::{
    cell::UnsafeCell,
    ops::{Deref, DerefMut},
    ptr::NonNull,
};
use kernel::{bindings, prelude::*, str::CStr, sync::LockClassKey};

/// A `percpu_rw_semaphore` protecting a `T`: [`PercpuRwSem::read`] gives shared access,
/// [`PercpuRwSem::write`] exclusive access.
///
/// The semaphore is allocated on its own, so that the value may move.
///
/// # Invariants
///
/// `sem` was allocated and initialised by `foxramdisk_helper_percpu_rwsem_alloc()`, is
/// owned by this value and freed on drop. `data` is accessed mutably only while `sem` is
/// held for writing or through `&mut self`, and shared only while it is held for reading
/// or through `&mut self`.
pub(crate) struct PercpuRwSem<T> {
    sem: NonNull<bindings::percpu_rw_semaphore>,
    data: UnsafeCell<T>,
}

// SAFETY: the semaphore may be used and freed from any thread; moving the lock moves the
// `T` it owns.
unsafe impl<T: Send> Send for PercpuRwSem<T> {}

// SAFETY: readers on several threads share `&T` (so `T: Sync`); a writer gets `&mut T` on
// whatever thread takes the lock (so `T: Send`), one at a time, with no reader meanwhile.
unsafe impl<T: Send + Sync> Sync for PercpuRwSem<T> {}

impl<T> PercpuRwSem<T> {
    /// A lock holding `data`, named `name` for lockdep in the class `key`
    /// (`kernel::static_lock_class!()`). May sleep.
    pub(crate) fn new(
        data: T,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> Result<Self> {
        // SAFETY: `name` and `key` are static, as lockdep requires of both.
        let sem =
            unsafe { ffi::foxramdisk_helper_percpu_rwsem_alloc(name.as_char_ptr(), key.as_ptr()) };
        // INVARIANT: the semaphore was just allocated and initialised, and is owned here.
        Ok(Self {
            sem: NonNull::new(sem).ok_or(ENOMEM)?,
            data: UnsafeCell::new(data),
        })
    }

    /// Shared access, waiting while a writer holds the lock. May sleep, and so may the
    /// holder.
    #[inline]
    pub(crate) fn read(&self) -> PercpuReadGuard<'_, T> {
        // SAFETY: the semaphore is live (type invariant).
        unsafe { ffi::foxramdisk_helper_percpu_down_read(self.sem.as_ptr()) };
        // INVARIANT: held for reading above.
        PercpuReadGuard { lock: self }
    }

    /// Shared access if no writer holds or waits for the lock, without sleeping: for
    /// atomic context. `None` otherwise.
    #[inline]
    pub(crate) fn try_read(&self) -> Option<PercpuReadGuard<'_, T>> {
        // SAFETY: the semaphore is live (type invariant); this never sleeps.
        if unsafe { ffi::foxramdisk_helper_percpu_down_read_trylock(self.sem.as_ptr()) } {
            // INVARIANT: held for reading above.
            Some(PercpuReadGuard { lock: self })
        } else {
            None
        }
    }

    /// Exclusive access: waits for an RCU grace period and for every reader to leave.
    /// May sleep.
    pub(crate) fn write(&self) -> PercpuWriteGuard<'_, T> {
        // SAFETY: the semaphore is live (type invariant).
        unsafe { bindings::percpu_down_write(self.sem.as_ptr()) };
        // INVARIANT: held for writing above.
        PercpuWriteGuard { lock: self }
    }

    /// Exclusive access through a unique reference, without locking.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T> Drop for PercpuRwSem<T> {
    fn drop(&mut self) {
        // SAFETY: the semaphore is live and owned (type invariant); `&mut self` means no
        // guard holds it, and it is not used after this.
        unsafe { ffi::foxramdisk_helper_percpu_rwsem_free(self.sem.as_ptr()) };
    }
}

/// Shared access to the data of a [`PercpuRwSem`]; releases the read side on drop.
///
/// # Invariants
///
/// `lock` is held for reading by this guard.
pub(crate) struct PercpuReadGuard<'a, T> {
    lock: &'a PercpuRwSem<T>,
}

impl<T> Deref for PercpuReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the lock is held for reading (type invariant), so no `&mut T` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for PercpuReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: held for reading by this guard (type invariant), released once here.
        unsafe { ffi::foxramdisk_helper_percpu_up_read(self.lock.sem.as_ptr()) };
    }
}

/// Exclusive access to the data of a [`PercpuRwSem`]; releases the write side on drop.
///
/// # Invariants
///
/// `lock` is held for writing by this guard.
pub(crate) struct PercpuWriteGuard<'a, T> {
    lock: &'a PercpuRwSem<T>,
}

impl<T> Deref for PercpuWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the lock is held for writing by this guard (type invariant).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for PercpuWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held for writing by this guard (type invariant), so no other
        // reference to the data exists; the borrow of the guard bounds this one.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for PercpuWriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: held for writing by this guard (type invariant), released once here.
        unsafe { bindings::percpu_up_write(self.lock.sem.as_ptr()) };
    }
}

#[kernel::prelude::kunit_tests(foxramdisk_percpu_rw_sem)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_and_a_writer_excludes_them() -> Result {
        let mut lock = PercpuRwSem::new(
            1u32,
            c"foxramdisk_kunit_percpu_rw_sem",
            kernel::static_lock_class!(),
        )?;
        {
            let a = lock.read();
            let b = lock.try_read().ok_or(EINVAL)?;
            assert_eq!((*a, *b), (1, 1));
        }
        {
            let mut w = lock.write();
            *w = 2;
            // A writer holds it: no reader gets in.
            assert!(lock.try_read().is_none());
        }
        assert_eq!(lock.try_read().map(|r| *r), Some(2));
        *lock.get_mut() = 3;
        assert_eq!(*lock.read(), 3);
        Ok(())
    }
}
