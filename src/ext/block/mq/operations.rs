// SPDX-License-Identifier: GPL-2.0

//! The interface a blk-mq driver implements, and the vtable that calls it.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)

use super::{super::super::ffi, Queued, Request, RequestBatch};
use core::marker::PhantomData;
use kernel::{bindings, pr_warn_once, prelude::*, types::ForeignOwnable, ThisModule};

/// The borrowed form of a [`ForeignOwnable`].
type ForeignBorrowed<'a, T> = <T as ForeignOwnable>::Borrowed<'a>;

/// Implement this trait to serve block requests from blk-mq.
#[vtable]
pub(crate) trait Operations: Sized {
    /// Data associated with the request queue of each disk (`queuedata`).
    type QueueData: ForeignOwnable + Sync;

    /// The module that implements the disk; it is pinned while a disk is open.
    const OWNER: &'static ThisModule;

    /// Whether [`Operations::queue_rq`] may sleep (`BLK_MQ_F_BLOCKING`).
    ///
    /// When `false`, blk-mq calls `queue_rq` inside an RCU read-side critical section.
    const BLOCKING: bool;

    /// Serves one request.
    ///
    /// The request is ended when this returns: successfully on `Ok(Queued::Done)`, else
    /// with the block status that `errno_to_blk_status()` maps the error to (`ENOMEM` →
    /// `BLK_STS_RESOURCE`, `EOPNOTSUPP` → `BLK_STS_NOTSUPP`, `EIO` and the rest →
    /// `BLK_STS_IOERR`). On `Ok(Queued::Defer)` it is handed to
    /// [`Operations::serve_deferred`] in a worker instead, and ends when that returns.
    fn queue_rq(queue_data: ForeignBorrowed<'_, Self::QueueData>, rq: &Request) -> Result<Queued>;

    /// Serves a request that [`Operations::queue_rq`] (or [`Operations::queue_rqs`]) left
    /// with [`Queued::Defer`], in a worker of `kblockd`: process context, outside any
    /// `submit_bio()`, so it may sleep and wait for other block devices' I/O. `kblockd` is
    /// a `WQ_MEM_RECLAIM` workqueue, so the worker runs even when memory is short (a
    /// swap-in). The request is ended when this returns, as by `queue_rq`. Without it, a
    /// deferred request ends with `BLK_STS_IOERR`.
    fn serve_deferred(_queue_data: ForeignBorrowed<'_, Self::QueueData>, _rq: &Request) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Serves the requests of one queue that a plug gathered (`queue_rqs`), in one call:
    /// the driver can take what every request needs once for all of them. Each request
    /// is started and ended (or deferred) by [`RequestBatch::serve_each`]; requests it
    /// leaves unserved are handed to [`Operations::queue_rq`] one by one after this
    /// returns. Not called unless implemented.
    fn queue_rqs(_queue_data: ForeignBorrowed<'_, Self::QueueData>, _batch: &mut RequestBatch<'_>) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called, with the disk's `open_mutex` held, when the disk is opened; an error
    /// refuses the open with that errno. By default every open is allowed.
    fn open(_queue_data: ForeignBorrowed<'_, Self::QueueData>) -> Result {
        Ok(())
    }

    /// Called when swap no longer uses swap slot `slot` of the disk (its page-sized piece
    /// at byte `slot * PAGE_SIZE`), so that the driver can free what it stores there
    /// (`swap_slot_free_notify`). Swap calls it with a spin lock held: it must not sleep.
    /// Only called while swap holds the disk open.
    fn swap_slot_free_notify(_queue_data: ForeignBorrowed<'_, Self::QueueData>, _slot: usize) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The C vtables built from an [`Operations`] implementation.
pub(super) struct OperationsVTable<T: Operations>(PhantomData<T>);

impl<T: Operations> OperationsVTable<T> {
    /// Called by blk-mq to queue a request with the driver.
    ///
    /// # Safety
    ///
    /// `hctx` must be a live hardware context of a queue created by
    /// [`super::gen_disk::GenDiskBuilder::build`], and `bd.rq` a request that blk-mq hands
    /// to the driver (owned by it until `blk_mq_end_request()`).
    unsafe extern "C" fn queue_rq_callback(
        hctx: *mut bindings::blk_mq_hw_ctx,
        bd: *const bindings::blk_mq_queue_data,
    ) -> bindings::blk_status_t {
        // SAFETY: `bd` is valid by the safety requirements.
        let rq = unsafe { (*bd).rq };
        // SAFETY: the driver owns `rq`, which has not been started yet.
        unsafe { bindings::blk_mq_start_request(rq) };

        // SAFETY: `hctx` and its queue are valid by the safety requirements.
        let queue_data = unsafe { (*(*hctx).queue).queuedata };
        // SAFETY: `queuedata` was set from `T::QueueData::into_foreign` by `GenDiskBuilder`,
        // and `from_foreign` runs only after the disk is deleted, when no request is queued.
        let queue_data = unsafe { T::QueueData::borrow(queue_data) };

        // SAFETY: `rq` was started above and is ended or deferred only below, after the
        // borrow ends.
        let status = match T::queue_rq(queue_data, unsafe { Request::from_raw(rq) }) {
            Ok(Queued::Done) => bindings::BLK_STS_OK as bindings::blk_status_t,
            Ok(Queued::Defer) => {
                // SAFETY: `rq` is a started request of a tag set made for `T`, owned by
                // the driver; it is handed over here and not used again.
                unsafe { Self::defer(rq) };
                return bindings::BLK_STS_OK as bindings::blk_status_t;
            }
            // SAFETY: `errno_to_blk_status()` accepts any errno.
            Err(e) => unsafe { bindings::errno_to_blk_status(e.to_errno()) },
        };
        // SAFETY: `rq` is started and owned by the driver; it is ended exactly once, here.
        unsafe { bindings::blk_mq_end_request(rq, status) };
        bindings::BLK_STS_OK as bindings::blk_status_t
    }

    /// Hands the started request `rq` to a worker of `kblockd`, which serves it with
    /// [`Operations::serve_deferred`] and ends it; ends it at once with `BLK_STS_IOERR` if `T`
    /// has no `serve_deferred` (and so no room for the work item).
    ///
    /// # Safety
    ///
    /// `rq` must be a started request of a queue created by
    /// [`super::gen_disk::GenDiskBuilder::build`] for `T`, owned by the caller, which hands it
    /// over: it must not use or end it after this call.
    unsafe fn defer(rq: *mut bindings::request) {
        if !T::HAS_SERVE_DEFERRED {
            pr_warn_once!("a request deferred by a driver that serves none: it fails\n");
            // SAFETY: `errno_to_blk_status()` accepts any errno.
            let status = unsafe { bindings::errno_to_blk_status(EIO.to_errno()) };
            // SAFETY: `rq` is started and owned by the caller, which hands it over.
            unsafe { bindings::blk_mq_end_request(rq, status) };
            return;
        }
        // SAFETY: `T` serves deferred requests, so the tag set gave each request driver data
        // of a work item's size (`OperationsVTable::request_data_size`), right after the
        // request (`blk_mq_rq_to_pdu()`); it is unused while the request is not deferred.
        let work = unsafe { rq.add(1) }.cast::<bindings::work_struct>();
        // SAFETY: `work` is valid for writes and not queued: the request was not deferred
        // since it started, and a previous deferral's run ended it before it could start again.
        unsafe { ffi::foxramdisk_helper_init_work(work, Some(Self::serve_deferred_callback)) };
        // SAFETY: `work` is an initialised work item that is not queued; its run owns the
        // request from now on (the safety requirements of `serve_deferred_callback`), and
        // `kblockd` is a workqueue of the block layer, always available.
        unsafe { bindings::kblockd_schedule_work(work) };
    }

    /// Runs the work item of a request that the driver deferred ([`Queued::Defer`]):
    /// serves it with [`Operations::serve_deferred`] and ends it.
    ///
    /// # Safety
    ///
    /// `work` must be the work item in the driver data of a started request of a queue
    /// created by [`super::gen_disk::GenDiskBuilder::build`] for `T`, handed over by
    /// [`OperationsVTable::defer`]; the request is owned by this run until it ends it.
    unsafe extern "C" fn serve_deferred_callback(work: *mut bindings::work_struct) {
        // SAFETY: the work item is the request's driver data (safety requirements), which
        // blk-mq places right after the request (`blk_mq_rq_from_pdu()`).
        let rq = unsafe { work.cast::<bindings::request>().sub(1) };
        // SAFETY: the request and its queue are live: it has not been ended.
        let queue_data = unsafe { (*(*rq).q).queuedata };
        // SAFETY: as in `queue_rq_callback`: a `T::QueueData` turned foreign, released only
        // after the disk is deleted, which waits for this request to end.
        let queue_data = unsafe { T::QueueData::borrow(queue_data) };
        let result = if T::HAS_SERVE_DEFERRED {
            // SAFETY: `rq` is started and owned by this run; it is ended only below, after
            // the borrow ends.
            T::serve_deferred(queue_data, unsafe { Request::from_raw(rq) })
        } else {
            // Not reached: `defer` queues no work for such a `T`.
            Err(EIO)
        };
        let status = match result {
            Ok(()) => bindings::BLK_STS_OK as bindings::blk_status_t,
            // SAFETY: `errno_to_blk_status()` accepts any errno.
            Err(e) => unsafe { bindings::errno_to_blk_status(e.to_errno()) },
        };
        // SAFETY: `rq` is started and owned by this run; it is ended exactly once, here.
        // The work item that holds this run is not used by the workqueue after its
        // function starts, so the request may be reused at once.
        unsafe { bindings::blk_mq_end_request(rq, status) };
    }

    /// Called by blk-mq with the requests a plug gathered for one queue.
    ///
    /// # Safety
    ///
    /// `rqlist` must be a non-empty list of requests of one queue created by
    /// [`super::gen_disk::GenDiskBuilder::build`] for `T`, owned by the driver and not
    /// started, as blk-mq hands it to `queue_rqs`.
    unsafe extern "C" fn queue_rqs_callback(rqlist: *mut bindings::rq_list) {
        // SAFETY: `rqlist` is valid by the safety requirements.
        let first = unsafe { (*rqlist).head };
        if first.is_null() {
            return;
        }
        // SAFETY: the requests and their queue are live by the safety requirements.
        let queue_data = unsafe { (*(*first).q).queuedata };
        // SAFETY: as in `queue_rq_callback`: a `T::QueueData` turned foreign, released only
        // after the disk is deleted, when no request is queued.
        let queue_data = unsafe { T::QueueData::borrow(queue_data) };
        // `DEFINE_IO_COMP_BATCH()`: all zero.
        let mut iob = bindings::io_comp_batch::default();
        {
            // `Self::defer` takes over a started request of a queue made for `T`, as the
            // list's are, and has it served and ended.
            // SAFETY: blk-mq's list, and a zeroed batch ended below; both used only
            // through `batch` until it is dropped; `defer` as said above.
            let mut batch = unsafe { RequestBatch::new(rqlist, &mut iob, Self::defer) };
            T::queue_rqs(queue_data, &mut batch);
        }
        if !iob.req_list.head.is_null() {
            // SAFETY: `iob` holds requests served and started by the driver, each added
            // once by `blk_mq_add_to_batch()`, which ends them all.
            unsafe { bindings::blk_mq_end_request_batch(&mut iob) };
        }
    }

    /// Called by the block layer when the disk is opened.
    ///
    /// # Safety
    ///
    /// `disk` must be a live disk created by [`super::gen_disk::GenDiskBuilder::build`] for
    /// `T`.
    unsafe extern "C" fn open_callback(
        disk: *mut bindings::gendisk,
        _mode: bindings::blk_mode_t,
    ) -> kernel::ffi::c_int {
        // SAFETY: the disk and its queue are live by the safety requirements.
        let queue_data = unsafe { (*(*disk).queue).queuedata };
        // SAFETY: `queuedata` holds a `T::QueueData` turned foreign by `GenDiskBuilder`,
        // released only after the disk is deleted, which waits for opens to finish.
        let queue_data = unsafe { T::QueueData::borrow(queue_data) };
        match T::open(queue_data) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// Called by swap when it frees a slot of the disk.
    ///
    /// # Safety
    ///
    /// `bdev` must be a block device of a live disk created by
    /// [`super::gen_disk::GenDiskBuilder::build`] for `T`, held open by swap.
    unsafe extern "C" fn swap_slot_free_notify_callback(
        bdev: *mut bindings::block_device,
        offset: kernel::ffi::c_ulong,
    ) {
        // SAFETY: `bdev`, its disk and the disk's queue are live by the safety requirements.
        let queue_data = unsafe { (*(*(*bdev).bd_disk).queue).queuedata };
        // SAFETY: `queuedata` holds a `T::QueueData` turned foreign by `GenDiskBuilder`,
        // released only after the disk is deleted, which cannot happen while swap holds it
        // open.
        let queue_data = unsafe { T::QueueData::borrow(queue_data) };
        T::swap_slot_free_notify(queue_data, offset);
    }

    /// The blk-mq operations: requests are served and ended inside `queue_rq`, or in the
    /// worker it defers them to.
    const VTABLE: bindings::blk_mq_ops = bindings::blk_mq_ops {
        queue_rq: Some(Self::queue_rq_callback),
        queue_rqs: if T::HAS_QUEUE_RQS {
            Some(Self::queue_rqs_callback)
        } else {
            None
        },
        commit_rqs: None,
        get_budget: None,
        put_budget: None,
        set_rq_budget_token: None,
        get_rq_budget_token: None,
        timeout: None,
        poll: None,
        complete: None,
        init_hctx: None,
        exit_hctx: None,
        init_request: None,
        exit_request: None,
        cleanup_rq: None,
        busy: None,
        map_queues: None,
        #[cfg(CONFIG_BLK_DEBUG_FS)]
        show_rq: None,
    };

    /// The block device operations: the owner, so that open disks pin the module, `open`,
    /// and `swap_slot_free_notify` if `T` implements it.
    const FOPS: bindings::block_device_operations = bindings::block_device_operations {
        submit_bio: None,
        open: Some(Self::open_callback),
        release: None,
        ioctl: None,
        compat_ioctl: None,
        check_events: None,
        unlock_native_capacity: None,
        getgeo: None,
        set_read_only: None,
        swap_slot_free_notify: if T::HAS_SWAP_SLOT_FREE_NOTIFY {
            Some(Self::swap_slot_free_notify_callback)
        } else {
            None
        },
        report_zones: None,
        devnode: None,
        alternative_gpt_sector: None,
        get_unique_id: None,
        owner: T::OWNER.as_ptr(),
        pr_ops: core::ptr::null_mut(),
        free_disk: None,
        poll_bio: None,
    };

    /// The size of the driver data of each request (`cmd_size`): the work item of a
    /// deferred request, if the driver serves any.
    pub(super) const fn request_data_size() -> u32 {
        if T::HAS_SERVE_DEFERRED {
            core::mem::size_of::<bindings::work_struct>() as u32
        } else {
            0
        }
    }

    /// The blk-mq vtable, for the tag set.
    pub(super) const fn build() -> &'static bindings::blk_mq_ops {
        &Self::VTABLE
    }

    /// The block device operations, for the disk.
    pub(super) const fn fops() -> &'static bindings::block_device_operations {
        &Self::FOPS
    }
}
