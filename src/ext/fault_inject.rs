// SPDX-License-Identifier: GPL-2.0

//! Fault injection of the driver's own, and its directory in debugfs.
//!
//! C header: [`include/linux/fault-inject.h`](srctree/include/linux/fault-inject.h)
//!
//! One point, `fail_alloc`, before a block's memory is allocated: with it, a test makes a
//! write of this driver find no memory, whatever the rest of the system does. It is set up
//! as any of the kernel's (`Documentation/fault-injection/fault-injection.rst`), in
//! `/sys/kernel/debug/foxramdisk/fail_alloc/`, for every device of the module. It never
//! fails until told to. Without `CONFIG_FAULT_INJECTION` neither the point nor the
//! directory exists, and [`fail_alloc`] is `false`.

/// Whether the allocation of a block's memory, `size` bytes, must fail now, as the
/// `fail_alloc` point says (`should_fail()`). Never, until its probability is set.
#[cfg(CONFIG_FAULT_INJECTION)]
#[inline]
pub(crate) fn fail_alloc(size: usize) -> bool {
    // SAFETY: the point is a static of `helpers.c`, initialised at build time, which
    // `should_fail()` may use from any context, concurrently.
    unsafe { super::ffi::foxramdisk_helper_should_fail_alloc(size) }
}

/// Whether the allocation of a block's memory must fail now: never, without
/// `CONFIG_FAULT_INJECTION`.
#[cfg(not(CONFIG_FAULT_INJECTION))]
#[inline(always)]
pub(crate) fn fail_alloc(_size: usize) -> bool {
    false
}

#[cfg(CONFIG_FAULT_INJECTION)]
pub(crate) use debugfs::Debugfs;

/// The debugfs directory of the fault injection point: only with `CONFIG_FAULT_INJECTION`.
#[cfg(CONFIG_FAULT_INJECTION)]
mod debugfs {
    use super::super::ffi;
    use kernel::{bindings, pr_info, prelude::*};

    /// `/sys/kernel/debug/foxramdisk/`, with the controls of the driver's fault injection
    /// point; removed, with all it holds, on drop. Only with `CONFIG_FAULT_INJECTION`.
    ///
    /// # Invariants
    ///
    /// `dir` is what `debugfs_create_dir()` returned (a directory, or an error pointer if
    /// debugfs is missing or failed), owned by this value.
    pub(crate) struct Debugfs {
        dir: *mut bindings::dentry,
    }

    // SAFETY: a debugfs directory may be removed from any thread.
    unsafe impl Send for Debugfs {}
    // SAFETY: `&Debugfs` gives no access to the directory.
    unsafe impl Sync for Debugfs {}

    impl Debugfs {
        /// Creates the directory and the fault injection controls. Debugfs is for debugging:
        /// if it is missing or fails, the driver works without it, and says so. May sleep.
        pub(crate) fn new() -> Self {
            // SAFETY: the name is a NUL-terminated string; a null parent is debugfs' root.
            let dir = unsafe {
                bindings::debugfs_create_dir(c"foxramdisk".as_char_ptr(), core::ptr::null_mut())
            };
            if kernel::error::from_err_ptr(dir).is_err() {
                pr_info!("no debugfs directory: no fault injection controls\n");
            } else {
                // SAFETY: `dir` is a live directory of debugfs, and the point a static of
                // `helpers.c`; the controls go with `dir` (`debugfs_remove()` on drop).
                let attr = unsafe { ffi::foxramdisk_helper_fail_alloc_debugfs(dir) };
                if kernel::error::from_err_ptr(attr).is_err() {
                    pr_info!("no fault injection controls in debugfs\n");
                }
            }
            // INVARIANT: `dir` is what `debugfs_create_dir()` returned, and nobody else owns it.
            Self { dir }
        }
    }

    impl Drop for Debugfs {
        fn drop(&mut self) {
            // SAFETY: `dir` is owned by this value (type invariant), removed once, here; the
            // function accepts an error pointer and does nothing with it. It waits for the
            // callbacks of the files under it that are running.
            unsafe { bindings::debugfs_remove(self.dir) };
        }
    }
}
