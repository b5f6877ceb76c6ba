// SPDX-License-Identifier: GPL-2.0

//! A blk-mq tag set.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)

use super::{operations::OperationsVTable, Operations};
use core::{marker::PhantomData, pin::Pin};
use kernel::{
    bindings,
    error::{self, Result},
    prelude::*,
    types::Opaque, //
};

/// A set of hardware queues and tags shared by the disks of one driver instance.
///
/// # Invariants
///
/// `inner` is initialized by `blk_mq_alloc_tag_set()` and freed only on drop.
#[pin_data(PinnedDrop)]
#[repr(transparent)]
pub(crate) struct TagSet<T: Operations> {
    #[pin]
    inner: Opaque<bindings::blk_mq_tag_set>,
    _p: PhantomData<T>,
}

impl<T: Operations> TagSet<T> {
    /// Creates a tag set with `nr_hw_queues` hardware queues of `num_tags` tags each.
    ///
    /// The tag set is blocking (`BLK_MQ_F_BLOCKING`) if [`Operations::BLOCKING`] says so.
    pub(crate) fn new(nr_hw_queues: u32, num_tags: u32) -> impl PinInit<Self, Error> {
        let tag_set: Result<_> = Ok(Opaque::new(bindings::blk_mq_tag_set {
            ops: OperationsVTable::<T>::build(),
            nr_hw_queues,
            timeout: 0, // 0 means the default of 30 seconds.
            numa_node: bindings::NUMA_NO_NODE,
            queue_depth: num_tags,
            cmd_size: OperationsVTable::<T>::request_data_size(),
            flags: if T::BLOCKING {
                bindings::BLK_MQ_F_BLOCKING
            } else {
                0
            },
            driver_data: core::ptr::null_mut(),
            nr_maps: 1,
            ..pin_init::zeroed()
        }));

        try_pin_init!(TagSet {
            inner <- tag_set.pin_chain(|tag_set| {
                // SAFETY: we never move out of `tag_set`.
                let tag_set: &mut Opaque<_> = unsafe { Pin::get_unchecked_mut(tag_set) };
                // SAFETY: `tag_set` is a fully set up `blk_mq_tag_set` in its final place.
                error::to_result(unsafe { bindings::blk_mq_alloc_tag_set(tag_set.get()) })
            }),
            _p: PhantomData,
        })
    }

    /// The raw tag set.
    pub(super) fn raw_tag_set(&self) -> *mut bindings::blk_mq_tag_set {
        self.inner.get()
    }
}

#[pinned_drop]
impl<T: Operations> PinnedDrop for TagSet<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: by the type invariant `inner` was set up by `blk_mq_alloc_tag_set()`; the
        // disks that used it hold an `Arc` to it, so none is left.
        unsafe { bindings::blk_mq_free_tag_set(self.inner.get()) };
    }
}
