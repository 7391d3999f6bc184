/* Kernel parameters: the compiled-in defaults per device type and vendor, and the tuning
 * space: one table of parameters (their -D names) and one table of tunable kernels (their
 * parameters' candidate values), pruned by cls__params_check before anything is built.
 * docs/tuning.md explains each entry and how to add one. */
#include "params.h"

#include "clsplat.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

void cls__params_default(const clh_device_info *info, cls_params *out)
{
    int cpu = (info->type & CL_DEVICE_TYPE_CPU) != 0;
    /* PoCL does not vectorise a per-pixel loop across work-items (brief section 4): on CPUs a
     * work-item owns a row of 16 pixels as float16 lanes; GPUs want one pixel per work-item. */
    *out = (cls_params){
        .tile_size = 16,
        .pixels_per_item = cpu ? 16 : 1,
        .raster_batch = cpu ? 64 : 256,
        .sort_radix_bits = 4,
        /* On CPUs one work-item per block of 4096 keys compiles to the tight loop hand-written C
         * would be: 60-85% of the copy bandwidth, against ~35% for 16 x 64. */
        .sort_group_size = cpu ? 1 : 256,
        .sort_items = cpu ? 4096 : 4,
        .sort_reorder = cpu ? 0 : 1,
        .scan_group_size = cpu ? 1 : 256,
        .scan_items = cpu ? 4096 : 4,
        .gaussian_group_size = cpu ? 64 : 128,
        .backward_batch = 0,
        /* CPUs: a work-item per tile (16 rows x 16 lanes); measured on fox, 300-step model:
         * rasterize backward 28.7 ms with one row per work-item, 21.1 with 4, 19.4 with 8, 18.4
         * with 16. */
        .backward_rows = cpu ? 0 : 1, /* 0: the whole tile */
        /* The same for the forward rasterizer (fox: 7.3 -> 5.8 ms), 0 meaning the whole tile. */
        .raster_rows = cpu ? 0 : 1,
        .loss_band = 32,
    };
    /* Vendor refinements of the GPU row (matched on vendor id *and* type: PoCL on an Intel
     * CPU also reports 0x8086). Not measured here: starting points that keep the shapes
     * natural for the hardware (AMD wavefronts of 64; Intel's smaller shared local memory). */
    if (!cpu && (info->type & CL_DEVICE_TYPE_GPU)) {
        if (info->vendor_id == 0x1002)
            out->gaussian_group_size = 256;
        else if (info->vendor_id == 0x8086)
            out->raster_batch = 128;
    }
}

#define PARAM(field, define, markers) {#field, define, offsetof(cls_params, field), markers}
/* Markers of the rasterizer's shape: cl/common.cl derives CLS_ITEMS_X, CLS_GROUP_ITEMS and the
 * vector helpers from CLS_TILE and CLS_PIXELS_PER_ITEM. */
#define PIXEL_MARKERS                                                                                   \
    "CLS_PIXELS_PER_ITEM CLS_ITEMS_X CLS_GROUP_ITEMS vecf veci LANES LANE_INDEX VSTORE VLOAD ANY SPLAT_I " \
    "ATOMIC_MAX_LANES HMAX_I"
const cls__param_info cls__param_table[CLS__P_COUNT] = {
    /* Passed to every program (no markers): it is the one parameter every build log names. */
    [CLS__P_TILE] = PARAM(tile_size, "CLS_TILE", NULL),
    [CLS__P_PIXELS] = PARAM(pixels_per_item, "CLS_PIXELS_PER_ITEM", PIXEL_MARKERS),
    [CLS__P_BATCH] = PARAM(raster_batch, "CLS_BATCH", "CLS_BATCH"),
    /* Passed by engine/backward.c itself (-DCLS_BWD_BATCH, see backward_batch()). */
    [CLS__P_BWD_BATCH] = PARAM(backward_batch, NULL, NULL),
    [CLS__P_RADIX_BITS] = PARAM(sort_radix_bits, "CLS_RADIX_BITS", "CLS_RADIX_BITS"),
    [CLS__P_SORT_WG] = PARAM(sort_group_size, "CLS_SORT_WG", "CLS_SORT_WG"),
    [CLS__P_SORT_ITEMS] = PARAM(sort_items, "CLS_SORT_ITEMS", "CLS_SORT_ITEMS"),
    /* Passed by engine/sort.c itself (-DCLS_SORT_REORDER). */
    [CLS__P_SORT_REORDER] = PARAM(sort_reorder, NULL, NULL),
    [CLS__P_SCAN_WG] = PARAM(scan_group_size, "CLS_SCAN_WG", "CLS_SCAN_WG"),
    [CLS__P_SCAN_ITEMS] = PARAM(scan_items, "CLS_SCAN_ITEMS", "CLS_SCAN_ITEMS"),
    /* A launch shape only (cls__launch_1d): no rebuild. */
    [CLS__P_GAUSSIAN_WG] = PARAM(gaussian_group_size, NULL, NULL),
    /* Read by cl/loss.cl only. */
    [CLS__P_LOSS_BAND] = PARAM(loss_band, "CLS_LOSS_BAND", "CLS_LOSS_BAND"),
    /* Passed by engine/backward.c itself (-DCLS_BWD_ROWS, with the launch shape). */
    [CLS__P_BWD_ROWS] = PARAM(backward_rows, NULL, NULL),
    [CLS__P_RASTER_ROWS] = PARAM(raster_rows, "CLS_RASTER_ROWS", "CLS_RASTER_ROWS"),
};
#undef PARAM

#define PASS_BIT(p) (UINT32_C(1) << (p))
#define ALL_FRAME_PASSES                                                                                    \
    (PASS_BIT(CLS_PASS_PROJECT) | PASS_BIT(CLS_PASS_SCAN) | PASS_BIT(CLS_PASS_DEPTH_SORT) |                   \
     PASS_BIT(CLS_PASS_EMIT) | PASS_BIT(CLS_PASS_TILE_SORT) | PASS_BIT(CLS_PASS_RANGES) |                     \
     PASS_BIT(CLS_PASS_RASTERIZE) | PASS_BIT(CLS_PASS_RASTERIZE_BACKWARD) | PASS_BIT(CLS_PASS_PROJECT_BACKWARD))

/* Tuned in this order; each kernel starts from the winners of the ones before it. */
const cls__tune_kernel cls__tune_kernels[CLS__TUNE_KERNEL_COUNT] = {
    /* The tile and the vector width shape the forward and backward rasterizers, the loss
     * (work-groups of tile x tile / pixels_per_item, cl/loss.cl) and the number of (tile,
     * Gaussian) pairs the emit and tile sort handle: measured on the whole forward and
     * backward pass. */
    {.name = "raster_shape",
     .kernels = "rasterize, rasterize_backward, loss_*, emit_intersections",
     .workload = CLS__WORK_FRAME,
     .objective = ALL_FRAME_PASSES,
     .param_count = 2,
     .params = {{CLS__P_TILE, 3, {8, 16, 32}}, {CLS__P_PIXELS, 5, {1, 2, 4, 8, 16}}}},
    {.name = "rasterize",
     .kernels = "rasterize",
     .workload = CLS__WORK_FRAME,
     .objective = PASS_BIT(CLS_PASS_RASTERIZE),
     .param_count = 2,
     .params = {{CLS__P_RASTER_ROWS, 2, {1, 0}}, {CLS__P_BATCH, 5, {16, 32, 64, 128, 256}}}},
    {.name = "rasterize_backward",
     .kernels = "rasterize_backward",
     .workload = CLS__WORK_FRAME,
     .objective = PASS_BIT(CLS_PASS_RASTERIZE_BACKWARD),
     .param_count = 2,
     .params = {{CLS__P_BWD_ROWS, 5, {1, 2, 4, 8, 0}}, {CLS__P_BWD_BATCH, 4, {0, 4, 16, 32}}}},
    /* Every one-work-item-per-element pass of a frame: project, compact, emit, ranges,
     * project_backward, depth_rank; the trainer's project_backward_adam (the same chain rule,
     * then Adam) takes the same group. */
    {.name = "per_gaussian",
     .kernels = "project, compact_visible, emit_intersections, tile_ranges, project_backward",
     .workload = CLS__WORK_FRAME,
     .objective = ALL_FRAME_PASSES,
     .param_count = 1,
     .params = {{CLS__P_GAUSSIAN_WG, 4, {32, 64, 128, 256}}}},
    {.name = "scan",
     .kernels = "scan_reduce, scan_blocks, scan_downsweep",
     .workload = CLS__WORK_SCAN,
     .objective = PASS_BIT(CLS_PASS_SCAN),
     .exact = 1,
     .param_count = 2,
     .params = {{CLS__P_SCAN_WG, 5, {1, 16, 64, 128, 256}}, {CLS__P_SCAN_ITEMS, 6, {1, 4, 16, 64, 1024, 4096}}}},
    {.name = "radix_sort",
     .kernels = "radix_histogram, radix_scatter",
     .workload = CLS__WORK_SORT,
     .objective = PASS_BIT(CLS_PASS_TILE_SORT),
     .exact = 1,
     .param_count = 4,
     .params = {{CLS__P_RADIX_BITS, 4, {4, 5, 6, 8}},
                {CLS__P_SORT_WG, 4, {1, 16, 64, 256}},
                {CLS__P_SORT_ITEMS, 5, {4, 16, 64, 1024, 4096}},
                {CLS__P_SORT_REORDER, 2, {0, 1}}}},
    /* The band of rows a work-item of loss_ssim and loss_gradient sweeps: longer bands re-blur
     * fewer shared rows, shorter ones make more work-items. The work-group stays the
     * rasterizer's shape (tuned above). Measured on the loss and dL/dimage of the scene's render
     * against a random target. */
    {.name = "loss",
     .kernels = "loss_prepare, loss_ssim, loss_gradient, loss_finish",
     .workload = CLS__WORK_LOSS,
     .objective = PASS_BIT(CLS_PASS_LOSS),
     .param_count = 1,
     .params = {{CLS__P_LOSS_BAND, 5, {8, 16, 32, 64, 128}}}},
};

static int fail_why(char *why, size_t cap, const char *fmt, ...) CLH_PRINTF(3, 4);
static int fail_why(char *why, size_t cap, const char *fmt, ...)
{
    if (why != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

/* Local memory of the backward rasterizer for a batch: per Gaussian the partial sums of every
 * work-item (at most 24 floats each, engine/backward.c) plus 12 words of staged parameters.
 * An estimate made before anything is built; the built kernel's CL_KERNEL_LOCAL_MEM_SIZE and
 * the launch have the last word (a candidate that fails them is invalid). */
int cls__backward_rows(const cls_params *p) { return p->backward_rows > 0 ? p->backward_rows : p->tile_size; }

size_t cls__backward_local_per_gaussian(const cls_params *p)
{
    const size_t items = (size_t)(p->tile_size / p->pixels_per_item) * (size_t)(p->tile_size / cls__backward_rows(p));
    const size_t stride = p->pixels_per_item == 1 ? 13 : 24;
    return stride * items * sizeof(float) + 11 * sizeof(float) + sizeof(cl_uint);
}

static unsigned long long backward_local_bytes(const cls_params *p, int batch)
{
    return (unsigned long long)batch * cls__backward_local_per_gaussian(p);
}

int cls__params_check(const cls_params *p, const clh_device_info *dev, char *why, size_t cap)
{
    const unsigned long long local_mem = dev->local_mem;
    const size_t max_wg = dev->max_work_group_size;
    /* rasterizers: work-groups of (tile / pixels_per_item) x tile */
    if (p->tile_size < 1 || p->tile_size > 64 || !is_pow2(p->tile_size))
        return fail_why(why, cap, "tile_size %d is not a power of two in 1..64", p->tile_size);
    if (!is_pow2(p->pixels_per_item) || p->pixels_per_item > 16 || p->tile_size % p->pixels_per_item != 0)
        return fail_why(why, cap, "pixels_per_item %d is not 1, 2, 4, 8 or 16 dividing tile_size %d",
                        p->pixels_per_item, p->tile_size);
    const size_t items_x = (size_t)(p->tile_size / p->pixels_per_item), items = items_x * (size_t)p->tile_size;
    if (items > max_wg || items_x > dev->max_work_item_sizes[0] || (size_t)p->tile_size > dev->max_work_item_sizes[1])
        return fail_why(why, cap, "a tile is %d x %d work-items, more than the device's work-group limit %llu",
                        (int)items_x, p->tile_size, (unsigned long long)max_wg);
    if (p->raster_batch < 1 || p->raster_batch > 4096)
        return fail_why(why, cap, "raster_batch %d is outside 1..4096", p->raster_batch);
    /* cl/rasterize.cl stages 12 floats per Gaussian */
    if (12ull * 4ull * (unsigned long long)p->raster_batch + 4ull > local_mem)
        return fail_why(why, cap, "raster_batch %d needs %d bytes of local memory; the device has %llu",
                        p->raster_batch, 48 * p->raster_batch + 4, local_mem);
    if (p->raster_rows != 0 && p->raster_rows != 1)
        return fail_why(why, cap, "raster_rows %d is not 1 or 0 (the whole tile)", p->raster_rows);
    if (p->backward_rows < 0 || (p->backward_rows > 0 && (!is_pow2(p->backward_rows) ||
                                                           p->tile_size % p->backward_rows != 0)))
        return fail_why(why, cap, "backward_rows %d is not 0 (the whole tile) or a power of two dividing tile_size %d",
                        p->backward_rows, p->tile_size);
    const size_t bwd_items = items_x * (size_t)(p->tile_size / cls__backward_rows(p));
    if (p->backward_batch < 0 || p->backward_batch > 32)
        return fail_why(why, cap, "backward_batch %d is outside 0..32", p->backward_batch);
    if (p->backward_batch > 0 && backward_local_bytes(p, p->backward_batch) > local_mem)
        return fail_why(why, cap, "backward_batch %d with %d work-items per tile needs more than the %llu bytes of "
                        "local memory", p->backward_batch, (int)bwd_items, local_mem);
    if (backward_local_bytes(p, 1) > local_mem)
        return fail_why(why, cap, "the backward rasterizer with %d x %d work-items per tile needs more than the "
                        "%llu bytes of local memory", (int)items_x, p->tile_size, local_mem);
    /* radix sort: as engine/sort.c checks */
    if (p->sort_radix_bits < 1 || p->sort_radix_bits > 8 || p->sort_group_size < 1 || p->sort_items < 1 ||
        (p->sort_reorder != 0 && p->sort_reorder != 1))
        return fail_why(why, cap, "sort parameters out of range (radix bits %d, group %d)", p->sort_radix_bits,
                        p->sort_group_size);
    const unsigned long long radix = 1ull << p->sort_radix_bits;
    const unsigned long long block = (unsigned long long)p->sort_group_size * (unsigned long long)p->sort_items;
    const unsigned long long sort_local =
        (radix * (unsigned long long)p->sort_group_size + radix + (unsigned long long)p->sort_group_size +
         (p->sort_reorder ? 2 * block : 0)) * 4ull;
    if ((size_t)p->sort_group_size > max_wg || block > (1u << 24) || sort_local > local_mem)
        return fail_why(why, cap, "sort group %d x %d items needs %llu bytes of local memory or too many work-items",
                        p->sort_group_size, p->sort_items, sort_local);
    /* Blocks of 256..4096 keys: smaller ones make the histogram table (and its scan) as large
     * as the keys, larger ones leave a CPU's cores idle on tile-sized sorts. */
    if (block < 256 || block > 4096)
        return fail_why(why, cap, "sort block %d x %d is outside 256..4096 keys", p->sort_group_size,
                        p->sort_items);
    /* scan: as engine/scan.c checks */
    if (p->scan_group_size < 1 || p->scan_items < 1)
        return fail_why(why, cap, "scan group %d x %d items is out of range", p->scan_group_size, p->scan_items);
    const unsigned long long scan_block = (unsigned long long)p->scan_group_size * (unsigned long long)p->scan_items;
    const unsigned long long scan_local = ((p->scan_group_size > 1 ? scan_block : 1) + (unsigned long long)p->scan_group_size) * 4ull;
    if ((size_t)p->scan_group_size > max_wg || scan_local > local_mem || scan_block > (1u << 24))
        return fail_why(why, cap, "scan group %d x %d items needs %llu bytes of local memory or too many work-items",
                        p->scan_group_size, p->scan_items, scan_local);
    if (scan_block < 256 || scan_block > 4096)
        return fail_why(why, cap, "scan block %d x %d is outside 256..4096 elements", p->scan_group_size,
                        p->scan_items);
    /* per-Gaussian passes */
    if (p->gaussian_group_size < 1 || (size_t)p->gaussian_group_size > max_wg)
        return fail_why(why, cap, "gaussian_group_size %d exceeds the work-group limit %d", p->gaussian_group_size,
                        (int)max_wg);
    /* loss: any band works (the scratch maps are rounded to whole bands); past 1024 rows a
     * 1080p image is a single band per plane */
    if (p->loss_band < 1 || p->loss_band > 1024)
        return fail_why(why, cap, "loss_band %d is outside 1..1024", p->loss_band);
    return 1;
}

static int same_params(const cls_params *a, const cls_params *b)
{
    for (int i = 0; i < CLS__P_COUNT; i++)
        if (cls__param_get(a, (cls__param_id)i) != cls__param_get(b, (cls__param_id)i))
            return 0;
    return 1;
}

int cls__tune_enumerate(const cls__tune_kernel *k, const cls_params *base, const clh_device_info *dev,
                        cls_params *out, int cap)
{
    int total = 1, found = 0;
    for (int i = 0; i < k->param_count; i++)
        total *= k->params[i].count;
    if (cap > 0)
        out[0] = *base;
    found = 1; /* the default first, whether or not the table lists its values */
    for (int index = 0; index < total; index++) {
        cls_params p = *base;
        int rest = index;
        for (int i = 0; i < k->param_count; i++) {
            *cls__param_ref(&p, k->params[i].id) = k->params[i].values[rest % k->params[i].count];
            rest /= k->params[i].count;
        }
        if (same_params(&p, base) || !cls__params_check(&p, dev, NULL, 0))
            continue;
        if (found < cap)
            out[found] = p;
        found++;
    }
    return found;
}

void cls__params_format(const cls_params *p, char *out, size_t cap)
{
    size_t used = 0;
    if (cap > 0)
        out[0] = '\0';
    for (int i = 0; i < CLS__P_COUNT && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s=%d", i ? " " : "", cls__param_table[i].name,
                         cls__param_get(p, (cls__param_id)i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

void cls__params_format_kernel(const cls__tune_kernel *k, const cls_params *p, char *out, size_t cap)
{
    size_t used = 0;
    if (cap > 0)
        out[0] = '\0';
    for (int i = 0; i < k->param_count && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s=%d", i ? " " : "", cls__param_table[k->params[i].id].name,
                         cls__param_get(p, k->params[i].id));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int cls__params_set(cls_params *p, const char *name, int value)
{
    for (int i = 0; i < CLS__P_COUNT; i++)
        if (strcmp(cls__param_table[i].name, name) == 0) {
            *cls__param_ref(p, (cls__param_id)i) = value;
            return 1;
        }
    return 0;
}

/* Whether text contains one of the space-separated tokens as an identifier (not inside a
 * longer one: "ANY" does not match "MANY"). */
static int reads_any(const char *text, const char *markers)
{
    char token[64];
    for (const char *m = markers; *m != '\0';) {
        size_t len = strcspn(m, " ");
        if (len > 0 && len < sizeof token) {
            memcpy(token, m, len);
            token[len] = '\0';
            for (const char *hit = strstr(text, token); hit != NULL; hit = strstr(hit + 1, token)) {
                char before = hit == text ? ' ' : hit[-1], after = hit[len];
                int ident_before = before == '_' || (before >= '0' && before <= '9') ||
                                   ((before | 0x20) >= 'a' && (before | 0x20) <= 'z');
                int ident_after = after == '_' || (after >= '0' && after <= '9') ||
                                  ((after | 0x20) >= 'a' && (after | 0x20) <= 'z');
                /* a marker that is a prefix of a macro (CLS_TILE in CLS_TILE_RECT) counts */
                if (!ident_before && (!ident_after || after == '_'))
                    return 1;
            }
        }
        m += len;
        while (*m == ' ')
            m++;
    }
    return 0;
}

void cls__params_defines(const cls_params *p, const char *source_text, char *out, size_t cap)
{
    size_t used = 0;
    if (cap > 0)
        out[0] = '\0';
    for (int i = 0; i < CLS__P_COUNT && used < cap; i++) {
        const cls__param_info *info = &cls__param_table[i];
        if (info->define == NULL ||
            (source_text != NULL && info->markers != NULL && !reads_any(source_text, info->markers)))
            continue;
        int n = snprintf(out + used, cap - used, "%s-D%s=%d", used ? " " : "", info->define,
                         cls__param_get(p, (cls__param_id)i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
