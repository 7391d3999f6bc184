/* The engine's backward pass against the double-precision reference backward (test/ref),
 * determinism, the trainer's Adam fused into the projection backward against a plain C Adam on
 * the stored gradients, and a short optimisation that must fit a scene. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clsplat.h"
#include "engine/frame.h"
#include "engine/internal.h"
#include "ref/ref_backward.h"
#include "ref/ref_forward.h"
#include "test_util.h"

/* CLS_TEST_PIXELS_PER_ITEM=1 runs the GPU-shaped kernels (one pixel per work-item, one row
 * per work-item in the backward rasterizer) on any device; the suite uses it to put that
 * variant under Oclgrind's full checks. CLS_TEST_BACKWARD_ROWS sets the backward rasterizer's
 * rows per work-item. */
static cls_context *open_context(void)
{
    cls_context *ctx = NULL;
    cls_status st = cls_context_create(&(cls_context_desc){0}, &ctx);
    ck_assert_msg(st == CLS_OK, "no OpenCL device: %s", cls_context_errmsg(ctx));
    const char *ppi = getenv("CLS_TEST_PIXELS_PER_ITEM");
    if (ppi != NULL && ppi[0] != '\0') {
        ctx->params.pixels_per_item = atoi(ppi);
        if (ctx->params.pixels_per_item == 1)
            ctx->params.backward_rows = ctx->params.raster_rows = 1;
    }
    const char *rows = getenv("CLS_TEST_BACKWARD_ROWS");
    if (rows != NULL && rows[0] != '\0')
        ctx->params.backward_rows = atoi(rows);
    return ctx;
}

/* n Gaussians in front of an identity camera of size w x h. */
static void random_scene(cls_gaussians *g, size_t n, int degree, uint32_t seed, float log_scale_lo, float log_scale_hi)
{
    cls_error err = {0};
    ck_assert_int_eq(cls_gaussians_alloc(g, n, degree, &err), CLS_OK);
    const size_t k = (size_t)cls_sh_coeff_count(degree);
    for (size_t i = 0; i < n; i++) {
        const float z = test_uniform(&seed, 2.0f, 5.0f);
        g->means[i * 3] = test_uniform(&seed, -0.6f, 0.6f) * z;
        g->means[i * 3 + 1] = test_uniform(&seed, -0.45f, 0.45f) * z;
        g->means[i * 3 + 2] = z;
        for (int a = 0; a < 3; a++)
            g->log_scales[i * 3 + (size_t)a] = test_uniform(&seed, log_scale_lo, log_scale_hi);
        for (int a = 0; a < 4; a++)
            g->quats[i * 4 + (size_t)a] = test_uniform(&seed, -1.0f, 1.0f);
        g->opacity_logits[i] = test_uniform(&seed, -2.0f, 3.0f);
        for (size_t c = 0; c < k * 3; c++)
            g->sh[i * k * 3 + c] = test_uniform(&seed, -0.8f, 0.8f) * (c < 3 ? 1.5f : 0.4f);
    }
}

static cls_camera make_camera(uint32_t w, uint32_t h, float cx_shift)
{
    return (cls_camera){.width = w, .height = h, .fx = 0.9f * (float)w, .fy = 0.95f * (float)w,
                        .cx = 0.5f * (float)w + cx_shift, .cy = 0.5f * (float)h - 0.5f * cx_shift,
                        .rotation = {1, 0, 0, 0, 1, 0, 0, 0, 1}};
}

typedef struct case_desc {
    const char *name;
    uint32_t w, h;
    size_t n;
    int degree;        /* scene's SH degree */
    int active_degree; /* -1: the scene's */
    int antialiased;
    int with_alpha, with_depth;
    float background;
    uint32_t seed;
} case_desc;

/* Relative L2 error of a float array against a double one. */
static double rel_l2(const float *a, const double *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)a[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* Engine gradients of L = sum(d_rgb . rgb) (+ alpha, depth terms) against the reference's.
 * Tolerance: relative L2 error per parameter group <= 1e-3. The engine computes in float and
 * the reference in double; per pixel the two agree to ~1e-6, and only a pixel whose float
 * alpha lands on the other side of 1/255 (or of the T < 1e-4 stop) than the double one makes
 * a visible difference, which stays well below 1e-3 of a group's norm. */
static void compare_with_reference(cls_context *ctx, const cls_gaussians *g, const cls_camera *cam,
                                   const case_desc *c)
{
    const size_t pixels = (size_t)cam->width * cam->height;
    float *d_rgb = malloc(pixels * 3 * sizeof(float)), *d_alpha = malloc(pixels * sizeof(float));
    float *d_depth = malloc(pixels * sizeof(float));
    double *dd_rgb = malloc(pixels * 3 * sizeof(double)), *dd_alpha = malloc(pixels * sizeof(double));
    double *dd_depth = malloc(pixels * sizeof(double));
    ck_assert(d_rgb && d_alpha && d_depth && dd_rgb && dd_alpha && dd_depth);
    uint32_t seed = c->seed * 7u + 1u;
    for (size_t i = 0; i < pixels * 3; i++)
        dd_rgb[i] = d_rgb[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (size_t i = 0; i < pixels; i++) {
        dd_alpha[i] = d_alpha[i] = test_uniform(&seed, -1.0f, 1.0f);
        dd_depth[i] = d_depth[i] = test_uniform(&seed, -0.2f, 0.2f);
    }

    cls_render_desc desc = {.antialiased = c->antialiased,
                            .sh_degree = c->active_degree < 0 ? 0 : c->active_degree + 1,
                            .background = {c->background, 0.5f * c->background, 1.0f - c->background},
                            .with_depth = c->with_depth};
    cls_scene *scene = NULL;
    cls_frame *frame = NULL;
    cls_grads *grads = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, g, &scene), CLS_OK);
    ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_OK);
    ck_assert_int_eq(cls_grads_create(ctx, &grads), CLS_OK);
    ck_assert_msg(cls_render_forward(frame, scene, cam, &desc) == CLS_OK, "%s", cls_context_errmsg(ctx));
    cls_backward_desc in = {.d_rgb = d_rgb, .d_alpha = c->with_alpha ? d_alpha : NULL,
                            .d_depth = c->with_depth ? d_depth : NULL};
    ck_assert_msg(cls_render_backward(frame, scene, &in, grads) == CLS_OK, "%s", cls_context_errmsg(ctx));
    cls_gaussians eg = {0};
    float *norm = malloc(g->count * sizeof(float)), *absnorm = malloc(g->count * sizeof(float));
    uint32_t *vis = malloc(g->count * sizeof(uint32_t));
    ck_assert_int_eq(cls_grads_read(grads, &eg, norm, absnorm, vis), CLS_OK);

    ref_options opt = ref_options_default();
    opt.sh_degree = c->active_degree;
    opt.antialiased = c->antialiased;
    for (int k = 0; k < 3; k++)
        opt.background[k] = desc.background[k];
    ref_grads rg = {0};
    ck_assert(ref_grads_alloc(&rg, g->count, g->sh_degree));
    ck_assert(ref_backward(g, cam, &opt, dd_rgb, c->with_alpha ? dd_alpha : NULL, c->with_depth ? dd_depth : NULL, &rg));

    const size_t n = g->count, k = (size_t)cls_sh_coeff_count(g->sh_degree);
    const struct {
        const char *name;
        const float *engine;
        const double *ref;
        size_t count;
    } groups[] = {
        {"means", eg.means, rg.means, n * 3},
        {"log_scales", eg.log_scales, rg.log_scales, n * 3},
        {"quats", eg.quats, rg.quats, n * 4},
        {"opacity_logits", eg.opacity_logits, rg.opacity_logits, n},
        {"sh", eg.sh, rg.sh, n * k * 3},
        {"grad_norm", norm, rg.grad_norm, n},
        {"absgrad_norm", absnorm, rg.absgrad_norm, n},
    };
    const double tolerance = 1e-3;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        const double err = rel_l2(groups[i].engine, groups[i].ref, groups[i].count);
        if (getenv("CLS_TEST_VERBOSE"))
            printf("%s %s: relative L2 error %.3g\n", c->name, groups[i].name, err);
        ck_assert_msg(err <= tolerance, "%s: %s relative L2 error %g > %g", c->name, groups[i].name, err, tolerance);
    }
    size_t vis_diff = 0;
    for (size_t i = 0; i < n; i++)
        vis_diff += (vis[i] != 0) != (rg.visible[i] != 0);
    /* Visibility is an integer decision on float values: allow a rare borderline Gaussian. */
    ck_assert_msg(vis_diff <= 1 + n / 500, "%s: visibility differs for %zu Gaussians", c->name, vis_diff);

    ref_grads_free(&rg);
    cls_gaussians_free(&eg);
    free(norm);
    free(absnorm);
    free(vis);
    cls_grads_destroy(grads);
    cls_frame_destroy(frame);
    cls_scene_destroy(scene);
    free(d_rgb);
    free(d_alpha);
    free(d_depth);
    free(dd_rgb);
    free(dd_alpha);
    free(dd_depth);
}

static const case_desc random_cases[] = {
    {"deg0", 64, 48, 30, 0, -1, 0, 0, 0, 0.0f, 11},
    {"deg1 aa", 61, 47, 40, 1, -1, 1, 0, 0, 0.3f, 12},
    {"deg2 alpha", 96, 64, 60, 2, -1, 0, 1, 0, 0.7f, 13},
    {"deg3 depth", 80, 61, 60, 3, -1, 0, 0, 1, 0.2f, 14},
    {"deg3 active1 aa alpha depth", 128, 96, 120, 3, 1, 1, 1, 1, 1.0f, 15},
    {"deg3 dense", 128, 96, 1500, 3, -1, 0, 0, 0, 0.5f, 16},
    {"deg2 tiny image", 17, 9, 20, 2, -1, 0, 1, 0, 0.1f, 17},
};

START_TEST(test_random_scenes)
{
    cls_context *ctx = open_context();
    const int count = test_small_mode() ? 2 : (int)(sizeof random_cases / sizeof random_cases[0]);
    for (int i = 0; i < count; i++) {
        case_desc c = random_cases[i];
        if (test_small_mode()) {
            c.w = 32;
            c.h = 24;
            c.n = c.n > 40 ? 40 : c.n;
        }
        cls_gaussians g = {0};
        random_scene(&g, c.n, c.degree, c.seed, c.n > 500 ? -4.0f : -3.0f, c.n > 500 ? -2.0f : -1.3f);
        cls_camera cam = make_camera(c.w, c.h, (float)(i % 3) * 2.5f);
        compare_with_reference(ctx, &g, &cam, &c);
        cls_gaussians_free(&g);
    }
    cls_context_destroy(ctx);
}
END_TEST

static int have_shared_data(void)
{
    struct stat st;
    return stat(CLS_SHARED_DATA_DIR, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A camera looking at the centroid of the Gaussians from `dist` along direction `dir`, with
 * world -y as up (COLMAP-style worlds). */
static cls_camera look_at_centroid(const cls_gaussians *g, uint32_t w, uint32_t h, const double dir[3], double dist)
{
    double c[3] = {0, 0, 0};
    for (size_t i = 0; i < g->count; i++)
        for (int a = 0; a < 3; a++)
            c[a] += g->means[i * 3 + (size_t)a] / (double)g->count;
    double fwd[3] = {-dir[0], -dir[1], -dir[2]};
    double len = sqrt(fwd[0] * fwd[0] + fwd[1] * fwd[1] + fwd[2] * fwd[2]);
    for (int a = 0; a < 3; a++)
        fwd[a] /= len;
    const double up[3] = {0, -1, 0};
    double right[3] = {fwd[1] * up[2] - fwd[2] * up[1], fwd[2] * up[0] - fwd[0] * up[2], fwd[0] * up[1] - fwd[1] * up[0]};
    len = sqrt(right[0] * right[0] + right[1] * right[1] + right[2] * right[2]);
    for (int a = 0; a < 3; a++)
        right[a] /= len;
    const double down[3] = {fwd[1] * right[2] - fwd[2] * right[1], fwd[2] * right[0] - fwd[0] * right[2],
                            fwd[0] * right[1] - fwd[1] * right[0]};
    cls_camera cam = {.width = w, .height = h, .fx = 0.9f * (float)w, .fy = 0.9f * (float)w, .cx = 0.5f * (float)w,
                      .cy = 0.5f * (float)h};
    const double pos[3] = {c[0] + dir[0] * dist / sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]),
                           c[1] + dir[1] * dist / sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]),
                           c[2] + dir[2] * dist / sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2])};
    const double *rows[3] = {right, down, fwd};
    for (int r = 0; r < 3; r++) {
        double t = 0.0;
        for (int a = 0; a < 3; a++) {
            cam.rotation[r * 3 + a] = (float)rows[r][a];
            t -= rows[r][a] * pos[a];
        }
        cam.translation[r] = (float)t;
    }
    return cam;
}

START_TEST(test_real_scene)
{
    if (test_small_mode())
        return;
    if (!have_shared_data()) {
        printf("SKIP test_real_scene: ../shared/data not present\n");
        return;
    }
    cls_gaussians g = {0};
    cls_error err = {0};
    ck_assert_int_eq(cls_gaussians_load(CLS_SHARED_DATA_DIR "/fruit_drops_minimal/fruit_drops_minimal.ply", &g, &err),
                     CLS_OK);
    cls_context *ctx = open_context();
    const double dirs[2][3] = {{0.2, -0.35, 1.0}, {-0.5, -0.2, 0.9}};
    for (int v = 0; v < 2; v++) {
        cls_camera cam = look_at_centroid(&g, 160, 120, dirs[v], 0.8);
        case_desc c = {v ? "fruit_drops aa alpha" : "fruit_drops", 160, 120, g.count, 3, -1, v, v, 0, 0.0f, 21u + (uint32_t)v};
        compare_with_reference(ctx, &g, &cam, &c);
    }
    cls_context_destroy(ctx);
    cls_gaussians_free(&g);
}
END_TEST

/* The trainer's fused step (cls__backward_adam: project_backward_adam) against the stored
 * gradients of the same backward pass (cls_render_backward) fed to a double-precision Adam:
 * every parameter and both moments of every group, from random non-zero moments, at an SH
 * degree below the scene's (inactive coefficients have zero gradients and are still updated,
 * as by the reference's dense Adam); and the statistics-only mode of a densification step. */
START_TEST(test_fused_adam)
{
    cls_context *ctx = open_context();
    const size_t n = test_small_mode() ? 80 : 3000;
    cls_gaussians g = {0};
    random_scene(&g, n, 3, 41u, -3.5f, -2.0f);
    cls_camera cam = make_camera(test_small_mode() ? 40 : 96, test_small_mode() ? 32 : 72, 3.0f);
    const size_t pixels = (size_t)cam.width * cam.height, k = (size_t)cls_sh_coeff_count(3);
    const size_t counts[CLS__ADAM_GROUPS] = {n * 3, n * 3, n * 4, n, n * k * 3};
    float *d_rgb = malloc(pixels * 3 * sizeof(float));
    uint32_t seed = 77u;
    for (size_t i = 0; i < pixels * 3; i++)
        d_rgb[i] = test_uniform(&seed, -1.0f, 1.0f);
    const cls_render_desc desc = {.sh_degree = 2, .antialiased = 1}; /* degree 1 of 3 */
    const uint32_t step = 7;
    cls__adam_fusion fusion = {.hparams = cls__adam_defaults(), .step = step,
                               .lr = {1.6e-4f, 5e-3f, 1e-3f, 2.5e-2f, 2.5e-3f, 1.25e-4f}};
    clh_error herr;
    for (int mode = 0; mode < 2; mode++) { /* 0: an update; 1: statistics only */
        cls_scene *scene = NULL;
        cls_frame *frame = NULL;
        cls_grads *grads = NULL;
        ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
        ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_OK);
        ck_assert_int_eq(cls_grads_create(ctx, &grads), CLS_OK);
        ck_assert_int_eq(cls_render_forward(frame, scene, &cam, &desc), CLS_OK);
        ck_assert_msg(cls_render_backward(frame, scene, &(cls_backward_desc){.d_rgb = d_rgb}, grads) == CLS_OK, "%s",
                      cls_context_errmsg(ctx));
        cls_gaussians dg = {0};
        float *norm = malloc(n * sizeof(float));
        uint32_t *vis = malloc(n * sizeof(uint32_t));
        ck_assert_int_eq(cls_grads_read(grads, &dg, norm, NULL, vis), CLS_OK);

        /* Moments and statistics, random and non-zero. */
        clh_buffer moments[CLS__ADAM_GROUPS][2], accum = {0}, denom = {0};
        float *host_m[CLS__ADAM_GROUPS][2];
        for (int grp = 0; grp < CLS__ADAM_GROUPS; grp++)
            for (int mv = 0; mv < 2; mv++) {
                host_m[grp][mv] = malloc(counts[grp] * sizeof(float));
                for (size_t i = 0; i < counts[grp]; i++)
                    host_m[grp][mv][i] = mv == 0 ? test_uniform(&seed, -0.05f, 0.05f) : test_uniform(&seed, 1e-4f, 1e-2f);
                moments[grp][mv] = (clh_buffer){0};
                ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &moments[grp][mv], counts[grp] * sizeof(float), "m", &herr),
                                 CLH_OK);
                ck_assert_int_eq(clh_buffer_write(&ctx->rt, &moments[grp][mv], 0, host_m[grp][mv],
                                                  counts[grp] * sizeof(float), "m", &herr), CLH_OK);
                fusion.moments[grp][mv] = moments[grp][mv].mem;
            }
        float *host_accum = malloc(n * sizeof(float));
        uint32_t *host_denom = malloc(n * sizeof(uint32_t));
        for (size_t i = 0; i < n; i++) {
            host_accum[i] = test_uniform(&seed, 0.0f, 1.0f);
            host_denom[i] = (uint32_t)i % 5u;
        }
        ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &accum, n * sizeof(float), "accum", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &denom, n * sizeof(uint32_t), "denom", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_write(&ctx->rt, &accum, 0, host_accum, n * sizeof(float), "accum", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_write(&ctx->rt, &denom, 0, host_denom, n * sizeof(uint32_t), "denom", &herr), CLH_OK);
        fusion.grad_accum = accum.mem;
        fusion.denom = denom.mem;
        fusion.apply = mode == 0;
        ck_assert_msg(cls__backward_adam(frame, scene, &fusion) == CLS_OK, "%s", cls_context_errmsg(ctx));

        cls_gaussians out = {0};
        ck_assert_int_eq(cls_scene_download(scene, &out), CLS_OK);
        const float *params[CLS__ADAM_GROUPS] = {g.means, g.log_scales, g.quats, g.opacity_logits, g.sh};
        const float *got[CLS__ADAM_GROUPS] = {out.means, out.log_scales, out.quats, out.opacity_logits, out.sh};
        const float *grad[CLS__ADAM_GROUPS] = {dg.means, dg.log_scales, dg.quats, dg.opacity_logits, dg.sh};
        /* The hyperparameters as the device has them: float, with 1 - beta rounded to float. */
        const double b1 = fusion.hparams.beta1, b2 = fusion.hparams.beta2;
        const double c1 = 1.0f - fusion.hparams.beta1, c2 = 1.0f - fusion.hparams.beta2;
        const double bc1 = (float)(1.0 - pow(b1, step)), bc2 = (float)(1.0 - pow(b2, step));
        size_t nonzero = 0;
        for (int grp = 0; grp < CLS__ADAM_GROUPS; grp++) {
            float *dev_m = malloc(counts[grp] * sizeof(float)), *dev_v = malloc(counts[grp] * sizeof(float));
            ck_assert_int_eq(clh_buffer_read(&ctx->rt, &moments[grp][0], 0, dev_m, counts[grp] * sizeof(float), "m", &herr),
                             CLH_OK);
            ck_assert_int_eq(clh_buffer_read(&ctx->rt, &moments[grp][1], 0, dev_v, counts[grp] * sizeof(float), "v", &herr),
                             CLH_OK);
            for (size_t i = 0; i < counts[grp]; i++) {
                if (mode == 1) { /* statistics only: nothing else moves, to the bit */
                    ck_assert_msg(got[grp][i] == params[grp][i] && dev_m[i] == host_m[grp][0][i] &&
                                      dev_v[i] == host_m[grp][1][i],
                                  "group %d value %zu changed without an update", grp, i);
                    continue;
                }
                const double gr = grad[grp][i];
                nonzero += gr != 0.0;
                const double m = b1 * host_m[grp][0][i] + c1 * gr;
                const double v = b2 * host_m[grp][1][i] + c2 * gr * gr;
                const double lr = grp < 4 ? fusion.lr[grp] : fusion.lr[i % (k * 3) < 3 ? 4 : 5];
                const double p = params[grp][i] - lr * (m / bc1) / (sqrt(v / bc2) + 1e-15);
                /* Float against double for one step: each result to a few float roundings of
                 * the terms it is made of (which may cancel). */
                const double step_size = lr * (m / bc1) / (sqrt(v / bc2) + 1e-15);
                const double tol_m = 1e-6 * (fabs(b1 * host_m[grp][0][i]) + fabs(c1 * gr)) + 1e-15;
                const double tol_v = 1e-6 * v + 1e-15;
                const double tol_p = 1e-6 * (fabs((double)params[grp][i]) + fabs(step_size)) + 1e-12;
                ck_assert_msg(fabs(dev_m[i] - m) <= tol_m, "group %d m[%zu]: %g vs %g", grp, i, (double)dev_m[i], m);
                ck_assert_msg(fabs(dev_v[i] - v) <= tol_v, "group %d v[%zu]: %g vs %g", grp, i, (double)dev_v[i], v);
                ck_assert_msg(fabs(got[grp][i] - p) <= tol_p, "group %d p[%zu]: %.9g vs %.9g", grp, i,
                              (double)got[grp][i], p);
            }
            free(dev_m);
            free(dev_v);
        }
        if (mode == 0)
            ck_assert_msg(nonzero > n, "only %zu non-zero gradients", nonzero);
        float *dev_accum = malloc(n * sizeof(float));
        uint32_t *dev_denom = malloc(n * sizeof(uint32_t)), visible = 0;
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &accum, 0, dev_accum, n * sizeof(float), "accum", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &denom, 0, dev_denom, n * sizeof(uint32_t), "denom", &herr), CLH_OK);
        for (size_t i = 0; i < n; i++) {
            visible += vis[i];
            const float expected = vis[i] ? host_accum[i] + norm[i] : host_accum[i];
            ck_assert_msg(fabsf(dev_accum[i] - expected) <= 1e-6f * expected && dev_denom[i] == host_denom[i] + vis[i],
                          "statistics of Gaussian %zu: %g/%u vs %g/%u", i, (double)dev_accum[i], dev_denom[i],
                          (double)expected, host_denom[i] + vis[i]);
        }
        ck_assert_msg(visible > n / 4, "only %u of %zu visible", visible, n);
        free(dev_accum);
        free(dev_denom);
        for (int grp = 0; grp < CLS__ADAM_GROUPS; grp++)
            for (int mv = 0; mv < 2; mv++) {
                clh_buffer_release(&moments[grp][mv]);
                free(host_m[grp][mv]);
            }
        clh_buffer_release(&accum);
        clh_buffer_release(&denom);
        free(host_accum);
        free(host_denom);
        free(norm);
        free(vis);
        cls_gaussians_free(&out);
        cls_gaussians_free(&dg);
        cls_grads_destroy(grads);
        cls_frame_destroy(frame);
        cls_scene_destroy(scene);
    }
    free(d_rgb);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

/* The same backward twice gives the same bits, also when thousands of Gaussians overlap the
 * same tiles (where atomics would reorder the sums). */
START_TEST(test_determinism)
{
    cls_context *ctx = open_context();
    const size_t n = test_small_mode() ? 60 : 4000;
    cls_gaussians g = {0};
    random_scene(&g, n, 3, 99u, -2.5f, -1.0f); /* large: every Gaussian covers many tiles */
    cls_camera cam = make_camera(test_small_mode() ? 32 : 96, test_small_mode() ? 24 : 64, 0.0f);
    const size_t pixels = (size_t)cam.width * cam.height;
    float *d_rgb = malloc(pixels * 3 * sizeof(float));
    uint32_t seed = 5u;
    for (size_t i = 0; i < pixels * 3; i++)
        d_rgb[i] = test_uniform(&seed, -1.0f, 1.0f);
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    cls_gaussians runs[2] = {{0}, {0}};
    float *norms[2];
    uint32_t isect = 0;
    for (int r = 0; r < 2; r++) {
        cls_frame *frame = NULL;
        cls_grads *grads = NULL;
        ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_OK);
        ck_assert_int_eq(cls_grads_create(ctx, &grads), CLS_OK);
        ck_assert_int_eq(cls_render_forward(frame, scene, &cam, NULL), CLS_OK);
        ck_assert_int_eq(cls_render_backward(frame, scene, &(cls_backward_desc){.d_rgb = d_rgb}, grads), CLS_OK);
        norms[r] = malloc(n * sizeof(float));
        ck_assert_int_eq(cls_grads_read(grads, &runs[r], norms[r], NULL, NULL), CLS_OK);
        cls_frame_stats stats;
        ck_assert_int_eq(cls_frame_stats_get(frame, &stats), CLS_OK);
        isect = stats.intersections;
        cls_grads_destroy(grads);
        cls_frame_destroy(frame);
    }
    /* The point of the test: many Gaussians per tile. */
    ck_assert_msg(isect > 20 * (cam.width / 16) * (cam.height / 16), "only %u intersections", isect);
    const size_t k = (size_t)cls_sh_coeff_count(3);
    ck_assert_int_eq(memcmp(runs[0].means, runs[1].means, n * 3 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(runs[0].log_scales, runs[1].log_scales, n * 3 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(runs[0].quats, runs[1].quats, n * 4 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(runs[0].opacity_logits, runs[1].opacity_logits, n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(runs[0].sh, runs[1].sh, n * k * 3 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(norms[0], norms[1], n * sizeof(float)), 0);
    for (int r = 0; r < 2; r++) {
        cls_gaussians_free(&runs[r]);
        free(norms[r]);
    }
    free(d_rgb);
    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

/* Adam on the host over the engine's gradients (the trainer's fused kernel comes later). */
typedef struct adam {
    float *m, *v;
} adam;

static void adam_step(float *p, const float *grad, adam *a, size_t count, float lr, int t)
{
    const float b1 = 0.9f, b2 = 0.999f;
    const float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < count; i++) {
        a->m[i] = b1 * a->m[i] + (1.0f - b1) * grad[i];
        a->v[i] = b2 * a->v[i] + (1.0f - b2) * grad[i] * grad[i];
        p[i] -= lr * (a->m[i] / c1) / (sqrtf(a->v[i] / c2) + 1e-15f);
    }
}

static double mse_loss(cls_context *ctx, const cls_gaussians *g, const cls_camera *cams, int ncams, float **targets)
{
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, g, &scene), CLS_OK);
    double total = 0.0;
    for (int c = 0; c < ncams; c++) {
        const size_t values = (size_t)cams[c].width * cams[c].height * 3;
        float *rgb = malloc(values * sizeof(float));
        ck_assert_int_eq(cls_render(scene, &cams[c], NULL, &(cls_render_output){.rgb = rgb}), CLS_OK);
        for (size_t i = 0; i < values; i++)
            total += ((double)rgb[i] - targets[c][i]) * ((double)rgb[i] - targets[c][i]) / (double)values;
        free(rgb);
    }
    cls_scene_destroy(scene);
    return total / ncams;
}

/* Fit a perturbed copy of a scene to target images rendered from the original: a few hundred
 * gradient steps must reduce the photometric loss by a large factor. */
START_TEST(test_optimisation_smoke)
{
    if (test_small_mode())
        return;
    cls_context *ctx = open_context();
    const size_t n = 60;
    cls_gaussians truth = {0}, fit = {0};
    random_scene(&truth, n, 1, 777u, -2.6f, -1.8f);
    random_scene(&fit, n, 1, 777u, -2.6f, -1.8f);
    uint32_t seed = 4242u;
    const size_t k3 = (size_t)cls_sh_coeff_count(1) * 3;
    for (size_t i = 0; i < n; i++) { /* move, recolour and fade every Gaussian */
        for (int a = 0; a < 3; a++)
            fit.means[i * 3 + (size_t)a] += test_uniform(&seed, -0.08f, 0.08f);
        for (size_t c = 0; c < k3; c++)
            fit.sh[i * k3 + c] = test_uniform(&seed, -0.3f, 0.3f);
        fit.opacity_logits[i] = 0.0f;
    }
    enum { NCAMS = 3 };
    cls_camera cams[NCAMS];
    float *targets[NCAMS];
    cls_scene *truth_scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &truth, &truth_scene), CLS_OK);
    for (int c = 0; c < NCAMS; c++) {
        cams[c] = make_camera(64, 48, 0.0f);
        /* Three views: straight, and rotated 10 degrees either way about y around z = 3.5. */
        const float ang = (float)(c - 1) * 0.17f, cs = cosf(ang), sn = sinf(ang);
        const float R[9] = {cs, 0, -sn, 0, 1, 0, sn, 0, cs};
        memcpy(cams[c].rotation, R, sizeof R);
        /* t = -R * centre, centre on a circle of radius 3.5 about (0, 0, 3.5). */
        const float centre[3] = {3.5f * sinf(ang), 0.0f, 3.5f - 3.5f * cosf(ang)};
        for (int r = 0; r < 3; r++)
            cams[c].translation[r] = -(R[r * 3] * centre[0] + R[r * 3 + 1] * centre[1] + R[r * 3 + 2] * centre[2]);
        targets[c] = malloc((size_t)64 * 48 * 3 * sizeof(float));
        ck_assert_int_eq(cls_render(truth_scene, &cams[c], NULL, &(cls_render_output){.rgb = targets[c]}), CLS_OK);
    }
    cls_scene_destroy(truth_scene);

    const double initial = mse_loss(ctx, &fit, cams, NCAMS, targets);
    struct {
        float *p;
        size_t count;
        float lr;
        adam state;
    } groups[] = {{fit.means, n * 3, 2e-3f, {0}},          {fit.log_scales, n * 3, 5e-3f, {0}},
                  {fit.quats, n * 4, 1e-3f, {0}},          {fit.opacity_logits, n, 5e-2f, {0}},
                  {fit.sh, n * k3, 2.5e-2f, {0}}};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        groups[i].state.m = calloc(groups[i].count, sizeof(float));
        groups[i].state.v = calloc(groups[i].count, sizeof(float));
    }
    const size_t values = (size_t)64 * 48 * 3;
    float *rgb = malloc(values * sizeof(float)), *d_rgb = malloc(values * sizeof(float));
    cls_frame *frame = NULL;
    cls_grads *grads = NULL;
    ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_OK);
    ck_assert_int_eq(cls_grads_create(ctx, &grads), CLS_OK);
    const int steps = 300;
    for (int t = 1; t <= steps; t++) {
        const int c = t % NCAMS;
        cls_scene *scene = NULL;
        ck_assert_int_eq(cls_scene_create(ctx, &fit, &scene), CLS_OK);
        ck_assert_int_eq(cls_render_forward(frame, scene, &cams[c], NULL), CLS_OK);
        ck_assert_int_eq(cls_frame_read(frame, &(cls_render_output){.rgb = rgb}), CLS_OK);
        for (size_t i = 0; i < values; i++)
            d_rgb[i] = 2.0f * (rgb[i] - targets[c][i]) / (float)values;
        ck_assert_int_eq(cls_render_backward(frame, scene, &(cls_backward_desc){.d_rgb = d_rgb}, grads), CLS_OK);
        cls_gaussians d = {0};
        ck_assert_int_eq(cls_grads_read(grads, &d, NULL, NULL, NULL), CLS_OK);
        const float *dg[] = {d.means, d.log_scales, d.quats, d.opacity_logits, d.sh};
        for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
            adam_step(groups[i].p, dg[i], &groups[i].state, groups[i].count, groups[i].lr, t);
        cls_gaussians_free(&d);
        cls_scene_destroy(scene);
    }
    const double final = mse_loss(ctx, &fit, cams, NCAMS, targets);
    printf("optimisation smoke: loss %.6g -> %.6g (%.1fx) in %d steps\n", initial, final, initial / final, steps);
    ck_assert_msg(final * 10.0 < initial, "loss only went from %g to %g", initial, final);

    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        free(groups[i].state.m);
        free(groups[i].state.v);
    }
    for (int c = 0; c < NCAMS; c++)
        free(targets[c]);
    free(rgb);
    free(d_rgb);
    cls_grads_destroy(grads);
    cls_frame_destroy(frame);
    cls_gaussians_free(&truth);
    cls_gaussians_free(&fit);
    cls_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backward");
    TCase *tc = tcase_create("backward");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_random_scenes);
    tcase_add_test(tc, test_real_scene);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_fused_adam);
    tcase_add_test(tc, test_optimisation_smoke);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
