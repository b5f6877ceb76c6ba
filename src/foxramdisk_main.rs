// SPDX-License-Identifier: GPL-2.0

//! foxramdisk: RAM-backed block devices `/dev/foxramdiskN`.
//!
//! Blocks of 4096 bytes are kept in RAM; blocks that were never written, were written
//! with zeros or were discarded cost no memory. See `Documentation/foxramdisk.rst`.

use kernel::prelude::*;

mod device;
mod ext;
mod io;
mod store;

use device::Device;

module! {
    type: FoxRamDisk,
    name: "foxramdisk",
    authors: ["foxramdisk developers"],
    description: "RAM-backed block devices with compressed storage",
    license: "GPL",
    params: {
        initial_devices_count: u32 {
            default: 1,
            description: "Number of devices created at load (0..=1024)",
        },
        default_capacity: u64 {
            default: 4096,
            description: "Capacity of new devices, in 4096-byte blocks (1..=2^32)",
        },
    },
}

/// The most devices `initial_devices_count` may ask for.
const MAX_INITIAL_DEVICES: u32 = 1024;
/// The largest capacity, in blocks (16 TiB): the block table must stay allocatable.
const MAX_CAPACITY_BLOCKS: u64 = 1 << 32;

/// The module: owns every device.
struct FoxRamDisk {
    /// The devices, by creation order.
    devices: KVec<Device>,
}

impl kernel::Module for FoxRamDisk {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let count = module_parameters::initial_devices_count.value();
        let capacity = module_parameters::default_capacity.value();

        if count > MAX_INITIAL_DEVICES {
            pr_err!("initial_devices_count={count} is over the limit of {MAX_INITIAL_DEVICES}\n");
            return Err(EINVAL);
        }
        if capacity == 0 || capacity > MAX_CAPACITY_BLOCKS {
            pr_err!("default_capacity={capacity} blocks is not in 1..={MAX_CAPACITY_BLOCKS}\n");
            return Err(EINVAL);
        }

        let mut devices = KVec::with_capacity(count as usize, GFP_KERNEL)?;
        for id in 0..count {
            // On error, `devices` is dropped and every device made so far is removed.
            let device = Device::new(id, capacity)
                .inspect_err(|e| pr_err!("cannot create foxramdisk{id}: {e:?}\n"))?;
            devices.push(device, GFP_KERNEL)?;
        }
        pr_info!("loaded: {count} device(s) of {capacity} blocks\n");
        Ok(Self { devices })
    }
}

impl Drop for FoxRamDisk {
    fn drop(&mut self) {
        for device in self.devices.iter() {
            pr_info!(
                "foxramdisk{}: removed, {} blocks held data\n",
                device.id(),
                device.stored_blocks()
            );
        }
    }
}
