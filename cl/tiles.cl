/* tiles.cl - from projected Gaussians to per-tile lists (brief section 3):
 *   compact_visible     visible Gaussians → (depth key, index) pairs for the depth sort
 *   gather_tile_counts  tiles touched, in depth order (to scan into emission offsets)
 *   emit_intersections  one (tile id, slot) pair per touched tile, in depth order, so a
 *                       stable sort on the tile id keeps depth order inside each tile
 *   tile_ranges         [start, end) of each tile's run in the sorted pairs (binary search)
 */

/* flags[i] = 1 for visible Gaussians, slot[i] = exclusive scan of flags. The key is the bit
 * pattern of the (positive) depth, which orders like the depth itself. */
__kernel void compact_visible(uint n, __global const uint *flags, __global const uint *slot,
                              __global const float *depth, __global uint *keys, __global uint *ids)
{
    const uint i = get_global_id(0);
    if (i >= n || flags[i] == 0)
        return;
    const uint s = slot[i];
    keys[s] = as_uint(depth[i]);
    ids[s] = i;
}

__kernel void gather_tile_counts(uint count, __global const uint *ids, __global const uint *tiles,
                                 __global uint *out)
{
    const uint j = get_global_id(0);
    if (j < count)
        out[j] = tiles[ids[j]];
}

/* One (tile, slot) pair per touched tile of the j-th Gaussian in depth order, at its scanned
 * offset: the slot is the pair's own position (so the stable tile sort carries it along), and
 * isect_gauss[slot] = g. The backward pass stores each pair's gradients at its slot, where a
 * Gaussian's pairs are contiguous. Tiles per row come from cls_tile_span, as the projection
 * counted them; never more than the count are written. */
__kernel void emit_intersections(uint count, __global const uint *ids, __global const uint *offsets,
                                 __global const float2 *xy, __global const float4 *conic_opacity,
                                 __global const float *sigma_max, __global const int2 *radius,
                                 __global const uint *tiles, uint tiles_x, uint tiles_y, __global uint *keys,
                                 __global uint *values, __global uint *isect_gauss)
{
    const uint j = get_global_id(0);
    if (j >= count)
        return;
    const uint g = ids[j];
    const float2 mean = xy[g];
    const float4 co = conic_opacity[g];
    const float limit = sigma_max[g];
    const int2 r = radius[g];
    int x0, y0, x1, y1;
    CLS_TILE_RECT(mean.x, mean.y, r.x, r.y, tiles_x, tiles_y, x0, y0, x1, y1);
    const uint first = offsets[j], end = first + tiles[g];
    /* When the projection counted the whole rectangle (most small Gaussians), it is the list. */
    const int whole = tiles[g] == (uint)((x1 - x0) * (y1 - y0));
    uint o = first;
    for (int ty = y0; ty < y1; ty++) {
        const uint span = whole ? (uint)x0 | ((uint)x1 << 16)
                                : cls_tile_span(mean.x, mean.y, co.x, co.y, co.z, limit, ty, x0, x1);
        for (uint tx = span & 0xffffu; tx < (span >> 16) && o < end; tx++) {
            keys[o] = (uint)ty * tiles_x + tx;
            values[o] = o;
            isect_gauss[o] = g;
            o++;
        }
    }
    /* Had the spans come out shorter than the count (they cannot when both kernels round
     * alike), the rest become pairs of a tile past the last one: sorted to the end, in no
     * tile's range, their gradient slots zeroed by the backward pass. */
    for (; o < end; o++) {
        keys[o] = tiles_x * tiles_y;
        values[o] = o;
        isect_gauss[o] = g;
    }
}

/* The first index i in [0, count) with tile_ids[i] >= tile (count when none). */
inline uint cls_lower_bound(__global const uint *tile_ids, uint count, uint tile)
{
    uint lo = 0, hi = count;
    while (lo < hi) {
        const uint mid = lo + (hi - lo) / 2;
        if (tile_ids[mid] < tile)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ranges[2t] and ranges[2t + 1] = [start, end) of tile t's run in the sorted tile ids: one
 * work-item per tile, two binary searches. Every tile is written (empty ones get an empty
 * range), so the buffer needs no clearing. */
__kernel void tile_ranges(uint tiles, uint count, __global const uint *tile_ids, __global uint *ranges)
{
    const uint t = get_global_id(0);
    if (t >= tiles)
        return;
    ranges[2 * t] = cls_lower_bound(tile_ids, count, t);
    ranges[2 * t + 1] = cls_lower_bound(tile_ids, count, t + 1);
}
