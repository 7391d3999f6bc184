/* scan.h - exclusive prefix sum of uint32 values on the device (cl/scan.cl), reduce-then-scan
 * with as many levels as the length needs. Internal. */
#ifndef CLS_SCAN_H
#define CLS_SCAN_H

#include "internal.h"

/* Levels of block sums kept; deeper problems finish with the single-work-group kernel
 * walking the remaining sums block by block (correct, only slower). With the default
 * parameters two levels cover 2^31 elements. */
#define CLS__SCAN_MAX_LEVELS 8

typedef struct cls__scan {
    cl_kernel reduce, scan_blocks, downsweep;
    size_t group_size;   /* the scan_group_size the kernels were built with */
    uint32_t block;      /* elements per block: scan_group_size * scan_items */
    clh_buffer block_sums[CLS__SCAN_MAX_LEVELS];
} cls__scan;

/* Builds the kernels with the context's current parameters. On failure the message is on
 * ctx and *scan holds nothing to release (releasing it anyway is harmless). */
cls_status cls__scan_init(cls_context *ctx, cls__scan *scan);
/* Releases kernels and buffers; a zeroed struct is a no-op. */
void cls__scan_release(cls__scan *scan);

/* Exclusive prefix sum of n uints from `in` to `out` (in == out allowed), sums modulo 2^32.
 * When `total` is not NULL, the sum of all n values is written to total[0] (0 when n == 0).
 * n must be below 2^31 (CLS_ERROR_LIMIT otherwise). Enqueues only; no host synchronisation.
 * Launches are recorded in prof (may be NULL) under `pass`. */
cls_status cls__scan_exclusive(cls_context *ctx, cls__scan *scan, cl_mem in, cl_mem out, uint32_t n, cl_mem total,
                               cls__profile *prof, cls_pass pass);

/* CLS_ERROR_LIMIT (with a message naming `what`) when the kernel cannot run work-groups of
 * group_size work-items on this device. Shared with the sort. */
cls_status cls__check_group_size(cls_context *ctx, cl_kernel kernel, const char *what, size_t group_size);

#endif
