/* Kernel parameters: what the autotuner will choose per device. Each becomes a -D define of
 * the kernels (the .cl files hold the same defaults under #ifndef). */
#ifndef CLS_PARAMS_H
#define CLS_PARAMS_H

#include "host/host.h"

typedef struct cls_params {
    /* rasterizer (cl/rasterize.cl) */
    int tile_size;         /* CLS_TILE: tile width and height in pixels */
    int pixels_per_item;   /* CLS_PIXELS_PER_ITEM: 1 (GPUs) or a vector width 2..16 that divides tile_size (CPUs) */
    int raster_batch;      /* CLS_BATCH: Gaussians staged in local memory at a time */
    /* radix sort (cl/radix_sort.cl) */
    int sort_radix_bits;   /* CLS_RADIX_BITS: bits per pass, 1..8 */
    int sort_group_size;   /* CLS_SORT_WG: work-items per sort work-group */
    int sort_items;        /* CLS_SORT_ITEMS: keys per work-item per block */
    int sort_reorder;      /* CLS_SORT_REORDER: 1 to reorder each block in local memory before
                              the scatter (coalesced stores, GPUs), 0 to scatter directly (CPUs) */
    /* scan (cl/scan.cl) */
    int scan_group_size;   /* CLS_SCAN_WG */
    int scan_items;        /* CLS_SCAN_ITEMS: elements per work-item */
    /* per-Gaussian passes (projection, emit) */
    int gaussian_group_size;
} cls_params;

/* Compiled-in defaults for a device (by type). */
void cls__params_default(const clh_device_info *info, cls_params *out);

#endif
