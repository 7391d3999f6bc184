/* knn.cl - the initial scale of each Gaussian: the mean squared distance to its 3 nearest
 * neighbours, found on the device by sorting the points along a Morton (Z-order) curve and
 * searching a window of the sorted order around each point (3dgs-math.md 8.4; the reference's
 * simple-knn is likewise approximate, with Morton-sorted boxes).
 *   morton_codes   30-bit code of each point in the cloud's bounding box, with its index
 *   (radix sort of the codes, engine/sort.c)
 *   knn_window     per sorted position, the 3 nearest among the CLS_KNN_WINDOW points before
 *                  and after it; writes the mean of their squared distances at the point's
 *                  original index, clamped to >= 1e-7 as the reference does */

#ifndef CLS_KNN_WINDOW
#define CLS_KNN_WINDOW 64 /* sorted neighbours examined on each side */
#endif

/* The 10 low bits of v spread to every third bit. */
inline uint cls_spread_bits(uint v)
{
    v &= 0x3ffu;
    v = (v | (v << 16)) & 0x030000ffu;
    v = (v | (v << 8)) & 0x0300f00fu;
    v = (v | (v << 4)) & 0x030c30c3u;
    v = (v | (v << 2)) & 0x09249249u;
    return v;
}

/* lo_scale = (lo.x, lo.y, lo.z, 1023 / largest side of the box). */
__kernel void morton_codes(uint n, __global const float *xyz, float4 lo_scale, __global uint *codes,
                           __global uint *ids)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    const uint x = (uint)clamp((xyz[3 * i] - lo_scale.x) * lo_scale.w, 0.0f, 1023.0f);
    const uint y = (uint)clamp((xyz[3 * i + 1] - lo_scale.y) * lo_scale.w, 0.0f, 1023.0f);
    const uint z = (uint)clamp((xyz[3 * i + 2] - lo_scale.z) * lo_scale.w, 0.0f, 1023.0f);
    codes[i] = cls_spread_bits(x) | (cls_spread_bits(y) << 1) | (cls_spread_bits(z) << 2);
    ids[i] = i;
}

__kernel void knn_window(uint n, __global const uint *ids, __global const float *xyz, __global float *mean_sq)
{
    const uint j = get_global_id(0);
    if (j >= n)
        return;
    const uint i = ids[j];
    const float px = xyz[3 * i], py = xyz[3 * i + 1], pz = xyz[3 * i + 2];
    float b0 = FLT_MAX, b1 = FLT_MAX, b2 = FLT_MAX;
    /* (Bounds tested inside the loop: a clamped start compiles to llvm.usub.sat, which
     * Oclgrind 21.10 cannot run.) */
    for (int dk = -CLS_KNN_WINDOW; dk <= CLS_KNN_WINDOW; dk++) {
        const int k = (int)j + dk;
        if (dk == 0 || k < 0 || k >= (int)n)
            continue;
        const uint o = ids[k];
        const float dx = xyz[3 * o] - px, dy = xyz[3 * o + 1] - py, dz = xyz[3 * o + 2] - pz;
        const float d = dx * dx + dy * dy + dz * dz;
        /* Keep the three smallest, sorted: b0 <= b1 <= b2. */
        const float lo01 = fmin(d, b0), hi01 = fmax(d, b0);
        const float lo12 = fmin(hi01, b1), hi12 = fmax(hi01, b1);
        b2 = fmin(hi12, b2);
        b1 = lo12;
        b0 = lo01;
    }
    const int found = (b0 < FLT_MAX) + (b1 < FLT_MAX) + (b2 < FLT_MAX);
    const float sum = (b0 < FLT_MAX ? b0 : 0.0f) + (b1 < FLT_MAX ? b1 : 0.0f) + (b2 < FLT_MAX ? b2 : 0.0f);
    mean_sq[i] = fmax(found > 0 ? sum / (float)found : 1e-7f, 1e-7f);
}
