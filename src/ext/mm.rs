// SPDX-License-Identifier: GPL-2.0

//! Memory management: what `kernel::alloc` and `kernel::mm` of Linux 7.3 lack.
//!
//! C header: [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h)

pub(crate) mod page;
pub(crate) mod zsmalloc;

use super::ffi;
use core::marker::PhantomData;
use kernel::{bindings, error::Result, ffi::c_uint};

/// `__GFP_NORETRY` (pinned by `static_assert` in `src/helpers.c`): one round of direct
/// reclaim, then fail, instead of looping forever (a `GFP_NOIO` order-0 allocation
/// otherwise never fails) or thrashing the page cache.
const GFP_NORETRY: bindings::gfp_t = 0x10000;

/// Whether an allocation may wait for memory to be reclaimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reclaim {
    /// Never sleep: wake kswapd, use the atomic reserves, fail if that is not enough.
    No,
    /// Sleep in one round of direct reclaim if needed, then give up; the caller decides
    /// how reclaim may proceed, for example with a [`NoIoScope`].
    Direct,
}

impl Reclaim {
    /// Runs the allocation `alloc` without sleeping first, then, if that fails, with direct
    /// reclaim: the policy of an I/O path whose write may be the one that reclaim waits for.
    pub(crate) fn no_then_direct<T>(alloc: impl Fn(Reclaim) -> Result<T>) -> Result<T> {
        alloc(Reclaim::No).or_else(|_| alloc(Reclaim::Direct))
    }

    /// The allocation flags of `kernel::alloc`: `GFP_ATOMIC`, or `GFP_KERNEL` (which cannot
    /// add `__GFP_NORETRY`, so direct reclaim may retry), without warnings on failure.
    pub(crate) fn flags(self) -> kernel::alloc::Flags {
        use kernel::alloc::flags::{GFP_ATOMIC, GFP_KERNEL, __GFP_NOWARN};
        match self {
            Reclaim::No => GFP_ATOMIC | __GFP_NOWARN,
            Reclaim::Direct => GFP_KERNEL | __GFP_NOWARN,
        }
    }

    /// The allocation flags: `GFP_ATOMIC` or `GFP_KERNEL | __GFP_NORETRY`, without
    /// warnings on failure (the caller handles it).
    fn gfp(self) -> bindings::gfp_t {
        let base = match self {
            Reclaim::No => bindings::GFP_ATOMIC,
            Reclaim::Direct => bindings::GFP_KERNEL | GFP_NORETRY,
        };
        base | bindings::__GFP_NOWARN
    }
}

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
