/* bench.cl - the device copy-bandwidth probe (engine/bench.c): dst[i] = src[i] over n
 * uint4 elements, one element per work-item (coalesced on GPUs; PoCL vectorises the
 * straight-line body across work-items). Bytes moved per element: 16 read + 16 written. */

__kernel void bench_copy(__global const uint4 *src, __global uint4 *dst, uint n)
{
    uint i = (uint)get_global_id(0);
    if (i < n)
        dst[i] = src[i];
}
