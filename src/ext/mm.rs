// SPDX-License-Identifier: GPL-2.0

//! Memory management: what `kernel::alloc` and `kernel::mm` of Linux 7.3 lack.
//!
//! The allocations of [`page`] and [`zsmalloc`] are made as zram makes its objects': with
//! `GFP_KERNEL | __GFP_NOWARN`, which may sleep in direct reclaim and fails only when the
//! page allocator gives up. A block driver's I/O path makes them inside a [`NoIoScope`],
//! where they behave as `GFP_NOIO`, and a swap-out inside a [`NoReclaimScope`] as well.
//!
//! C header: [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h)

pub(crate) mod page;
pub(crate) mod zsmalloc;

use super::ffi;
use core::marker::PhantomData;
use kernel::{bindings, ffi::c_uint};

/// While alive, every allocation of the current task behaves as `GFP_NOIO`.
///
/// `kernel::alloc::flags` has no `GFP_NOIO`; this is the scoped form the kernel recommends
/// instead (`memalloc_noio_save()`). A block driver's I/O path uses it so that reclaim
/// never issues I/O that could come back to the device being served (swap on it).
///
/// The scope belongs to the task that entered it, so it is neither `Send` nor `Sync`.
pub(crate) struct NoIoScope {
    /// The flags to restore when the scope ends.
    flags: c_uint,
    /// Pins the scope to the current task.
    _not_send: PhantomData<*mut ()>,
}

impl NoIoScope {
    /// Enters a no-I/O allocation scope for the current task.
    #[inline]
    pub(crate) fn enter() -> Self {
        // SAFETY: `memalloc_noio_save()` only updates the current task's flags.
        let flags = unsafe { ffi::foxramdisk_helper_memalloc_noio_save() };
        Self {
            flags,
            _not_send: PhantomData,
        }
    }
}

impl Drop for NoIoScope {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self.flags` came from `memalloc_noio_save()` on this task (the scope is
        // not `Send`), and scopes end in reverse order of entry because they are values.
        unsafe { ffi::foxramdisk_helper_memalloc_noio_restore(self.flags) };
    }
}

/// While alive, the current task allocates as memory reclaim does (`PF_MEMALLOC`): from the
/// reserves kept for reclaim, below the watermarks, and never entering reclaim itself.
///
/// The scoped form of `memalloc_noreclaim_save()`. It is for work that reclaim is waiting
/// for and that frees more memory than it takes, such as storing a page that reclaim swaps
/// out, when that work has left the reclaiming task (a block driver whose request runs in a
/// kblockd worker): the task that submitted it ran with these rights. An allocation that
/// finds the reserves empty fails at once.
///
/// The scope belongs to the task that entered it, so it is neither `Send` nor `Sync`.
pub(crate) struct NoReclaimScope {
    /// The flags to restore when the scope ends.
    flags: c_uint,
    /// Pins the scope to the current task.
    _not_send: PhantomData<*mut ()>,
}

impl NoReclaimScope {
    /// Enters a reclaim allocation scope for the current task.
    #[inline]
    pub(crate) fn enter() -> Self {
        // SAFETY: `memalloc_noreclaim_save()` only updates the current task's flags.
        let flags = unsafe { ffi::foxramdisk_helper_memalloc_noreclaim_save() };
        Self {
            flags,
            _not_send: PhantomData,
        }
    }
}

impl Drop for NoReclaimScope {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self.flags` came from `memalloc_noreclaim_save()` on this task (the scope
        // is not `Send`), and scopes end in reverse order of entry because they are values.
        unsafe { ffi::foxramdisk_helper_memalloc_noreclaim_restore(self.flags) };
    }
}

/// Waits a little, uninterruptibly, before an allocation that failed without entering
/// reclaim is tried again: long enough for reclaim elsewhere to free memory (20 ms).
///
/// `memalloc_retry_wait()` for such an allocation (`GFP_NOWAIT`), the kernel's one place
/// for waits of allocation loops. Must be called where the task may sleep, holding no lock
/// that reclaim or the freeing of memory may need.
pub(crate) fn retry_wait() {
    // SAFETY: `memalloc_retry_wait()` sets the task's state and sleeps; it takes any flags,
    // and needs nothing else but a context that may sleep, as any sleeping call (the kernel
    // reports one that may not, which is a bug but not a memory-safety one).
    unsafe { ffi::foxramdisk_helper_memalloc_retry_wait(bindings::GFP_NOWAIT) };
}
