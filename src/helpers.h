/* SPDX-License-Identifier: GPL-2.0 */
/*
 * foxramdisk: wrappers of static inline kernel functions and macros for the Rust code.
 *
 * Each helper is one call of the function it is named after, the way rust/helpers/ does it
 * in-tree; the Rust declarations are in src/ext/ffi.rs and must match these prototypes.
 */
#ifndef FOXRAMDISK_HELPERS_H
#define FOXRAMDISK_HELPERS_H

#include <linux/bio.h>
#include <linux/blk-mq.h>

/* block */
sector_t foxramdisk_helper_blk_rq_pos(const struct request *rq);
unsigned int foxramdisk_helper_blk_rq_bytes(const struct request *rq);
unsigned int foxramdisk_helper_req_op(const struct request *rq);
struct bio_vec foxramdisk_helper_bio_iter_iovec(struct bio *bio, struct bvec_iter iter);
void foxramdisk_helper_bio_advance_iter_single(const struct bio *bio, struct bvec_iter *iter,
					       unsigned int bytes);

/* locking */
void foxramdisk_helper_bit_spin_lock(int bitnum, unsigned long *addr);
void foxramdisk_helper_bit_spin_unlock(int bitnum, unsigned long *addr);

/* memory allocation scope */
unsigned int foxramdisk_helper_memalloc_noio_save(void);
void foxramdisk_helper_memalloc_noio_restore(unsigned int flags);

#endif /* FOXRAMDISK_HELPERS_H */
