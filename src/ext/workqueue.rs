// SPDX-License-Identifier: GPL-2.0

//! A shared value with a work item of its own: what `kernel::workqueue` of Linux 7.3 lacks
//! to be used without `unsafe` by a driver, and a way to wait for the item.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)
//!
//! `kernel::workqueue` runs a [`Work`] that is a field of a struct through `impl_has_work!`,
//! whose expansion a driver module that denies `unsafe_code` cannot hold, and offers no
//! `flush_work()`. [`WithWork`] holds the field for any `T`, so that expansion is written
//! once, here, and [`WithWork::flush`] waits for the item, as a device's removal must
//! before the module that runs it can go.

use core::ops::Deref;
use kernel::{
    bindings,
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow, LockClassKey},
    workqueue::{self, impl_has_work, Work, WorkItem}, //
};

/// What a value in a [`WithWork`] does when its work item runs.
pub(crate) trait Job: Send + Sync + Sized + 'static {
    /// Runs in a worker thread, in process context (it may sleep), with a reference that
    /// keeps the value alive until it returns.
    fn run(this: &WithWork<Self>);
}

/// A `T` shared through an [`Arc`], with a work item that runs [`Job::run`] on it.
///
/// While the item is queued, the queue holds a reference to the value, so it outlives
/// the run.
#[pin_data]
pub(crate) struct WithWork<T> {
    /// The value.
    #[pin]
    value: T,
    /// The work item.
    #[pin]
    work: Work<WithWork<T>>,
}

impl_has_work! {
    impl{T} HasWork<WithWork<T>> for WithWork<T> { self.work }
}

impl<T: Job> WorkItem for WithWork<T> {
    type Pointer = Arc<WithWork<T>>;

    fn run(this: Arc<WithWork<T>>) {
        T::run(&this);
    }
}

impl<T: Job> WithWork<T> {
    /// `value` with a work item named `name` for lockdep in the class `key`
    /// (`kernel::static_lock_class!()`).
    pub(crate) fn new(
        value: impl PinInit<T, Error>,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            value <- value,
            work <- Work::new(name, key),
        })
    }

    /// Queues the work item on the system workqueue unless it is queued already (then the
    /// queued run will see what the caller did before this call). Never sleeps.
    pub(crate) fn schedule(this: ArcBorrow<'_, Self>) {
        // An item already queued hands back the reference, which is dropped here.
        let _ = workqueue::system().enqueue(Arc::from(this));
    }

    /// Waits until the work item is neither queued nor running: its last run has returned.
    /// May sleep. Called from the item's own run, it would wait for itself.
    pub(crate) fn flush(&self) {
        // SAFETY: `self.work` is an initialised `Work` (a `WithWork` exists only pinned and
        // initialised by `new`), so `raw_get` gives a valid, aligned `work_struct`, which
        // `flush_work()` only waits for.
        unsafe { bindings::flush_work(Work::raw_get(&self.work)) };
    }
}

impl<T> Deref for WithWork<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}
