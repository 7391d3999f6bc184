/* sort.h - stable LSD radix sort of (uint32 key, uint32 value) pairs on the device
 * (cl/radix_sort.cl, reduce-then-scan per pass). Internal. */
#ifndef CLS_SORT_H
#define CLS_SORT_H

#include "scan.h"

typedef struct cls__sort {
    cl_kernel histogram_kernel, scatter_kernel;
    cls__scan scan;
    clh_buffer histogram;  /* [digit][block] counts, scanned in place into offsets */
    clh_buffer keys_alt, values_alt;
    /* The parameters the kernels were built with (ctx->params at init). */
    uint32_t radix_bits;
    size_t group_size;
    uint32_t block;        /* keys per block: sort_group_size * sort_items */
    int reorder;           /* the scatter variant (CLS_SORT_REORDER) */
} cls__sort;

/* Builds the kernels with the context's current parameters (radix bits, group size, items;
 * the scan's too). On failure the message is on ctx and *sort holds nothing to release. */
cls_status cls__sort_init(cls_context *ctx, cls__sort *sort);
/* cls__sort_init with the scatter variant chosen: reorder 1 stages each block in local
 * memory so stores are coalesced (GPUs), 0 writes straight from each work-item's keys
 * (CPUs), -1 picks by device type (what cls__sort_init does). For tests and the tuner. */
cls_status cls__sort_init_variant(cls_context *ctx, cls__sort *sort, int reorder);
/* Releases kernels and buffers; a zeroed struct is a no-op. */
void cls__sort_release(cls__sort *sort);
/* Frees the sort's scratch buffers (they come back, sized anew, with the next sort). */
void cls__sort_trim(cls__sort *sort);

/* Stable sort of the first n (key, value) pairs of *keys / *values by the low key_bits
 * (0..32) bits of the key; the other bits are carried along but ignored. Runs
 * ceil(key_bits / radix_bits) passes; n <= 1 or key_bits == 0 enqueues nothing. On return
 * *keys and *values hold the sorted pairs: the sorter may swap the caller's clh_buffer
 * structs with its own alternates (both then hold at least n pairs). n must be below 2^31
 * (CLS_ERROR_LIMIT otherwise). Enqueues only: no host synchronisation. Launches are
 * recorded in prof (may be NULL) under `pass`. */
cls_status cls__sort_pairs(cls_context *ctx, cls__sort *sort, clh_buffer *keys, clh_buffer *values, uint32_t n,
                           uint32_t key_bits, cls__profile *prof, cls_pass pass);

/* Passes a sort of key_bits bits takes with these parameters. */
uint32_t cls__sort_passes(const cls__sort *sort, uint32_t key_bits);

#endif
