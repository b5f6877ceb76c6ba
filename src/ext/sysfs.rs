// SPDX-License-Identifier: GPL-2.0

//! Static sysfs attributes of device classes, and the parts every static attribute shares.
//!
//! C headers: [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h),
//! [`include/linux/device.h`](srctree/include/linux/device.h)
//!
//! Attributes are `static`s built by `const fn`s, as the C `__ATTR()` macros build them.
//! Each carries a numeric id; one pair of callbacks per implementation decodes it and
//! calls the implementation's operations with it ([`ClassAttributeOperations`] here, the
//! disk attributes' in [`super::block::mq::disk_attribute`]). Values are
//! formatted into the sysfs page with a [`Formatter`], input arrives as a byte slice, and
//! errors become the errno the writer or reader sees.

use core::{marker::PhantomData, mem::MaybeUninit, ptr};
use kernel::{
    bindings,
    ffi::c_char,
    prelude::*,
    str::{as_char_ptr_in_const_context, Formatter},
    types::ForeignOwnable, //
};

/// The borrowed form of a [`ForeignOwnable`].
pub(crate) type ForeignBorrowed<'a, T> = <T as ForeignOwnable>::Borrowed<'a>;

/// A zeroed C value, for `const` initialisers of plain-data structures.
///
/// # Safety
///
/// All-zero bytes must be a valid `T` (null pointers, `None` callbacks, zero integers).
const unsafe fn zeroed<T>() -> T {
    // SAFETY: the caller guarantees that zero is a valid `T`.
    unsafe { MaybeUninit::zeroed().assume_init() }
}

/// Builds a C `struct attribute` for a static attribute named `name`.
pub(crate) const fn attribute(name: &'static CStr, mode: u16) -> bindings::attribute {
    // SAFETY: a zeroed `struct attribute` is valid: null name and key, zero mode.
    let mut attr: bindings::attribute = unsafe { zeroed() };
    attr.name = as_char_ptr_in_const_context(name);
    attr.mode = mode;
    attr
}

/// Runs `show` on the sysfs page `buf`; returns the length written or an errno.
///
/// # Safety
///
/// `buf` must be a sysfs page (`PAGE_SIZE` bytes, writable) for the duration of the call.
pub(crate) unsafe fn show_into(
    buf: *mut c_char,
    show: impl FnOnce(&mut Formatter<'_>) -> Result,
) -> isize {
    // SAFETY: sysfs passes a writable page, by the safety requirements.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), bindings::PAGE_SIZE) };
    let mut f = Formatter::new(page);
    match show(&mut f) {
        Ok(()) => f.bytes_written() as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Runs `store` on the `count` bytes at `buf`; returns `count` or an errno.
///
/// # Safety
///
/// `buf` must be valid for reading `count` bytes for the duration of the call.
pub(crate) unsafe fn store_from(
    buf: *const c_char,
    count: usize,
    store: impl FnOnce(&[u8]) -> Result,
) -> isize {
    // SAFETY: sysfs passes `count` readable bytes, by the safety requirements.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    match store(input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// The attributes of a device class (`/sys/class/NAME/`), which have no per-device data.
pub(crate) trait ClassAttributeOperations {
    /// Formats attribute `id` into `out`.
    fn show(id: u32, out: &mut Formatter<'_>) -> Result;

    /// Parses `input` (newline included) into attribute `id`.
    fn store(id: u32, input: &[u8]) -> Result;
}

/// A sysfs attribute of a class (a `struct class_attribute` with an id).
#[repr(C)]
pub(crate) struct ClassAttribute {
    attr: bindings::class_attribute,
    id: u32,
}

// SAFETY: a static attribute is never changed after it is built; sysfs only reads it.
unsafe impl Sync for ClassAttribute {}

impl ClassAttribute {
    /// An attribute `name` with permissions `mode`, served by `T` as attribute `id`.
    pub(crate) const fn new<T: ClassAttributeOperations>(
        name: &'static CStr,
        mode: u16,
        id: u32,
    ) -> Self {
        Self {
            attr: bindings::class_attribute {
                attr: attribute(name, mode),
                show: if mode & 0o444 != 0 {
                    Some(Self::show_callback::<T>)
                } else {
                    None
                },
                store: if mode & 0o222 != 0 {
                    Some(Self::store_callback::<T>)
                } else {
                    None
                },
            },
            id,
        }
    }

    /// `show()` of every attribute of `T`.
    ///
    /// # Safety
    ///
    /// Called by sysfs for a [`ClassAttribute`], with a page in `buf`.
    unsafe extern "C" fn show_callback<T: ClassAttributeOperations>(
        _class: *const bindings::class,
        attr: *const bindings::class_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: `attr` is the first field of a `#[repr(C)]` `ClassAttribute`.
        let id = unsafe { (*attr.cast::<ClassAttribute>()).id };
        // SAFETY: `buf` is the sysfs page.
        unsafe { show_into(buf, |f| T::show(id, f)) }
    }

    /// `store()` of every writable attribute of `T`.
    ///
    /// # Safety
    ///
    /// Called by sysfs for a [`ClassAttribute`], with `count` bytes in `buf`.
    unsafe extern "C" fn store_callback<T: ClassAttributeOperations>(
        _class: *const bindings::class,
        attr: *const bindings::class_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: `attr` is the first field of a `#[repr(C)]` `ClassAttribute`.
        let id = unsafe { (*attr.cast::<ClassAttribute>()).id };
        // SAFETY: `buf` holds `count` bytes.
        unsafe { store_from(buf, count, |input| T::store(id, input)) }
    }
}

/// A null-terminated array of attribute pointers (`struct attribute *attrs[]`), `N - 1`
/// attributes long.
#[repr(transparent)]
pub(crate) struct AttributeList<const N: usize>([*const bindings::attribute; N]);

// SAFETY: the pointers are to `static` attributes and are never changed.
unsafe impl<const N: usize> Sync for AttributeList<N> {}

impl<const N: usize> AttributeList<N> {
    /// The list of `attrs`; `N` must be `M + 1`.
    pub(crate) const fn of<const M: usize>(attrs: [&'static bindings::attribute; M]) -> Self {
        assert!(N == M + 1);
        let mut list = [ptr::null(); N];
        let mut i = 0;
        while i < M {
            list[i] = attrs[i];
            i += 1;
        }
        Self(list)
    }

    /// The list of `attrs`; `N` must be `M + 1`, and `M` at least 1.
    pub(crate) const fn of_class<const M: usize>(attrs: &'static [ClassAttribute; M]) -> Self {
        let mut refs = [&attrs[0].attr.attr; M];
        let mut i = 1;
        while i < M {
            refs[i] = &attrs[i].attr.attr;
            i += 1;
        }
        Self::of(refs)
    }
}

/// A named group of attributes: a directory of them (`struct attribute_group`).
#[repr(transparent)]
pub(crate) struct AttributeGroup(bindings::attribute_group);

// SAFETY: a static group is never changed after it is built; sysfs only reads it.
unsafe impl Sync for AttributeGroup {}

impl AttributeGroup {
    /// A group of `attrs`, in directory `name` (or directly in the device's directory).
    pub(crate) const fn new<const N: usize>(
        name: Option<&'static CStr>,
        attrs: &'static AttributeList<N>,
    ) -> Self {
        // SAFETY: a zeroed group is valid: no name, callbacks or attributes.
        let mut group: bindings::attribute_group = unsafe { zeroed() };
        if let Some(name) = name {
            group.name = as_char_ptr_in_const_context(name);
        }
        group.__bindgen_anon_2.attrs_const = attrs.0.as_ptr();
        Self(group)
    }
}

/// A null-terminated array of groups (`const struct attribute_group *groups[]`).
#[repr(transparent)]
pub(crate) struct AttributeGroups<const N: usize>([*const bindings::attribute_group; N]);

// SAFETY: the pointers are to `static` groups and are never changed.
unsafe impl<const N: usize> Sync for AttributeGroups<N> {}

impl<const N: usize> AttributeGroups<N> {
    /// The list of `groups`; `N` must be `M + 1`.
    pub(crate) const fn new<const M: usize>(groups: [&'static AttributeGroup; M]) -> Self {
        assert!(N == M + 1);
        let mut list = [ptr::null(); N];
        let mut i = 0;
        while i < M {
            list[i] = &groups[i].0;
            i += 1;
        }
        Self(list)
    }

    /// The C array.
    pub(crate) fn as_ptr(&'static self) -> *const *const bindings::attribute_group {
        self.0.as_ptr()
    }
}

/// A device class with static attribute groups (`struct class`).
#[repr(transparent)]
pub(crate) struct Class(bindings::class);

// SAFETY: a static class is never changed after it is built; the driver core only reads it.
unsafe impl Sync for Class {}

impl Class {
    /// A class `name` whose directory holds `groups`.
    pub(crate) const fn new<const N: usize>(
        name: &'static CStr,
        groups: &'static AttributeGroups<N>,
    ) -> Self {
        // SAFETY: a zeroed class is valid: no callbacks, groups or namespace.
        let mut class: bindings::class = unsafe { zeroed() };
        class.name = as_char_ptr_in_const_context(name);
        class.class_groups = groups.0.as_ptr();
        Self(class)
    }

    /// Registers the class; it is unregistered when the returned value is dropped.
    pub(crate) fn register(&'static self) -> Result<ClassRegistration> {
        // SAFETY: `self.0` is a valid class that lives forever.
        kernel::error::to_result(unsafe { bindings::class_register(&self.0) })?;
        // INVARIANT: registered just above.
        Ok(ClassRegistration {
            class: self,
            _p: PhantomData,
        })
    }
}

/// A registered [`Class`].
///
/// # Invariants
///
/// `class` is registered, until drop.
pub(crate) struct ClassRegistration {
    class: &'static Class,
    _p: PhantomData<*mut ()>,
}

// SAFETY: a class may be unregistered from any thread.
unsafe impl Send for ClassRegistration {}
// SAFETY: `&ClassRegistration` gives no access to anything.
unsafe impl Sync for ClassRegistration {}

impl Drop for ClassRegistration {
    fn drop(&mut self) {
        // SAFETY: registered, by the type invariant; waits for callbacks to finish.
        unsafe { bindings::class_unregister(&self.class.0) };
    }
}
