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
//!
//! [`run_in_worker`] runs a closure in a worker and waits for it, with the work item on the
//! caller's stack (`INIT_WORK_ONSTACK()`), as zram's `read_from_bdev_sync()` does: no
//! allocation, for a path that must not fail for lack of memory.

use super::ffi;
use core::{cell::UnsafeCell, ops::Deref, pin::pin};
use kernel::{
    bindings,
    ffi::c_int,
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow, LockClassKey},
    types::Opaque,
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

/// Runs `f` in a worker of the system workqueue, in process context, and returns when it
/// has returned: for work that must not run in the caller's own context (a block driver
/// serving a request inside `submit_bio()`, which only queues the bios submitted meanwhile,
/// cannot wait there for a block device's I/O). The work item lives on this function's
/// stack, so nothing is allocated. `f` may borrow from the caller: the caller waits,
/// asleep and uninterruptibly, until `f` is done with it. May sleep.
pub(crate) fn run_in_worker<F: FnOnce() + Send>(f: F) {
    let item = pin!(OnStack {
        work: Opaque::uninit(),
        f: UnsafeCell::new(Some(f)),
    });
    let work = item.work.get();
    // SAFETY: `work` is valid for writes, and pinned on this stack until the end of this
    // function, after `destroy_work_on_stack()`; `OnStack::<F>::run` takes the `OnStack`
    // that holds it (`work` is its first field).
    unsafe { ffi::foxramdisk_helper_init_work_onstack(work, Some(OnStack::<F>::run)) };
    // SAFETY: `system_wq` is a C global, always available; `work` is an initialised work
    // item that is not queued. `flush_work()` below waits until its run has returned,
    // before `item` goes out of scope.
    unsafe {
        bindings::queue_work_on(
            bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int,
            bindings::system_wq,
            work,
        )
    };
    // SAFETY: `work` is initialised; `flush_work()` only waits for it.
    unsafe { bindings::flush_work(work) };
    // SAFETY: `work` was initialised on the stack and is neither queued nor running: its
    // only run has returned (`flush_work()` above).
    unsafe { ffi::foxramdisk_helper_destroy_work_on_stack(work) };
}

/// The work item and the closure of [`run_in_worker`].
///
/// # Invariants
///
/// While `work` is queued or running, only its run uses `f`.
#[repr(C)]
struct OnStack<F> {
    /// The work item; first, so that its address is the value's.
    work: Opaque<bindings::work_struct>,
    /// The closure, until the run takes it.
    f: UnsafeCell<Option<F>>,
}

impl<F: FnOnce() + Send> OnStack<F> {
    /// The work item's function.
    ///
    /// # Safety
    ///
    /// `work` must be the `work` field of a live `OnStack<F>`, run as its work item.
    unsafe extern "C" fn run(work: *mut bindings::work_struct) {
        let item = work.cast::<Self>();
        // SAFETY: `work` is the first field of a live `OnStack<F>` (`repr(C)`, safety
        // requirements), so `item` points to that value; its run is the only user of `f`
        // meanwhile (type invariant), and `F: Send` lets it run on this thread.
        let f = unsafe { (*(*item).f.get()).take() };
        if let Some(f) = f {
            f();
        }
    }
}
