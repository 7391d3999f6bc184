/* rasterize_backward.cl - gradients of the blended images with respect to each (tile,
 * Gaussian) intersection's 2D mean, conic, opacity, colour and depth (3dgs-math.md section
 * 6.1), without atomics.
 *
 * One work-group per tile, the same shape as the forward rasterizer. The tile's list is
 * walked back to front in batches staged through local memory; each pixel recovers its
 * transmittance before every contributor by division from the saved final T, and skips
 * entries after its saved last contributor. Every work-item sums its pixels' contributions
 * per Gaussian (lanes in a fixed order), stores them in local memory, and after each batch
 * the work-group sums them over its work-items in a fixed order and STORES the result at the
 * intersection's emission slot: isect_grads[CLS_GRAD_VALUES * slot + v]. The sorted pairs
 * carry their slot (where emit_intersections wrote them: offsets[rank[g]] + the tile's
 * index among g's touched tiles, row by row), so each Gaussian's slots are contiguous and
 * project_backward sums them in order: deterministic by construction.
 *
 * The lane sums are the CPU variant's hot spot: summing 12 vectors of 16 lanes one by one
 * costs four shuffles and four adds each. Instead they are summed together, as in a
 * transposition (CLS_STORE_PARTIALS): each level adds the two halves of a pair of vectors
 * into one, halving the partial sums per value and doubling the values per vector, until
 * every value has two partials; those 24 floats go to local memory and the per-batch
 * reduction adds the last pair. (Measured on PoCL/AVX-512: the shuffles of the last level,
 * done per row, would cost more than they save.)
 *
 * Per-pixel inputs (whole tiles, as the forward wrote them): final T and last contributor,
 * dL/dRGB (planar), optionally
 * dL/dalpha and dL/d(expected depth) (bits 0 and 1 of `flags`; the expected depth image of
 * the forward is then needed too).
 * Values per intersection (CLS_GRAD_VALUES = 12):
 *   0-2 dL/d(colour)   3 dL/d(opacity used in blending)   4-5 dL/d(mean2d u, v)
 *   6-8 dL/d(conic A, B, C)   9 dL/d(depth)   10-11 sums of |per-pixel dL/du|, |dL/dv|
 */

#ifndef CLS_BWD_BATCH
#define CLS_BWD_BATCH 32 /* Gaussians per local-memory batch of the backward pass */
#endif
#define CLS_GRAD_VALUES 12
#ifndef CLS_BWD_ROWS
#define CLS_BWD_ROWS 1 /* tile rows per work-item (1 or 2) */
#endif
#if CLS_TILE % CLS_BWD_ROWS != 0
#error "CLS_BWD_ROWS must divide CLS_TILE"
#endif
#define CLS_GROUP_ITEMS_BWD (CLS_ITEMS_X * (CLS_TILE / CLS_BWD_ROWS))
/* Floats per (Gaussian, work-item) partial in local memory. With lanes, each of the 12
 * values keeps two partial sums (value v's at 2v and 2v + 1); with one pixel per work-item
 * the 12 values themselves, at an odd stride so that neighbouring work-items use different
 * banks. engine/backward.c sizes the batch with the same numbers. */
#if CLS_PIXELS_PER_ITEM == 1
#define CLS_PART_FLOATS 12
#define CLS_PART_STRIDE 13
#else
#define CLS_PART_FLOATS 24
#define CLS_PART_STRIDE 24
#endif

/* Halves of two vectors added: [a's partials halved, b's partials halved]. The shuffles at
 * each granularity are what x86 does in one instruction (256-, 128- and 64-bit blocks). */
#define CLS_HALVES_SUM(a, b) ((vecf)((a).lo, (b).lo) + (vecf)((a).hi, (b).hi))
#define CLS_QUARTERS_SUM16(a, b)                                                                  \
    ((float16)((a).s0123, (a).s89ab, (b).s0123, (b).s89ab) + (float16)((a).s4567, (a).scdef, (b).s4567, (b).scdef))
#define CLS_EIGHTHS_SUM16(a, b)                                                                   \
    ((float16)((a).s01, (a).s45, (a).s89, (a).scd, (b).s01, (b).s45, (b).s89, (b).scd) +          \
     (float16)((a).s23, (a).s67, (a).sab, (a).sef, (b).s23, (b).s67, (b).sab, (b).sef))
#define CLS_QUARTERS_SUM8(a, b) ((float8)((a).s01, (a).s45, (b).s01, (b).s45) + (float8)((a).s23, (a).s67, (b).s23, (b).s67))

/* Stores the values v0..v11 (vecf) at part as CLS_PART_FLOATS floats. */
#if CLS_PIXELS_PER_ITEM == 1
#define CLS_STORE_PARTIALS(part, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11)                \
    do {                                                                                          \
        (part)[0] = (v0), (part)[1] = (v1), (part)[2] = (v2), (part)[3] = (v3);                   \
        (part)[4] = (v4), (part)[5] = (v5), (part)[6] = (v6), (part)[7] = (v7);                   \
        (part)[8] = (v8), (part)[9] = (v9), (part)[10] = (v10), (part)[11] = (v11);               \
    } while (0)
#elif CLS_PIXELS_PER_ITEM == 2
#define CLS_STORE_PARTIALS(part, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11)                \
    do {                                                                                          \
        vstore2((v0), 0, (part)), vstore2((v1), 1, (part)), vstore2((v2), 2, (part));             \
        vstore2((v3), 3, (part)), vstore2((v4), 4, (part)), vstore2((v5), 5, (part));             \
        vstore2((v6), 6, (part)), vstore2((v7), 7, (part)), vstore2((v8), 8, (part));             \
        vstore2((v9), 9, (part)), vstore2((v10), 10, (part)), vstore2((v11), 11, (part));         \
    } while (0)
#elif CLS_PIXELS_PER_ITEM == 4
#define CLS_STORE_PARTIALS(part, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11)                \
    do {                                                                                          \
        vstore4(CLS_HALVES_SUM((v0), (v1)), 0, (part)), vstore4(CLS_HALVES_SUM((v2), (v3)), 1, (part)); \
        vstore4(CLS_HALVES_SUM((v4), (v5)), 2, (part)), vstore4(CLS_HALVES_SUM((v6), (v7)), 3, (part)); \
        vstore4(CLS_HALVES_SUM((v8), (v9)), 4, (part)), vstore4(CLS_HALVES_SUM((v10), (v11)), 5, (part)); \
    } while (0)
#elif CLS_PIXELS_PER_ITEM == 8
#define CLS_STORE_PARTIALS(part, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11)                \
    do {                                                                                          \
        vstore8(CLS_QUARTERS_SUM8(CLS_HALVES_SUM((v0), (v1)), CLS_HALVES_SUM((v2), (v3))), 0, (part));   \
        vstore8(CLS_QUARTERS_SUM8(CLS_HALVES_SUM((v4), (v5)), CLS_HALVES_SUM((v6), (v7))), 1, (part));   \
        vstore8(CLS_QUARTERS_SUM8(CLS_HALVES_SUM((v8), (v9)), CLS_HALVES_SUM((v10), (v11))), 2, (part)); \
    } while (0)
#else
#define CLS_STORE_PARTIALS(part, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11)                \
    do {                                                                                          \
        const float16 q0_ = CLS_QUARTERS_SUM16(CLS_HALVES_SUM((v0), (v1)), CLS_HALVES_SUM((v2), (v3)));   \
        const float16 q1_ = CLS_QUARTERS_SUM16(CLS_HALVES_SUM((v4), (v5)), CLS_HALVES_SUM((v6), (v7)));   \
        const float16 q2_ = CLS_QUARTERS_SUM16(CLS_HALVES_SUM((v8), (v9)), CLS_HALVES_SUM((v10), (v11))); \
        vstore16(CLS_EIGHTHS_SUM16(q0_, q1_), 0, (part));                                         \
        vstore8((float8)(q2_.s01, q2_.s45, q2_.s89, q2_.scd) + (float8)(q2_.s23, q2_.s67, q2_.sab, q2_.sef), \
                0, (part) + 16);                                                                  \
    } while (0)
#endif

__kernel __attribute__((reqd_work_group_size(CLS_ITEMS_X, CLS_TILE / CLS_BWD_ROWS, 1))) void
rasterize_backward(__global const uint *ranges, __global const uint *ids, __global const uint *isect_gauss,
                   __global const float2 *xy, __global const float4 *conic_opacity, __global const float *sigma_max,
                   __global const float *rgb, __global const float *depth, uint intersections, uint width,
                   uint height, uint tiles_x, uint tiles_y, float4 background, __global const float *final_t,
                   __global const int *last_contrib, __global const float *exp_depth, __global const float *d_rgb,
                   __global const float *d_alpha, __global const float *d_depth, uint flags,
                   __global float *isect_grads)
{
    __local float s_xy[2 * CLS_BWD_BATCH];
    __local float s_conic[4 * CLS_BWD_BATCH];
    __local float s_colour[4 * CLS_BWD_BATCH];
    __local float s_row[2 * CLS_BWD_BATCH]; /* the forward's row test: (C - B^2/A) / 2, sigma_max */
    __local uint s_slot[CLS_BWD_BATCH];
    __local float s_part[CLS_BWD_BATCH * CLS_GROUP_ITEMS_BWD * CLS_PART_STRIDE];
    __local int s_tile_last;

    const uint lx = get_local_id(0), ly = get_local_id(1);
    const uint lid = ly * CLS_ITEMS_X + lx;
    const uint tile_x = get_group_id(0), tile_y = get_group_id(1);
    const uint tile = tile_y * tiles_x + tile_x;
    const uint x0 = tile_x * CLS_TILE + lx * CLS_PIXELS_PER_ITEM;
    const vecf px = (float)x0 + 0.5f + LANES;

    /* Per-pixel state of this work-item's CLS_BWD_ROWS consecutive rows: the image buffers
     * cover whole tiles (row pitch tiles_x * CLS_TILE), so full vectors are read; padding
     * pixels are inactive. Expected depth ED = D / (1 - T_final) with D = sum of w_i z_i: g_d
     * is dL/dD, g_tfinal the part of dL/dT_final from the depth, the alpha image and the
     * background; acc sums over later contributors j (dL/dC . c_j + dL/dD z_j) alpha_j T_j. */
    const size_t pitch = (size_t)tiles_x * CLS_TILE;
    const size_t plane = pitch * tiles_y * CLS_TILE;
    float py[CLS_BWD_ROWS];
    vecf T_final[CLS_BWD_ROWS], T[CLS_BWD_ROWS], acc[CLS_BWD_ROWS], g_r[CLS_BWD_ROWS], g_g[CLS_BWD_ROWS],
        g_b[CLS_BWD_ROWS], g_d[CLS_BWD_ROWS], g_tfinal[CLS_BWD_ROWS];
    veci last[CLS_BWD_ROWS];
    int row_last[CLS_BWD_ROWS]; /* entries after it are zero for all the row's pixels */
    for (uint r = 0; r < CLS_BWD_ROWS; r++) {
        const uint y = tile_y * CLS_TILE + ly * CLS_BWD_ROWS + r;
        py[r] = (float)y + 0.5f;
        const veci inside = (px < (float)width) & SPLAT_I(y < height ? -1 : 0);
        const size_t at = (size_t)y * pitch + x0;
        T_final[r] = VLOAD(final_t + at);
        last[r] = select(SPLAT_I(0), VLOAD(last_contrib + at), inside);
        g_r[r] = VLOAD(d_rgb + at);
        g_g[r] = VLOAD(d_rgb + plane + at);
        g_b[r] = VLOAD(d_rgb + 2 * plane + at);
        const vecf g_alpha = (flags & 1u) ? VLOAD(d_alpha + at) : (vecf)0.0f;
        const vecf g_ed = (flags & 2u) ? VLOAD(d_depth + at) : (vecf)0.0f;
        const vecf ed = (flags & 2u) ? VLOAD(exp_depth + at) : (vecf)0.0f;
        const vecf hit = 1.0f - T_final[r];
        const veci has_hit = hit > 0.0f;
        g_d[r] = select((vecf)0.0f, g_ed / hit, has_hit);
        g_tfinal[r] = -g_alpha + g_r[r] * background.x + g_g[r] * background.y + g_b[r] * background.z +
                      select((vecf)0.0f, g_ed * ed / hit, has_hit);
        T[r] = T_final[r];
        acc[r] = 0.0f;
        row_last[r] = HMAX_I(last[r]);
    }

    const uint start = ranges[2 * tile], end = ranges[2 * tile + 1];
    /* The last position any pixel of the tile used; later entries get zero gradients. (Lane
     * by lane: Oclgrind 21.10 mistracks swizzles and stores of int vectors.) */
    if (lid == 0)
        s_tile_last = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint r = 0; r < CLS_BWD_ROWS; r++)
        ATOMIC_MAX_LANES(&s_tile_last, last[r]);
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint used_end = start + (uint)s_tile_last;
    /* The last tile also zeroes the pairs sorted after every tile (see emit_intersections). */
    const uint zero_end = tile + 1 == tiles_x * tiles_y ? intersections : end;
    for (uint p = used_end + lid; p < zero_end; p += CLS_GROUP_ITEMS_BWD) {
        const uint slot = ids[p];
        for (uint v = 0; v < CLS_GRAD_VALUES; v++)
            isect_grads[CLS_GRAD_VALUES * slot + v] = 0.0f;
    }

    for (uint top = used_end; top > start;) {
        const uint count = min((uint)CLS_BWD_BATCH, top - start);
        const uint base = top - count; /* the batch is [base, top), walked from top - 1 down */
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous batch's partials have been reduced */
        for (uint k = lid; k < count; k += CLS_GROUP_ITEMS_BWD) {
            const uint slot = ids[base + k], g = isect_gauss[slot];
            const float2 m = xy[g];
            const float4 co = conic_opacity[g];
            s_xy[2 * k] = m.x;
            s_xy[2 * k + 1] = m.y;
            s_conic[4 * k] = co.x;
            s_conic[4 * k + 1] = co.y;
            s_conic[4 * k + 2] = co.z;
            s_conic[4 * k + 3] = co.w;
            s_colour[4 * k] = rgb[3 * g];
            s_colour[4 * k + 1] = rgb[3 * g + 1];
            s_colour[4 * k + 2] = rgb[3 * g + 2];
            s_colour[4 * k + 3] = depth[g];
            s_row[2 * k] = 0.5f * (co.z - co.y * co.y / co.x);
            s_row[2 * k + 1] = sigma_max[g];
            s_slot[k] = slot;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int k = (int)count - 1; k >= 0; k--) {
            const float2 m = vload2((uint)k, s_xy);
            const float2 row = vload2((uint)k, s_row);
            const float4 co = vload4((uint)k, s_conic);
            const float4 col = vload4((uint)k, s_colour);
            const int pos = (int)(base - start) + k + 1; /* 1-based, as in the forward */
            __local float *part = s_part + ((uint)k * CLS_GROUP_ITEMS_BWD + lid) * CLS_PART_STRIDE;
            /* The 12 values summed over this work-item's rows (in row order), then its lanes. */
            vecf v0 = 0.0f, v1 = 0.0f, v2 = 0.0f, v3 = 0.0f, v4 = 0.0f, v5 = 0.0f, v6 = 0.0f, v7 = 0.0f, v8 = 0.0f,
                 v9 = 0.0f, v10 = 0.0f, v11 = 0.0f;
            int touched = 0;
            for (uint r = 0; r < CLS_BWD_ROWS; r++) {
                const float dy = m.y - py[r];
                /* The forward's exact row test: no pixel of this row has alpha >= 1/255 here,
                 * so the row contributes nothing and its state does not change. */
                if (pos > row_last[r] || dy * dy * row.x > row.y)
                    continue;
                touched = 1;
                const vecf dx = m.x - px;
                const vecf sigma = dx * (0.5f * co.x * dx + co.y * dy) + 0.5f * co.z * dy * dy;
                const vecf gauss = exp(-sigma);
                const vecf raw_alpha = co.w * gauss;
                const vecf alpha = fmin(CLS_ALPHA_MAX, raw_alpha);
                const veci valid = (last[r] >= pos) & (sigma >= 0.0f) & (alpha >= CLS_ALPHA_MIN);

                const vecf one_minus = 1.0f - alpha;
                const vecf inv_one_minus = 1.0f / one_minus; /* one division, not two */
                const vecf T_before = select(T[r], T[r] * inv_one_minus, valid);
                const vecf w = select((vecf)0.0f, alpha * T_before, valid);
                const vecf f = g_r[r] * col.x + g_g[r] * col.y + g_b[r] * col.z + g_d[r] * col.w;
                const vecf d_alpha =
                    select((vecf)0.0f, f * T_before - (acc[r] + g_tfinal[r] * T_final[r]) * inv_one_minus, valid);
                /* alpha = min(0.99, o G): no gradient to o and G where the clamp is active. */
                const vecf d_raw = select((vecf)0.0f, d_alpha, raw_alpha <= CLS_ALPHA_MAX);
                const vecf d_sigma = -raw_alpha * d_raw;
                const vecf d_u = d_sigma * (co.x * dx + co.y * dy);
                const vecf d_v = d_sigma * (co.y * dx + co.z * dy);
                v0 += w * g_r[r];
                v1 += w * g_g[r];
                v2 += w * g_b[r];
                v3 += gauss * d_raw;
                v4 += d_u;
                v5 += d_v;
                v6 += d_sigma * 0.5f * dx * dx;
                v7 += d_sigma * dx * dy;
                v8 += d_sigma * 0.5f * dy * dy;
                v9 += w * g_d[r];
                v10 += fabs(d_u);
                v11 += fabs(d_v);
                acc[r] += f * w;
                T[r] = T_before;
            }
            if (!touched) {
                for (uint v = 0; v < CLS_PART_FLOATS; v++)
                    part[v] = 0.0f;
                continue;
            }
            CLS_STORE_PARTIALS(part, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* Sum each Gaussian's values over the work-items, in order, and store them. */
        for (uint k = lid; k < count; k += CLS_GROUP_ITEMS_BWD) {
            __local const float *part = s_part + k * CLS_GROUP_ITEMS_BWD * CLS_PART_STRIDE;
#if CLS_PIXELS_PER_ITEM == 1
            float8 lo = vload8(0, part);
            float4 hi = vload4(0, part + 8);
            for (uint item = 1; item < CLS_GROUP_ITEMS_BWD; item++) {
                lo += vload8(0, part + item * CLS_PART_STRIDE);
                hi += vload4(0, part + item * CLS_PART_STRIDE + 8);
            }
#else
            float16 lo2 = vload16(0, part);
            float8 hi2 = vload8(0, part + 16);
            for (uint item = 1; item < CLS_GROUP_ITEMS_BWD; item++) {
                lo2 += vload16(0, part + item * CLS_PART_STRIDE);
                hi2 += vload8(0, part + item * CLS_PART_STRIDE + 16);
            }
            const float8 lo = lo2.even + lo2.odd; /* each value's two partials */
            const float4 hi = hi2.even + hi2.odd;
#endif
            __global float *out = isect_grads + CLS_GRAD_VALUES * s_slot[k];
            /* (Scalar stores: Oclgrind 21.10 mistracks stores of freshly built vectors.) */
            out[0] = lo.s0;
            out[1] = lo.s1;
            out[2] = lo.s2;
            out[3] = lo.s3;
            out[4] = lo.s4;
            out[5] = lo.s5;
            out[6] = lo.s6;
            out[7] = lo.s7;
            out[8] = hi.s0;
            out[9] = hi.s1;
            out[10] = hi.s2;
            out[11] = hi.s3;
        }
        top = base;
    }
}

/* rank[ids[j]] = j: the depth rank of each visible Gaussian. */
__kernel void depth_rank(uint count, __global const uint *ids, __global uint *rank)
{
    const uint j = get_global_id(0);
    if (j < count)
        rank[ids[j]] = j;
}
