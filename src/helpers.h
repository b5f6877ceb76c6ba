/* SPDX-License-Identifier: GPL-2.0 */
/*
 * foxramdisk: wrappers of static inline kernel functions and macros for the Rust code.
 *
 * Each helper is one call of the function it is named after, the way rust/helpers/ does it
 * in-tree, except the three of the bit lock, which are zram's slot lock operations: the bit
 * operation with its lockdep annotations. The Rust declarations are in src/ext/ffi.rs and
 * must match these prototypes.
 */
#ifndef FOXRAMDISK_HELPERS_H
#define FOXRAMDISK_HELPERS_H

#include <crypto/acompress.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/percpu-rwsem.h>
#include <linux/zsmalloc.h>

/* block */
struct gendisk *foxramdisk_helper_dev_to_disk(struct device *dev);
unsigned int foxramdisk_helper_disk_openers(struct gendisk *disk);
struct request *foxramdisk_helper_rq_list_pop(struct rq_list *rl);
bool foxramdisk_helper_blk_mq_add_to_batch(struct request *req, struct io_comp_batch *iob,
					   bool is_error,
					   void (*complete)(struct io_comp_batch *));

/* per-CPU rw semaphore */
struct percpu_rw_semaphore *foxramdisk_helper_percpu_rwsem_alloc(const char *name,
								 struct lock_class_key *key);
void foxramdisk_helper_percpu_rwsem_free(struct percpu_rw_semaphore *sem);
void foxramdisk_helper_percpu_down_read(struct percpu_rw_semaphore *sem);
bool foxramdisk_helper_percpu_down_read_trylock(struct percpu_rw_semaphore *sem);
void foxramdisk_helper_percpu_up_read(struct percpu_rw_semaphore *sem);

/* crypto */
int foxramdisk_helper_crypto_has_acomp(const char *alg_name, u32 type, u32 mask);
void foxramdisk_helper_crypto_free_acomp(struct crypto_acomp *tfm);
struct acomp_req *foxramdisk_helper_acomp_request_alloc(struct crypto_acomp *tfm, gfp_t gfp);
void foxramdisk_helper_acomp_request_free(struct acomp_req *req);
void foxramdisk_helper_acomp_request_set_callback(struct acomp_req *req, u32 flgs,
						  crypto_completion_t cmpl, void *data);
void foxramdisk_helper_acomp_request_set_src_nondma(struct acomp_req *req, const u8 *src,
						    unsigned int slen);
void foxramdisk_helper_acomp_request_set_dst_nondma(struct acomp_req *req, u8 *dst,
						    unsigned int dlen);
unsigned int foxramdisk_helper_acomp_request_dlen(const struct acomp_req *req);

/* zsmalloc */
unsigned long foxramdisk_helper_zs_pages_compacted(struct zs_pool *pool);

/* locking */
void foxramdisk_helper_lockdep_init_map(struct lockdep_map *map, const char *name,
					struct lock_class_key *key);
void foxramdisk_helper_bit_lock(unsigned long *word, unsigned int bit, struct lockdep_map *map);
bool foxramdisk_helper_bit_trylock(unsigned long *word, unsigned int bit, struct lockdep_map *map);
void foxramdisk_helper_bit_unlock(unsigned long *word, unsigned int bit, struct lockdep_map *map);

/* memory */
void foxramdisk_helper_copy_page(void *to, void *from);
void foxramdisk_helper_clear_page(void *page);
unsigned long foxramdisk_helper_page_to_pfn(struct page *page);
struct page *foxramdisk_helper_pfn_to_page(unsigned long pfn);
void foxramdisk_helper_memset_l(unsigned long *p, unsigned long v, size_t n);

/* memory allocation scope */
unsigned int foxramdisk_helper_memalloc_noio_save(void);
void foxramdisk_helper_memalloc_noio_restore(unsigned int flags);
unsigned int foxramdisk_helper_memalloc_noreclaim_save(void);
void foxramdisk_helper_memalloc_noreclaim_restore(unsigned int flags);
void foxramdisk_helper_memalloc_retry_wait(gfp_t gfp_flags);

/* work items */
void foxramdisk_helper_init_work(struct work_struct *work, work_func_t func);

/* files */
umode_t foxramdisk_helper_file_mode(struct file *file);
bool foxramdisk_helper_file_set_direct(struct file *file);
int foxramdisk_helper_file_writers(struct file *file);
unsigned int foxramdisk_helper_file_inode_flags(struct file *file);
loff_t foxramdisk_helper_file_size(struct file *file);
dev_t foxramdisk_helper_file_device(struct file *file);

/* fault injection (only with CONFIG_FAULT_INJECTION) */
bool foxramdisk_helper_should_fail_alloc(size_t size);
struct dentry *foxramdisk_helper_fail_alloc_debugfs(struct dentry *parent);

#endif /* FOXRAMDISK_HELPERS_H */
