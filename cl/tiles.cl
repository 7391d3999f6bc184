/* tiles.cl - from projected Gaussians to per-tile lists (brief section 3):
 *   compact_visible     visible Gaussians → (depth key, index) pairs for the depth sort
 *   gather_tile_counts  tiles touched, in depth order (to scan into emission offsets)
 *   emit_intersections  one (tile id, Gaussian) pair per touched tile, in depth order, so a
 *                       stable sort on the tile id keeps depth order inside each tile
 *   tile_ranges         [start, end) of each tile's run in the sorted pairs
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

__kernel void emit_intersections(uint count, __global const uint *ids, __global const uint *offsets,
                                 __global const float2 *xy, __global const int2 *radius, uint tiles_x,
                                 uint tiles_y, __global uint *keys, __global uint *values)
{
    const uint j = get_global_id(0);
    if (j >= count)
        return;
    const uint g = ids[j];
    const int4 rect = cls_tile_rect(xy[g], radius[g], tiles_x, tiles_y);
    uint o = offsets[j];
    for (int ty = rect.s1; ty < rect.s3; ty++)
        for (int tx = rect.s0; tx < rect.s2; tx++) {
            keys[o] = (uint)ty * tiles_x + (uint)tx;
            values[o] = g;
            o++;
        }
}

/* ranges[2t] and ranges[2t + 1] hold the [start, end) of tile t; the host zeroes them first
 * so empty tiles read [0, 0). */
__kernel void tile_ranges(uint count, __global const uint *tile_ids, __global uint *ranges)
{
    const uint i = get_global_id(0);
    if (i >= count)
        return;
    const uint t = tile_ids[i];
    if (i == 0) {
        ranges[2 * t] = 0;
    } else {
        const uint prev = tile_ids[i - 1];
        if (prev != t) {
            ranges[2 * prev + 1] = i;
            ranges[2 * t] = i;
        }
    }
    if (i == count - 1)
        ranges[2 * t + 1] = count;
}
