// SPDX-License-Identifier: GPL-2.0

//! Files that the kernel opens by path for I/O of its own: what `kernel::fs` of Linux 7.3
//! lacks (it has the files of user space's file descriptors only).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::{ffi, raw_buf::RawBuf};
use core::ptr::NonNull;
use kernel::{bindings, error::from_err_ptr, ffi::c_int, prelude::*};

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
    /// [`KernelFile::read_at`] and [`KernelFile::write_at`] leave to the caller
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

    /// Reads `buf.len()` bytes at byte `pos` into `buf`; `EIO` if fewer came. May sleep.
    ///
    /// A block driver must not call it inside `submit_bio()` (where it serves requests),
    /// which only queues the bios submitted meanwhile: a read of a block device from there
    /// would wait for itself. Its allocations follow the caller's scope (`GFP_NOIO` in a
    /// [`NoIoScope`](super::mm::NoIoScope)).
    pub(crate) fn read_at(&self, buf: &mut RawBuf<'_>, pos: u64) -> Result {
        let mut offset = bindings::loff_t::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: the file is open for reading (type invariant); `buf` is valid for writes
        // of its length (`RawBuf`'s invariant), and `offset` for the call.
        let n = unsafe {
            bindings::kernel_read(
                self.file.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut offset,
            )
        };
        Self::whole(n, buf.len())
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

impl Drop for KernelFile {
    fn drop(&mut self) {
        // SAFETY: the file was opened by `open_flags()` and is owned by this value (type
        // invariant), which is not used after this.
        unsafe { Self::close(self.file) };
    }
}
