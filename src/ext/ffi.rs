// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C helpers in `src/helpers.c`.
//!
//! C header: [`src/helpers.h`](../helpers.h). Each function wraps one static inline kernel
//! function or macro of the same name, but the bit lock's, which wrap the bit operation with
//! its lockdep annotations, the fault injection point's, which call the kernel's functions
//! on the point that helpers.c declares, and the file helpers, which read an inode's fields
//! or set `O_DIRECT` as `fcntl()` does; keep this list in sync with the header.

use core::marker::{PhantomData, PhantomPinned};
use kernel::{
    bindings,
    ffi::{c_char, c_int, c_uint, c_ulong, c_void}, //
};

/// Declares C types that Rust only handles by pointer (not in `kernel::bindings`).
macro_rules! opaque_types {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[repr(C)]
        pub(crate) struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque_types! {
    /// `struct crypto_acomp`: an asynchronous-compression transform.
    crypto_acomp,
    /// `struct acomp_req`: a request on a [`crypto_acomp`].
    acomp_req,
    /// `struct zs_pool`: a zsmalloc pool.
    zs_pool,
    /// `zstd_cctx`: a zstd compression context.
    zstd_cctx,
    /// `zstd_dctx`: a zstd decompression context.
    zstd_dctx,
}

/// `zstd_compression_parameters` (`ZSTD_compressionParameters`): window, chain, hash and
/// search logs, minimum match, target length and strategy. Size and field offsets pinned by
/// `static_assert` in `src/helpers.c`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct zstd_compression_parameters {
    /// The seven fields, in C order; the last is the `ZSTD_strategy` enum.
    pub(crate) fields: [c_uint; 7],
}

/// `zstd_parameters` (`ZSTD_parameters`): compression and frame parameters. Size and field
/// offsets pinned by `static_assert` in `src/helpers.c`.
#[repr(C)]
#[derive(Clone, Copy)]
#[expect(non_snake_case)]
pub(crate) struct zstd_parameters {
    /// `cParams`.
    pub(crate) cParams: zstd_compression_parameters,
    /// `fParams`: content size, checksum and no-dictionary-id flags.
    pub(crate) fParams: [c_int; 3],
}

/// `struct z_stream_s`: a zlib stream. Size and field offsets pinned by `static_assert` in
/// `src/helpers.c`.
#[repr(C)]
pub(crate) struct z_stream_s {
    /// Next input byte.
    pub(crate) next_in: *const u8,
    /// Bytes available at `next_in`.
    pub(crate) avail_in: c_ulong,
    /// Input bytes read so far.
    pub(crate) total_in: c_ulong,
    /// Where the next output byte goes.
    pub(crate) next_out: *mut u8,
    /// Room left at `next_out`.
    pub(crate) avail_out: c_ulong,
    /// Output bytes written so far.
    pub(crate) total_out: c_ulong,
    /// The last error's message, or null.
    pub(crate) msg: *mut c_char,
    /// The library's state, in `workspace`.
    pub(crate) state: *mut c_void,
    /// The memory the stream works in, given by its user.
    pub(crate) workspace: *mut c_void,
    /// The library's guess of the data's type.
    pub(crate) data_type: c_int,
    /// The Adler-32 of the uncompressed data (not for raw deflate).
    pub(crate) adler: c_ulong,
    /// Reserved.
    pub(crate) reserved: c_ulong,
}

/// `crypto_completion_t`.
pub(crate) type CryptoCompletion = Option<unsafe extern "C" fn(data: *mut c_void, err: c_int)>;

// The bindgen types reached from these pointers contain zero-sized placeholder structs
// (for example `its_array`) that the lint flags; `rust/bindings` allows it for the same
// reason. Only pointers to them cross the boundary.
#[expect(improper_ctypes)]
extern "C" {
    /// `dev_to_disk()`: the disk whose embedded device is `dev`.
    pub(crate) fn foxramdisk_helper_dev_to_disk(
        dev: *mut bindings::device,
    ) -> *mut bindings::gendisk;
    /// `disk_openers()`: how many times the whole disk is open (stable under `open_mutex`).
    pub(crate) fn foxramdisk_helper_disk_openers(disk: *mut bindings::gendisk) -> c_uint;
    /// `rq_list_pop()`: takes the first request off the list; null if it is empty.
    pub(crate) fn foxramdisk_helper_rq_list_pop(
        rl: *mut bindings::rq_list,
    ) -> *mut bindings::request;
    /// `blk_mq_add_to_batch()`: adds a finished request to `iob`, to be ended with the
    /// others by `complete`; false, with nothing done, if it cannot be batched.
    pub(crate) fn foxramdisk_helper_blk_mq_add_to_batch(
        req: *mut bindings::request,
        iob: *mut bindings::io_comp_batch,
        is_error: bool,
        complete: Option<unsafe extern "C" fn(*mut bindings::io_comp_batch)>,
    ) -> bool;
    /// Allocates a `struct percpu_rw_semaphore` and initialises it with
    /// `__percpu_init_rwsem(sem, name, key)`; null on failure.
    pub(crate) fn foxramdisk_helper_percpu_rwsem_alloc(
        name: *const c_char,
        key: *mut bindings::lock_class_key,
    ) -> *mut bindings::percpu_rw_semaphore;
    /// `percpu_free_rwsem()`, then frees the semaphore.
    pub(crate) fn foxramdisk_helper_percpu_rwsem_free(sem: *mut bindings::percpu_rw_semaphore);
    /// `percpu_down_read()`.
    pub(crate) fn foxramdisk_helper_percpu_down_read(sem: *mut bindings::percpu_rw_semaphore);
    /// `percpu_down_read_trylock()`.
    pub(crate) fn foxramdisk_helper_percpu_down_read_trylock(
        sem: *mut bindings::percpu_rw_semaphore,
    ) -> bool;
    /// `percpu_up_read()`.
    pub(crate) fn foxramdisk_helper_percpu_up_read(sem: *mut bindings::percpu_rw_semaphore);
    /// `zs_pool_stats()`, its `pages_compacted` field.
    pub(crate) fn foxramdisk_helper_zs_pages_compacted(pool: *mut zs_pool) -> c_ulong;
    /// `crypto_has_acomp()`.
    pub(crate) fn foxramdisk_helper_crypto_has_acomp(
        name: *const c_char,
        ty: u32,
        mask: u32,
    ) -> c_int;
    /// `crypto_free_acomp()`.
    pub(crate) fn foxramdisk_helper_crypto_free_acomp(tfm: *mut crypto_acomp);
    /// `acomp_request_alloc()`.
    pub(crate) fn foxramdisk_helper_acomp_request_alloc(
        tfm: *mut crypto_acomp,
        gfp: bindings::gfp_t,
    ) -> *mut acomp_req;
    /// `acomp_request_free()`.
    pub(crate) fn foxramdisk_helper_acomp_request_free(req: *mut acomp_req);
    /// `acomp_request_set_callback()`.
    pub(crate) fn foxramdisk_helper_acomp_request_set_callback(
        req: *mut acomp_req,
        flags: u32,
        cmpl: CryptoCompletion,
        data: *mut c_void,
    );
    /// `acomp_request_set_src_nondma()`.
    pub(crate) fn foxramdisk_helper_acomp_request_set_src_nondma(
        req: *mut acomp_req,
        src: *const u8,
        slen: c_uint,
    );
    /// `acomp_request_set_dst_nondma()`.
    pub(crate) fn foxramdisk_helper_acomp_request_set_dst_nondma(
        req: *mut acomp_req,
        dst: *mut u8,
        dlen: c_uint,
    );
    /// `req->dlen`: the output length of a finished request.
    pub(crate) fn foxramdisk_helper_acomp_request_dlen(req: *const acomp_req) -> c_uint;
    /// `lockdep_init_map()` with subclass 0.
    pub(crate) fn foxramdisk_helper_lockdep_init_map(
        map: *mut bindings::lockdep_map,
        name: *const c_char,
        key: *mut bindings::lock_class_key,
    );
    /// `mutex_acquire()` of `map`, `wait_on_bit_lock()`, `lock_acquired()`.
    pub(crate) fn foxramdisk_helper_bit_lock(
        word: *mut c_ulong,
        bit: c_uint,
        map: *mut bindings::lockdep_map,
    );
    /// `test_and_set_bit_lock()`, then, if it was clear, the trylock `mutex_acquire()` of
    /// `map` and `lock_acquired()`; whether the lock was taken.
    pub(crate) fn foxramdisk_helper_bit_trylock(
        word: *mut c_ulong,
        bit: c_uint,
        map: *mut bindings::lockdep_map,
    ) -> bool;
    /// `mutex_release()` of `map`, `clear_and_wake_up_bit()`.
    pub(crate) fn foxramdisk_helper_bit_unlock(
        word: *mut c_ulong,
        bit: c_uint,
        map: *mut bindings::lockdep_map,
    );
    /// `copy_page()`: copies a page-aligned page (an architecture's macro or function).
    pub(crate) fn foxramdisk_helper_copy_page(to: *mut c_void, from: *mut c_void);
    /// `clear_page()`: zeroes a page-aligned page.
    pub(crate) fn foxramdisk_helper_clear_page(page: *mut c_void);
    /// `page_to_pfn()`: the frame number of a page.
    pub(crate) fn foxramdisk_helper_page_to_pfn(page: *mut bindings::page) -> c_ulong;
    /// `pfn_to_page()`: the page of a frame number.
    pub(crate) fn foxramdisk_helper_pfn_to_page(pfn: c_ulong) -> *mut bindings::page;
    /// `memset_l()`: fills `n` longs at `p` with `v`.
    pub(crate) fn foxramdisk_helper_memset_l(p: *mut c_ulong, v: c_ulong, n: usize);
    /// `memalloc_noio_save()`.
    pub(crate) fn foxramdisk_helper_memalloc_noio_save() -> c_uint;
    /// `memalloc_noio_restore()`.
    pub(crate) fn foxramdisk_helper_memalloc_noio_restore(flags: c_uint);
    /// `memalloc_noreclaim_save()`.
    pub(crate) fn foxramdisk_helper_memalloc_noreclaim_save() -> c_uint;
    /// `memalloc_noreclaim_restore()`.
    pub(crate) fn foxramdisk_helper_memalloc_noreclaim_restore(flags: c_uint);
    /// `memalloc_retry_wait()`.
    pub(crate) fn foxramdisk_helper_memalloc_retry_wait(gfp_flags: bindings::gfp_t);
    /// The mode of the inode that holds `file`'s data (`f_mapping->host`: a block
    /// device's own inode for a device node).
    pub(crate) fn foxramdisk_helper_file_mode(file: *mut bindings::file) -> bindings::umode_t;
    /// `INIT_WORK()`: initialises `work`, which is not queued, to run `func`.
    pub(crate) fn foxramdisk_helper_init_work(
        work: *mut bindings::work_struct,
        func: bindings::work_func_t,
    );
    /// Makes the I/O of `file`, which no one else uses yet, direct (`O_DIRECT`, as
    /// `fcntl(F_SETFL)` sets it) if it takes direct I/O (`FMODE_CAN_ODIRECT`); whether it
    /// does.
    pub(crate) fn foxramdisk_helper_file_set_direct(file: *mut bindings::file) -> bool;
    /// `atomic_read()` of `file_inode(file)->i_writecount`: its writers if positive.
    pub(crate) fn foxramdisk_helper_file_writers(file: *mut bindings::file) -> c_int;
    /// `file_inode(file)->i_flags` (`S_SWAPFILE`, ...).
    pub(crate) fn foxramdisk_helper_file_inode_flags(file: *mut bindings::file) -> c_uint;
    /// `i_size_read()` of `file->f_mapping->host`: a device's or a file's size in bytes.
    pub(crate) fn foxramdisk_helper_file_size(file: *mut bindings::file) -> bindings::loff_t;
    /// The device that holds `file`'s data: a block device's own number, else the number
    /// of the filesystem the file is on.
    pub(crate) fn foxramdisk_helper_file_device(file: *mut bindings::file) -> bindings::dev_t;
    /// `should_fail()` of the driver's `fail_alloc` point (`DECLARE_FAULT_ATTR()`).
    #[cfg(CONFIG_FAULT_INJECTION)]
    pub(crate) fn foxramdisk_helper_should_fail_alloc(size: usize) -> bool;
    /// `fault_create_debugfs_attr()` of the driver's `fail_alloc` point.
    #[cfg(CONFIG_FAULT_INJECTION)]
    pub(crate) fn foxramdisk_helper_fail_alloc_debugfs(
        parent: *mut bindings::dentry,
    ) -> *mut bindings::dentry;
}

// Exported kernel functions whose headers `kernel::bindings` does not include.
extern "C" {
    /// `crypto_alloc_acomp()` (`crypto/acompress.c`).
    pub(crate) fn crypto_alloc_acomp(name: *const c_char, ty: u32, mask: u32) -> *mut crypto_acomp;
    /// `crypto_acomp_compress()` (`crypto/acompress.c`).
    pub(crate) fn crypto_acomp_compress(req: *mut acomp_req) -> c_int;
    /// `crypto_acomp_decompress()` (`crypto/acompress.c`).
    pub(crate) fn crypto_acomp_decompress(req: *mut acomp_req) -> c_int;
    /// `zs_create_pool()` (`mm/zsmalloc.c`).
    pub(crate) fn zs_create_pool(name: *const c_char) -> *mut zs_pool;
    /// `zs_destroy_pool()`.
    pub(crate) fn zs_destroy_pool(pool: *mut zs_pool);
    /// `zs_malloc()`: a handle, or an `ERR_PTR()` value.
    pub(crate) fn zs_malloc(
        pool: *mut zs_pool,
        size: usize,
        flags: bindings::gfp_t,
        nid: c_int,
    ) -> c_ulong;
    /// `zs_free()`.
    pub(crate) fn zs_free(pool: *mut zs_pool, handle: c_ulong);
    /// `zs_huge_class_size()`.
    pub(crate) fn zs_huge_class_size(pool: *mut zs_pool) -> usize;
    /// `zs_lookup_class_index()`.
    pub(crate) fn zs_lookup_class_index(pool: *mut zs_pool, size: c_uint) -> c_uint;
    /// `zs_compact()`.
    pub(crate) fn zs_compact(pool: *mut zs_pool) -> c_ulong;
    /// `xxh64()` (`lib/xxhash.c`): the 64-bit xxHash of `len` bytes at `input`.
    pub(crate) fn xxh64(input: *const c_void, len: usize, seed: u64) -> u64;
    /// `zs_get_total_pages()`.
    pub(crate) fn zs_get_total_pages(pool: *mut zs_pool) -> c_ulong;
    /// `zs_obj_read_begin()`.
    pub(crate) fn zs_obj_read_begin(
        pool: *mut zs_pool,
        handle: c_ulong,
        mem_len: usize,
        local_copy: *mut c_void,
    ) -> *mut c_void;
    /// `zs_obj_read_end()`.
    pub(crate) fn zs_obj_read_end(
        pool: *mut zs_pool,
        handle: c_ulong,
        mem_len: usize,
        handle_mem: *mut c_void,
    );
    /// `zstd_get_params()` (`lib/zstd/zstd_compress_module.c`).
    pub(crate) fn zstd_get_params(level: c_int, estimated_src_size: u64) -> zstd_parameters;
    /// `zstd_cctx_workspace_bound()`.
    pub(crate) fn zstd_cctx_workspace_bound(
        parameters: *const zstd_compression_parameters,
    ) -> usize;
    /// `zstd_init_cctx()`.
    pub(crate) fn zstd_init_cctx(workspace: *mut c_void, workspace_size: usize) -> *mut zstd_cctx;
    /// `zstd_compress_cctx()`.
    pub(crate) fn zstd_compress_cctx(
        cctx: *mut zstd_cctx,
        dst: *mut c_void,
        dst_capacity: usize,
        src: *const c_void,
        src_size: usize,
        parameters: *const zstd_parameters,
    ) -> usize;
    /// `zstd_default_clevel()`.
    pub(crate) fn zstd_default_clevel() -> c_int;
    /// `zstd_min_clevel()`.
    pub(crate) fn zstd_min_clevel() -> c_int;
    /// `zstd_max_clevel()`.
    pub(crate) fn zstd_max_clevel() -> c_int;
    /// `zstd_is_error()` (`lib/zstd/common/zstd_common.c` via `zstd_common_module.c`).
    pub(crate) fn zstd_is_error(code: usize) -> c_uint;
    /// `zstd_dctx_workspace_bound()` (`lib/zstd/zstd_decompress_module.c`).
    pub(crate) fn zstd_dctx_workspace_bound() -> usize;
    /// `zstd_init_dctx()`.
    pub(crate) fn zstd_init_dctx(workspace: *mut c_void, workspace_size: usize) -> *mut zstd_dctx;
    /// `zstd_decompress_dctx()`.
    pub(crate) fn zstd_decompress_dctx(
        dctx: *mut zstd_dctx,
        dst: *mut c_void,
        dst_capacity: usize,
        src: *const c_void,
        src_size: usize,
    ) -> usize;
    /// `LZ4_compress_fast()` (`lib/lz4/lz4_compress.c`).
    pub(crate) fn LZ4_compress_fast(
        source: *const c_char,
        dest: *mut c_char,
        input_size: c_int,
        max_output_size: c_int,
        acceleration: c_int,
        wrkmem: *mut c_void,
    ) -> c_int;
    /// `LZ4_compress_HC()` (`lib/lz4/lz4hc_compress.c`).
    pub(crate) fn LZ4_compress_HC(
        src: *const c_char,
        dst: *mut c_char,
        src_size: c_int,
        dst_capacity: c_int,
        compression_level: c_int,
        wrkmem: *mut c_void,
    ) -> c_int;
    /// `zlib_deflate_workspacesize()` (`lib/zlib_deflate/deflate.c`).
    pub(crate) fn zlib_deflate_workspacesize(window_bits: c_int, mem_level: c_int) -> c_int;
    /// `zlib_deflateInit2()`.
    pub(crate) fn zlib_deflateInit2(
        strm: *mut z_stream_s,
        level: c_int,
        method: c_int,
        window_bits: c_int,
        mem_level: c_int,
        strategy: c_int,
    ) -> c_int;
    /// `zlib_deflateReset()`.
    pub(crate) fn zlib_deflateReset(strm: *mut z_stream_s) -> c_int;
    /// `zlib_deflate()`.
    pub(crate) fn zlib_deflate(strm: *mut z_stream_s, flush: c_int) -> c_int;
    /// `zlib_deflateEnd()`.
    pub(crate) fn zlib_deflateEnd(strm: *mut z_stream_s) -> c_int;
    /// `zlib_inflate_workspacesize()` (`lib/zlib_inflate/inflate.c`).
    pub(crate) fn zlib_inflate_workspacesize() -> c_int;
    /// `zlib_inflateInit2()`.
    pub(crate) fn zlib_inflateInit2(strm: *mut z_stream_s, window_bits: c_int) -> c_int;
    /// `zlib_inflateReset()`.
    pub(crate) fn zlib_inflateReset(strm: *mut z_stream_s) -> c_int;
    /// `zlib_inflate()`.
    pub(crate) fn zlib_inflate(strm: *mut z_stream_s, flush: c_int) -> c_int;
    /// `zlib_inflateEnd()`.
    pub(crate) fn zlib_inflateEnd(strm: *mut z_stream_s) -> c_int;
    /// `LZ4_decompress_safe()` (`lib/lz4/lz4_decompress.c`).
    pub(crate) fn LZ4_decompress_safe(
        source: *const c_char,
        dest: *mut c_char,
        compressed_size: c_int,
        max_decompressed_size: c_int,
    ) -> c_int;
    /// `zs_obj_write()`.
    pub(crate) fn zs_obj_write(
        pool: *mut zs_pool,
        handle: c_ulong,
        handle_mem: *mut c_void,
        mem_len: usize,
    );
}
