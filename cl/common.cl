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
/* The rasterizers' row test skips a Gaussian for a tile row only when its largest alpha there
 * is below 1/255 by this factor, so float rounding in the per-pixel sigma can never make a
 * skipped pixel count. */
#define CLS_ROW_TEST_MARGIN (1.0f + 1e-3f)

/* Spherical-harmonics constants (3dgs-math.md section 3, INRIA's polynomial forms). */
#define SH_C0 0.28209479177387814f
#define SH_C1 0.4886025119029199f
#define SH_C2_0 1.0925484305920792f
#define SH_C2_1 -1.0925484305920792f
#define SH_C2_2 0.31539156525252005f
#define SH_C2_3 -1.0925484305920792f
#define SH_C2_4 0.5462742152960396f
#define SH_C3_0 -0.5900435899266435f
#define SH_C3_1 2.890611442640554f
#define SH_C3_2 -0.4570457994644658f
#define SH_C3_3 0.3731763325901154f
#define SH_C3_4 -0.4570457994644658f
#define SH_C3_5 1.445305721320277f
#define SH_C3_6 -0.5900435899266435f

/* The tile rectangle [x0, x1) x [y0, y1) of a Gaussian at (u, v) with per-axis radii
 * (rx, ry), in tiles. Used by the projection (to count tiles) and by the emission of (tile,
 * Gaussian) pairs, so both agree exactly. A macro over scalars, not a function taking vectors:
 * Oclgrind 21.10's uninitialised-value checker crashes on vector arguments of calls. */
#define CLS_TILE_RECT(u, v, rx, ry, tiles_x, tiles_y, x0, y0, x1, y1)                           \
    do {                                                                                       \
        const float inv_tile_ = 1.0f / (float)CLS_TILE;                                        \
        x0 = min(max((int)floor(((u) - (float)(rx)) * inv_tile_), 0), (int)(tiles_x));         \
        x1 = min(max((int)ceil(((u) + (float)(rx)) * inv_tile_), 0), (int)(tiles_x));          \
        y0 = min(max((int)floor(((v) - (float)(ry)) * inv_tile_), 0), (int)(tiles_y));         \
        y1 = min(max((int)ceil(((v) + (float)(ry)) * inv_tile_), 0), (int)(tiles_y));          \
    } while (0)

/* The tiles [xa, xb) of tile row ty that a Gaussian can touch: those whose rectangle of pixel
 * centres [tx T + 0.5, tx T + T - 0.5] x [ty T + 0.5, ty T + T - 0.5] meets the ellipse
 * sigma(x - u, y - v) <= t, where sigma(dx, dy) = (A dx^2 + C dy^2) / 2 + B dx dy is the
 * exponent of the Gaussian (conic A, B, C) and t = log(255 opacity) plus the row-test margin:
 * every tile with a pixel of alpha >= 1/255. Clamped to the bounding rectangle's [x0, x1);
 * returned as xa | xb << 16 (empty when xa >= xb). Tiles of the bounding rectangle that a
 * thin or tilted ellipse misses (a fifth to a quarter of them in trained scenes) would cost
 * every later pass work for nothing.
 *
 * Inside one tile row the ellipse's x-extent is [min L(dy), max R(dy)] over the row's dy,
 * where R and L are its right and left boundaries: R is concave and L convex, so each extreme
 * is at the ellipse's rightmost (leftmost) point, clamped into the row. The projection counts
 * with this function and the emission enumerates with it, from the same stored values; with
 * contraction off (no fused multiply-adds the compiler may choose differently in the two
 * kernels) both get the same bits. A small slack keeps the rounding of this computation on
 * the side of including a tile. */
#define CLS_SPAN_SLACK 1e-3f /* pixels; the row-test margin already widens the ellipse */
inline uint cls_tile_span(float u, float v, float A, float B, float C, float t, int ty, int x0, int x1)
{
#pragma OPENCL FP_CONTRACT OFF
    const uint whole = (uint)x0 | ((uint)x1 << 16);
    const float det = A * C - B * B;
    if (!(det > 0.0f) || !(A > 0.0f) || !(C > 0.0f))
        return whole; /* degenerate after rounding: keep the rectangle */
    const float y_ext = sqrt(2.0f * A * t / det) + CLS_SPAN_SLACK;
    const float x_ext = sqrt(2.0f * C * t / det);
    if (!(y_ext < INFINITY) || !(x_ext < INFINITY))
        return whole; /* NaN or too large to reason about in floats */
    const float lo = fmax((float)(ty * CLS_TILE) + 0.5f - v, -y_ext);
    const float hi = fmin((float)(ty * CLS_TILE + CLS_TILE) - 0.5f - v, y_ext);
    if (!(lo <= hi))
        return (uint)x0 | ((uint)x0 << 16);
    const float dy_right = clamp(-B * x_ext / C, lo, hi), dy_left = clamp(B * x_ext / C, lo, hi);
    const float inv_a = 1.0f / A;
    const float right = (-B * dy_right + sqrt(fmax(2.0f * A * t - det * dy_right * dy_right, 0.0f))) * inv_a;
    const float left = (-B * dy_left - sqrt(fmax(2.0f * A * t - det * dy_left * dy_left, 0.0f))) * inv_a;
    if (!(right >= left))
        return whole; /* rounding trouble (or NaN): keep the rectangle */
    /* Tile tx's pixel centres span [tx T + 0.5, tx T + T - 0.5] in x: it is touched when that
     * meets [u + left, u + right]. (In floats clamped to the rectangle before any conversion,
     * so that nothing overflows.) */
    const float first = clamp((u + left - CLS_SPAN_SLACK + 0.5f) / (float)CLS_TILE - 1.0f, (float)x0, (float)x1);
    const float last = clamp((u + right + CLS_SPAN_SLACK - 0.5f) / (float)CLS_TILE, (float)x0 - 1.0f, (float)x1 - 1.0f);
    const int xa = (int)ceil(first), xb = (int)floor(last) + 1;
    return (uint)xa | ((uint)max(xb, xa) << 16);
}

/* ---- pixel lanes of the rasterizers ------------------------------------------------------
 * A work-item owns CLS_PIXELS_PER_ITEM consecutive pixels of a tile row as the lanes of a
 * vector (vecf); a tile is a work-group of CLS_ITEMS_X x CLS_TILE work-items. */
#define CLS_ITEMS_X (CLS_TILE / CLS_PIXELS_PER_ITEM)
#define CLS_GROUP_ITEMS (CLS_ITEMS_X * CLS_TILE)

#if CLS_PIXELS_PER_ITEM == 1
typedef float vecf;
typedef int veci;
#define LANES (vecf)(0.0f)
#define ANY(x) (x)
#define VSTORE(v, ptr) (*(ptr) = (v))
#define VLOAD(ptr) (*(ptr))
#define LANE_INDEX convert_int(LANES)
/* An int broadcast to every lane. (Built from the lane vector: Oclgrind 21.10 loses track of
 * the initialisation of a (veci)(x) splat.) */
#define SPLAT_I(x) (LANE_INDEX * 0 + (x))
#else
#define CLS_CAT2(a, b) a##b
#define CLS_CAT(a, b) CLS_CAT2(a, b)
typedef CLS_CAT(float, CLS_PIXELS_PER_ITEM) vecf;
typedef CLS_CAT(int, CLS_PIXELS_PER_ITEM) veci;
#define ANY(x) any(x)
#define VSTORE(v, ptr) CLS_CAT(vstore, CLS_PIXELS_PER_ITEM)((v), 0, (ptr))
#define VLOAD(ptr) CLS_CAT(vload, CLS_PIXELS_PER_ITEM)(0, (ptr))
#define LANE_INDEX CLS_CAT(convert_int, CLS_PIXELS_PER_ITEM)(LANES)
#define SPLAT_I(x) (LANE_INDEX * 0 + (x))
#if CLS_PIXELS_PER_ITEM == 2
#define LANES (vecf)(0.0f, 1.0f)
#elif CLS_PIXELS_PER_ITEM == 4
#define LANES (vecf)(0.0f, 1.0f, 2.0f, 3.0f)
#elif CLS_PIXELS_PER_ITEM == 8
#define LANES (vecf)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f)
#elif CLS_PIXELS_PER_ITEM == 16
#define LANES (vecf)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f, 14.0f, 15.0f)
#else
#error "CLS_PIXELS_PER_ITEM must be 1, 2, 4, 8 or 16"
#endif
#endif



/* atomic_max of every lane of an int vector into a local int, lane by lane. */
#if CLS_PIXELS_PER_ITEM == 1
#define ATOMIC_MAX_LANES(p, v) atomic_max((p), (v))
#elif CLS_PIXELS_PER_ITEM == 2
#define ATOMIC_MAX_LANES(p, v) (atomic_max((p), (v).s0), atomic_max((p), (v).s1))
#elif CLS_PIXELS_PER_ITEM == 4
#define ATOMIC_MAX_LANES(p, v) (atomic_max((p), (v).s0), atomic_max((p), (v).s1), atomic_max((p), (v).s2), \
                                atomic_max((p), (v).s3))
#elif CLS_PIXELS_PER_ITEM == 8
#define ATOMIC_MAX_LANES(p, v)                                                                        \
    (atomic_max((p), (v).s0), atomic_max((p), (v).s1), atomic_max((p), (v).s2), atomic_max((p), (v).s3),   \
     atomic_max((p), (v).s4), atomic_max((p), (v).s5), atomic_max((p), (v).s6), atomic_max((p), (v).s7))
#else
#define ATOMIC_MAX_LANES(p, v)                                                                        \
    (atomic_max((p), (v).s0), atomic_max((p), (v).s1), atomic_max((p), (v).s2), atomic_max((p), (v).s3),   \
     atomic_max((p), (v).s4), atomic_max((p), (v).s5), atomic_max((p), (v).s6), atomic_max((p), (v).s7),   \
     atomic_max((p), (v).s8), atomic_max((p), (v).s9), atomic_max((p), (v).sa), atomic_max((p), (v).sb),   \
     atomic_max((p), (v).sc), atomic_max((p), (v).sd), atomic_max((p), (v).se), atomic_max((p), (v).sf))
#endif

/* The largest lane of an int vector. */
#if CLS_PIXELS_PER_ITEM == 1
#define HMAX_I(v) (v)
#elif CLS_PIXELS_PER_ITEM == 2
#define HMAX_I(v) max((v).lo, (v).hi)
#elif CLS_PIXELS_PER_ITEM == 4
#define HMAX_I(v) max(max((v).lo, (v).hi).lo, max((v).lo, (v).hi).hi)
#elif CLS_PIXELS_PER_ITEM == 8
#define HMAX4_I_(v) max(max((v).lo, (v).hi).lo, max((v).lo, (v).hi).hi)
#define HMAX_I(v) HMAX4_I_(max((v).lo, (v).hi))
#else
#define HMAX4_I_(v) max(max((v).lo, (v).hi).lo, max((v).lo, (v).hi).hi)
#define HMAX_I(v) HMAX4_I_(max(max((v).lo, (v).hi).lo, max((v).lo, (v).hi).hi))
#endif

