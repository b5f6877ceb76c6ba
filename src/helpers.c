// SPDX-License-Identifier: GPL-2.0
/*
 * foxramdisk: wrappers of static inline kernel functions and macros for the Rust code.
 *
 * Only one-line wrappers belong here, the bit lock's three operations (see helpers.h) and
 * fcntl()'s O_DIRECT switch for a file the driver opened. The static_asserts pin the values of
 * C macros that bindgen cannot translate and that src/ext/ mirrors as Rust constants.
 */

#include <crypto/acompress.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
#include <linux/lz4.h>
#include <linux/sched/mm.h>
#include <linux/stddef.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>
#include <linux/zlib.h>
#include <linux/zstd.h>

#include "helpers.h"

/* Mirrored in src/ext/crypto/acomp.rs. */
static_assert(CRYPTO_ALG_ASYNC == 0x80);
/* Mirrored in src/ext/mm/zsmalloc.rs. */
static_assert(__GFP_MOVABLE == 0x08);
/* Mirrored in src/ext/block/mq/gen_disk.rs (`Features`). */
static_assert(BLK_FEAT_STABLE_WRITES == (1u << 5));
static_assert(BLK_FEAT_SYNCHRONOUS == (1u << 6));
/* Mirrored in src/ext/ffi.rs (`zstd_parameters`, `zstd_compression_parameters`). */
static_assert(sizeof(zstd_compression_parameters) == 7 * sizeof(unsigned int));
static_assert(offsetof(zstd_compression_parameters, strategy) == 6 * sizeof(unsigned int));
static_assert(sizeof(zstd_parameters) == 10 * sizeof(int));
static_assert(offsetof(zstd_parameters, fParams) == sizeof(zstd_compression_parameters));
/* Mirrored in src/ext/ffi.rs (`z_stream_s`) and src/ext/deflate.rs. */
static_assert(sizeof(struct z_stream_s) == 12 * sizeof(long));
static_assert(offsetof(struct z_stream_s, avail_out) == 4 * sizeof(long));
static_assert(offsetof(struct z_stream_s, workspace) == 8 * sizeof(long));
static_assert(offsetof(struct z_stream_s, adler) == 10 * sizeof(long));
static_assert(Z_OK == 0 && Z_STREAM_END == 1 && Z_SYNC_FLUSH == 3 && Z_FINISH == 5);
static_assert(Z_DEFLATED == 8 && Z_DEFAULT_STRATEGY == 0 && MAX_MEM_LEVEL == 8);
static_assert(Z_DEFAULT_COMPRESSION == -1 && Z_BEST_COMPRESSION == 9);
/* Mirrored in src/ext/lz4.rs. */
static_assert(LZ4_MEM_COMPRESS == 16416 && LZ4_ACCELERATION_DEFAULT == 1);
static_assert(LZ4HC_MEM_COMPRESS == 262192 && LZ4HC_DEFAULT_CLEVEL == 9 && LZ4HC_MAX_CLEVEL == 16);
/* Mirrored in src/ext/block/mq/request.rs (`Request::op()`). */
static_assert(REQ_OP_MASK == (1 << REQ_OP_BITS) - 1);
/*
 * src/ext/object_table.rs keeps a page's frame number in the top 52 bits of a slot's word,
 * as zsmalloc keeps one in its object locations (same fallback when an architecture does
 * not define the bound).
 */
#ifndef MAX_POSSIBLE_PHYSMEM_BITS
#ifdef MAX_PHYSMEM_BITS
#define MAX_POSSIBLE_PHYSMEM_BITS MAX_PHYSMEM_BITS
#else
#define MAX_POSSIBLE_PHYSMEM_BITS BITS_PER_LONG
#endif
#endif
static_assert(BITS_PER_LONG == 64 && MAX_POSSIBLE_PHYSMEM_BITS - PAGE_SHIFT <= 52);

struct gendisk *foxramdisk_helper_dev_to_disk(struct device *dev)
{
	return dev_to_disk(dev);
}

unsigned int foxramdisk_helper_disk_openers(struct gendisk *disk)
{
	return disk_openers(disk);
}

struct request *foxramdisk_helper_rq_list_pop(struct rq_list *rl)
{
	return rq_list_pop(rl);
}

bool foxramdisk_helper_blk_mq_add_to_batch(struct request *req, struct io_comp_batch *iob,
					   bool is_error,
					   void (*complete)(struct io_comp_batch *))
{
	return blk_mq_add_to_batch(req, iob, is_error, complete);
}

/* zs_pool_stats() with its one field read: struct zs_pool_stats stays out of Rust. */
/*
 * A per-CPU rw semaphore allocated and initialised in one call: percpu_init_rwsem() is a
 * macro with a static key of its own, so the caller passes the key, and Rust keeps only
 * the pointer (the semaphore holds wait queues and must not move).
 */
struct percpu_rw_semaphore *foxramdisk_helper_percpu_rwsem_alloc(const char *name,
								 struct lock_class_key *key)
{
	struct percpu_rw_semaphore *sem = kmalloc(sizeof(*sem), GFP_KERNEL);

	if (!sem)
		return NULL;
	if (__percpu_init_rwsem(sem, name, key)) {
		kfree(sem);
		return NULL;
	}
	return sem;
}

void foxramdisk_helper_percpu_rwsem_free(struct percpu_rw_semaphore *sem)
{
	percpu_free_rwsem(sem);
	kfree(sem);
}

void foxramdisk_helper_percpu_down_read(struct percpu_rw_semaphore *sem)
{
	percpu_down_read(sem);
}

bool foxramdisk_helper_percpu_down_read_trylock(struct percpu_rw_semaphore *sem)
{
	return percpu_down_read_trylock(sem);
}

void foxramdisk_helper_percpu_up_read(struct percpu_rw_semaphore *sem)
{
	percpu_up_read(sem);
}

unsigned long foxramdisk_helper_zs_pages_compacted(struct zs_pool *pool)
{
	struct zs_pool_stats stats = {};

	zs_pool_stats(pool, &stats);
	return atomic_long_read(&stats.pages_compacted);
}

int foxramdisk_helper_crypto_has_acomp(const char *alg_name, u32 type, u32 mask)
{
	return crypto_has_acomp(alg_name, type, mask);
}

void foxramdisk_helper_crypto_free_acomp(struct crypto_acomp *tfm)
{
	crypto_free_acomp(tfm);
}

struct acomp_req *foxramdisk_helper_acomp_request_alloc(struct crypto_acomp *tfm, gfp_t gfp)
{
	return acomp_request_alloc(tfm, gfp);
}

void foxramdisk_helper_acomp_request_free(struct acomp_req *req)
{
	acomp_request_free(req);
}

void foxramdisk_helper_acomp_request_set_callback(struct acomp_req *req, u32 flgs,
						  crypto_completion_t cmpl, void *data)
{
	acomp_request_set_callback(req, flgs, cmpl, data);
}

void foxramdisk_helper_acomp_request_set_src_nondma(struct acomp_req *req, const u8 *src,
						    unsigned int slen)
{
	acomp_request_set_src_nondma(req, src, slen);
}

void foxramdisk_helper_acomp_request_set_dst_nondma(struct acomp_req *req, u8 *dst,
						    unsigned int dlen)
{
	acomp_request_set_dst_nondma(req, dst, dlen);
}

/* The output length of a finished request: what zswap reads as req->dlen. */
unsigned int foxramdisk_helper_acomp_request_dlen(const struct acomp_req *req)
{
	return req->dlen;
}

void foxramdisk_helper_lockdep_init_map(struct lockdep_map *map, const char *name,
					struct lock_class_key *key)
{
	lockdep_init_map(map, name, key, 0);
}

/*
 * The three operations of a sleeping bit lock checked by lockdep through one map for a set
 * of such locks: zram's slot_lock(), slot_trylock() and slot_unlock(), with the word, bit
 * and map as arguments.
 */
void foxramdisk_helper_bit_lock(unsigned long *word, unsigned int bit, struct lockdep_map *map)
{
	mutex_acquire(map, 0, 0, _RET_IP_);
	wait_on_bit_lock(word, bit, TASK_UNINTERRUPTIBLE);
	lock_acquired(map, _RET_IP_);
}

bool foxramdisk_helper_bit_trylock(unsigned long *word, unsigned int bit, struct lockdep_map *map)
{
	if (test_and_set_bit_lock(bit, word))
		return false;
	mutex_acquire(map, 0, 1, _RET_IP_);
	lock_acquired(map, _RET_IP_);
	return true;
}

void foxramdisk_helper_bit_unlock(unsigned long *word, unsigned int bit, struct lockdep_map *map)
{
	mutex_release(map, _RET_IP_);
	clear_and_wake_up_bit(bit, word);
}

void foxramdisk_helper_copy_page(void *to, void *from)
{
	copy_page(to, from);
}

unsigned long foxramdisk_helper_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}

struct page *foxramdisk_helper_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

void foxramdisk_helper_clear_page(void *page)
{
	clear_page(page);
}

void foxramdisk_helper_memset_l(unsigned long *p, unsigned long v, size_t n)
{
	memset_l(p, v, n);
}

unsigned int foxramdisk_helper_memalloc_noio_save(void)
{
	return memalloc_noio_save();
}

void foxramdisk_helper_memalloc_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}

unsigned int foxramdisk_helper_memalloc_noreclaim_save(void)
{
	return memalloc_noreclaim_save();
}

void foxramdisk_helper_memalloc_noreclaim_restore(unsigned int flags)
{
	memalloc_noreclaim_restore(flags);
}

void foxramdisk_helper_memalloc_retry_wait(gfp_t gfp_flags)
{
	memalloc_retry_wait(gfp_flags);
}

#ifdef CONFIG_FAULT_INJECTION
/*
 * The driver's own fault injection point, declared with its macro as drivers do
 * (null_blk's): before a block's memory is allocated. Rust calls it through the two
 * functions below, as a static of a type that kernel::bindings does not have.
 */
static DECLARE_FAULT_ATTR(foxramdisk_fail_alloc);

bool foxramdisk_helper_should_fail_alloc(size_t size)
{
	return should_fail(&foxramdisk_fail_alloc, size);
}

struct dentry *foxramdisk_helper_fail_alloc_debugfs(struct dentry *parent)
{
	return fault_create_debugfs_attr("fail_alloc", parent, &foxramdisk_fail_alloc);
}
#endif

void foxramdisk_helper_init_work(struct work_struct *work, work_func_t func)
{
	INIT_WORK(work, func);
}

umode_t foxramdisk_helper_file_mode(struct file *file)
{
	return file->f_mapping->host->i_mode;
}

bool foxramdisk_helper_file_set_direct(struct file *file)
{
	/* As fcntl(F_SETFL, O_DIRECT) does, on a file that no one else knows yet. */
	if (!(file->f_mode & FMODE_CAN_ODIRECT))
		return false;
	file->f_flags |= O_DIRECT;
	file->f_iocb_flags = iocb_flags(file);
	return true;
}

int foxramdisk_helper_file_writers(struct file *file)
{
	return atomic_read(&file_inode(file)->i_writecount);
}

unsigned int foxramdisk_helper_file_inode_flags(struct file *file)
{
	return file_inode(file)->i_flags;
}

loff_t foxramdisk_helper_file_size(struct file *file)
{
	return i_size_read(file->f_mapping->host);
}

dev_t foxramdisk_helper_file_device(struct file *file)
{
	struct inode *host = file->f_mapping->host;

	return S_ISBLK(host->i_mode) ? host->i_rdev : file_inode(file)->i_sb->s_dev;
}
