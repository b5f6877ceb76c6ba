// SPDX-License-Identifier: GPL-2.0

//! Files that the kernel opens by path for I/O of its own: what `kernel::fs` of Linux 7.3
//! lacks (it has the files of user space's file descriptors only).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::{
    ffi,
    mm::NoIoScope,
    workqueue::{Job, WithWork},
};
use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::c_int,
    prelude::*,
    static_lock_class,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    }, //
};

/// What a [`KernelFile`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// A block device, opened exclusively (`O_EXCL`): no filesystem is mounted on it and
    /// no other exclusive opener (swap, md, a mount) can take it while it is open here.
    Block,
    /// A regular file.
    Regular,
}

/// A block device or regular file opened by the kernel for reading and writing, read and
/// written at explicit offsets (`kernel_read()`, `kernel_write()`), with direct I/O where
/// the file takes it, so that its data does not stay in the page cache as well.
///
/// # Invariants
///
/// `file` was returned by `filp_open()`, readable and writable, and is owned by this value,
/// which closes it on drop; `kind` is what its inode is.
pub(crate) struct KernelFile {
    file: NonNull<bindings::file>,
    kind: FileKind,
    direct: bool,
}

// SAFETY: a `struct file` may be used and closed from any task; `kernel_read()` and
// `kernel_write()` with explicit offsets take no state of the task that opened it.
unsafe impl Send for KernelFile {}
// SAFETY: `kernel_read()` and `kernel_write()` at explicit offsets may run concurrently on
// one file (they do not use the file's own position); the rest only reads the inode.
unsafe impl Sync for KernelFile {}

impl KernelFile {
    /// Opens `path`, a block device or a regular file, for reading and writing: `ENOTBLK`
    /// for anything else, `EBUSY` for a block device that another holds exclusively, a
    /// regular file that another task has open for writing, or a swap file. Uses direct
    /// I/O where the file takes it, else the page cache. May sleep.
    pub(crate) fn open(path: &CStr) -> Result<Self> {
        let flags = (bindings::O_RDWR | bindings::O_LARGEFILE | bindings::O_EXCL) as c_int;
        let file = Self::open_flags(path, flags)?;
        // SAFETY: `file` was just opened, and is closed below if it is not kept.
        let mode = u32::from(unsafe { ffi::foxramdisk_helper_file_mode(file.as_ptr()) });
        let kind = match mode & bindings::S_IFMT {
            m if m == bindings::S_IFBLK => FileKind::Block,
            m if m == bindings::S_IFREG => FileKind::Regular,
            _ => {
                // SAFETY: `file` is open, and not used after this.
                unsafe { Self::close(file) };
                return Err(ENOTBLK);
            }
        };
        if kind == FileKind::Regular {
            // SAFETY: `file` is open, so is its inode.
            let (writers, flags) = unsafe {
                (
                    ffi::foxramdisk_helper_file_writers(file.as_ptr()),
                    ffi::foxramdisk_helper_file_inode_flags(file.as_ptr()),
                )
            };
            // This open is one writer.
            if writers > 1 || flags & bindings::S_SWAPFILE != 0 {
                // SAFETY: `file` is open, and not used after this.
                unsafe { Self::close(file) };
                return Err(EBUSY);
            }
        }
        // Direct I/O where the file takes it. Not by opening it with `O_DIRECT`: a file
        // that refuses it would fail that open, and stay open for writing until the failed
        // file's deferred release, when the writers are counted above.
        // SAFETY: `file` is open, and only this task knows it.
        let direct = unsafe { ffi::foxramdisk_helper_file_set_direct(file.as_ptr()) };
        // INVARIANT: opened above for reading and writing, of the kind found.
        Ok(Self { file, kind, direct })
    }

    /// `filp_open()` of `path` with `flags`.
    fn open_flags(path: &CStr, flags: c_int) -> Result<NonNull<bindings::file>> {
        // SAFETY: `path` is a NUL-terminated string; `filp_open()` returns a file or an
        // error pointer, never null.
        let file = from_err_ptr(unsafe { bindings::filp_open(path.as_char_ptr(), flags, 0) })?;
        NonNull::new(file).ok_or(EINVAL)
    }

    /// Closes `file`.
    ///
    /// # Safety
    ///
    /// `file` must have been opened by [`KernelFile::open_flags`], not closed yet, and not
    /// be used after this call.
    unsafe fn close(file: NonNull<bindings::file>) {
        // SAFETY: `file` is open and is not used after this (safety requirements); a file
        // the kernel opened for itself has no owner table (`id` null).
        unsafe { bindings::filp_close(file.as_ptr(), core::ptr::null_mut()) };
    }

    /// What the file is.
    pub(crate) fn kind(&self) -> FileKind {
        self.kind
    }

    /// Whether its I/O bypasses the page cache (`O_DIRECT`): offsets, lengths and buffers
    /// must then be aligned to its logical block size, which
    /// [`KernelFile::read_at_in_worker`] and [`KernelFile::write_at`] leave to the caller
    /// (whole 4096-byte blocks at 4096-byte aligned offsets and addresses satisfy every
    /// block size).
    pub(crate) fn direct(&self) -> bool {
        self.direct
    }

    /// Its size in bytes: the device's, or the file's. May change for a file that others
    /// write to.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: the file is open (type invariant).
        let size = unsafe { ffi::foxramdisk_helper_file_size(self.file.as_ptr()) };
        u64::try_from(size).unwrap_or(0)
    }

    /// The device number that holds its data: the block device's own, or that of the
    /// filesystem the file is on (an anonymous one for a filesystem without a device, such
    /// as tmpfs).
    pub(crate) fn device(&self) -> u32 {
        // SAFETY: the file is open (type invariant).
        unsafe { ffi::foxramdisk_helper_file_device(self.file.as_ptr()) }
    }

    /// Reads `buf.len()` bytes at byte `pos` into `buf` (`EIO` if fewer came), in a worker
    /// of the system workqueue, and waits for it (uninterruptibly, asleep): for a
    /// block driver that reads while it serves a request. Such a driver may run in the
    /// task that submitted the request, inside `submit_bio()`, which only queues the bios
    /// submitted meanwhile until it returns, so that a read of a block device from there
    /// would wait for itself (zram's `read_from_bdev_sync()` uses a worker too). The worker
    /// allocates as with `GFP_NOIO`, as the driver's own path does. May sleep.
    pub(crate) fn read_at_in_worker(&self, buf: &mut [u8], pos: u64) -> Result {
        let offset = bindings::loff_t::try_from(pos).map_err(|_| EINVAL)?;
        // INVARIANT: the file is open (type invariant of `self`, borrowed until this
        // returns) and `buf` is valid for writes and borrowed until this returns, which is
        // after the worker's run has returned (`flush()` below).
        let read = Read {
            file: self.file,
            buf: buf.as_mut_ptr(),
            len: buf.len(),
            offset,
            result: Atomic::new(0),
        };
        let item = Arc::pin_init(
            WithWork::new(
                Ok::<_, Error>(read),
                c"foxramdisk backing read",
                static_lock_class!(),
            ),
            GFP_KERNEL,
        )?;
        WithWork::schedule(item.as_arc_borrow());
        // Waits until the run has returned: no code of this module runs for it after, so
        // the module may go right after a read.
        item.flush();
        match item.result.load(Relaxed) {
            0 => Ok(()),
            errno => Err(Error::from_errno(errno)),
        }
    }

    /// Writes `buf` at byte `pos`; `EIO` if fewer bytes went. May sleep.
    pub(crate) fn write_at(&self, buf: &[u8], pos: u64) -> Result {
        let mut offset = bindings::loff_t::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: the file is open for writing (type invariant); `buf` is valid for reads
        // of its length, and `offset` for the call.
        let n = unsafe {
            bindings::kernel_write(
                self.file.as_ptr(),
                buf.as_ptr().cast(),
                buf.len(),
                &mut offset,
            )
        };
        Self::whole(n, buf.len())
    }

    /// The result of an I/O call that returned `n` for `len` bytes.
    fn whole(n: isize, len: usize) -> Result {
        match usize::try_from(n) {
            Ok(done) if done == len => Ok(()),
            Ok(_) => Err(EIO),
            Err(_) => Err(Error::from_errno(n as c_int)),
        }
    }
}

/// A read handed to a worker by [`KernelFile::read_at_in_worker`], and its result.
///
/// # Invariants
///
/// `file` is open and `buf` is valid for writes of `len` bytes, and nothing else uses it,
/// until the worker's run of it has returned: the task that made it waits for that.
struct Read {
    file: NonNull<bindings::file>,
    buf: *mut u8,
    len: usize,
    offset: bindings::loff_t,
    /// 0, or the negative errno the read failed with.
    result: Atomic<i32>,
}

// SAFETY: the file and the buffer may be used from any task; the task that lent them
// waits, without using them, until the worker is done (type invariants).
unsafe impl Send for Read {}
// SAFETY: only the worker reads the file into the buffer; the other fields are read-only
// or atomic.
unsafe impl Sync for Read {}

impl Job for Read {
    fn run(this: &WithWork<Self>) {
        let _noio = NoIoScope::enter();
        let mut offset = this.offset;
        // SAFETY: the file is open for reading and `buf` valid for `len` bytes until this
        // run returns (type invariants).
        let n = unsafe {
            bindings::kernel_read(this.file.as_ptr(), this.buf.cast(), this.len, &mut offset)
        };
        let result = match KernelFile::whole(n, this.len) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        this.result.store(result, Relaxed);
    }
}

impl Drop for KernelFile {
    fn drop(&mut self) {
        // SAFETY: the file was opened by `open_flags()` and is owned by this value (type
        // invariant), which is not used after this.
        unsafe { Self::close(self.file) };
    }
}
