// SPDX-License-Identifier: GPL-2.0

//! Generic disks (`struct gendisk`) served by a blk-mq [`TagSet`].
//!
//! C header: [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)

use super::{operations::OperationsVTable, Operations, TagSet};
use crate::ext::{ffi, mm::NoIoScope};
use core::{fmt::Write, marker::PhantomData, ops::BitOr};
use kernel::{
    bindings,
    error::{self, from_err_ptr},
    fmt,
    prelude::*,
    str::NullTerminatedFormatter,
    sync::Arc,
    types::{ForeignOwnable, ScopeGuard}, //
};

/// Queue features (`BLK_FEAT_*`, values pinned by `static_assert` in `src/helpers.c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Features(u32);

impl Features {
    /// No features.
    pub(crate) const NONE: Self = Self(0);
    /// `BLK_FEAT_STABLE_WRITES`: pages are not changed while they are being written.
    pub(crate) const STABLE_WRITES: Self = Self(1 << 5);
    /// `BLK_FEAT_SYNCHRONOUS`: I/O completes in the submitter's context (swap fast path).
    pub(crate) const SYNCHRONOUS: Self = Self(1 << 6);
}

impl BitOr for Features {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// Builds a [`GenDisk`]: block sizes, capacity, queue limits and features.
pub(crate) struct GenDiskBuilder {
    logical_block_size: u32,
    physical_block_size: u32,
    capacity_sectors: u64,
    max_hw_discard_sectors: u32,
    discard_granularity: u32,
    max_write_zeroes_sectors: u32,
    max_hw_sectors: u32,
    max_segments: u16,
    features: Features,
    groups: *const *const bindings::attribute_group,
}

impl Default for GenDiskBuilder {
    fn default() -> Self {
        Self {
            logical_block_size: bindings::PAGE_SIZE as u32,
            physical_block_size: bindings::PAGE_SIZE as u32,
            capacity_sectors: 0,
            max_hw_discard_sectors: 0,
            discard_granularity: 0,
            max_write_zeroes_sectors: 0,
            max_hw_sectors: 0,
            max_segments: 0,
            features: Features::NONE,
            groups: core::ptr::null(),
        }
    }
}

impl GenDiskBuilder {
    /// Creates a builder: page-sized blocks, no capacity, no discard, no features.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Checks that `size` is a power of two between 512 and `PAGE_SIZE`.
    fn validate_block_size(size: u32) -> Result {
        if !(512..=bindings::PAGE_SIZE as u32).contains(&size) || !size.is_power_of_two() {
            Err(EINVAL)
        } else {
            Ok(())
        }
    }

    /// Sets the logical block size: the smallest unit the device can address.
    pub(crate) fn logical_block_size(mut self, block_size: u32) -> Result<Self> {
        Self::validate_block_size(block_size)?;
        self.logical_block_size = block_size;
        Ok(self)
    }

    /// Sets the physical block size: the smallest unit the device writes without a
    /// read-modify-write cycle.
    pub(crate) fn physical_block_size(mut self, block_size: u32) -> Result<Self> {
        Self::validate_block_size(block_size)?;
        self.physical_block_size = block_size;
        Ok(self)
    }

    /// Sets the capacity, in 512-byte sectors.
    pub(crate) fn capacity_sectors(mut self, capacity: u64) -> Self {
        self.capacity_sectors = capacity;
        self
    }

    /// Advertises discard of up to `max_sectors` per request, in units of `granularity`
    /// bytes (`max_hw_discard_sectors`, `discard_granularity`).
    pub(crate) fn discard(mut self, max_sectors: u32, granularity: u32) -> Self {
        self.max_hw_discard_sectors = max_sectors;
        self.discard_granularity = granularity;
        self
    }

    /// Advertises write-zeroes of up to `max_sectors` per request.
    pub(crate) fn max_write_zeroes_sectors(mut self, max_sectors: u32) -> Self {
        self.max_write_zeroes_sectors = max_sectors;
        self
    }

    /// Sets how much data one request may carry: up to `max_hw_sectors` 512-byte sectors in
    /// up to `max_segments` segments. Unset, the block layer's defaults apply (255 sectors,
    /// 128 segments) and split larger I/O into several requests. `EINVAL` if
    /// `max_hw_sectors` is less than a page.
    pub(crate) fn max_request(mut self, max_hw_sectors: u32, max_segments: u16) -> Result<Self> {
        if max_hw_sectors < (bindings::PAGE_SIZE >> bindings::SECTOR_SHIFT) as u32 {
            return Err(EINVAL);
        }
        self.max_hw_sectors = max_hw_sectors;
        self.max_segments = max_segments;
        Ok(self)
    }

    /// Sets the queue features.
    pub(crate) fn features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// Sets the sysfs attribute groups of the disk's device (`/sys/block/NAME/`).
    pub(crate) fn attribute_groups<const N: usize>(
        mut self,
        groups: &'static crate::ext::sysfs::AttributeGroups<N>,
    ) -> Self {
        self.groups = groups.as_ptr();
        self
    }

    /// Creates the disk, named `name`, and adds it to the system.
    pub(crate) fn build<T: Operations>(
        self,
        name: fmt::Arguments<'_>,
        tagset: Arc<TagSet<T>>,
        queue_data: T::QueueData,
    ) -> Result<GenDisk<T>> {
        let data = queue_data.into_foreign();
        let recover_data = ScopeGuard::new(|| {
            // SAFETY: `data` came from `into_foreign` above and was not handed to C.
            drop(unsafe { T::QueueData::from_foreign(data) });
        });

        // The queue limits, in one place.
        let mut lim: bindings::queue_limits = pin_init::zeroed();
        lim.logical_block_size = self.logical_block_size;
        lim.physical_block_size = self.physical_block_size;
        lim.max_hw_discard_sectors = self.max_hw_discard_sectors;
        // Discards are whole ranges: one segment per request.
        lim.max_discard_segments = 1;
        lim.discard_granularity = self.discard_granularity;
        lim.max_write_zeroes_sectors = self.max_write_zeroes_sectors;
        lim.max_hw_sectors = self.max_hw_sectors;
        lim.max_segments = self.max_segments;
        lim.features = self.features.0;

        // SAFETY: the tag set is initialized; `lim` and `data` are valid, and the lock class
        // is static.
        let gendisk = from_err_ptr(unsafe {
            bindings::__blk_mq_alloc_disk(
                tagset.raw_tag_set(),
                &mut lim,
                data,
                kernel::static_lock_class!().as_ptr(),
            )
        })?;

        let cleanup_failure = ScopeGuard::new_with_data((gendisk, data), |(gendisk, data)| {
            // SAFETY: `gendisk` was allocated above and not added to the system.
            unsafe { bindings::put_disk(gendisk) };
            // SAFETY: the disk, which borrowed `data`, is gone.
            drop(unsafe { T::QueueData::from_foreign(data) });
        });
        recover_data.dismiss();

        // SAFETY: `gendisk` is valid; the operations table is static and names the module
        // that owns the disk.
        unsafe { (*gendisk).fops = OperationsVTable::<T>::fops() };

        // SAFETY: `gendisk` is valid and not shared yet.
        let disk_name = unsafe { &mut (*gendisk).disk_name };
        let mut writer = NullTerminatedFormatter::new(disk_name).ok_or(EINVAL)?;
        writer.write_fmt(name)?;

        // Name the disk's device now, as `device_add_disk()` would: it ignores the error of
        // its own `dev_set_name()`, so a failed allocation of the name would come back as
        // `EINVAL` from `device_add()` (a device with no name). Named here, a failure is
        // `ENOMEM`; and when that later call fails, the device keeps this name.
        // SAFETY: `gendisk` is valid and not added yet; `part0` is its whole-disk block
        // device, whose `bd_device` is the disk's device (`disk_to_dev()`). The format
        // "%s" takes one argument, `disk_name`, NUL-terminated by the writer above.
        error::to_result(unsafe {
            bindings::dev_set_name(
                &raw mut (*(*gendisk).part0).bd_device,
                c"%s".as_char_ptr(),
                (*gendisk).disk_name.as_ptr(),
            )
        })?;

        // SAFETY: `gendisk` is valid.
        unsafe { bindings::set_capacity(gendisk, self.capacity_sectors) };

        // SAFETY: `gendisk` is fully set up and not yet added; `self.groups` is null or a
        // static, null-terminated array of groups.
        error::to_result(unsafe {
            bindings::device_add_disk(core::ptr::null_mut(), gendisk, self.groups.cast_mut())
        })?;

        cleanup_failure.dismiss();
        // INVARIANT: `gendisk` was added to the system by `device_add_disk()` above.
        Ok(GenDisk {
            _tagset: tagset,
            gendisk,
        })
    }
}

/// A disk added to the system; deleted and released on drop.
///
/// # Invariants
///
/// `gendisk` was created by [`GenDiskBuilder::build`], added with `device_add_disk()`, and
/// its `queuedata` holds a `T::QueueData` turned foreign.
pub(crate) struct GenDisk<T: Operations> {
    _tagset: Arc<TagSet<T>>,
    gendisk: *mut bindings::gendisk,
}

// SAFETY: the disk may be deleted from any thread; the queue data is `Sync` (so `Send`
// for the foreign form only borrowed by blk-mq) and the tag set is behind an `Arc`.
unsafe impl<T: Operations> Send for GenDisk<T> where T::QueueData: Send {}

// SAFETY: `&GenDisk` offers no access to the disk's mutable state.
unsafe impl<T: Operations> Sync for GenDisk<T> where T::QueueData: Sync {}

impl<T: Operations> GenDisk<T> {
    /// The disk, for the operations a driver may run on a live disk.
    pub(crate) fn disk(&self) -> DiskRef<'_> {
        // SAFETY: by the type invariant the disk is live until `self` is dropped.
        unsafe { DiskRef::from_raw(self.gendisk) }
    }
}

impl<T: Operations> Drop for GenDisk<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the disk and its queue are valid.
        let queue_data = unsafe { (*(*self.gendisk).queue).queuedata };

        // SAFETY: by the type invariant the disk was added; after this no new request
        // reaches the driver and the queue is drained.
        unsafe { bindings::del_gendisk(self.gendisk) };

        // SAFETY: the disk was allocated by `__blk_mq_alloc_disk()`; this drops our reference.
        unsafe { bindings::put_disk(self.gendisk) };

        // SAFETY: `queue_data` came from `into_foreign` in `build`; the disk, which
        // borrowed it, is deleted.
        drop(unsafe { T::QueueData::from_foreign(queue_data) });
    }
}

/// A live disk, borrowed for `'a`: what a driver may do with a disk it serves, from its
/// [`GenDisk`] or from a callback such as a sysfs attribute of the disk.
///
/// # Invariants
///
/// `gendisk` is a disk added to the system and not yet deleted, for at least `'a`.
#[derive(Clone, Copy)]
pub(crate) struct DiskRef<'a> {
    gendisk: *mut bindings::gendisk,
    _lifetime: PhantomData<&'a bindings::gendisk>,
}

impl<'a> DiskRef<'a> {
    /// Borrows the disk `gendisk`.
    ///
    /// # Safety
    ///
    /// `gendisk` must be a disk added to the system that is not deleted for `'a`.
    pub(crate) unsafe fn from_raw(gendisk: *mut bindings::gendisk) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            gendisk,
            _lifetime: PhantomData,
        }
    }

    /// The disk's device number (`disk_devt()`: its major and first minor).
    pub(crate) fn devt(&self) -> u32 {
        // SAFETY: the disk is live (type invariant); its numbers never change.
        let (major, minor) = unsafe { ((*self.gendisk).major, (*self.gendisk).first_minor) };
        ((major as u32) << 20) | minor as u32
    }

    /// Changes the capacity and tells user space (a `RESIZE=1` uevent) if it changed.
    /// May sleep.
    pub(crate) fn set_capacity_and_notify(&self, sectors: u64) {
        // SAFETY: the disk is live (type invariant).
        unsafe { bindings::set_capacity_and_notify(self.gendisk, sectors) };
    }

    /// Runs `f` with the disk's `open_mutex` held, passing the number of openers of the
    /// whole disk (`disk_openers()`, stable while the mutex is held). No open or close of
    /// the disk runs meanwhile. May sleep.
    pub(crate) fn with_open_mutex<R>(&self, f: impl FnOnce(u32) -> R) -> R {
        // SAFETY: the disk is live (type invariant), so is its `open_mutex`.
        let mutex = unsafe { &raw mut (*self.gendisk).open_mutex };
        // SAFETY: `mutex` is an initialised mutex; it is unlocked below, on this task.
        unsafe { bindings::mutex_lock(mutex) };
        // SAFETY: the disk is live; its openers are stable under `open_mutex`, held.
        let openers = unsafe { ffi::foxramdisk_helper_disk_openers(self.gendisk) };
        let _unlock = ScopeGuard::new(|| {
            // SAFETY: locked above by this task.
            unsafe { bindings::mutex_unlock(mutex) };
        });
        f(openers)
    }

    /// Freezes the request queue: waits until no request is in flight and keeps new ones
    /// from reaching the driver until the returned guard is dropped. Meanwhile the task
    /// allocates as with `GFP_NOIO`, since I/O to the disk would wait for the guard.
    /// May sleep.
    pub(crate) fn freeze(&self) -> QueueFreeze<'a> {
        let noio = NoIoScope::enter();
        // SAFETY: the disk is live (type invariant), and so is its queue.
        unsafe { bindings::blk_mq_freeze_queue_nomemsave((*self.gendisk).queue) };
        // INVARIANT: frozen above.
        QueueFreeze {
            disk: *self,
            _noio: noio,
        }
    }
}

/// Proof that a disk's request queue is frozen: no request is in flight in the driver.
/// Unfreezes on drop.
///
/// # Invariants
///
/// The queue of `disk` was frozen by [`DiskRef::freeze`] for this guard.
pub(crate) struct QueueFreeze<'a> {
    disk: DiskRef<'a>,
    /// Dropped after the queue is unfrozen, in `drop` below.
    _noio: NoIoScope,
}

impl Drop for QueueFreeze<'_> {
    fn drop(&mut self) {
        // SAFETY: the disk is live and its queue was frozen for this guard (invariants).
        unsafe { bindings::blk_mq_unfreeze_queue_nomemrestore((*self.disk.gendisk).queue) };
    }
}
