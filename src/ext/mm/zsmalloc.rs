// SPDX-License-Identifier: GPL-2.0

//! zsmalloc: a memory allocator for compressed objects, as used by zram and zswap.
//!
//! C header: [`include/linux/zsmalloc.h`](srctree/include/linux/zsmalloc.h)
//!
//! Objects are named by handles, not pointers. A handle is only meaningful to the pool
//! that allocated it, so the operations that take one are `unsafe`: the caller keeps
//! track of which handles it owns (a block table does).

use crate::ext::{ffi, raw_buf::RawBuf};
use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

/// `__GFP_MOVABLE` (pinned by `static_assert` in `src/helpers.c`): zsmalloc pages may be
/// migrated, which keeps them out of the way of compaction.
const GFP_MOVABLE: bindings::gfp_t = 0x08;

/// A zsmalloc pool.
///
/// # Invariants
///
/// `pool` was returned by `zs_create_pool()` and is destroyed on drop.
pub(crate) struct ZsPool {
    pool: NonNull<ffi::zs_pool>,
}

// SAFETY: zsmalloc pools are safe to use from any thread, concurrently; they lock inside.
unsafe impl Send for ZsPool {}
// SAFETY: as above.
unsafe impl Sync for ZsPool {}

impl ZsPool {
    /// Creates a pool; `name` names its directory in debugfs (`zsmalloc/NAME`, with
    /// `CONFIG_ZSMALLOC_STAT`), so each pool should have its own. May sleep.
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is a valid NUL-terminated string; zsmalloc copies it.
        let pool = unsafe { ffi::zs_create_pool(name.as_char_ptr()) };
        // INVARIANT: `pool` was just created.
        Ok(Self {
            pool: NonNull::new(pool).ok_or(ENOMEM)?,
        })
    }

    /// Allocates an object of `size` bytes, as zram does: `GFP_KERNEL | __GFP_NOWARN`
    /// (`GFP_NOIO` inside a [`super::NoIoScope`]), from highmem and movable pages. May
    /// sleep in direct reclaim; fails only when the page allocator gives up. Objects of the
    /// huge class size or more take a whole page.
    pub(crate) fn malloc(&self, size: usize) -> Result<usize> {
        let gfp =
            bindings::GFP_KERNEL | bindings::__GFP_NOWARN | bindings::__GFP_HIGHMEM | GFP_MOVABLE;
        // SAFETY: the pool is live by the type invariant.
        let handle =
            unsafe { ffi::zs_malloc(self.pool.as_ptr(), size, gfp, bindings::NUMA_NO_NODE) };
        kernel::error::from_err_ptr(handle as *mut u8).map(|h| h as usize)
    }

    /// Frees an object.
    ///
    /// # Safety
    ///
    /// `handle` must come from [`ZsPool::malloc`] on `self` and not have been freed.
    pub(crate) unsafe fn free(&self, handle: usize) {
        // SAFETY: the pool is live, and the caller guarantees the handle.
        unsafe { ffi::zs_free(self.pool.as_ptr(), handle) };
    }

    /// Copies `src` into the object `handle`. Does not sleep, so it may run under a spin
    /// lock.
    ///
    /// # Safety
    ///
    /// `handle` must be a live object of `self` whose size class holds at least `src.len()`
    /// bytes (see [`ZsPool::class_index`]) and that nobody else accesses meanwhile.
    pub(crate) unsafe fn write(&self, handle: usize, src: &RawBuf<'_>) {
        // SAFETY: the pool is live; the caller guarantees the handle and its size; `src`
        // is valid for reads of its length and only read.
        unsafe {
            ffi::zs_obj_write(
                self.pool.as_ptr(),
                handle,
                src.as_ptr().cast_mut().cast(),
                src.len(),
            )
        };
    }

    /// Runs `f` on the first `len` bytes of the object `handle`, mapped in place, or copied
    /// into `local_copy` when the object spans two pages. Does not sleep, and `f` must not
    /// either: the object stays mapped until `f` returns. Fails with `EINVAL`, without
    /// calling `f`, if `local_copy` is shorter than `len`.
    ///
    /// # Safety
    ///
    /// `handle` must be a live object of `self` whose size class holds at least `len` bytes
    /// and that is not freed or written until this returns.
    pub(crate) unsafe fn read_with<R>(
        &self,
        handle: usize,
        len: usize,
        local_copy: &mut [u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        if local_copy.len() < len {
            return Err(EINVAL);
        }
        let pool = self.pool.as_ptr();
        // SAFETY: the pool is live; the caller guarantees the handle; `local_copy` is a
        // buffer of at least `len` bytes zsmalloc may copy into.
        let mem =
            unsafe { ffi::zs_obj_read_begin(pool, handle, len, local_copy.as_mut_ptr().cast()) };
        // SAFETY: `mem` points to `len` bytes of the object (mapped, or copied into
        // `local_copy`, which is not otherwise used meanwhile), which the caller guarantees
        // nobody writes until `zs_obj_read_end()`; the slice does not outlive that.
        let r = f(unsafe { core::slice::from_raw_parts(mem.cast::<u8>(), len) });
        // SAFETY: ends the access begun above, with the pointer it returned.
        unsafe { ffi::zs_obj_read_end(pool, handle, len, mem) };
        Ok(r)
    }

    /// Copies the first `dst.len()` bytes of the object `handle` into `dst`. Does not
    /// sleep.
    ///
    /// # Safety
    ///
    /// `handle` must be a live object of `self` whose size class holds at least
    /// `dst.len()` bytes and that is not freed or written until this returns.
    pub(crate) unsafe fn read_into(&self, handle: usize, dst: &mut [u8]) {
        let (pool, len) = (self.pool.as_ptr(), dst.len());
        let to = dst.as_mut_ptr();
        // SAFETY: the pool is live; the caller guarantees the handle; `dst` is a buffer of
        // `len` bytes zsmalloc may copy into when the bytes span two pages.
        let mem = unsafe { ffi::zs_obj_read_begin(pool, handle, len, to.cast()) }.cast::<u8>();
        if mem != to {
            // SAFETY: `mem` maps `len` bytes of the object in place, which the caller
            // guarantees nobody writes meanwhile; `dst` is another buffer of `len` bytes.
            unsafe { core::ptr::copy_nonoverlapping(mem, to, len) };
        }
        // SAFETY: ends the access begun above, with the pointer it returned.
        unsafe { ffi::zs_obj_read_end(pool, handle, len, mem.cast()) };
    }

    /// The size class that objects of `size` bytes are allocated from. An object's slot is
    /// as large as its class, so it can hold any size of the same class.
    pub(crate) fn class_index(&self, size: usize) -> u32 {
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        // SAFETY: the pool is live; any size is accepted (large ones map to the last class).
        unsafe { ffi::zs_lookup_class_index(self.pool.as_ptr(), size) }
    }

    /// Objects of this size or larger take a page of their own: storing them compressed
    /// saves nothing (`zs_huge_class_size()`, the size of the first huge class).
    pub(crate) fn huge_class_size(&self) -> usize {
        // SAFETY: the pool is live.
        unsafe { ffi::zs_huge_class_size(self.pool.as_ptr()) }
    }

    /// The pages the pool holds, objects and fragmentation included.
    pub(crate) fn total_pages(&self) -> u64 {
        // SAFETY: the pool is live.
        unsafe { ffi::zs_get_total_pages(self.pool.as_ptr()) as u64 }
    }

    /// Moves objects together to free pages (`zs_compact()`); returns the pages freed.
    /// May sleep.
    pub(crate) fn compact(&self) -> u64 {
        // SAFETY: the pool is live; compaction takes the pool's own locks.
        unsafe { ffi::zs_compact(self.pool.as_ptr()) as u64 }
    }

    /// The pages compaction has freed so far, by [`ZsPool::compact`] or by the pool's
    /// shrinker under memory pressure.
    pub(crate) fn pages_compacted(&self) -> u64 {
        // SAFETY: the pool is live.
        unsafe { ffi::foxramdisk_helper_zs_pages_compacted(self.pool.as_ptr()) as u64 }
    }
}

impl Drop for ZsPool {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the pool is live; it is not used after this.
        unsafe { ffi::zs_destroy_pool(self.pool.as_ptr()) };
    }
}
