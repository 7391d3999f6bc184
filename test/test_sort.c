/* test_sort.c - the device scan (engine/scan.c, cl/scan.cl) and the stable radix sort
 * (engine/sort.c, cl/radix_sort.cl) against plain host references, with the device's
 * default parameters and with other parameter sets (GPU-style 256 x 4, odd sizes, every
 * radix width), plus the benchmarks' contracts.
 *
 * CLS_TEST_SMALL=1 runs only problems of at most 1200 elements (for Oclgrind:
 * `CLS_TEST_SMALL=1 CK_FORK=no oclgrind --data-races --uninitialized --check-api test_sort`). */
#include "internal.h"
#include "sort.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"

#define SMALL_LIMIT 1200u
#define LARGE_SORT 3000001u /* sorted once, outside small mode */

static const uint32_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 255, 256, 257, 1000, 4095, 4096, 4097, 65536 + 13, 1u << 20};
static const uint32_t bit_widths[] = {0, 1, 3, 4, 5, 8, 13, 16, 31, 32};

static cls_context *open_context(int profiling)
{
    cls_context *ctx = NULL;
    cls_status st = cls_context_create(&(cls_context_desc){.enable_profiling = profiling}, &ctx);
    if (st != CLS_OK) {
        if (st == CLS_ERROR_NO_DEVICE)
            printf("SKIP: no OpenCL device: %s\n", cls_context_errmsg(ctx));
        /* CI always has PoCL: a missing device is a failure, never a silent pass. */
        ck_abort_msg("cls_context_create: %s: %s", cls_status_name(st), cls_context_errmsg(ctx));
    }
    return ctx;
}

static uint32_t *xmalloc_u32(size_t count)
{
    uint32_t *p = malloc((count ? count : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void upload(cls_context *ctx, clh_buffer *buf, const uint32_t *data, uint32_t n)
{
    clh_error herr;
    clh_result hr = clh_buffer_reserve(&ctx->rt, buf, (size_t)n * 4, "test", &herr);
    ck_assert_msg(hr == CLH_OK, "%s", herr.message);
    hr = clh_buffer_write(&ctx->rt, buf, 0, data, (size_t)n * 4, "test", &herr);
    ck_assert_msg(hr == CLH_OK, "%s", herr.message);
}

static void download(cls_context *ctx, const clh_buffer *buf, uint32_t *data, uint32_t n)
{
    clh_error herr;
    clh_result hr = clh_buffer_read(&ctx->rt, buf, 0, data, (size_t)n * 4, "test", &herr);
    ck_assert_msg(hr == CLH_OK, "%s", herr.message);
}

/* ---- scan ------------------------------------------------------------------------------ */

/* Oclgrind 21.10 keeps the "uninitialized" shadow of a released buffer and gives it to the
 * next buffer created with the same slot: a larger buffer then reads as uninitialized past
 * the old size. So that the suite runs clean under `oclgrind --uninitialized`, each test
 * sizes every device buffer (its own and the sorter's scratch) for its largest problem
 * before the first launch and releases nothing until the end. */
static void reserve(cls_context *ctx, clh_buffer *buf, size_t bytes)
{
    clh_error herr;
    clh_result hr = clh_buffer_reserve(&ctx->rt, buf, bytes, "test", &herr);
    ck_assert_msg(hr == CLH_OK, "%s", herr.message);
}

static void presize_scan(cls_context *ctx, cls__scan *scan, uint32_t max_n)
{
    uint64_t m = max_n;
    for (int level = 0; level < CLS__SCAN_MAX_LEVELS && m > scan->block; level++) {
        m = (m + scan->block - 1) / scan->block;
        reserve(ctx, &scan->block_sums[level], (size_t)m * 4);
    }
}

/* Entries of the sort's histogram table for n pairs. */
static uint32_t sort_table(const cls__sort *sort, uint32_t n)
{
    return (uint32_t)((((uint64_t)n + sort->block - 1) / sort->block) << sort->radix_bits);
}

static void presize_sort(cls_context *ctx, cls__sort *sort, uint32_t max_n)
{
    uint32_t table = sort_table(sort, max_n);
    reserve(ctx, &sort->keys_alt, (size_t)max_n * 4);
    reserve(ctx, &sort->values_alt, (size_t)max_n * 4);
    reserve(ctx, &sort->histogram, (size_t)table * 4);
    presize_scan(ctx, &sort->scan, table);
}

typedef struct scan_bufs {
    clh_buffer a, b, total;
} scan_bufs;

static void presize_scan_bufs(cls_context *ctx, scan_bufs *bufs, uint32_t max_n)
{
    reserve(ctx, &bufs->a, (size_t)max_n * 4);
    reserve(ctx, &bufs->b, (size_t)max_n * 4);
    reserve(ctx, &bufs->total, 4);
}

static void release_scan_bufs(scan_bufs *bufs)
{
    clh_buffer_release(&bufs->a);
    clh_buffer_release(&bufs->b);
    clh_buffer_release(&bufs->total);
}

/* Scans n random values (in place, or into another buffer) and checks every prefix and the
 * total against a host loop. */
static void check_scan(cls_context *ctx, cls__scan *scan, scan_bufs *bufs, uint32_t n, int in_place, uint32_t seed)
{
    uint32_t *in = xmalloc_u32(n), *got = xmalloc_u32(n);
    uint32_t limit = n > 0 ? 0xffffffffu / n : 1; /* keep the total below 2^32 */
    if (limit > 1000)
        limit = 1000;
    for (uint32_t i = 0; i < n; i++)
        in[i] = test_xorshift32(&seed) % (limit + 1);
    upload(ctx, &bufs->a, in, n);
    uint32_t poison = 0xdeadbeefu;
    upload(ctx, &bufs->total, &poison, 1);
    clh_buffer *out = in_place ? &bufs->a : &bufs->b;
    cls_status st = cls__scan_exclusive(ctx, scan, bufs->a.mem, out->mem, n, bufs->total.mem, NULL, CLS_PASS_SCAN);
    ck_assert_msg(st == CLS_OK, "scan of %u: %s", n, cls_context_errmsg(ctx));
    download(ctx, out, got, n);
    uint32_t device_total = 0;
    download(ctx, &bufs->total, &device_total, 1);
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_msg(got[i] == sum, "scan of %u (block %u): out[%u] = %u, expected %u", n, scan->block, i, got[i],
                      sum);
        sum += in[i];
    }
    ck_assert_msg(device_total == sum, "scan of %u: total %u, expected %u", n, device_total, sum);
    free(in);
    free(got);
}

static uint32_t max_size(int with_large)
{
    uint32_t m = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if ((!test_small_mode() || sizes[i] <= SMALL_LIMIT) && sizes[i] > m)
            m = sizes[i];
    return with_large && !test_small_mode() && LARGE_SORT > m ? LARGE_SORT : m;
}

START_TEST(test_scan_sizes)
{
    cls_context *ctx = open_context(0);
    cls__scan scan;
    ck_assert_msg(cls__scan_init(ctx, &scan) == CLS_OK, "%s", cls_context_errmsg(ctx));
    scan_bufs bufs = {0};
    presize_scan_bufs(ctx, &bufs, max_size(0));
    presize_scan(ctx, &scan, max_size(0));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (test_small_mode() && sizes[i] > SMALL_LIMIT)
            continue;
        check_scan(ctx, &scan, &bufs, sizes[i], 1, 7u + (uint32_t)i);
        check_scan(ctx, &scan, &bufs, sizes[i], 0, 99u + (uint32_t)i);
    }
    /* Without a total buffer. */
    uint32_t in[5] = {3, 1, 4, 1, 5}, got[5];
    upload(ctx, &bufs.a, in, 5);
    ck_assert_int_eq(cls__scan_exclusive(ctx, &scan, bufs.a.mem, bufs.a.mem, 5, NULL, NULL, CLS_PASS_SCAN), CLS_OK);
    download(ctx, &bufs.a, got, 5);
    ck_assert_uint_eq(got[0], 0);
    ck_assert_uint_eq(got[4], 9);
    ck_assert_int_eq(cls__scan_exclusive(ctx, &scan, bufs.a.mem, bufs.a.mem, 0x80000000u, NULL, NULL, CLS_PASS_SCAN),
                     CLS_ERROR_LIMIT);
    release_scan_bufs(&bufs);
    cls__scan_release(&scan);
    cls_context_destroy(ctx);
}
END_TEST

/* ---- sort ------------------------------------------------------------------------------ */

typedef struct ref_item {
    uint32_t key; /* the low bits only */
    uint32_t index;
} ref_item;

static int compare_ref(const void *a, const void *b)
{
    const ref_item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The stable reference: indices ordered by (low bits of the key, original index). */
static void reference_sort(const uint32_t *keys, uint32_t n, uint32_t bits, uint32_t *out_keys, uint32_t *out_values)
{
    uint32_t mask = bits >= 32 ? 0xffffffffu : (1u << bits) - 1;
    ref_item *items = malloc((n ? n : 1) * sizeof *items);
    ck_assert_ptr_nonnull(items);
    for (uint32_t i = 0; i < n; i++)
        items[i] = (ref_item){keys[i] & mask, i};
    qsort(items, n, sizeof *items, compare_ref);
    for (uint32_t i = 0; i < n; i++) {
        out_keys[i] = keys[items[i].index];
        out_values[i] = items[i].index;
    }
    free(items);
}

typedef struct sort_bufs {
    clh_buffer keys, values;
} sort_bufs;

static void presize_bufs(cls_context *ctx, cls__sort *sort, sort_bufs *bufs, uint32_t max_n)
{
    reserve(ctx, &bufs->keys, (size_t)max_n * 4);
    reserve(ctx, &bufs->values, (size_t)max_n * 4);
    presize_sort(ctx, sort, max_n);
}

/* Sorts (keys[i], i) on the device; results in got_keys / got_values. */
static void device_sort(cls_context *ctx, cls__sort *sort, sort_bufs *bufs, const uint32_t *keys, uint32_t n,
                        uint32_t bits, uint32_t *got_keys, uint32_t *got_values)
{
    uint32_t *values = xmalloc_u32(n);
    for (uint32_t i = 0; i < n; i++)
        values[i] = i;
    upload(ctx, &bufs->keys, keys, n);
    upload(ctx, &bufs->values, values, n);
    cls_status st = cls__sort_pairs(ctx, sort, &bufs->keys, &bufs->values, n, bits, NULL, CLS_PASS_TILE_SORT);
    ck_assert_msg(st == CLS_OK, "sort of %u on %u bits: %s", n, bits, cls_context_errmsg(ctx));
    ck_assert(bufs->keys.size >= (size_t)n * 4 && bufs->values.size >= (size_t)n * 4);
    download(ctx, &bufs->keys, got_keys, n);
    download(ctx, &bufs->values, got_values, n);
    free(values);
}

typedef enum key_pattern { KEYS_RANDOM, KEYS_EQUAL, KEYS_SORTED, KEYS_REVERSE } key_pattern;

static void make_keys(uint32_t *keys, uint32_t n, key_pattern pattern, uint32_t seed)
{
    for (uint32_t i = 0; i < n; i++) {
        switch (pattern) {
        case KEYS_RANDOM: keys[i] = test_xorshift32(&seed); break; /* bits above key_bits set too */
        case KEYS_EQUAL: keys[i] = 0xabcd1234u; break;
        case KEYS_SORTED: keys[i] = i; break;
        case KEYS_REVERSE: keys[i] = n - i; break;
        }
    }
}

/* One sort against the stable reference: keys and values must match exactly. */
static void check_sort(cls_context *ctx, cls__sort *sort, sort_bufs *bufs, uint32_t n, uint32_t bits,
                       key_pattern pattern, uint32_t seed)
{
    uint32_t *keys = xmalloc_u32(n), *want_keys = xmalloc_u32(n), *want_values = xmalloc_u32(n);
    uint32_t *got_keys = xmalloc_u32(n), *got_values = xmalloc_u32(n);
    make_keys(keys, n, pattern, seed);
    reference_sort(keys, n, bits, want_keys, want_values);
    device_sort(ctx, sort, bufs, keys, n, bits, got_keys, got_values);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_msg(got_keys[i] == want_keys[i] && got_values[i] == want_values[i],
                      "sort of %u pairs on %u bits (pattern %d, radix %u, %zu x %u, reorder %d): at %u got (%08x, %u), "
                      "expected (%08x, %u)",
                      n, bits, (int)pattern, sort->radix_bits, sort->group_size, sort->block / (uint32_t)sort->group_size,
                      sort->reorder, i, got_keys[i], got_values[i], want_keys[i], want_values[i]);
    free(keys);
    free(want_keys);
    free(want_values);
    free(got_keys);
    free(got_values);
}

static void release_bufs(sort_bufs *bufs)
{
    clh_buffer_release(&bufs->keys);
    clh_buffer_release(&bufs->values);
}

START_TEST(test_sort_sizes_and_bits)
{
    cls_context *ctx = open_context(0);
    cls__sort sort;
    ck_assert_msg(cls__sort_init(ctx, &sort) == CLS_OK, "%s", cls_context_errmsg(ctx));
    sort_bufs bufs = {0};
    presize_bufs(ctx, &sort, &bufs, max_size(1));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (test_small_mode() && sizes[i] > SMALL_LIMIT)
            continue;
        for (size_t j = 0; j < sizeof bit_widths / sizeof bit_widths[0]; j++)
            check_sort(ctx, &sort, &bufs, sizes[i], bit_widths[j], KEYS_RANDOM, 1234u + (uint32_t)(i * 31 + j));
    }
    if (!test_small_mode())
        check_sort(ctx, &sort, &bufs, LARGE_SORT, 32, KEYS_RANDOM, 42u);
    release_bufs(&bufs);
    cls__sort_release(&sort);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_sort_patterns)
{
    cls_context *ctx = open_context(0);
    cls__sort sort;
    ck_assert_msg(cls__sort_init(ctx, &sort) == CLS_OK, "%s", cls_context_errmsg(ctx));
    sort_bufs bufs = {0};
    const uint32_t n = test_small_mode() ? 1100u : 100003u;
    presize_bufs(ctx, &sort, &bufs, n);
    const uint32_t bits[] = {1, 13, 32};
    for (int p = KEYS_EQUAL; p <= KEYS_REVERSE; p++)
        for (size_t j = 0; j < sizeof bits / sizeof bits[0]; j++)
            check_sort(ctx, &sort, &bufs, n, bits[j], (key_pattern)p, 5u);
    release_bufs(&bufs);
    cls__sort_release(&sort);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_sort_deterministic)
{
    cls_context *ctx = open_context(0);
    cls__sort sort;
    ck_assert_msg(cls__sort_init(ctx, &sort) == CLS_OK, "%s", cls_context_errmsg(ctx));
    sort_bufs bufs = {0};
    const uint32_t n = test_small_mode() ? 1100u : 300001u;
    presize_bufs(ctx, &sort, &bufs, n);
    uint32_t *keys = xmalloc_u32(n), *k1 = xmalloc_u32(n), *v1 = xmalloc_u32(n), *k2 = xmalloc_u32(n),
             *v2 = xmalloc_u32(n);
    uint32_t seed = 77u;
    for (uint32_t i = 0; i < n; i++)
        keys[i] = test_xorshift32(&seed) % 1000u; /* many equal keys */
    device_sort(ctx, &sort, &bufs, keys, n, 13, k1, v1);
    device_sort(ctx, &sort, &bufs, keys, n, 13, k2, v2);
    ck_assert(memcmp(k1, k2, (size_t)n * 4) == 0);
    ck_assert(memcmp(v1, v2, (size_t)n * 4) == 0);
    free(keys);
    free(k1);
    free(v1);
    free(k2);
    free(v2);
    release_bufs(&bufs);
    cls__sort_release(&sort);
    cls_context_destroy(ctx);
}
END_TEST

/* Other parameter sets, baked into the kernels at build time: GPU-style, odd sizes, every
 * radix width, both scatter variants. Each must give the same (exact) answer. */
typedef struct param_set {
    int radix_bits, sort_group, sort_items, scan_group, scan_items, reorder;
} param_set;

static const param_set param_sets[] = {
    {4, 256, 4, 256, 4, 1},  /* the GPU defaults */
    {4, 256, 4, 256, 4, 0},
    {4, 16, 64, 16, 64, 0},  /* the CPU defaults of the first version */
    {4, 16, 64, 16, 64, 1},
    {4, 1, 4096, 1, 4096, 0}, /* one work-item per group: the CPU fast paths */
    {4, 1, 1000, 1, 333, 1},
    {1, 8, 8, 4, 4, 0},      /* deep scan recursion */
    {2, 3, 5, 3, 5, 1},      /* non-powers of two */
    {3, 1, 1, 1, 1, 0},      /* one key per block; the scan's last level loops */
    {5, 32, 16, 64, 2, 1},
    {6, 64, 8, 128, 8, 0},
    {7, 16, 32, 32, 32, 1},
    {8, 16, 64, 16, 64, 0},
    {8, 16, 16, 256, 4, 1},
};
/* Every set fits in 32 KiB of local memory (the OpenCL minimum), so each runs everywhere. */

START_TEST(test_sort_params)
{
    const param_set *ps = &param_sets[_i];
    cls_context *ctx = open_context(0);
    ctx->params.sort_radix_bits = ps->radix_bits;
    ctx->params.sort_group_size = ps->sort_group;
    ctx->params.sort_items = ps->sort_items;
    ctx->params.scan_group_size = ps->scan_group;
    ctx->params.scan_items = ps->scan_items;
    cls__sort sort;
    cls_status st = cls__sort_init_variant(ctx, &sort, ps->reorder);
    ck_assert_msg(st == CLS_OK, "params %d: %s: %s", _i, cls_status_name(st), cls_context_errmsg(ctx));
    sort_bufs bufs = {0};
    scan_bufs sbufs = {0};
    const uint32_t largest = test_small_mode() ? 1100u : 200003u, largest_scan = test_small_mode() ? 1100u : 4097u * 40u + 1u;
    /* The scan serves both the sort's tables and check_scan: sized once for the larger. */
    uint32_t table = sort_table(&sort, largest);
    presize_scan(ctx, &sort.scan, largest_scan > table ? largest_scan : table);
    presize_bufs(ctx, &sort, &bufs, largest);
    presize_scan_bufs(ctx, &sbufs, largest_scan);
    /* Fewer cases under Oclgrind (CLS_TEST_SMALL): each costs seconds there. */
    const uint32_t small_sizes[] = {0, 1, 17, 1100, 2, 1000};
    const uint32_t bits[] = {1, 13, 32, 7};
    const size_t size_count = test_small_mode() ? 4 : 6, bit_count = test_small_mode() ? 3 : 4;
    for (size_t i = 0; i < size_count; i++)
        for (size_t j = 0; j < bit_count; j++)
            check_sort(ctx, &sort, &bufs, small_sizes[i], bits[j], KEYS_RANDOM, 3u + (uint32_t)(i * 7 + j));
    if (!test_small_mode()) {
        check_sort(ctx, &sort, &bufs, 65536 + 13, 13, KEYS_RANDOM, 11u);
        check_sort(ctx, &sort, &bufs, 200003, 32, KEYS_RANDOM, 12u);
        check_sort(ctx, &sort, &bufs, 100000, 16, KEYS_REVERSE, 13u);
        for (uint32_t n = 4095; n <= 4097; n++) /* the scan on its own */
            check_scan(ctx, &sort.scan, &sbufs, n * 40u + 1u, 1, n);
    }
    check_scan(ctx, &sort.scan, &sbufs, 4097, 1, 9u);
    release_scan_bufs(&sbufs);
    release_bufs(&bufs);
    cls__sort_release(&sort);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_sort_errors)
{
    cls_context *ctx = open_context(0);
    cls__sort sort;
    ck_assert_msg(cls__sort_init(ctx, &sort) == CLS_OK, "%s", cls_context_errmsg(ctx));
    sort_bufs bufs = {0};
    uint32_t keys[4] = {4, 3, 2, 1};
    upload(ctx, &bufs.keys, keys, 4);
    upload(ctx, &bufs.values, keys, 4);
    ck_assert_int_eq(cls__sort_pairs(ctx, &sort, &bufs.keys, &bufs.values, 4, 33, NULL, CLS_PASS_TILE_SORT),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(cls__sort_pairs(ctx, &sort, &bufs.keys, &bufs.values, 0x80000000u, 8, NULL, CLS_PASS_TILE_SORT),
                     CLS_ERROR_LIMIT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "2^31"));
    ck_assert_int_eq(cls__sort_pairs(ctx, &sort, &bufs.keys, &bufs.values, 1000, 8, NULL, CLS_PASS_TILE_SORT),
                     CLS_ERROR_INVALID_ARGUMENT);
    release_bufs(&bufs);
    cls__sort_release(&sort);
    cls__sort_release(&sort); /* twice is harmless */

    ctx->params.sort_radix_bits = 9;
    ck_assert_int_eq(cls__sort_init(ctx, &sort), CLS_ERROR_INVALID_ARGUMENT);
    cls_context_destroy(ctx);
}
END_TEST

/* ---- benchmarks ------------------------------------------------------------------------ */

START_TEST(test_bench_needs_profiling)
{
    cls_context *ctx = open_context(0);
    cls_bench_sort_result r;
    ck_assert_int_eq(cls_bench_sort(ctx, 1000, 13, 1, &r), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "enable_profiling"));
    double bps = 0;
    ck_assert_int_eq(cls_bench_copy_bandwidth(ctx, 1 << 20, 1, &bps), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "enable_profiling"));
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_bench_runs)
{
    if (test_small_mode())
        return; /* a 64 MiB copy is far too slow in a simulator */
    cls_context *ctx = open_context(1);
    cls_bench_sort_result r;
    cls_status st = cls_bench_sort(ctx, 100000, 13, 3, &r);
    ck_assert_msg(st == CLS_OK, "%s", cls_context_errmsg(ctx));
    ck_assert_uint_eq(r.count, 100000);
    ck_assert_uint_eq(r.key_bits, 13);
    ck_assert(r.min_ms > 0 && r.min_ms <= r.median_ms);
    ck_assert(r.pairs_per_second > 0 && r.copy_bytes_per_second > 0);
    ck_assert(r.bytes_moved_per_pair == 20.0 * (double)((13 + ctx->params.sort_radix_bits - 1) /
                                                         ctx->params.sort_radix_bits));
    ck_assert(r.fraction_of_copy > 0);
    ck_assert_int_eq(cls_bench_sort(ctx, 100, 0, 1, &r), CLS_ERROR_INVALID_ARGUMENT);
    cls_context_destroy(ctx);
}
END_TEST

static Suite *sort_suite(void)
{
    Suite *s = suite_create("sort");
    TCase *tc = tcase_create("scan_sort");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_scan_sizes);
    tcase_add_test(tc, test_sort_sizes_and_bits);
    tcase_add_test(tc, test_sort_patterns);
    tcase_add_test(tc, test_sort_deterministic);
    tcase_add_loop_test(tc, test_sort_params, 0, (int)(sizeof param_sets / sizeof param_sets[0]));
    tcase_add_test(tc, test_sort_errors);
    tcase_add_test(tc, test_bench_needs_profiling);
    tcase_add_test(tc, test_bench_runs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(sort_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
