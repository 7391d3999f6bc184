/* common.cl - the prelude joined in front of every clsplat program: kernel parameter
 * defaults and small helpers shared by the passes. OpenCL C 1.2, no extensions. */

/* ---- kernel parameters (set by the host with -D; these are the defaults) ---------------- */
#ifndef CLS_TILE
#define CLS_TILE 16 /* tile width and height in pixels */
#endif
#ifndef CLS_PIXELS_PER_ITEM
#define CLS_PIXELS_PER_ITEM 1 /* pixels of a tile row one work-item owns (1, 2, 4, 8 or 16) */
#endif
#ifndef CLS_BATCH
#define CLS_BATCH 256 /* Gaussians staged in local memory per batch */
#endif
#ifndef CLS_RADIX_BITS
#define CLS_RADIX_BITS 4 /* radix sort: key bits per pass */
#endif
#ifndef CLS_SORT_WG
#define CLS_SORT_WG 256 /* radix sort: work-items per work-group */
#endif
#ifndef CLS_SORT_ITEMS
#define CLS_SORT_ITEMS 4 /* radix sort: keys per work-item per block */
#endif
#ifndef CLS_SCAN_WG
#define CLS_SCAN_WG 256 /* scan: work-items per work-group */
#endif
#ifndef CLS_SCAN_ITEMS
#define CLS_SCAN_ITEMS 4 /* scan: elements per work-item */
#endif

#if CLS_TILE % CLS_PIXELS_PER_ITEM != 0
#error "CLS_PIXELS_PER_ITEM must divide CLS_TILE"
#endif

/* ---- constants shared by the forward passes (3dgs-math.md sections 2 and 5) ------------- */
#define CLS_ALPHA_MIN (1.0f / 255.0f) /* skip contributions below this alpha */
#define CLS_ALPHA_MAX 0.99f           /* clamp of a single Gaussian's alpha */
#define CLS_T_MIN 1e-4f               /* stop (exclusively) when transmittance would fall below */
#define CLS_DILATION 0.3f             /* low-pass filter added to the 2D covariance diagonal */
#define CLS_AA_MIN_RATIO 2.5e-5f      /* floor of det ratio in antialiased mode (INRIA dr_aa) */
#define CLS_EXTENT_SIGMAS 3.33f       /* largest extent in standard deviations (gsplat) */

/* The tile rectangle [x0, x1) x [y0, y1) a projected Gaussian touches. Used by the projection
 * (to count tiles) and by the emission of (tile, Gaussian) pairs, so both agree exactly. */
inline int4 cls_tile_rect(float2 mean, int2 radius, uint tiles_x, uint tiles_y)
{
    const float inv = 1.0f / (float)CLS_TILE;
    int x0 = (int)floor((mean.x - (float)radius.x) * inv);
    int x1 = (int)ceil((mean.x + (float)radius.x) * inv);
    int y0 = (int)floor((mean.y - (float)radius.y) * inv);
    int y1 = (int)ceil((mean.y + (float)radius.y) * inv);
    return (int4)(clamp(x0, 0, (int)tiles_x), clamp(y0, 0, (int)tiles_y), clamp(x1, 0, (int)tiles_x),
                  clamp(y1, 0, (int)tiles_y));
}
