// SPDX-License-Identifier: GPL-2.0

//! A mutex in a `static`, initialised once at run time, with a safe API.
//!
//! C header: [`include/linux/mutex.h`](srctree/include/linux/mutex.h)
//!
//! `kernel::sync::global_lock!` makes a static mutex whose `init()` is `unsafe`: nothing
//! stops a caller from locking it first. [`GlobalMutex`] checks instead: [`GlobalMutex::lock`]
//! fails with `EINVAL` until [`GlobalMutex::init`] has run, and `init` runs once. The
//! check is one atomic load per lock, for data locked on control paths only (a registry of
//! devices).

use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    ops::{Deref, DerefMut},
};
use kernel::{
    bindings,
    prelude::*,
    str::CStr,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        LockClassKey,
    },
    types::Opaque, //
};

/// [`GlobalMutex::state`]: not initialised yet.
const UNINIT: u32 = 0;
/// [`GlobalMutex::state`]: being initialised by [`GlobalMutex::init`].
const INITIALISING: u32 = 1;
/// [`GlobalMutex::state`]: initialised; may be locked.
const READY: u32 = 2;

/// A mutex protecting a `T`, for a `static`.
///
/// # Invariants
///
/// `mutex` is initialised once `state` is [`READY`], and only then locked; `data` is
/// accessed only by the holder of a [`GlobalMutexGuard`].
pub(crate) struct GlobalMutex<T> {
    state: Atomic<u32>,
    mutex: Opaque<bindings::mutex>,
    data: UnsafeCell<T>,
}

// SAFETY: the holder of the mutex gets `&mut T` on whatever thread locked it, one at a
// time, so `T: Send` is enough to share the lock; the kernel's mutex may be used from any
// thread.
unsafe impl<T: Send> Sync for GlobalMutex<T> {}

// SAFETY: moving the lock (before it is initialised, the only time it can be moved out of
// a `static`) moves the `T` it owns.
unsafe impl<T: Send> Send for GlobalMutex<T> {}

impl<T> GlobalMutex<T> {
    /// A mutex holding `data`, to be initialised with [`GlobalMutex::init`] before use.
    pub(crate) const fn new(data: T) -> Self {
        // INVARIANT: not ready, so never locked yet.
        Self {
            state: Atomic::new(UNINIT),
            mutex: Opaque::uninit(),
            data: UnsafeCell::new(data),
        }
    }

    /// Initialises the mutex, named `name` for lockdep in the class `key`
    /// (`kernel::static_lock_class!()`). `EALREADY` if it was initialised, or is being.
    pub(crate) fn init(
        &'static self,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> Result {
        if self.state.cmpxchg(UNINIT, INITIALISING, Relaxed).is_err() {
            return Err(EALREADY);
        }
        // SAFETY: the mutex is not initialised yet and nobody else initialises or locks it
        // (the state, won above, is not ready); it is static, so it never moves; `name` and
        // `key` are static, as lockdep requires.
        unsafe { bindings::__mutex_init(self.mutex.get(), name.as_char_ptr(), key.as_ptr()) };
        // INVARIANT: initialised above. Release: a `lock` that sees it ready sees it
        // initialised.
        self.state.store(READY, Release);
        Ok(())
    }

    /// Locks the mutex, sleeping until it is free. `EINVAL` before [`GlobalMutex::init`].
    /// May sleep.
    pub(crate) fn lock(&'static self) -> Result<GlobalMutexGuard<T>> {
        // Acquire: pairs with the release in `init`.
        if self.state.load(Acquire) != READY {
            return Err(EINVAL);
        }
        // SAFETY: the mutex is initialised (ready, type invariant) and static.
        unsafe { bindings::mutex_lock(self.mutex.get()) };
        // INVARIANT: locked above, by this task.
        Ok(GlobalMutexGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }
}

/// The holder of a [`GlobalMutex`]; unlocks it on drop. A kernel mutex is unlocked by the
/// task that locked it, so the guard is not `Send`.
///
/// # Invariants
///
/// `lock` is initialised and locked by this guard's task.
pub(crate) struct GlobalMutexGuard<T: 'static> {
    lock: &'static GlobalMutex<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for GlobalMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the mutex is held by this guard (type invariant): no other access.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for GlobalMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the mutex is held by this guard (type invariant): no other access, and
        // the borrow of the guard bounds this one.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for GlobalMutexGuard<T> {
    fn drop(&mut self) {
        // SAFETY: locked by this guard on this task (type invariant; the guard is not
        // `Send`), unlocked once.
        unsafe { bindings::mutex_unlock(self.lock.mutex.get()) };
    }
}
