/* The fused Adam kernel against a plain C double-precision Adam over several steps. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "engine/adam.h"

START_TEST(test_adam_matches_reference)
{
    cls_context *ctx = NULL;
    ck_assert_msg(cls_context_create(&(cls_context_desc){0}, &ctx) == CLS_OK, "%s", cls_context_errmsg(ctx));
    cl_kernel kernel = NULL;
    ck_assert_int_eq(cls__kernel(ctx, "adam", NULL, "adam", &kernel), CLS_OK);
    const uint32_t n = 1000;
    clh_buffer bufs[4] = {{0}};
    clh_error herr;
    for (int b = 0; b < 4; b++)
        ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &bufs[b], n * sizeof(float), "adam", &herr), CLH_OK);
    float *p = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float)), *zero = calloc(n, sizeof(float));
    double *rp = malloc(n * sizeof(double)), *rm = calloc(n, sizeof(double)), *rv = calloc(n, sizeof(double));
    uint32_t s = 1;
    for (uint32_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        rp[i] = p[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, &bufs[0], 0, p, n * sizeof(float), "p", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, &bufs[2], 0, zero, n * sizeof(float), "m", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, &bufs[3], 0, zero, n * sizeof(float), "v", &herr), CLH_OK);
    const cls__adam_hparams h = cls__adam_defaults(1e-2f);
    for (uint32_t t = 1; t <= 20; t++) {
        /* A gradient that depends on the parameters, like a quadratic loss (p - 0.1)^2, plus sign changes. */
        for (uint32_t i = 0; i < n; i++)
            g[i] = (float)(2.0 * (rp[i] - 0.1) * ((i % 7) ? 1.0 : -0.5));
        ck_assert_int_eq(clh_buffer_write(&ctx->rt, &bufs[1], 0, g, n * sizeof(float), "g", &herr), CLH_OK);
        ck_assert_int_eq(cls__adam_step(ctx, kernel, bufs[0].mem, bufs[1].mem, bufs[2].mem, bufs[3].mem, n, &h, t, NULL),
                         CLS_OK);
        for (uint32_t i = 0; i < n; i++) {
            rm[i] = 0.9 * rm[i] + 0.1 * g[i];
            rv[i] = 0.999 * rv[i] + 0.001 * (double)g[i] * g[i];
            rp[i] -= 1e-2 * (rm[i] / (1.0 - pow(0.9, t))) / (sqrt(rv[i] / (1.0 - pow(0.999, t))) + 1e-15);
        }
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &bufs[0], 0, p, n * sizeof(float), "p", &herr), CLH_OK);
        /* Tolerance: float against double over t steps of size ~lr: 1e-6 absolute. */
        for (uint32_t i = 0; i < n; i++)
            ck_assert_msg(fabs((double)p[i] - rp[i]) < 1e-6, "step %u value %u: %g vs %g", t, i, p[i], rp[i]);
        for (uint32_t i = 0; i < n; i++)
            rp[i] = p[i]; /* follow the device so the gradients stay identical */
    }
    ck_assert_int_eq(cls__adam_step(ctx, kernel, bufs[0].mem, bufs[1].mem, bufs[2].mem, bufs[3].mem, n, &h, 0, NULL),
                     CLS_ERROR_INVALID_ARGUMENT);
    for (int b = 0; b < 4; b++)
        clh_buffer_release(&bufs[b]);
    clReleaseKernel(kernel);
    free(p);
    free(g);
    free(zero);
    free(rp);
    free(rm);
    free(rv);
    cls_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("adam");
    TCase *tc = tcase_create("adam");
    tcase_add_test(tc, test_adam_matches_reference);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
