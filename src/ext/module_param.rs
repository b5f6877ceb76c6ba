// SPDX-License-Identifier: GPL-2.0

//! Module parameters with their own parsing, shown in `/sys/module/NAME/parameters/`.
//!
//! C header: [`include/linux/moduleparam.h`](srctree/include/linux/moduleparam.h)
//!
//! The `module!` macro of Linux 7.3 only has integer parameters, hidden from sysfs. This is
//! the Rust form of `module_param_cb()`: a parameter is a [`ParamOperations`] type, and
//! [`module_param!`](crate::module_param) places its `struct kernel_param` in the `__param`
//! section and its description and type in `.modinfo`, as `module_param_cb()` and
//! `MODULE_PARM_DESC()` do. The kernel calls `set` for values given at load time and for
//! writes to the sysfs file (under the kernel parameter lock), and `get` for reads.

use kernel::{
    bindings,
    ffi::c_char,
    prelude::*,
    str::{as_char_ptr_in_const_context, Formatter}, //
};

/// How a parameter parses and prints its value.
pub(crate) trait ParamOperations {
    /// Parses and stores `input` (as given on the command line or written to sysfs, which
    /// may end with a newline). An error rejects the value and keeps the old one.
    fn set(input: &[u8]) -> Result;

    /// Formats the current value.
    fn get(out: &mut Formatter<'_>) -> Result;
}

/// The C operations of parameter `T`.
struct OperationsTable<T: ParamOperations>(core::marker::PhantomData<T>);

impl<T: ParamOperations> OperationsTable<T> {
    /// `set()`.
    ///
    /// # Safety
    ///
    /// Called by the kernel's parameter code: `val` is null or a NUL-terminated string.
    unsafe extern "C" fn set(val: *const c_char, _kp: *const bindings::kernel_param) -> i32 {
        if val.is_null() {
            return EINVAL.to_errno();
        }
        // SAFETY: `val` is a NUL-terminated string, by the safety requirements.
        let input = unsafe { CStr::from_char_ptr(val) }.to_bytes();
        match T::set(input) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// `get()`.
    ///
    /// # Safety
    ///
    /// Called by the kernel's parameter code with a `PAGE_SIZE` buffer.
    unsafe extern "C" fn get(buffer: *mut c_char, _kp: *const bindings::kernel_param) -> i32 {
        // SAFETY: `buffer` is a writable page, by the safety requirements.
        let page =
            unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), bindings::PAGE_SIZE) };
        let mut f = Formatter::new(page);
        match T::get(&mut f) {
            Ok(()) => f.bytes_written() as i32,
            Err(e) => e.to_errno(),
        }
    }

    /// The table.
    const OPS: bindings::kernel_param_ops = bindings::kernel_param_ops {
        flags: 0,
        set: Some(Self::set),
        get: Some(Self::get),
        free: None,
    };
}

/// A `struct kernel_param`, for the `__param` section.
#[repr(transparent)]
pub(crate) struct KernelParam(bindings::kernel_param);

// SAFETY: the parameter is never changed after it is built; the kernel only reads it.
unsafe impl Sync for KernelParam {}

impl KernelParam {
    /// Parameter `name` of `module`, with permissions `perm`, handled by `T`.
    pub(crate) const fn new<T: ParamOperations>(
        name: &'static CStr,
        module: &'static ThisModule,
        perm: u16,
    ) -> Self {
        Self(bindings::kernel_param {
            name: as_char_ptr_in_const_context(name),
            mod_: module.as_ptr(),
            ops: &OperationsTable::<T>::OPS,
            perm,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: core::ptr::null_mut(),
            },
        })
    }
}

/// Copies `s` into an array of its exact length, for `.modinfo` strings.
pub(crate) const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() == N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares a module parameter handled by a [`ParamOperations`] type.
///
/// ```ignore
/// module_param!(default_capacity: Capacity, module: FoxRamDisk, perm: 0o644,
///               type: "ulong", description: "Capacity of new devices");
/// ```
#[macro_export]
macro_rules! module_param {
    ($name:ident: $ops:ty, module: $module:ty, perm: $perm:expr, type: $ty:literal,
     description: $desc:literal $(,)?) => {
        // The sections are what `module_param()` emits in C, which the module loader and
        // modinfo read: `link_section` is `unsafe_code` to rustc, and this macro is its
        // one user, so it allows it where it expands (in modules that deny it).
        #[allow(unsafe_code)]
        const _: () = {
            #[link_section = "__param"]
            #[used]
            static PARAM: $crate::ext::module_param::KernelParam =
                $crate::ext::module_param::KernelParam::new::<$ops>(
                    ::kernel::c_str!(::core::stringify!($name)),
                    ::kernel::module::this_module::<$module>(),
                    $perm,
                );

            const PARMTYPE: &str =
                ::core::concat!("parmtype=", ::core::stringify!($name), ":", $ty, "\0");
            #[link_section = ".modinfo"]
            #[used]
            static PARMTYPE_INFO: [u8; PARMTYPE.len()] =
                $crate::ext::module_param::modinfo(PARMTYPE);

            const PARM: &str =
                ::core::concat!("parm=", ::core::stringify!($name), ":", $desc, "\0");
            #[link_section = ".modinfo"]
            #[used]
            static PARM_INFO: [u8; PARM.len()] = $crate::ext::module_param::modinfo(PARM);
        };
    };
}
