/* Kernel parameters: what the autotuner chooses per device (docs/tuning.md). Each becomes a
 * -D define of the kernels (the .cl files hold the same defaults under #ifndef) or shapes a
 * launch. The tuning space (which values each tunable kernel may take, and the constraints
 * that prune it before anything is built) is the table in engine/params.c. */
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
    /* per-Gaussian passes (projection, compaction, emit, ranges, project backward) */
    int gaussian_group_size;
    /* backward rasterizer (cl/rasterize_backward.cl): CLS_BWD_BATCH, Gaussians per local-memory
     * batch; 0 lets engine/backward.c derive it from the local memory */
    int backward_batch;
    /* backward rasterizer: CLS_BWD_ROWS, consecutive tile rows one work-item owns (a power of
     * two dividing tile_size, or 0 for the whole tile). More rows share the staging of each
     * Gaussian and the sum of its partials over the work-item's pixels: on CPUs one work-item
     * per tile is fastest. */
    int backward_rows;
    /* forward rasterizer (cl/rasterize.cl): CLS_RASTER_ROWS, tile rows one work-item owns: 1,
     * or 0 for the whole tile (intermediate counts miscompile on PoCL 3.1, see rasterize.cl) */
    int raster_rows;
    /* loss and SSIM (cl/loss.cl): CLS_LOSS_BAND, rows of one plane each work-item of the SSIM and
     * gradient sweeps owns (neighbouring bands re-blur the 10 rows they share) */
    int loss_band;
} cls_params;

/* Tile rows per work-item of the backward rasterizer (backward_rows 0: the whole tile). */
int cls__backward_rows(const cls_params *p);
/* Bytes of local memory cl/rasterize_backward.cl uses per Gaussian of a batch: every
 * work-item's partial sums (24 floats with lanes, 12 at an odd stride of 13 without) and the
 * staged Gaussian (11 floats and its slot). engine/backward.c sizes the batch with it and
 * cls__params_check prunes with it. */
size_t cls__backward_local_per_gaussian(const cls_params *p);

/* Compiled-in defaults for a device (by type and vendor): the fallback when nothing is tuned. */
void cls__params_default(const clh_device_info *info, cls_params *out);

/* ---- the tuning space ------------------------------------------------------------------- */
typedef enum cls__param_id {
    CLS__P_TILE = 0,
    CLS__P_PIXELS,
    CLS__P_BATCH,
    CLS__P_BWD_BATCH,
    CLS__P_RADIX_BITS,
    CLS__P_SORT_WG,
    CLS__P_SORT_ITEMS,
    CLS__P_SORT_REORDER,
    CLS__P_SCAN_WG,
    CLS__P_SCAN_ITEMS,
    CLS__P_GAUSSIAN_WG,
    CLS__P_LOSS_BAND,
    CLS__P_BWD_ROWS,
    CLS__P_RASTER_ROWS,
    CLS__P_COUNT
} cls__param_id;

typedef struct cls__param_info {
    const char *name;    /* the cls_params field, and the name in tuning files */
    const char *define;  /* the -D macro of cls__kernel, NULL when the value only shapes launches */
    size_t offset;       /* of the int in cls_params */
    /* Space-separated tokens: a kernel source that contains one of them reads the define
     * (directly or through a macro of cl/common.cl). Others are built without it, so a
     * change of this parameter does not rebuild them. Over-listing only costs builds; NULL:
     * every program gets the define. */
    const char *markers;
} cls__param_info;

extern const cls__param_info cls__param_table[CLS__P_COUNT];

/* What a tunable kernel's candidates are measured on (engine/tune.c). */
typedef enum cls__tune_workload {
    CLS__WORK_FRAME = 0, /* a forward and backward pass of the scene from the camera */
    CLS__WORK_SCAN,      /* an exclusive scan of random counts */
    CLS__WORK_SORT,      /* a stable key-value sort of random tile keys */
    CLS__WORK_LOSS       /* the loss and dL/dimage of the scene's render against a random target */
} cls__tune_workload;

#define CLS__TUNE_MAX_PARAMS 4
#define CLS__TUNE_MAX_VALUES 12

/* One tunable kernel (or group of kernels sharing parameters): its parameters and their
 * candidate values, what it is measured on and how its output must match the default's. */
typedef struct cls__tune_kernel {
    const char *name;      /* "rasterize"; the name the tuner prints */
    const char *kernels;   /* the OpenCL kernels the parameters shape (documentation) */
    cls__tune_workload workload;
    uint32_t objective;    /* bit (1 << pass) for each cls_pass whose device time is minimised */
    int exact;             /* 1: output bit-identical to the default's; 0: within the tolerance */
    int param_count;
    struct {
        cls__param_id id;
        int count;
        int values[CLS__TUNE_MAX_VALUES];
    } params[CLS__TUNE_MAX_PARAMS];
} cls__tune_kernel;

#define CLS__TUNE_KERNEL_COUNT 7
extern const cls__tune_kernel cls__tune_kernels[CLS__TUNE_KERNEL_COUNT];

/* Tolerance of float passes (rasterize forward and backward): rendered colour and alpha within
 * CLS__TUNE_IMAGE_TOL absolute; each gradient array within CLS__TUNE_GRAD_TOL of its largest
 * magnitude. See docs/tuning.md. */
#define CLS__TUNE_IMAGE_TOL 2e-3
#define CLS__TUNE_GRAD_TOL 1e-3
/* Tolerance of the loss (a different loss_band groups the partial sums differently): each of
 * the values {L, L1, 1 - SSIM} within CLS__TUNE_LOSS_TOL of its magnitude (relative); dL/dimage
 * within CLS__TUNE_GRAD_TOL of its largest magnitude, as the rasterizers' gradients. */
#define CLS__TUNE_LOSS_TOL 1e-4

static inline int *cls__param_ref(cls_params *p, cls__param_id id)
{
    return (int *)(void *)((char *)p + cls__param_table[id].offset);
}
static inline int cls__param_get(const cls_params *p, cls__param_id id)
{
    return *(const int *)(const void *)((const char *)p + cls__param_table[id].offset);
}

/* Whether a configuration can run on the device, before anything is built: value ranges,
 * divisibility (pixels_per_item | tile_size), the device's work-group size and work-item
 * sizes, and local memory. On 0, `why` (may be NULL) says what failed. */
int cls__params_check(const cls_params *p, const clh_device_info *dev, char *why, size_t cap);

/* The configurations of tunable kernel k on this device: `base` with k's parameters set to
 * every combination of their candidate values that cls__params_check accepts, the one equal to
 * base (the default) first. Writes at most cap; returns how many there are. */
int cls__tune_enumerate(const cls__tune_kernel *k, const cls_params *base, const clh_device_info *dev,
                        cls_params *out, int cap);

/* "tile_size=16 pixels_per_item=16 ..." (every parameter). */
void cls__params_format(const cls_params *p, char *out, size_t cap);
/* Only the parameters of kernel k: "tile_size=16 pixels_per_item=16". */
void cls__params_format_kernel(const cls__tune_kernel *k, const cls_params *p, char *out, size_t cap);
/* Sets the parameter called `name`; 0 when no parameter has that name. */
int cls__params_set(cls_params *p, const char *name, int value);

/* The -D options of p that a kernel source reads (see cls__param_info.markers); all of them
 * when source_text is NULL. */
void cls__params_defines(const cls_params *p, const char *source_text, char *out, size_t cap);

#endif
