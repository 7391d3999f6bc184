/* radix_sort.cl - one pass of a stable LSD radix sort of (uint key, uint value) pairs,
 * reduce-then-scan (no atomics, no subgroups, no dependence on work-group order).
 *
 * Parameters (from common.cl, set by the host with -D):
 *   CLS_RADIX_BITS   key bits per pass, 1..8 (RADIX = 2^CLS_RADIX_BITS digit values)
 *   CLS_SORT_WG      work-items per work-group (kernels require exactly this local size)
 *   CLS_SORT_ITEMS   keys per work-item; a block is SORT_BLOCK = CLS_SORT_WG * CLS_SORT_ITEMS keys
 *   CLS_SORT_REORDER 1: the scatter first reorders its block in local memory and then writes
 *                    it out with consecutive work-items on consecutive addresses (GPUs);
 *                    0: each work-item writes its own keys straight to their places (CPUs)
 *
 * One pass over n keys in num_blocks = ceil(n / SORT_BLOCK) blocks, digit = (key >> shift) & mask:
 *   1. radix_histogram: hist[d * num_blocks + b] = number of keys of block b with digit d.
 *      The table is digit-major, so its exclusive scan (engine/scan.c, cl/scan.cl) gives
 *   2. hist[d * num_blocks + b] = where block b's first key with digit d goes.
 *   3. radix_scatter: block b ranks its keys by digit, stably, and writes each pair to
 *      hist[d * num_blocks + b] + (rank among the block's keys with digit d).
 * Work-item w of a block owns the contiguous keys [w * CLS_SORT_ITEMS, (w + 1) * CLS_SORT_ITEMS)
 * of the block. It counts them per digit into its own column of a local [digit][work-item]
 * table; the exclusive scan of that table, read digit-major, is each (digit, work-item)'s
 * first rank in the block; the work-item then walks its keys in order. Ranks thus follow
 * the input order: the sort is stable.
 *
 * CPUs: with CLS_SORT_WG == 1 (and no reorder) a block is one work-item's plain loop: the
 * scanned histogram already holds the place of the block's first key of each digit, so the
 * scatter neither recounts nor scans. PoCL runs a work-item's loops as scalar code, which
 * is exactly what a CPU radix pass wants (its cost is a load, a shift, a counter bump and
 * two stores per pair); the work-groups spread over the cores. Measured on PoCL 3.1 (2
 * cores): about twice the speed of 16 work-items x 64 keys. */

#ifndef CLS_SORT_REORDER
#define CLS_SORT_REORDER 0
#endif

#if CLS_RADIX_BITS < 1 || CLS_RADIX_BITS > 8
#error "CLS_RADIX_BITS must be 1..8"
#endif

#define RADIX (1u << CLS_RADIX_BITS)
#define SORT_BLOCK (CLS_SORT_WG * CLS_SORT_ITEMS)

#define SORT_SERIAL_CPU (CLS_SORT_WG == 1 && !CLS_SORT_REORDER)

#if !SORT_SERIAL_CPU
/* Exclusive scan of one value per work-item over the work-group; *total receives the sum.
 * `s` holds CLS_SORT_WG entries; every use of it is fenced by barriers. */
static uint sort_group_exclusive(uint v, __local uint *s, uint lid, uint *total)
{
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint off = 1; off < CLS_SORT_WG; off <<= 1) {
        uint t = lid >= off ? s[lid - off] : 0u;
        barrier(CLK_LOCAL_MEM_FENCE);
        s[lid] += t;
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    uint inclusive = s[lid];
    *total = s[CLS_SORT_WG - 1];
    barrier(CLK_LOCAL_MEM_FENCE);
    return inclusive - v;
}
#endif

/* hist[d * num_blocks + b] = how many keys of block b have digit d. */
__kernel __attribute__((reqd_work_group_size(CLS_SORT_WG, 1, 1)))
void radix_histogram(__global const uint *keys, uint n, uint shift, uint mask, uint num_blocks,
                     __global uint *hist)
{
    uint lid = (uint)get_local_id(0);
    uint b = (uint)get_group_id(0);
    uint base = b * SORT_BLOCK;
    uint count = min((uint)SORT_BLOCK, n - base);
    __global const uint *block_keys = keys + base;
    __local uint counts[RADIX * CLS_SORT_WG]; /* [digit][work-item] */
    for (uint d = 0; d < RADIX; d++)
        counts[d * CLS_SORT_WG + lid] = 0;
    /* Order does not matter here: strided loads (coalesced on GPUs, contiguous with one
     * work-item per group). Each work-item only touches its own column, so no barrier is
     * needed before counting. (Four sets of counters used in turn, against chains of
     * equal digits, measured slower on PoCL.) */
    for (uint i = lid; i < count; i += CLS_SORT_WG) {
        uint d = (block_keys[i] >> shift) & mask;
        counts[d * CLS_SORT_WG + lid] += 1u;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint d = lid; d < RADIX; d += CLS_SORT_WG) {
        uint sum = 0;
        for (uint w = 0; w < CLS_SORT_WG; w++)
            sum += counts[d * CLS_SORT_WG + w];
        hist[d * num_blocks + b] = sum;
    }
}

/* Writes block b's pairs to their places for this pass; `offsets` is the scanned histogram. */
__kernel __attribute__((reqd_work_group_size(CLS_SORT_WG, 1, 1)))
void radix_scatter(__global const uint *keys_in, __global const uint *values_in, uint n, uint shift,
                   uint mask, uint num_blocks, __global const uint *offsets, __global uint *keys_out,
                   __global uint *values_out)
{
    __local uint ranks[RADIX * CLS_SORT_WG]; /* [digit][work-item] */
    __local uint delta[RADIX];
    __local uint s[CLS_SORT_WG];
#if CLS_SORT_REORDER
    __local uint local_keys[SORT_BLOCK];
    __local uint local_values[SORT_BLOCK];
#endif
    uint lid = (uint)get_local_id(0);
    uint b = (uint)get_group_id(0);
    uint base = b * SORT_BLOCK;
    uint count = min((uint)SORT_BLOCK, n - base);

#if SORT_SERIAL_CPU
    /* One work-item per block (CPUs): the scanned histogram already is the place of the
     * block's first key of each digit, and the block is walked in order. */
    (void)lid;
    (void)s;
    (void)delta;
    for (uint d = 0; d < RADIX; d++)
        ranks[d] = offsets[d * num_blocks + b];
    __global const uint *block_keys = keys_in + base;
    __global const uint *block_values = values_in + base;
    for (uint j = 0; j < count; j++) {
        uint key = block_keys[j];
        uint d = (key >> shift) & mask;
        uint p = ranks[d];
        ranks[d] = p + 1u;
        keys_out[p] = key;
        values_out[p] = block_values[j];
    }
#else
    uint first = lid * CLS_SORT_ITEMS; /* this work-item's keys: [first, first + mine) */
    uint mine = first < count ? min((uint)CLS_SORT_ITEMS, count - first) : 0u;
    __global const uint *my_keys = keys_in + base + first;
    /* 1. Count this work-item's keys per digit, in its own column. */
    for (uint d = 0; d < RADIX; d++)
        ranks[d * CLS_SORT_WG + lid] = 0;
    for (uint j = 0; j < mine; j++) {
        uint d = (my_keys[j] >> shift) & mask;
        ranks[d * CLS_SORT_WG + lid] += 1u;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* 2. Exclusive scan of the table read digit-major: work-item w scans the RADIX entries
     * [w * RADIX, (w + 1) * RADIX) of the flattened table, then the work-group scans the
     * work-items' sums. Afterwards ranks[d][w] is the block-local rank of work-item w's
     * first key with digit d. */
    __local uint *seg = ranks + lid * RADIX;
    uint sum = 0;
    for (uint e = 0; e < RADIX; e++)
        sum += seg[e];
    uint total;
    uint prefix = sort_group_exclusive(sum, s, lid, &total);
    for (uint e = 0; e < RADIX; e++) {
        uint v = seg[e];
        seg[e] = prefix;
        prefix += v;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* 3. delta[d]: global place of block rank r of digit d is delta[d] + r. */
    for (uint d = lid; d < RADIX; d += CLS_SORT_WG)
        delta[d] = offsets[d * num_blocks + b] - ranks[d * CLS_SORT_WG];
    barrier(CLK_LOCAL_MEM_FENCE);

    __global const uint *my_values = values_in + base + first;
#if CLS_SORT_REORDER
    /* 4. Put the block in digit order in local memory, then write it out with consecutive
     * work-items on consecutive block ranks. */
    for (uint j = 0; j < mine; j++) {
        uint key = my_keys[j];
        uint d = (key >> shift) & mask;
        uint r = ranks[d * CLS_SORT_WG + lid];
        ranks[d * CLS_SORT_WG + lid] = r + 1u;
        local_keys[r] = key;
        local_values[r] = my_values[j];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint k = 0; k < CLS_SORT_ITEMS; k++) {
        uint r = k * CLS_SORT_WG + lid;
        if (r < count) {
            uint key = local_keys[r];
            uint p = delta[(key >> shift) & mask] + r;
            keys_out[p] = key;
            values_out[p] = local_values[r];
        }
    }
#else
    /* 4. Each work-item writes its keys, in order, straight to their global places. */
    for (uint d = 0; d < RADIX; d++)
        ranks[d * CLS_SORT_WG + lid] += delta[d];
    for (uint j = 0; j < mine; j++) {
        uint key = my_keys[j];
        uint d = (key >> shift) & mask;
        uint p = ranks[d * CLS_SORT_WG + lid];
        ranks[d * CLS_SORT_WG + lid] = p + 1u;
        keys_out[p] = key;
        values_out[p] = my_values[j];
    }
#endif
#endif
}
