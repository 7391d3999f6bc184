/* bench.c - the device benchmarks of the public API: copy bandwidth and the radix sort. */
#include "sort.h"

#include <stdlib.h>
#include <string.h>

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts times[0..count) and returns the median. */
static double median_of(double *times, int count)
{
    qsort(times, (size_t)count, sizeof *times, compare_double);
    return count % 2 ? times[count / 2] : 0.5 * (times[count / 2 - 1] + times[count / 2]);
}

static cls_status require_profiling(cls_context *ctx, const char *what)
{
    if (!ctx->rt.profiling)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "%s needs device timers: create the context with enable_profiling = 1", what);
    return CLS_OK;
}

static cls_status finish(cls_context *ctx, const char *what)
{
    cl_int code = clFinish(ctx->rt.queue);
    if (code != CL_SUCCESS) {
        clh_error herr;
        clh_result hr = clh_fail_cl(&herr, code, "clFinish", "%s", what);
        return cls__from_host(ctx, hr, &herr);
    }
    return CLS_OK;
}

/* Median copy bandwidth over `repeats` timed copies of `bytes` (rounded down to 16). */
static cls_status copy_bandwidth(cls_context *ctx, size_t bytes, int repeats, double *bytes_per_second)
{
    cl_kernel kernel = NULL;
    clh_buffer src = {0}, dst = {0};
    double *times = NULL;
    cl_event event = NULL;
    clh_error herr;
    clh_result hr = CLH_OK;
    cls_status st = CLS_OK;

    bytes -= bytes % sizeof(cl_uint4);
    if (bytes == 0 || bytes / sizeof(cl_uint4) > UINT32_MAX) {
        st = cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "copy bandwidth: %zu bytes is out of range", bytes);
        goto fail;
    }
    cl_uint n = (cl_uint)(bytes / sizeof(cl_uint4));
    times = malloc((size_t)repeats * sizeof *times);
    if (times == NULL) {
        st = cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "copy bandwidth: out of host memory");
        goto fail;
    }
    st = cls__kernel(ctx, "bench", NULL, "bench_copy", &kernel);
    if (st != CLS_OK)
        goto fail;
    hr = clh_buffer_reserve(&ctx->rt, &src, bytes, "copy source", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_reserve(&ctx->rt, &dst, bytes, "copy destination", &herr);
    if (hr != CLH_OK)
        goto fail_host;
    cl_uint pattern = 0x5a5a5a5au;
    cl_int code = clEnqueueFillBuffer(ctx->rt.queue, src.mem, &pattern, sizeof pattern, 0, bytes, 0, NULL, NULL);
    if (code != CL_SUCCESS) {
        hr = clh_fail_cl(&herr, code, "clEnqueueFillBuffer", "copy source, %zu bytes", bytes);
        goto fail_host;
    }

    /* The local size is left to the driver: the copy has no tunable of its own. */
    clh_launch_desc desc = {.name = "bench_copy", .dims = 1, .items = {n}};
    clh_arg args[] = {CLH_MEM(src), CLH_MEM(dst), CLH_ARG(n)};
    hr = clh_set_args(kernel, desc.name, args, CLS__ARRAY_COUNT(args), &herr);
    if (hr != CLH_OK)
        goto fail_host;
    for (int r = -1; r < repeats; r++) { /* r == -1: warm-up (JIT of the local size) */
        hr = clh_launch(&ctx->rt, kernel, &desc, &event, &herr);
        if (hr != CLH_OK)
            goto fail_host;
        st = finish(ctx, "copy bandwidth");
        if (st != CLS_OK)
            goto fail;
        if (r >= 0)
            times[r] = clh_event_ms(event);
        if (event != NULL)
            clReleaseEvent(event);
        event = NULL;
    }
    double ms = median_of(times, repeats);
    if (!(ms > 0.0)) {
        st = cls__ctx_fail(ctx, CLS_ERROR_OPENCL, "copy bandwidth: the device timer reported %g ms", ms);
        goto fail;
    }
    *bytes_per_second = 2.0 * (double)bytes / (ms * 1e-3);
    goto done;

fail_host:
    st = cls__from_host(ctx, hr, &herr);
fail:
done:
    if (event != NULL)
        clReleaseEvent(event);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    clh_buffer_release(&src);
    clh_buffer_release(&dst);
    free(times);
    return st;
}

cls_status cls_bench_copy_bandwidth(cls_context *ctx, size_t bytes, int repeats, double *bytes_per_second)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, bytes_per_second != NULL);
    CLS__CHECK_ARG(ctx, repeats >= 1);
    CLS__CHECK_ARG(ctx, bytes >= sizeof(cl_uint4));
    cls_status st = require_profiling(ctx, "cls_bench_copy_bandwidth");
    if (st != CLS_OK)
        return st;
    return copy_bandwidth(ctx, bytes, repeats, bytes_per_second);
}

/* xorshift32: the benchmark's fixed-seed keys. */
static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* Checks that the device's output is the stable sort of the input: keys non-decreasing, each
 * value an input index used once, carrying its key, and equal keys in input order. */
static int sorted_output_ok(const uint32_t *in_keys, const uint32_t *keys, const uint32_t *values, uint32_t count,
                            unsigned char *seen, uint32_t *bad)
{
    memset(seen, 0, count);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = values[i];
        int ok = v < count && !seen[v] && in_keys[v] == keys[i];
        if (ok && i > 0)
            ok = keys[i - 1] < keys[i] || (keys[i - 1] == keys[i] && values[i - 1] < v);
        if (!ok) {
            *bad = i;
            return 0;
        }
        seen[v] = 1;
    }
    return 1;
}

cls_status cls_bench_sort(cls_context *ctx, uint32_t count, uint32_t key_bits, int repeats,
                          cls_bench_sort_result *out)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, out != NULL);
    CLS__CHECK_ARG(ctx, count >= 1 && count < UINT32_C(0x80000000));
    CLS__CHECK_ARG(ctx, key_bits >= 1 && key_bits <= 32);
    CLS__CHECK_ARG(ctx, repeats >= 1);
    cls_status st = require_profiling(ctx, "cls_bench_sort");
    if (st != CLS_OK)
        return st;

    cls__sort sort;
    memset(&sort, 0, sizeof sort);
    clh_buffer keys = {0}, values = {0};
    uint32_t *host = NULL;
    unsigned char *seen = NULL;
    double *times = NULL;
    cls__profile *prof = NULL;
    clh_error herr;
    clh_result hr = CLH_OK;
    size_t bytes = (size_t)count * sizeof(uint32_t);

    host = malloc(4 * bytes); /* input keys, input values, output keys, output values */
    seen = malloc(count);
    times = malloc((size_t)repeats * sizeof *times);
    prof = calloc(1, sizeof *prof);
    if (host == NULL || seen == NULL || times == NULL || prof == NULL) {
        st = cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "cls_bench_sort: out of host memory for %u pairs", count);
        goto fail;
    }
    uint32_t *in_keys = host, *in_values = host + count, *out_keys = host + 2 * (size_t)count,
             *out_values = host + 3 * (size_t)count;
    uint32_t rng = 0x9e3779b9u;
    uint32_t key_mask = key_bits == 32 ? UINT32_MAX : (UINT32_C(1) << key_bits) - 1;
    for (uint32_t i = 0; i < count; i++) {
        in_keys[i] = xorshift32(&rng) & key_mask;
        in_values[i] = i;
    }

    double copy_bps = 0.0;
    size_t copy_bytes = (size_t)count * 16 > ((size_t)64 << 20) ? (size_t)count * 16 : ((size_t)64 << 20);
    st = copy_bandwidth(ctx, copy_bytes, repeats, &copy_bps);
    if (st != CLS_OK)
        goto fail;

    st = cls__sort_init(ctx, &sort);
    if (st != CLS_OK)
        goto fail;
    hr = clh_buffer_reserve(&ctx->rt, &keys, bytes, "bench keys", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_reserve(&ctx->rt, &values, bytes, "bench values", &herr);
    if (hr != CLH_OK)
        goto fail_host;

    for (int r = -1; r < repeats; r++) { /* r == -1: warm-up, and the output is checked */
        hr = clh_buffer_write(&ctx->rt, &keys, 0, in_keys, bytes, "bench keys", &herr);
        if (hr == CLH_OK)
            hr = clh_buffer_write(&ctx->rt, &values, 0, in_values, bytes, "bench values", &herr);
        if (hr != CLH_OK)
            goto fail_host;
        cls__profile_reset(prof);
        st = cls__sort_pairs(ctx, &sort, &keys, &values, count, key_bits, prof, CLS_PASS_TILE_SORT);
        if (st == CLS_OK)
            st = finish(ctx, "cls_bench_sort");
        if (st != CLS_OK)
            goto fail;
        if (r < 0) {
            hr = clh_buffer_read(&ctx->rt, &keys, 0, out_keys, bytes, "bench keys", &herr);
            if (hr == CLH_OK)
                hr = clh_buffer_read(&ctx->rt, &values, 0, out_values, bytes, "bench values", &herr);
            if (hr != CLH_OK)
                goto fail_host;
            uint32_t bad = 0;
            if (!sorted_output_ok(in_keys, out_keys, out_values, count, seen, &bad)) {
                st = cls__ctx_fail(ctx, CLS_ERROR_OPENCL,
                                   "cls_bench_sort: the device sorted %u pairs on %u bits WRONGLY on '%s': at "
                                   "position %u key %u value %u (previous key %u value %u)",
                                   count, key_bits, ctx->rt.info.name, bad, out_keys[bad], out_values[bad],
                                   bad > 0 ? out_keys[bad - 1] : 0, bad > 0 ? out_values[bad - 1] : 0);
                goto fail;
            }
            continue;
        }
        double ms[CLS_PASS_COUNT];
        cls__profile_sum(prof, ms);
        times[r] = ms[CLS_PASS_TILE_SORT];
    }

    double median = median_of(times, repeats);
    if (!(median > 0.0)) {
        st = cls__ctx_fail(ctx, CLS_ERROR_OPENCL, "cls_bench_sort: the device timer reported %g ms", median);
        goto fail;
    }
    uint32_t passes = cls__sort_passes(&sort, key_bits);
    *out = (cls_bench_sort_result){
        .count = count,
        .key_bits = key_bits,
        .median_ms = median,
        .min_ms = times[0],
        .pairs_per_second = (double)count / (median * 1e-3),
        .copy_bytes_per_second = copy_bps,
        /* Per pass: the histogram reads the keys, the scatter reads and writes keys and values. */
        .bytes_moved_per_pair = (double)passes * (4.0 + 2.0 * (4.0 + 4.0)),
    };
    out->fraction_of_copy = out->pairs_per_second * out->bytes_moved_per_pair / copy_bps;
    goto done;

fail_host:
    st = cls__from_host(ctx, hr, &herr);
fail:
done:
    if (prof != NULL)
        cls__profile_reset(prof);
    free(prof);
    cls__sort_release(&sort);
    clh_buffer_release(&keys);
    clh_buffer_release(&values);
    free(host);
    free(seen);
    free(times);
    return st;
}
