// SPDX-License-Identifier: GPL-2.0

//! Static sysfs attributes of the disks of a blk-mq driver.
//!
//! C header: [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)
//!
//! A disk's attributes are `struct device_attribute`s of its device, built as `static`s by
//! a `const fn` as [`crate::ext::sysfs`] builds those of classes; their callbacks
//! get the disk's queue data, and `store` the disk itself.

use super::{gen_disk::DiskRef, Operations};
use crate::ext::{
    ffi,
    sysfs::{attribute, show_into, store_from, AttributeList, ForeignBorrowed},
};
use kernel::{
    bindings,
    ffi::c_char,
    prelude::*,
    str::Formatter,
    types::ForeignOwnable, //
};

/// The attributes of the disks of a blk-mq driver: callbacks get the disk's queue data, and
/// `store` the disk itself.
pub(crate) trait DiskAttributeOperations: Operations {
    /// Formats attribute `id` into `out`.
    fn show(data: ForeignBorrowed<'_, Self::QueueData>, id: u32, out: &mut Formatter<'_>)
        -> Result;

    /// Parses `input` (what the user wrote, newline included) into attribute `id` of `disk`.
    fn store(
        disk: DiskRef<'_>,
        data: ForeignBorrowed<'_, Self::QueueData>,
        id: u32,
        input: &[u8],
    ) -> Result;
}

/// A sysfs attribute of a disk (a `struct device_attribute` with an id).
#[repr(C)]
pub(crate) struct DiskAttribute {
    attr: bindings::device_attribute,
    id: u32,
}

// SAFETY: a static attribute is never changed after it is built; sysfs only reads it.
unsafe impl Sync for DiskAttribute {}

impl DiskAttribute {
    /// An attribute `name` with permissions `mode`, served by `T` as attribute `id`. It can
    /// be written if `mode` has a write bit.
    pub(crate) const fn new<T: DiskAttributeOperations>(
        name: &'static CStr,
        mode: u16,
        id: u32,
    ) -> Self {
        Self {
            attr: bindings::device_attribute {
                attr: attribute(name, mode),
                __bindgen_anon_1: bindings::device_attribute__bindgen_ty_1 {
                    show: Some(Self::show_callback::<T>),
                },
                __bindgen_anon_2: bindings::device_attribute__bindgen_ty_2 {
                    store: if mode & 0o222 != 0 {
                        Some(Self::store_callback::<T>)
                    } else {
                        None
                    },
                },
            },
            id,
        }
    }

    /// The sysfs list of `attrs`; `N` must be `M + 1`, and `M` at least 1.
    pub(crate) const fn list<const N: usize, const M: usize>(
        attrs: &'static [DiskAttribute; M],
    ) -> AttributeList<N> {
        let mut refs = [&attrs[0].attr.attr; M];
        let mut i = 1;
        while i < M {
            refs[i] = &attrs[i].attr.attr;
            i += 1;
        }
        AttributeList::of(refs)
    }

    /// The disk, its queue data and the attribute id.
    ///
    /// # Safety
    ///
    /// `dev` must be the device of a live disk of driver `T` and `attr` a [`DiskAttribute`],
    /// for the duration of the callback (`'a`).
    unsafe fn decode<'a, T: DiskAttributeOperations>(
        dev: *mut bindings::device,
        attr: *const bindings::device_attribute,
    ) -> (DiskRef<'a>, ForeignBorrowed<'a, T::QueueData>, u32) {
        // SAFETY: `attr` is the first field of a `#[repr(C)]` `DiskAttribute`.
        let id = unsafe { (*attr.cast::<DiskAttribute>()).id };
        // SAFETY: `dev` is the device embedded in a live disk.
        let disk = unsafe { ffi::foxramdisk_helper_dev_to_disk(dev) };
        // SAFETY: the disk's attributes exist only between `device_add_disk()` and
        // `del_gendisk()`, which waits for callbacks to finish; meanwhile `queuedata` holds
        // the `T::QueueData` that `GenDiskBuilder::build` turned foreign.
        let data = unsafe { T::QueueData::borrow((*(*disk).queue).queuedata) };
        // SAFETY: as above, the disk is not deleted before the callback returns.
        (unsafe { DiskRef::from_raw(disk) }, data, id)
    }

    /// `show()` of every attribute of driver `T`.
    ///
    /// # Safety
    ///
    /// Called by sysfs for a [`DiskAttribute`] of a live disk of `T`, with a page in `buf`.
    unsafe extern "C" fn show_callback<T: DiskAttributeOperations>(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: guaranteed by sysfs, per the safety requirements.
        let (_, data, id) = unsafe { Self::decode::<T>(dev, attr) };
        // SAFETY: `buf` is the sysfs page.
        unsafe { show_into(buf, |f| T::show(data, id, f)) }
    }

    /// `store()` of every writable attribute of driver `T`.
    ///
    /// # Safety
    ///
    /// Called by sysfs for a [`DiskAttribute`] of a live disk of `T`, with `count` bytes in
    /// `buf`.
    unsafe extern "C" fn store_callback<T: DiskAttributeOperations>(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: guaranteed by sysfs, per the safety requirements.
        let (disk, data, id) = unsafe { Self::decode::<T>(dev, attr) };
        // SAFETY: `buf` holds `count` bytes.
        unsafe { store_from(buf, count, |input| T::store(disk, data, id, input)) }
    }
}
