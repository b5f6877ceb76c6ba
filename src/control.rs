// SPDX-License-Identifier: GPL-2.0

//! The device registry and `/sys/class/foxramdisk-control/`.
//!
//! `cat /sys/class/foxramdisk-control/hot_add` creates a device with the current
//! `default_capacity` and `default_compression` and prints its number `N`
//! (`/dev/foxramdiskN`). Numbers are the smallest free ones; there is no fixed limit.

use crate::{
    device::Device,
    ext::sysfs::{
        AttributeGroup, AttributeGroups, AttributeList, Class, ClassAttribute,
        ClassAttributeOperations,
    },
    params,
};
use core::fmt::Write;
use kernel::{prelude::*, str::Formatter, sync::GlobalGuard};

kernel::sync::global_lock! {
    // SAFETY: initialised by `init()` in module init, before any use.
    unsafe(uninit) static DEVICES: Mutex<KVec<Device>> = KVec::new();
}

/// Initialises the registry. Must run once, at module init, before anything else here.
///
/// # Safety
///
/// Must be called exactly once, before any other function of this module.
pub(crate) unsafe fn init() {
    // SAFETY: called once, before first use, per the safety requirements.
    unsafe { DEVICES.init() };
}

/// Creates a device with the current defaults and returns its number. May sleep.
pub(crate) fn add() -> Result<u32> {
    let mut devices = DEVICES.lock();
    let id = free_id(&devices)?;
    let capacity = params::default_capacity();
    let algorithm = params::default_compression();
    devices.reserve(1, GFP_KERNEL)?;
    let device = Device::new(id, capacity, algorithm)
        .inspect_err(|e| pr_err!("cannot create foxramdisk{id}: {e:?}\n"))?;
    // Cannot fail: room was reserved above.
    devices.push(device, GFP_KERNEL)?;
    Ok(id)
}

/// The smallest device number not in use.
fn free_id(devices: &GlobalGuard<DEVICES>) -> Result<u32> {
    (0..=u32::MAX)
        .find(|id| !devices.iter().any(|d| d.id() == *id))
        .ok_or(ENOSPC)
}

/// Removes every device (module exit, or a failed init).
pub(crate) fn remove_all() {
    let devices = core::mem::take(&mut *DEVICES.lock());
    for device in devices.iter() {
        pr_info!(
            "foxramdisk{}: removed ({} bytes of data)\n",
            device.id(),
            device.data().store.stored_bytes()
        );
    }
}

/// Attribute ids of the control class.
const HOT_ADD: u32 = 0;

/// The control class's attributes.
struct Control;

impl ClassAttributeOperations for Control {
    fn show(id: u32, out: &mut Formatter<'_>) -> Result {
        match id {
            HOT_ADD => Ok(writeln!(out, "{}", add()?)?),
            _ => Err(EINVAL),
        }
    }

    fn store(_id: u32, _input: &[u8]) -> Result {
        Err(EINVAL)
    }
}

// `hot_add` is 0400: reading it creates a device, so only root may.
static ATTRS: [ClassAttribute; 1] = [ClassAttribute::new::<Control>(c"hot_add", 0o400, HOT_ADD)];
static LIST: AttributeList<2> = AttributeList::of_class(&ATTRS);
static GROUP: AttributeGroup = AttributeGroup::new(None, &LIST);
static GROUPS: AttributeGroups<2> = AttributeGroups::new([&GROUP]);

/// `/sys/class/foxramdisk-control`.
pub(crate) static CLASS: Class = Class::new(c"foxramdisk-control", &GROUPS);
