/* The densification kernels (cl/densify.cl) against a plain C reference of the reference
 * trainer's rules (3dgs-math.md 8.3): which Gaussians are pruned, kept, cloned or split, the
 * layout and contents of the new arrays and Adam moments, split children sampled from their
 * parent with the same counter-based random numbers, and the opacity reset. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/scan.h"

#define N 257
#define STRIDE 12 /* SH degree 1: 4 coefficients x RGB */

static uint32_t hash_u32(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    uint32_t h = a * 0x9e3779b9u ^ b * 0x85ebca6bu ^ c * 0xc2b2ae35u ^ d * 0x27d4eb2fu;
    for (int r = 0; r < 3; r++) {
        h ^= h >> 16;
        h *= 0x7feb352du;
        h ^= h >> 15;
        h *= 0x846ca68bu;
        h ^= h >> 16;
    }
    return h;
}

static double hash_uniform(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return ((double)(hash_u32(a, b, c, d) >> 8) + 0.5) / 16777216.0;
}

static double hash_normal(uint32_t seed, uint32_t step, uint32_t i, uint32_t child, uint32_t k)
{
    const double u1 = hash_uniform(seed, step, i, child * 8u + k);
    const double u2 = hash_uniform(seed ^ 0x5bd1e995u, step, i, child * 8u + k);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

typedef struct arrays {
    float means[3 * N], scales[3 * N], quats[4 * N], opacity[N], sh[STRIDE * N];
} arrays;

static void upload(cls_context *ctx, clh_buffer *b, const void *data, size_t bytes)
{
    clh_error herr;
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, b, bytes, "test", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, b, 0, data, bytes, "test", &herr), CLH_OK);
}

START_TEST(test_plan_apply_reset)
{
    cls_context *ctx = NULL;
    ck_assert_msg(cls_context_create(&(cls_context_desc){0}, &ctx) == CLS_OK, "%s", cls_context_errmsg(ctx));
    cl_kernel plan_k, geometry_k, copy_k, reset_k;
    ck_assert_int_eq(cls__kernel(ctx, "densify", NULL, "densify_plan", &plan_k), CLS_OK);
    ck_assert_int_eq(cls__kernel(ctx, "densify", NULL, "densify_geometry", &geometry_k), CLS_OK);
    ck_assert_int_eq(cls__kernel(ctx, "densify", NULL, "densify_copy", &copy_k), CLS_OK);
    ck_assert_int_eq(cls__kernel(ctx, "densify", NULL, "opacity_reset", &reset_k), CLS_OK);
    cls__scan scan;
    ck_assert_int_eq(cls__scan_init(ctx, &scan), CLS_OK);

    /* Gaussians covering every case: small/large, high/low gradient, transparent, huge. */
    static arrays in, moments_m, moments_v;
    float grad_accum[N];
    cl_uint denom[N];
    uint32_t s = 12345u;
    /* Against dense 0.15 and prune 0.2: clone-sized, split-sized (children 1/1.6 stay below the
     * prune size), and kept ones too large to keep. */
    static const float sizes[5] = {0.01f, 0.1f, 0.18f, 0.25f, 0.4f};
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        for (int a = 0; a < 3; a++) {
            in.means[3 * i + a] = (float)(i % 7) - 3.0f + 0.1f * (float)a;
            in.scales[3 * i + a] = logf(sizes[(i / 3) % 5] * (1.0f - 0.2f * (float)a)); /* largest axis: sizes[] */
        }
        for (int a = 0; a < 4; a++)
            in.quats[4 * i + a] = (float)((i + a) % 5) - 1.5f;
        in.opacity[i] = (i % 9 == 0) ? -6.0f : (float)(i % 5) - 2.0f; /* some below logit(0.005) = -5.29 */
        for (int c = 0; c < STRIDE; c++)
            in.sh[STRIDE * i + c] = 0.01f * (float)(i * STRIDE + c);
        denom[i] = (cl_uint)(i % 4);
        grad_accum[i] = 0.0001f * (float)(i % 6) * (float)denom[i]; /* mean 0 .. 0.0005 */
    }
    for (size_t k = 0; k < sizeof(arrays) / sizeof(float); k++) {
        ((float *)&moments_m)[k] = 1.0f + (float)k;
        ((float *)&moments_v)[k] = 2.0f + (float)k;
    }
    const float threshold = 0.0002f, dense = 0.15f, prune_size = 0.2f, min_logit = logf(0.005f / 0.995f);
    clh_buffer b_grad = {0}, b_denom = {0}, b_plan = {0}, b_count = {0}, b_offset = {0}, b_total = {0};
    clh_buffer src[5] = {{0}}, dst[5] = {{0}}, msrc[10] = {{0}}, mdst[10] = {{0}};
    const size_t values[5] = {3, 3, 4, 1, STRIDE};
    const float *in_arrays[5] = {in.means, in.scales, in.quats, in.opacity, in.sh};
    const float *m_arrays[5] = {moments_m.means, moments_m.scales, moments_m.quats, moments_m.opacity, moments_m.sh};
    const float *v_arrays[5] = {moments_v.means, moments_v.scales, moments_v.quats, moments_v.opacity, moments_v.sh};
    upload(ctx, &b_grad, grad_accum, sizeof grad_accum);
    upload(ctx, &b_denom, denom, sizeof denom);
    for (int g = 0; g < 5; g++) {
        upload(ctx, &src[g], in_arrays[g], values[g] * N * sizeof(float));
        upload(ctx, &msrc[2 * g], m_arrays[g], values[g] * N * sizeof(float));
        upload(ctx, &msrc[2 * g + 1], v_arrays[g], values[g] * N * sizeof(float));
    }
    clh_error herr;
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &b_plan, N * 4, "plan", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &b_count, N * 4, "count", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &b_offset, N * 4, "offset", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &b_total, 4, "total", &herr), CLH_OK);

    cl_uint n = N, prune_large = 1, allow = 1;
    cl_float th = threshold, de = dense, ps = prune_size, ml = min_logit;
    const clh_arg plan_args[] = {CLH_ARG(n), CLH_MEM(b_grad), CLH_MEM(b_denom), CLH_MEM(src[1]), CLH_MEM(src[3]),
                                 CLH_ARG(th), CLH_ARG(de), CLH_ARG(ps), CLH_ARG(ml), CLH_ARG(prune_large),
                                 CLH_ARG(allow), CLH_MEM(b_plan), CLH_MEM(b_count)};
    clh_launch_desc d1 = {.name = "densify_plan", .dims = 1, .items = {N, 1}, .local = {64, 1}};
    ck_assert_int_eq(cls__launch(ctx, plan_k, &d1, plan_args, 13, NULL, CLS_PASS_OPTIMIZE), CLS_OK);
    ck_assert_int_eq(cls__scan_exclusive(ctx, &scan, b_count.mem, b_offset.mem, N, b_total.mem, NULL, CLS_PASS_SCAN),
                     CLS_OK);
    cl_uint plan[N], total = 0;
    ck_assert_int_eq(clh_buffer_read(&ctx->rt, &b_plan, 0, plan, sizeof plan, "plan", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_read(&ctx->rt, &b_total, 0, &total, 4, "total", &herr), CLH_OK);

    /* The reference's rules, independently: 0 prune, 1 keep, 2 clone, 3 split. */
    uint32_t expect_total = 0, seen[4] = {0, 0, 0, 0};
    for (int i = 0; i < N; i++) {
        const double grad = denom[i] ? (double)grad_accum[i] / denom[i] : 0.0;
        double size = 0.0;
        for (int a = 0; a < 3; a++)
            size = fmax(size, exp((double)in.scales[3 * i + a]));
        uint32_t action = grad >= threshold ? (size <= dense ? 2u : 3u) : 1u;
        const double out_size = action == 3u ? size / 1.6 : size;
        if (in.opacity[i] < min_logit || out_size > prune_size)
            action = 0u;
        ck_assert_msg(plan[i] == action, "Gaussian %d: plan %u, expected %u", i, plan[i], action);
        expect_total += action == 0u ? 0u : (action == 1u ? 1u : 2u);
        seen[action]++;
    }
    ck_assert_uint_eq(total, expect_total);
    for (int a = 0; a < 4; a++)
        ck_assert_msg(seen[a] > 0, "the test data must exercise action %d", a);

    for (int g = 0; g < 5; g++) {
        ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &dst[g], values[g] * total * 4, "dst", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &mdst[2 * g], values[g] * total * 4, "dst", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &mdst[2 * g + 1], values[g] * total * 4, "dst", &herr), CLH_OK);
    }
    cl_uint seed = 77, step = 1200;
    /* As the trainer does it: the geometry in one launch, then every other array alone. */
    const clh_arg geometry_args[] = {CLH_ARG(n), CLH_ARG(seed), CLH_ARG(step), CLH_MEM(b_plan), CLH_MEM(b_offset),
                                     CLH_MEM(src[0]), CLH_MEM(src[1]), CLH_MEM(src[2]), CLH_MEM(src[3]),
                                     CLH_MEM(dst[0]), CLH_MEM(dst[1]), CLH_MEM(dst[2]), CLH_MEM(dst[3])};
    ck_assert_int_eq(cls__launch(ctx, geometry_k, &d1, geometry_args, CLS__ARRAY_COUNT(geometry_args), NULL,
                                 CLS_PASS_OPTIMIZE), CLS_OK);
    for (int a = 0; a < 11; a++) {
        const int g = a == 0 ? 4 : (a - 1) / 2; /* the SH, then m and v of every group */
        cl_uint vals = (cl_uint)values[g], moments = a > 0;
        clh_buffer *from = a == 0 ? &src[4] : &msrc[a - 1], *to = a == 0 ? &dst[4] : &mdst[a - 1];
        const clh_arg copy_args[] = {CLH_ARG(n), CLH_ARG(vals), CLH_ARG(moments), CLH_MEM(b_plan), CLH_MEM(b_offset),
                                     CLH_MEM(*from), CLH_MEM(*to)};
        ck_assert_int_eq(cls__launch(ctx, copy_k, &d1, copy_args, CLS__ARRAY_COUNT(copy_args), NULL,
                                     CLS_PASS_OPTIMIZE), CLS_OK);
    }
    float *out[5], *om[5], *ov[5];
    for (int g = 0; g < 5; g++) {
        out[g] = malloc(values[g] * total * 4);
        om[g] = malloc(values[g] * total * 4);
        ov[g] = malloc(values[g] * total * 4);
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &dst[g], 0, out[g], values[g] * total * 4, "out", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &mdst[2 * g], 0, om[g], values[g] * total * 4, "m", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &mdst[2 * g + 1], 0, ov[g], values[g] * total * 4, "v", &herr),
                         CLH_OK);
    }
    uint32_t o = 0;
    for (int i = 0; i < N; i++) {
        const uint32_t outs = plan[i] == 0u ? 0u : (plan[i] == 1u ? 1u : 2u);
        for (uint32_t c = 0; c < outs; c++, o++) {
            const int fresh = (plan[i] == 3u) || (plan[i] == 2u && c == 1);
            for (int g = 0; g < 5; g++)
                for (size_t k = 0; k < values[g]; k++) {
                    const float m_expect = fresh ? 0.0f : m_arrays[g][values[g] * (size_t)i + k];
                    const float v_expect = fresh ? 0.0f : v_arrays[g][values[g] * (size_t)i + k];
                    ck_assert_msg(om[g][values[g] * o + k] == m_expect && ov[g][values[g] * o + k] == v_expect,
                                  "moments of output %u (from %d, group %d)", o, i, g);
                    if ((g == 0 || g == 1) && plan[i] == 3u)
                        continue; /* split: checked below */
                    ck_assert_msg(out[g][values[g] * o + k] == in_arrays[g][values[g] * (size_t)i + k],
                                  "output %u (from %d, group %d, value %zu) is not a copy", o, i, g, k);
                }
            if (plan[i] == 3u) {
                /* Child: mean + R(q) (s * eps), log-scale - log(1.6). */
                const float *q = &in.quats[4 * i];
                const double qn = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
                const double w = q[0] / qn, x = q[1] / qn, y = q[2] / qn, z = q[3] / qn;
                const double R[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                                     2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                                     2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)};
                double e[3];
                for (int a = 0; a < 3; a++)
                    e[a] = exp((double)in.scales[3 * i + a]) * hash_normal(seed, step, (uint32_t)i, c, (uint32_t)a);
                for (int r = 0; r < 3; r++) {
                    const double expect = in.means[3 * i + r] + R[3 * r] * e[0] + R[3 * r + 1] * e[1] + R[3 * r + 2] * e[2];
                    /* Tolerance: float kernel (log, cos, sqrt) vs double, relative to the scale. */
                    ck_assert_msg(fabs(out[0][3 * o + (uint32_t)r] - expect) < 1e-4 * (1.0 + fabs(expect)),
                                  "split child %u of %d, axis %d: %g vs %g", c, i, r, out[0][3 * o + (uint32_t)r], expect);
                    ck_assert_msg(fabs(out[1][3 * o + (uint32_t)r] - (in.scales[3 * i + r] - log(1.6))) < 1e-5,
                                  "split child scale");
                }
            }
        }
    }
    ck_assert_uint_eq(o, total);

    /* Opacity reset: min(opacity, logit(0.01)), moments zeroed. */
    cl_float reset = logf(0.01f / 0.99f);
    const clh_arg reset_args[] = {CLH_ARG(n), CLH_ARG(reset), CLH_MEM(src[3]), CLH_MEM(msrc[6]), CLH_MEM(msrc[7])};
    ck_assert_int_eq(cls__launch(ctx, reset_k, &d1, reset_args, 5, NULL, CLS_PASS_OPTIMIZE), CLS_OK);
    float op[N], m[N];
    ck_assert_int_eq(clh_buffer_read(&ctx->rt, &src[3], 0, op, sizeof op, "op", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_read(&ctx->rt, &msrc[6], 0, m, sizeof m, "m", &herr), CLH_OK);
    for (int i = 0; i < N; i++) {
        ck_assert(op[i] == fminf(in.opacity[i], reset));
        ck_assert(m[i] == 0.0f);
    }

    for (int g = 0; g < 5; g++) {
        free(out[g]);
        free(om[g]);
        free(ov[g]);
        clh_buffer_release(&src[g]);
        clh_buffer_release(&dst[g]);
    }
    for (int g = 0; g < 10; g++) {
        clh_buffer_release(&msrc[g]);
        clh_buffer_release(&mdst[g]);
    }
    clh_buffer *others[] = {&b_grad, &b_denom, &b_plan, &b_count, &b_offset, &b_total};
    for (int i = 0; i < 6; i++)
        clh_buffer_release(others[i]);
    cls__scan_release(&scan);
    clReleaseKernel(plan_k);
    clReleaseKernel(geometry_k);
    clReleaseKernel(copy_k);
    clReleaseKernel(reset_k);
    cls_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("densify");
    TCase *tc = tcase_create("densify");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_plan_apply_reset);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
