#include "knn.h"

#include <float.h>
#include <math.h>

#include "sort.h"

cls_status cls__knn_mean_sq3(cls_context *ctx, const float *xyz, size_t n, float *mean_sq)
{
    if (n == 0)
        return CLS_OK;
    if (n > (size_t)INT32_MAX)
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "%zu points exceed the nearest-neighbour search's limit", n);
    float lo[3] = {FLT_MAX, FLT_MAX, FLT_MAX}, hi[3] = {-FLT_MAX, -FLT_MAX, -FLT_MAX};
    for (size_t i = 0; i < n; i++)
        for (int a = 0; a < 3; a++) {
            lo[a] = fminf(lo[a], xyz[i * 3 + (size_t)a]);
            hi[a] = fmaxf(hi[a], xyz[i * 3 + (size_t)a]);
        }
    const float side = fmaxf(fmaxf(hi[0] - lo[0], hi[1] - lo[1]), fmaxf(hi[2] - lo[2], 1e-12f));
    cl_float4 lo_scale = {{lo[0], lo[1], lo[2], 1023.0f / side}};

    cl_kernel codes_k = NULL, window_k = NULL;
    cls__sort sort = {0};
    clh_buffer points = {0}, keys = {0}, ids = {0}, out = {0};
    clh_error herr;
    cls_status st = cls__kernel(ctx, "knn", NULL, "morton_codes", &codes_k);
    if (st == CLS_OK)
        st = cls__kernel(ctx, "knn", NULL, "knn_window", &window_k);
    if (st == CLS_OK)
        st = cls__sort_init(ctx, &sort);
    clh_result rc = CLH_OK;
    if (st == CLS_OK) {
        rc = clh_buffer_reserve(&ctx->rt, &points, n * 3 * sizeof(float), "knn points", &herr);
        if (rc == CLH_OK)
            rc = clh_buffer_write(&ctx->rt, &points, 0, xyz, n * 3 * sizeof(float), "knn points", &herr);
        if (rc == CLH_OK)
            rc = clh_buffer_reserve(&ctx->rt, &keys, n * sizeof(cl_uint), "knn codes", &herr);
        if (rc == CLH_OK)
            rc = clh_buffer_reserve(&ctx->rt, &ids, n * sizeof(cl_uint), "knn ids", &herr);
        if (rc == CLH_OK)
            rc = clh_buffer_reserve(&ctx->rt, &out, n * sizeof(float), "knn distances", &herr);
        st = cls__from_host(ctx, rc, &herr);
    }
    cl_uint count = (cl_uint)n;
    if (st == CLS_OK) {
        const clh_arg args[] = {CLH_ARG(count), CLH_MEM(points), CLH_ARG(lo_scale), CLH_MEM(keys), CLH_MEM(ids)};
        st = cls__launch_1d(ctx, codes_k, "morton_codes", n, args, CLS__ARRAY_COUNT(args), NULL, CLS_PASS_OPTIMIZE);
    }
    if (st == CLS_OK)
        st = cls__sort_pairs(ctx, &sort, &keys, &ids, count, 30, NULL, CLS_PASS_OPTIMIZE);
    if (st == CLS_OK) {
        const clh_arg args[] = {CLH_ARG(count), CLH_MEM(ids), CLH_MEM(points), CLH_MEM(out)};
        st = cls__launch_1d(ctx, window_k, "knn_window", n, args, CLS__ARRAY_COUNT(args), NULL, CLS_PASS_OPTIMIZE);
    }
    if (st == CLS_OK)
        st = cls__from_host(ctx, clh_buffer_read(&ctx->rt, &out, 0, mean_sq, n * sizeof(float), "knn distances", &herr),
                            &herr);
    clh_buffer_release(&points);
    clh_buffer_release(&keys);
    clh_buffer_release(&ids);
    clh_buffer_release(&out);
    cls__sort_release(&sort);
    if (codes_k != NULL)
        clReleaseKernel(codes_k);
    if (window_k != NULL)
        clReleaseKernel(window_k);
    return st;
}
