// SPDX-License-Identifier: GPL-2.0

//! The device registry and `/sys/class/foxramdisk-control/`.
//!
//! `cat /sys/class/foxramdisk-control/hot_add` creates a device with the current
//! `default_capacity` and `default_compression` and prints its number `N`
//! (`/dev/foxramdiskN`). Numbers are the smallest free ones; there is no fixed limit.
//! `echo N > /sys/class/foxramdisk-control/hot_remove` removes device `N` and frees its
//! memory: `EBUSY` while it is open, `ENODEV` if there is no such device.
//!
//! The registry's mutex is held while a device is created or removed, so a number is free
//! again only once its disk is gone. A device's own sysfs callbacks never take it: removing
//! a disk waits for them.

use crate::{
    device::Device,
    ext::{
        sync::GlobalMutex,
        sysfs::{
            AttributeGroup, AttributeGroups, AttributeList, Class, ClassAttribute,
            ClassAttributeOperations,
        },
    },
    params,
    parse::{parse_u64, shown},
};
use core::fmt::Write;
use kernel::{prelude::*, str::Formatter};

/// The devices, in the order they were added.
static DEVICES: GlobalMutex<KVec<Device>> = GlobalMutex::new(KVec::new());

/// Initialises the registry, at module init: until then, adding or removing a device
/// fails with `EINVAL`. `EALREADY` if it was initialised.
pub(crate) fn init() -> Result {
    DEVICES.init(c"foxramdisk_devices", kernel::static_lock_class!())
}

/// Creates a device with the current defaults and returns its number. May sleep.
pub(crate) fn add() -> Result<u32> {
    let mut devices = DEVICES.lock()?;
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
fn free_id(devices: &[Device]) -> Result<u32> {
    (0..=u32::MAX)
        .find(|id| !devices.iter().any(|d| d.id() == *id))
        .ok_or(ENOSPC)
}

/// Removes device `id`: `ENODEV` if there is none, `EBUSY` if it is open (mounted, swap,
/// or held by a program) or being reset. May sleep.
pub(crate) fn remove(id: u32) -> Result {
    let mut devices = DEVICES.lock()?;
    let index = devices
        .iter()
        .position(|d| d.id() == id)
        .ok_or(ENODEV)
        .inspect_err(|_| pr_err!("hot_remove: no device foxramdisk{id}\n"))?;
    let device = devices.get(index).ok_or(ENODEV)?;
    device
        .claim_for_removal()
        .inspect_err(|_| pr_warn!("hot_remove: foxramdisk{id} is in use\n"))?;
    let bytes = device.data().store.stored_bytes();
    // Dropped with the registry locked: the number is reused only after the disk is gone.
    drop(devices.remove(index).map_err(|_| ENODEV)?);
    pr_info!("foxramdisk{id}: removed ({bytes} bytes of data freed)\n");
    Ok(())
}

/// Removes every device (module exit, or a failed init).
pub(crate) fn remove_all() {
    // Before `init`, or after a failed one, there is nothing to remove.
    let Ok(mut registry) = DEVICES.lock() else {
        return;
    };
    let devices = core::mem::take(&mut *registry);
    drop(registry);
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
const HOT_REMOVE: u32 = 1;

/// The control class's attributes.
struct Control;

impl ClassAttributeOperations for Control {
    fn show(id: u32, out: &mut Formatter<'_>) -> Result {
        match id {
            HOT_ADD => Ok(writeln!(out, "{}", add()?)?),
            _ => Err(EINVAL),
        }
    }

    fn store(id: u32, input: &[u8]) -> Result {
        match id {
            HOT_REMOVE => {
                let id = parse_u64(input)
                    .ok()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        pr_err!("hot_remove: '{}' is not a device number\n", shown(input));
                        EINVAL
                    })?;
                remove(id)
            }
            _ => Err(EINVAL),
        }
    }
}

// `hot_add` is 0400: reading it creates a device, so only root may.
static ATTRS: [ClassAttribute; 2] = [
    ClassAttribute::new::<Control>(c"hot_add", 0o400, HOT_ADD),
    ClassAttribute::new::<Control>(c"hot_remove", 0o200, HOT_REMOVE),
];
static LIST: AttributeList<3> = AttributeList::of_class(&ATTRS);
static GROUP: AttributeGroup = AttributeGroup::new(None, &LIST);
static GROUPS: AttributeGroups<2> = AttributeGroups::new([&GROUP]);

/// `/sys/class/foxramdisk-control`.
pub(crate) static CLASS: Class = Class::new(c"foxramdisk-control", &GROUPS);
