/* rasterize.cl - front-to-back alpha blending of each tile's depth-ordered Gaussians
 * (3dgs-math.md section 5). One work-group per tile; Gaussians are staged through local
 * memory CLS_BATCH at a time. A work-item owns CLS_PIXELS_PER_ITEM consecutive pixels of a
 * tile row as the lanes of a vector: 1 on GPUs (one pixel per work-item), 16 on CPUs, where
 * PoCL does not vectorise a per-pixel loop across work-items (brief section 4).
 *
 * A work-item owns CLS_ROWS consecutive rows (on CPUs the whole tile): each staged Gaussian
 * is read once for all of them.
 * Launch: global (tiles_x * CLS_TILE / CLS_PIXELS_PER_ITEM, tiles_y * CLS_TILE / CLS_ROWS),
 * local exactly (CLS_TILE / CLS_PIXELS_PER_ITEM, CLS_TILE / CLS_ROWS).
 * Inputs:  ranges[2 * tiles] ([start, end) per tile into ids), ids (the sorted pairs' slots),
 *          isect_gauss (slot -> Gaussian), xy, conic_opacity, sigma_max, rgb[3n], depth from the
 *          projection; background (rgb, unused w).
 * Outputs (row pitch = tiles_x * CLS_TILE, tiles_y * CLS_TILE rows: whole tiles, so every
 *          work-item stores full vectors; pixels outside the image are padding):
 *          out_rgb planar (3 planes), out_t (final transmittance),
 *          out_last (1-based position in the tile's list of the last contributor, 0 if none),
 *          out_depth (expected depth, only with CLS_WITH_DEPTH).
 */

#ifndef CLS_WITH_DEPTH
#define CLS_WITH_DEPTH 0 /* also blend the depth into an expected-depth image */
#endif
#ifndef CLS_RASTER_ROWS
#define CLS_RASTER_ROWS 1 /* tile rows one work-item owns: 1, or 0 for the whole tile */
#endif
/* Intermediate values (2..CLS_TILE / 2) are not offered: PoCL 3.1 ran them wrongly for
 * work-item 0 of each tile (Oclgrind runs them correctly); 1 and the whole tile are tested. */
#if CLS_RASTER_ROWS == 0
#define CLS_ROWS CLS_TILE
#elif CLS_RASTER_ROWS == 1
#define CLS_ROWS 1
#else
#error "CLS_RASTER_ROWS must be 1 or 0 (the whole tile)"
#endif

__kernel __attribute__((reqd_work_group_size(CLS_ITEMS_X, CLS_TILE / CLS_ROWS, 1))) void
rasterize(__global const uint *ranges, __global const uint *ids, __global const uint *isect_gauss,
          __global const float2 *xy, __global const float4 *conic_opacity, __global const float *sigma_max,
          __global const float *rgb, __global const float *depth, uint width,
          uint height, uint tiles_x, float4 background, __global float *out_rgb, __global float *out_t,
          __global int *out_last, __global float *out_depth)
{
    /* The batch in local memory, as scalar arrays read with vloadN (written element by
     * element: Oclgrind 21.10 misreads stores of freshly built vectors as undefined). */
    __local float s_xy[2 * CLS_BATCH];
    __local float s_conic[4 * CLS_BATCH];  /* A, B, C, opacity */
    __local float s_colour[4 * CLS_BATCH]; /* r, g, b, depth */
    __local float s_row[2 * CLS_BATCH];    /* row test: (C - B^2/A) / 2, sigma_max */
    __local int s_any_active;

    const uint lx = get_local_id(0), ly = get_local_id(1);
    const uint lid = ly * CLS_ITEMS_X + lx;
    const uint tile_x = get_group_id(0), tile_y = get_group_id(1);
    const uint tile = tile_y * tiles_x + tile_x;
    const uint x0 = tile_x * CLS_TILE + lx * CLS_PIXELS_PER_ITEM;
    const vecf px = (float)x0 + 0.5f + LANES;

    /* Per row of this work-item's CLS_ROWS consecutive rows. */
    float py[CLS_ROWS];
    veci active[CLS_ROWS], last[CLS_ROWS];
    vecf T[CLS_ROWS], cr[CLS_ROWS], cg[CLS_ROWS], cb[CLS_ROWS];
#if CLS_WITH_DEPTH
    vecf cd[CLS_ROWS];
#endif
    for (uint r = 0; r < CLS_ROWS; r++) {
        const uint y = tile_y * CLS_TILE + ly * CLS_ROWS + r;
        py[r] = (float)y + 0.5f;
        active[r] = (px < (float)width) & SPLAT_I(y < height ? -1 : 0);
        T[r] = 1.0f;
        cr[r] = cg[r] = cb[r] = 0.0f;
#if CLS_WITH_DEPTH
        cd[r] = 0.0f;
#endif
        last[r] = SPLAT_I(0);
    }

    const uint start = ranges[2 * tile], end = ranges[2 * tile + 1];
    for (uint base = start; base < end; base += CLS_BATCH) {
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous batch is no longer read */
        if (lid == 0)
            s_any_active = 0;
        for (uint k = lid; k < CLS_BATCH && base + k < end; k += CLS_GROUP_ITEMS / CLS_ROWS) {
            const uint g = isect_gauss[ids[base + k]];
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
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* (Recomputed from the rows rather than kept in a variable across barriers: PoCL 3.1
         * ran a multi-row version that carried such a flag wrongly for work-item 0.) */
        int live = 0;
        for (uint r = 0; r < CLS_ROWS; r++)
            live |= ANY(active[r]) ? 1 : 0;
        if (live)
            atomic_or(&s_any_active, 1);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (s_any_active == 0)
            break; /* every pixel of the tile is saturated */

        const uint count = min((uint)CLS_BATCH, end - base);
        for (uint k = 0; k < count; k++) {
            int rows_live = 0;
            for (uint r = 0; r < CLS_ROWS; r++)
                rows_live |= ANY(active[r]) ? 1 : 0;
            if (!rows_live)
                break; /* this work-item's pixels are saturated: they stay so */
            const float2 m = vload2(k, s_xy);
            const float2 row = vload2(k, s_row);
            const float4 co = vload4(k, s_conic);
            const float4 col = vload4(k, s_colour);
            for (uint r = 0; r < CLS_ROWS; r++) {
                if (!ANY(active[r]))
                    continue; /* this row's pixels are saturated */
                const float dy = m.y - py[r];
                /* Along this row sigma is smallest at dx = -B dy / A, where it is
                 * dy^2 (C - B^2/A) / 2. If even there alpha < 1/255, no pixel of the row is
                 * touched: skip the vector work. */
                if (dy * dy * row.x > row.y)
                    continue;
                const vecf dx = m.x - px;
                /* sigma = (A dx^2 + C dy^2) / 2 + B dx dy, with the row's terms hoisted. */
                const vecf sigma = dx * (0.5f * co.x * dx + co.y * dy) + 0.5f * co.z * dy * dy;
                const vecf alpha = fmin(CLS_ALPHA_MAX, co.w * exp(-sigma));
                const veci valid = active[r] & (sigma >= 0.0f) & (alpha >= CLS_ALPHA_MIN);
#if CLS_PIXELS_PER_ITEM == 1
                if (!valid)
                    continue; /* one pixel: skipping is a cheap branch (on GPUs, per lane) */
#endif
                /* With vector lanes, testing any(valid) to skip costs more than the arithmetic
                 * it saves (measured 35% slower on PoCL): the lanes blend with zero weight. */
                const vecf next_t = T[r] * (1.0f - alpha);
                const veci stop = valid & (next_t < CLS_T_MIN);
                const veci contrib = valid & ~stop;
                const vecf w = select((vecf)0.0f, alpha * T[r], contrib);
                cr[r] += w * col.x;
                cg[r] += w * col.y;
                cb[r] += w * col.z;
#if CLS_WITH_DEPTH
                cd[r] += w * col.w;
#endif
                T[r] = select(T[r], next_t, contrib);
                last[r] = select(last[r], SPLAT_I((int)(base - start + k + 1)), contrib);
                active[r] &= ~stop;
            }
        }
    }

    const size_t pitch = (size_t)tiles_x * CLS_TILE;
    const size_t plane = pitch * get_num_groups(1) * CLS_TILE;
    for (uint r = 0; r < CLS_ROWS; r++) {
        const uint y = tile_y * CLS_TILE + ly * CLS_ROWS + r;
        const size_t at = (size_t)y * pitch + x0;
        VSTORE(cr[r] + T[r] * background.x, out_rgb + at);
        VSTORE(cg[r] + T[r] * background.y, out_rgb + plane + at);
        VSTORE(cb[r] + T[r] * background.z, out_rgb + 2 * plane + at);
        VSTORE(T[r], out_t + at);
        VSTORE(last[r], out_last + at);
#if CLS_WITH_DEPTH
        const vecf hit = 1.0f - T[r];
        VSTORE(select((vecf)0.0f, cd[r] / hit, hit > 0.0f), out_depth + at);
#endif
    }
#if !CLS_WITH_DEPTH
    (void)out_depth;
#endif
}
