/* scan.cl - exclusive prefix sum of uint32 values, reduce-then-scan.
 *
 * Parameters (from common.cl, set by the host with -D):
 *   CLS_SCAN_WG     work-items per work-group (kernels require exactly this local size)
 *   CLS_SCAN_ITEMS  elements per work-item; a block is CLS_SCAN_WG * CLS_SCAN_ITEMS elements
 *
 * The host (engine/scan.c) runs, for n elements in blocks of SCAN_BLOCK:
 *   n <= SCAN_BLOCK:  scan_blocks(in, out, n)                         one work-group
 *   otherwise:        scan_reduce(in -> sums[b] = sum of block b)
 *                     exclusive scan of sums (recursively, the same way)
 *                     scan_downsweep(in -> out, adding sums[b] to block b)
 * `in` may equal `out`: every kernel reads a block completely before writing it, and blocks
 * are disjoint. Sums wrap modulo 2^32. */

#define SCAN_BLOCK (CLS_SCAN_WG * CLS_SCAN_ITEMS)
/* Local staging of a block; one work-item per group scans straight from global memory. */
#if CLS_SCAN_WG > 1
#define SCAN_TILE SCAN_BLOCK
#else
#define SCAN_TILE 1
#endif

/* Exclusive scan of one value per work-item over the work-group; *total receives the sum of
 * all of them. `s` holds CLS_SCAN_WG entries. Every use of `s` is fenced by barriers, so the
 * function may be called repeatedly with the same `s`. */
static uint scan_group_exclusive(uint v, __local uint *s, uint lid, uint *total)
{
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint off = 1; off < CLS_SCAN_WG; off <<= 1) {
        uint t = lid >= off ? s[lid - off] : 0u;
        barrier(CLK_LOCAL_MEM_FENCE);
        s[lid] += t;
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    uint inclusive = s[lid];
    *total = s[CLS_SCAN_WG - 1];
    barrier(CLK_LOCAL_MEM_FENCE);
    return inclusive - v;
}

/* Exclusive scan of the `count` (<= SCAN_BLOCK) elements in[base ...] into out[base ...],
 * adding `offset`; returns the sum of the elements. Loads and stores are strided by the
 * work-group size (coalesced on GPUs, vectorisable across work-items on PoCL); each
 * work-item scans a contiguous run of CLS_SCAN_ITEMS elements in local memory. */
static uint scan_block(__global const uint *in, __global uint *out, uint base, uint count, uint offset,
                       __local uint *tile, __local uint *s, uint lid)
{
#if CLS_SCAN_WG == 1
    /* One work-item per group (CPUs): a plain running sum, reading each element before
     * writing its place (in may equal out). */
    (void)tile;
    (void)s;
    (void)lid;
    uint acc = offset;
    for (uint i = 0; i < count; i++) {
        uint v = in[base + i];
        out[base + i] = acc;
        acc += v;
    }
    return acc - offset;
#else
    for (uint k = 0; k < CLS_SCAN_ITEMS; k++) {
        uint i = k * CLS_SCAN_WG + lid;
        tile[i] = i < count ? in[base + i] : 0u;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    __local uint *run = tile + lid * CLS_SCAN_ITEMS;
    uint sum = 0;
    for (uint k = 0; k < CLS_SCAN_ITEMS; k++)
        sum += run[k];
    uint total;
    uint prefix = scan_group_exclusive(sum, s, lid, &total) + offset;
    for (uint k = 0; k < CLS_SCAN_ITEMS; k++) {
        uint v = run[k];
        run[k] = prefix;
        prefix += v;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (uint k = 0; k < CLS_SCAN_ITEMS; k++) {
        uint i = k * CLS_SCAN_WG + lid;
        if (i < count)
            out[base + i] = tile[i];
    }
    /* The caller may reuse `tile` right away. */
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
#endif
}

/* block_sums[b] = the sum of block b of in[0..n). One work-group per block. */
__kernel __attribute__((reqd_work_group_size(CLS_SCAN_WG, 1, 1)))
void scan_reduce(__global const uint *in, uint n, __global uint *block_sums)
{
    __local uint s[CLS_SCAN_WG];
    uint lid = (uint)get_local_id(0);
    uint b = (uint)get_group_id(0);
    uint base = b * SCAN_BLOCK;
    uint count = min((uint)SCAN_BLOCK, n - base);
    uint sum = 0;
    for (uint i = lid; i < count; i += CLS_SCAN_WG)
        sum += in[base + i];
    uint total;
    scan_group_exclusive(sum, s, lid, &total);
    if (lid == 0)
        block_sums[b] = total;
}

/* Exclusive scan of all n elements by a single work-group, block after block with a running
 * carry. When write_total is set, total[0] receives the sum of all n elements (also for
 * n == 0). Launched with exactly one work-group. */
__kernel __attribute__((reqd_work_group_size(CLS_SCAN_WG, 1, 1)))
void scan_blocks(__global const uint *in, __global uint *out, uint n, __global uint *total, uint write_total)
{
    __local uint tile[SCAN_TILE];
    __local uint s[CLS_SCAN_WG];
    uint lid = (uint)get_local_id(0);
    uint carry = 0;
    for (uint base = 0; base < n; base += SCAN_BLOCK) {
        uint count = min((uint)SCAN_BLOCK, n - base);
        carry += scan_block(in, out, base, count, carry, tile, s, lid);
    }
    if (write_total && lid == 0)
        total[0] = carry;
}

/* Block b of in[0..n) scanned into out, plus block_offsets[b] (the exclusive scan of the
 * block sums). One work-group per block. */
__kernel __attribute__((reqd_work_group_size(CLS_SCAN_WG, 1, 1)))
void scan_downsweep(__global const uint *in, __global uint *out, uint n, __global const uint *block_offsets)
{
    __local uint tile[SCAN_TILE];
    __local uint s[CLS_SCAN_WG];
    uint lid = (uint)get_local_id(0);
    uint b = (uint)get_group_id(0);
    uint base = b * SCAN_BLOCK;
    scan_block(in, out, base, min((uint)SCAN_BLOCK, n - base), block_offsets[b], tile, s, lid);
}
