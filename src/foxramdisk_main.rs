// SPDX-License-Identifier: GPL-2.0

//! foxramdisk: RAM-backed block devices `/dev/foxramdiskN` that store blocks compressed.
//!
//! Blocks of 4096 bytes are compressed with a kernel crypto acomp algorithm or the zstd or
//! LZ4 library, and kept in a zsmalloc pool; blocks that were never written, were written
//! with zeros or were discarded cost no memory. See `Documentation/admin-guide.rst` and
//! `Documentation/design.rst`; the README's layout section says what each file is for.
//!
//! `ext` holds the abstractions the `kernel` crate lacks and all the `unsafe` code they
//! need; every driver module denies `unsafe_code`.

use kernel::prelude::*;

// Every module but `ext` denies `unsafe_code`. The crate root cannot: `module!` expands
// to the module's `unsafe` glue here.
#[deny(unsafe_code)]
mod algorithm;
#[deny(unsafe_code)]
mod attributes;
#[deny(unsafe_code)]
mod codec;
#[deny(unsafe_code)]
mod compressor;
#[deny(unsafe_code)]
mod control;
#[deny(unsafe_code)]
mod device;
#[deny(unsafe_code)]
mod disk_data;
mod ext;
#[deny(unsafe_code)]
mod geometry;
#[deny(unsafe_code)]
mod io;
#[deny(unsafe_code)]
mod params;
#[deny(unsafe_code)]
mod parse;
#[deny(unsafe_code)]
mod stats;
#[deny(unsafe_code)]
mod store;

#[cfg(CONFIG_FAULT_INJECTION)]
use ext::fault_inject::Debugfs;
use ext::sysfs::ClassRegistration;

module! {
    type: FoxRamDisk,
    name: "foxramdisk",
    authors: ["foxramdisk developers"],
    description: "RAM-backed block devices with compressed storage",
    license: "GPL",
}

/// The module.
struct FoxRamDisk {
    /// `/sys/class/foxramdisk-control`; unregistered before the devices are removed.
    control: Option<ClassRegistration>,
    /// `/sys/kernel/debug/foxramdisk/`, the fault injection controls; removed after the
    /// devices (fields drop after [`Drop::drop`]).
    #[cfg(CONFIG_FAULT_INJECTION)]
    _debugfs: Debugfs,
}

impl kernel::Module for FoxRamDisk {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        control::init()?;

        let count = params::initial_devices_count();
        for _ in 0..count {
            // On error, the devices made so far are removed and the load fails.
            if let Err(e) = control::add() {
                control::remove_all();
                return Err(e);
            }
        }
        let control = control::CLASS.register().inspect_err(|e| {
            pr_err!("cannot register /sys/class/foxramdisk-control: {e:?}\n");
            control::remove_all();
        })?;
        pr_info!(
            "loaded: {count} device(s) of {} blocks, {}\n",
            params::default_capacity(),
            params::default_compression()
        );
        Ok(Self {
            control: Some(control),
            #[cfg(CONFIG_FAULT_INJECTION)]
            _debugfs: Debugfs::new(),
        })
    }
}

impl Drop for FoxRamDisk {
    fn drop(&mut self) {
        // No `hot_add` may race with the removal of the devices.
        drop(self.control.take());
        control::remove_all();
    }
}
