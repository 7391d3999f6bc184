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
 * intersection's emission slot: isect_grads[CLS_GRAD_VALUES * slot + v]. The slot of a
 * (tile, Gaussian) pair is offsets[rank[g]] + the tile's index in g's tile rectangle (row
 * by row), which is where emit_intersections put it, so each Gaussian's slots are
 * contiguous and project_backward sums them in order: deterministic by construction.
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
#define CLS_GROUP_ITEMS_BWD (CLS_ITEMS_X * CLS_TILE)

/* The emission slot of Gaussian g's intersection with tile (tx, ty). */
inline uint cls_isect_slot(uint g, uint tx, uint ty, __global const float2 *xy, __global const int2 *radius,
                           __global const uint *rank, __global const uint *offsets, uint tiles_x, uint tiles_y)
{
    const float2 mean = xy[g];
    const int2 r = radius[g];
    int x0, y0, x1, y1;
    CLS_TILE_RECT(mean.x, mean.y, r.x, r.y, tiles_x, tiles_y, x0, y0, x1, y1);
    return offsets[rank[g]] + (uint)(((int)ty - y0) * (x1 - x0) + ((int)tx - x0));
}

__kernel __attribute__((reqd_work_group_size(CLS_ITEMS_X, CLS_TILE, 1))) void
rasterize_backward(__global const uint *ranges, __global const uint *ids, __global const float2 *xy,
                   __global const float4 *conic_opacity, __global const float *rgb, __global const float *depth,
                   __global const int2 *radius, __global const uint *rank, __global const uint *offsets, uint width,
                   uint height, uint tiles_x, uint tiles_y, float4 background, __global const float *final_t,
                   __global const int *last_contrib, __global const float *exp_depth, __global const float *d_rgb,
                   __global const float *d_alpha, __global const float *d_depth, uint flags,
                   __global float *isect_grads)
{
    __local float s_xy[2 * CLS_BWD_BATCH];
    __local float s_conic[4 * CLS_BWD_BATCH];
    __local float s_colour[4 * CLS_BWD_BATCH];
    __local float s_row[2 * CLS_BWD_BATCH]; /* the forward's row test: (C - B^2/A) / 2, log(opacity * 255) */
    __local uint s_slot[CLS_BWD_BATCH];
    __local float s_part[CLS_BWD_BATCH * CLS_GRAD_VALUES * CLS_GROUP_ITEMS_BWD];
    __local int s_tile_last;

    const uint lx = get_local_id(0), ly = get_local_id(1);
    const uint lid = ly * CLS_ITEMS_X + lx;
    const uint tile_x = get_group_id(0), tile_y = get_group_id(1);
    const uint tile = tile_y * tiles_x + tile_x;
    const uint x0 = tile_x * CLS_TILE + lx * CLS_PIXELS_PER_ITEM;
    const uint y = tile_y * CLS_TILE + ly;
    const vecf px = (float)x0 + 0.5f + LANES;
    const float py = (float)y + 0.5f;
    const veci inside = (px < (float)width) & SPLAT_I(y < height ? -1 : 0);

    /* Per-pixel state: the image buffers cover whole tiles (row pitch tiles_x * CLS_TILE), so
     * full vectors are read; padding pixels are inactive. */
    const size_t pitch = (size_t)tiles_x * CLS_TILE;
    const size_t plane = pitch * get_global_size(1);
    const size_t at = (size_t)y * pitch + x0;
    const vecf T_final = VLOAD(final_t + at);
    veci last = VLOAD(last_contrib + at);
    const vecf g_r = VLOAD(d_rgb + at), g_g = VLOAD(d_rgb + plane + at), g_b = VLOAD(d_rgb + 2 * plane + at);
    const vecf g_alpha = (flags & 1u) ? VLOAD(d_alpha + at) : (vecf)0.0f;
    const vecf g_ed = (flags & 2u) ? VLOAD(d_depth + at) : (vecf)0.0f;
    const vecf ed = (flags & 2u) ? VLOAD(exp_depth + at) : (vecf)0.0f;
    last = select(SPLAT_I(0), last, inside);
    /* Expected depth ED = D / (1 - T_final) with D = sum of w_i z_i: dL/dD and the part of
     * dL/dT_final that comes from the depth, the alpha image and the background. */
    const vecf hit = 1.0f - T_final;
    const veci has_hit = hit > 0.0f;
    const vecf g_d = select((vecf)0.0f, g_ed / hit, has_hit);
    const vecf g_tfinal = -g_alpha + g_r * background.x + g_g * background.y + g_b * background.z +
                          select((vecf)0.0f, g_ed * ed / hit, has_hit);

    vecf T = T_final;
    vecf acc = 0.0f; /* sum over later contributors j of (dL/dC . c_j + dL/dD z_j) alpha_j T_j */

    const uint start = ranges[2 * tile], end = ranges[2 * tile + 1];
    /* The last position any pixel of the tile used; later entries get zero gradients. (Lane
     * by lane: Oclgrind 21.10 mistracks swizzles and stores of int vectors.) */
    if (lid == 0)
        s_tile_last = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    ATOMIC_MAX_LANES(&s_tile_last, last);
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint used_end = start + (uint)s_tile_last;
    for (uint p = used_end + lid; p < end; p += CLS_GROUP_ITEMS_BWD) {
        const uint slot = cls_isect_slot(ids[p], tile_x, tile_y, xy, radius, rank, offsets, tiles_x, tiles_y);
        for (uint v = 0; v < CLS_GRAD_VALUES; v++)
            isect_grads[CLS_GRAD_VALUES * slot + v] = 0.0f;
    }

    for (uint top = used_end; top > start;) {
        const uint count = min((uint)CLS_BWD_BATCH, top - start);
        const uint base = top - count; /* the batch is [base, top), walked from top - 1 down */
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous batch's partials have been reduced */
        for (uint k = lid; k < count; k += CLS_GROUP_ITEMS_BWD) {
            const uint g = ids[base + k];
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
            s_row[2 * k + 1] = log(co.w * 255.0f * CLS_ROW_TEST_MARGIN);
            s_slot[k] = cls_isect_slot(g, tile_x, tile_y, xy, radius, rank, offsets, tiles_x, tiles_y);
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int k = (int)count - 1; k >= 0; k--) {
            const float2 m = vload2((uint)k, s_xy);
            const float dy = m.y - py;
            __local float *part = s_part + (uint)k * CLS_GRAD_VALUES * CLS_GROUP_ITEMS_BWD + lid;
            /* The forward's exact row test: no pixel of this row has alpha >= 1/255 here, so
             * the row contributes nothing and its state does not change. */
            const float2 row = vload2((uint)k, s_row);
            if (dy * dy * row.x > row.y) {
                for (uint v = 0; v < CLS_GRAD_VALUES; v++)
                    part[v * CLS_GROUP_ITEMS_BWD] = 0.0f;
                continue;
            }
            const float4 co = vload4((uint)k, s_conic);
            const float4 col = vload4((uint)k, s_colour);
            const int pos = (int)(base - start) + k + 1; /* 1-based, as in the forward */
            const vecf dx = m.x - px;
            const vecf sigma = dx * (0.5f * co.x * dx + co.y * dy) + 0.5f * co.z * dy * dy;
            const vecf gauss = exp(-sigma);
            const vecf raw_alpha = co.w * gauss;
            const vecf alpha = fmin(CLS_ALPHA_MAX, raw_alpha);
            const veci valid = (last >= pos) & (sigma >= 0.0f) & (alpha >= CLS_ALPHA_MIN);

            const vecf one_minus = 1.0f - alpha;
            const vecf T_before = select(T, T / one_minus, valid);
            const vecf w = select((vecf)0.0f, alpha * T_before, valid);
            const vecf f = g_r * col.x + g_g * col.y + g_b * col.z + g_d * col.w;
            const vecf d_alpha =
                select((vecf)0.0f, f * T_before - (acc + g_tfinal * T_final) / one_minus, valid);
            /* alpha = min(0.99, o G): no gradient to o and G where the clamp is active. */
            const vecf d_raw = select((vecf)0.0f, d_alpha, raw_alpha <= CLS_ALPHA_MAX);
            const vecf d_sigma = -raw_alpha * d_raw;
            const vecf d_u = d_sigma * (co.x * dx + co.y * dy);
            const vecf d_v = d_sigma * (co.y * dx + co.z * dy);

            part[0 * CLS_GROUP_ITEMS_BWD] = HSUM(w * g_r);
            part[1 * CLS_GROUP_ITEMS_BWD] = HSUM(w * g_g);
            part[2 * CLS_GROUP_ITEMS_BWD] = HSUM(w * g_b);
            part[3 * CLS_GROUP_ITEMS_BWD] = HSUM(gauss * d_raw);
            part[4 * CLS_GROUP_ITEMS_BWD] = HSUM(d_u);
            part[5 * CLS_GROUP_ITEMS_BWD] = HSUM(d_v);
            part[6 * CLS_GROUP_ITEMS_BWD] = HSUM(d_sigma * 0.5f * dx * dx);
            part[7 * CLS_GROUP_ITEMS_BWD] = HSUM(d_sigma * dx * dy);
            part[8 * CLS_GROUP_ITEMS_BWD] = HSUM(d_sigma * 0.5f * dy * dy);
            part[9 * CLS_GROUP_ITEMS_BWD] = HSUM(w * g_d);
            part[10 * CLS_GROUP_ITEMS_BWD] = HSUM(fabs(d_u));
            part[11 * CLS_GROUP_ITEMS_BWD] = HSUM(fabs(d_v));

            acc += f * w;
            T = T_before;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* Sum each (Gaussian, value) over the work-items, in order, and store it. */
        /* (Nested loops rather than i / 12 and i % 12: the division compiles to an LLVM
         * `freeze` that Oclgrind 21.10's uninitialised-value checker cannot execute.) */
        for (uint k = 0; k < count; k++)
            for (uint v = lid; v < CLS_GRAD_VALUES; v += CLS_GROUP_ITEMS_BWD) {
                __local const float *part = s_part + (k * CLS_GRAD_VALUES + v) * CLS_GROUP_ITEMS_BWD;
                float sum = 0.0f;
                for (uint item = 0; item < CLS_GROUP_ITEMS_BWD; item++)
                    sum += part[item];
                isect_grads[CLS_GRAD_VALUES * s_slot[k] + v] = sum;
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
