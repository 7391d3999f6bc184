/* The trainer (3dgs-math.md sections 7 and 8.4): initialisation from the SfM points (or random
 * points), then per step: a view from a seeded random permutation, forward, L1 + D-SSIM loss
 * and its gradient on the device, the atomic-free backward, and one fused Adam update per
 * parameter group with the reference's learning rates and position schedule; the active SH
 * degree goes up every 1000 steps. The host only orchestrates: the one read-back per step is
 * the forward pass's count of intersections (and the loss when asked for).
 *
 * Adaptive density control (section 8) runs on the device: per-step gradient statistics,
 * then every 100 steps a plan (prune / keep / clone / split) per Gaussian, a scan of the
 * resulting counts and one kernel writing the new parameters and Adam moments; opacity reset
 * every 3000 steps. As in the reference, a densification step takes no Adam update.
 *
 * Checkpoints are in checkpoint.c; the initial scales' nearest-neighbour search in knn.c. */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "knn.h"
#include "frame.h"
#include "loss.h"
#include "scan.h"

#define CLS_SH_C0 0.28209479177387814f

/* The reference trainer's constants (3dgs-math.md 7.2, 8.4). */
#define CLS_LR_POSITION_INIT 1.6e-4f
#define CLS_LR_POSITION_FINAL 1.6e-6f
#define CLS_LR_SH_DC 2.5e-3f
#define CLS_LR_SH_REST (2.5e-3f / 20.0f)
#define CLS_LR_OPACITY 0.025f
#define CLS_LR_SCALING 5e-3f
#define CLS_LR_ROTATION 1e-3f
#define CLS_INIT_OPACITY 0.1f
#define CLS_SH_DEGREE_INTERVAL 1000u
#define CLS_DEFAULT_ITERATIONS 30000u
#define CLS_DEFAULT_RANDOM_POINTS 100000u
/* Adaptive density control (3dgs-math.md 8.1). */
#define CLS_DENSIFY_FROM 500u
#define CLS_DENSIFY_UNTIL 15000u
#define CLS_DENSIFY_EVERY 100u
#define CLS_OPACITY_RESET_EVERY 3000u
#define CLS_DENSIFY_GRAD 0.0002f
#define CLS_PERCENT_DENSE 0.01f
#define CLS_PRUNE_OPACITY 0.005f
#define CLS_PRUNE_WORLD_SIZE 0.1f
#define CLS_RESET_OPACITY 0.01f

/* xorshift64*: the trainer's only source of randomness (seeded). */
uint64_t cls__trainer_rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static float rng_uniform(uint64_t *s) { return (float)((cls__trainer_rng_next(s) >> 40) * (1.0 / 16777216.0)); }

cls_trainer_desc cls_trainer_desc_defaults(const cls_trainer_desc *desc)
{
    cls_trainer_desc d = desc != NULL ? *desc : (cls_trainer_desc){0};
    if (d.iterations == 0)
        d.iterations = CLS_DEFAULT_ITERATIONS;
    if (d.sh_degree == 0)
        d.sh_degree = CLS_MAX_SH_DEGREE + 1;
    if (d.lambda_dssim == 0.0f)
        d.lambda_dssim = 0.2f;
    if (d.random_points == 0)
        d.random_points = CLS_DEFAULT_RANDOM_POINTS;
    return d;
}

/* ---- initialisation ------------------------------------------------------------------------ */

/* The point closest (least squares) to every training camera's optical axis: where the
 * cameras look. Left unchanged when the axes are (nearly) parallel. */
static void look_at_centre(const cls_trainer *t, float centre[3])
{
    double a[9] = {0}, b[3] = {0};
    for (size_t v = 0; v < t->views; v++) {
        cls_camera cam;
        if (cls__dataset_view(t->data, CLS_SPLIT_TRAIN, v, &cam, NULL, NULL, NULL) != CLS_OK)
            return;
        const float *R = cam.rotation, *tr = cam.translation;
        double c[3], d[3] = {R[6], R[7], R[8]}; /* centre -R^T t and forward axis (third row) */
        for (int j = 0; j < 3; j++)
            c[j] = -(R[j] * tr[0] + R[3 + j] * tr[1] + R[6 + j] * tr[2]);
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 3; k++) {
                const double p = (r == k ? 1.0 : 0.0) - d[r] * d[k]; /* I - d d^T */
                a[r * 3 + k] += p;
                b[r] += p * c[k];
            }
    }
    /* Solve a x = b by Cramer's rule (a is symmetric positive semi-definite). */
    const double det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
                       a[2] * (a[3] * a[7] - a[4] * a[6]);
    const double trace = a[0] + a[4] + a[8];
    if (!(fabs(det) > 1e-6 * trace * trace * trace))
        return;
    double x[3];
    for (int col = 0; col < 3; col++) {
        double m[9];
        memcpy(m, a, sizeof m);
        for (int r = 0; r < 3; r++)
            m[r * 3 + col] = b[r];
        x[col] = (m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                  m[2] * (m[3] * m[7] - m[4] * m[6])) / det;
    }
    for (int j = 0; j < 3; j++)
        centre[j] = (float)x[j];
}

/* Gaussians at the SfM points, or random points in the cameras' view when there are none
 * (the reference's synthetic-scene initialisation). */
static cls_status initial_gaussians(cls_trainer *t, cls_gaussians *g)
{
    cls_context *ctx = t->ctx;
    const float *xyz = NULL;
    const uint8_t *rgb = NULL;
    size_t n = 0;
    cls__dataset_points(t->data, &xyz, &rgb, &n);
    float *random_xyz = NULL;
    uint8_t *random_rgb = NULL;
    if (n == 0) {
        /* INRIA: 100k points uniform in [-1.3, 1.3]^3 for the Blender scenes, whose cameras sit
         * at distance ~4 (extent 4.4) looking at the origin: the same cube relative to the
         * extent, about the point the cameras look at. */
        float centre[3], radius;
        cls__dataset_extent(t->data, centre, &radius);
        look_at_centre(t, centre);
        n = t->desc.random_points;
        random_xyz = malloc(n * 3 * sizeof(float));
        random_rgb = malloc(n * 3);
        if (random_xyz == NULL || random_rgb == NULL) {
            free(random_xyz);
            free(random_rgb);
            return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for %zu random points", n);
        }
        const float half = 1.3f / 4.4f * radius;
        for (size_t i = 0; i < n * 3; i++) {
            random_xyz[i] = centre[i % 3] + (2.0f * rng_uniform(&t->rng) - 1.0f) * half;
            random_rgb[i] = (uint8_t)(rng_uniform(&t->rng) * 255.0f);
        }
        xyz = random_xyz;
        rgb = random_rgb;
    }
    cls_error err = {0};
    cls_status st = cls_gaussians_alloc(g, n, t->desc.sh_degree - 1, &err);
    if (st != CLS_OK) {
        free(random_xyz);
        free(random_rgb);
        return cls__ctx_fail(ctx, st, "%s", err.message);
    }
    float *dist2 = malloc(n * sizeof *dist2);
    st = dist2 != NULL ? cls__knn_mean_sq3(ctx, xyz, n, dist2)
                       : cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for %zu distances", n);
    if (st != CLS_OK) {
        free(dist2);
        free(random_xyz);
        free(random_rgb);
        cls_gaussians_free(g);
        return st;
    }
    const size_t k = (size_t)cls_sh_coeff_count(g->sh_degree);
    const float opacity_logit = logf(CLS_INIT_OPACITY / (1.0f - CLS_INIT_OPACITY));
    for (size_t i = 0; i < n; i++) {
        memcpy(&g->means[i * 3], &xyz[i * 3], 3 * sizeof(float));
        const float log_scale = logf(sqrtf(dist2[i]));
        for (int a = 0; a < 3; a++) {
            g->log_scales[i * 3 + (size_t)a] = log_scale;
            g->sh[i * k * 3 + (size_t)a] = ((float)rgb[i * 3 + (size_t)a] / 255.0f - 0.5f) / CLS_SH_C0;
        }
        g->quats[i * 4] = 1.0f;
        g->opacity_logits[i] = opacity_logit;
    }
    free(dist2);
    free(random_xyz);
    free(random_rgb);
    return CLS_OK;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static cls_status zeroed_buffer(cls_context *ctx, clh_buffer *buf, size_t bytes, const char *what)
{
    clh_error herr;
    clh_result rc = clh_buffer_reserve(&ctx->rt, buf, bytes, what, &herr);
    if (rc == CLH_OK) {
        const cl_uint zero = 0;
        cl_int code = clEnqueueFillBuffer(ctx->rt.queue, buf->mem, &zero, sizeof zero, 0, buf->size / 4 * 4, 0, NULL,
                                          NULL);
        if (code != CL_SUCCESS)
            rc = clh_fail_cl(&herr, code, "clEnqueueFillBuffer", "%s", what);
    }
    return cls__from_host(ctx, rc, &herr);
}

cls_status cls__trainer_create(cls_context *ctx, const cls__dataset *data, const cls_trainer_desc *desc,
                               cls_trainer **out)
{
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, data != NULL && out != NULL);
    *out = NULL;
    cls_trainer_desc d = cls_trainer_desc_defaults(desc);
    if (d.sh_degree < 1 || d.sh_degree > CLS_MAX_SH_DEGREE + 1)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "trainer: sh_degree field %d is outside 1..%d",
                             d.sh_degree, CLS_MAX_SH_DEGREE + 1);
    if (!(d.lambda_dssim >= 0.0f && d.lambda_dssim <= 1.0f))
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "trainer: lambda_dssim %g is outside [0, 1]",
                             (double)d.lambda_dssim);
    const size_t views = cls__dataset_count(data, CLS_SPLIT_TRAIN);
    if (views == 0)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "trainer: the dataset has no training views");

    cls_trainer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory creating a trainer");
    t->ctx = ctx;
    t->data = data;
    t->desc = d;
    t->views = views;
    t->rng = d.seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (t->rng == 0)
        t->rng = 1;
    float centre[3];
    cls__dataset_extent(data, centre, &t->extent);
    t->order = malloc(views * sizeof *t->order);
    cls_status st = t->order ? CLS_OK : cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    cls_gaussians g = {0};
    if (st == CLS_OK)
        st = initial_gaussians(t, &g);
    if (st == CLS_OK)
        st = cls_scene_create(ctx, &g, &t->scene);
    if (st == CLS_OK)
        st = cls_frame_create(ctx, &t->frame);
    if (st == CLS_OK)
        st = cls__loss_init(ctx, &t->loss);
    struct {
        cl_kernel *out;
        const char *name;
    } densify_kernels[] = {{&t->densify_plan, "densify_plan"},
                           {&t->densify_geometry, "densify_geometry"},
                           {&t->densify_copy, "densify_copy"},
                           {&t->opacity_reset, "opacity_reset"}};
    for (int i = 0; i < CLS__ARRAY_COUNT(densify_kernels) && st == CLS_OK; i++)
        st = cls__kernel(ctx, "densify", NULL, densify_kernels[i].name, densify_kernels[i].out);
    if (st == CLS_OK)
        st = cls__scan_init(ctx, &t->scan);
    if (st == CLS_OK)
        st = zeroed_buffer(ctx, &t->grad_accum, g.count * sizeof(float), "grad_accum");
    if (st == CLS_OK)
        st = zeroed_buffer(ctx, &t->denom, g.count * sizeof(cl_uint), "denom");
    const size_t n = g.count, k = (size_t)cls_sh_coeff_count(g.sh_degree);
    const size_t group_values[GROUP_COUNT] = {n * 3, n * 3, n * 4, n, n * k * 3};
    static const char *const names[GROUP_COUNT] = {"means", "log_scales", "quats", "opacity", "sh"};
    for (int grp = 0; grp < GROUP_COUNT && st == CLS_OK; grp++)
        for (int mv = 0; mv < 2 && st == CLS_OK; mv++)
            st = zeroed_buffer(ctx, &t->moments[grp][mv], group_values[grp] * sizeof(float), names[grp]);
    clh_error herr;
    if (st == CLS_OK)
        st = cls__from_host(ctx, clh_buffer_reserve(&ctx->rt, &t->loss_values, 3 * sizeof(float), "loss", &herr), &herr);
    cls_gaussians_free(&g);
    if (st != CLS_OK) {
        cls_trainer_destroy(t);
        return st;
    }
    *out = t;
    return CLS_OK;
}

void cls_trainer_destroy(cls_trainer *t)
{
    if (t == NULL)
        return;
    for (int grp = 0; grp < GROUP_COUNT; grp++)
        for (int mv = 0; mv < 2; mv++)
            clh_buffer_release(&t->moments[grp][mv]);
    clh_buffer_release(&t->target);
    clh_buffer_release(&t->loss_values);
    clh_buffer *densify_buffers[] = {&t->grad_accum, &t->denom, &t->plan, &t->counts, &t->offsets, &t->total};
    for (int i = 0; i < CLS__ARRAY_COUNT(densify_buffers); i++)
        clh_buffer_release(densify_buffers[i]);
    cl_kernel densify_kernels[] = {t->densify_plan, t->densify_geometry, t->densify_copy,
                                   t->opacity_reset};
    for (int i = 0; i < CLS__ARRAY_COUNT(densify_kernels); i++)
        if (densify_kernels[i] != NULL)
            clReleaseKernel(densify_kernels[i]);
    cls__scan_release(&t->scan);
    cls__loss_release(&t->loss);
    cls_frame_destroy(t->frame);
    cls_scene_destroy(t->scene);
    free(t->order);
    free(t);
}

cls_scene *cls_trainer_scene(cls_trainer *t) { return t != NULL ? t->scene : NULL; }

uint32_t cls_trainer_step_count(const cls_trainer *t) { return t != NULL ? t->step : 0; }

/* ---- one step ------------------------------------------------------------------------------ */

/* The next training view: a random permutation, refilled when used up (INRIA train.py). */
static size_t next_view(cls_trainer *t)
{
    if (t->order_left == 0) {
        for (size_t i = 0; i < t->views; i++)
            t->order[i] = (uint32_t)i;
        t->order_left = t->views;
    }
    const size_t pick = (size_t)(cls__trainer_rng_next(&t->rng) % t->order_left);
    const uint32_t view = t->order[pick];
    t->order[pick] = t->order[--t->order_left];
    return view;
}

/* The reference's position learning rate: log-linear from init to final over the run. */
static float position_lr(const cls_trainer *t, uint32_t step)
{
    const double u = fmin((double)step / (double)t->desc.iterations, 1.0);
    const double lr0 = (double)CLS_LR_POSITION_INIT * t->extent, lr1 = (double)CLS_LR_POSITION_FINAL * t->extent;
    return (float)exp((1.0 - u) * log(lr0) + u * log(lr1));
}

static cls_status launch_1d(cls_trainer *t, cl_kernel kernel, const char *name, uint32_t items, const clh_arg *args,
                            int count)
{
    return cls__launch_1d(t->ctx, kernel, name, items, args, count, &t->frame->prof, CLS_PASS_OPTIMIZE);
}

static float logit(float p) { return logf(p / (1.0f - p)); }

/* Plans, counts and applies one densification: the scene and the Adam moments are replaced by
 * new arrays of the new size; the statistics restart from zero. */
/* Waits for the queue (so that released buffers are really free before the next allocation). */
static cls_status finish(cls_context *ctx, const char *what)
{
    cl_int code = clFinish(ctx->rt.queue);
    if (code == CL_SUCCESS)
        return CLS_OK;
    clh_error herr;
    return cls__from_host(ctx, clh_fail_cl(&herr, code, "clFinish", "%s", what), &herr);
}

static cls_status densify(cls_trainer *t, uint32_t step)
{
    cls_context *ctx = t->ctx;
    cls_scene *s = t->scene;
    const uint32_t n = s->count;
    clh_error herr;
    clh_result rc = CLH_OK;
    /* The view's arrays would be reallocated for the new count anyway: freeing them now keeps
     * them out of the moment when old and new arrays coexist. */
    cls__frame_trim(t->frame);
    clh_buffer *per_gaussian[] = {&t->plan, &t->counts, &t->offsets};
    for (int i = 0; i < 3 && rc == CLH_OK; i++)
        rc = clh_buffer_reserve(&ctx->rt, per_gaussian[i], n * sizeof(cl_uint), "densify", &herr);
    if (rc == CLH_OK)
        rc = clh_buffer_reserve(&ctx->rt, &t->total, sizeof(cl_uint), "densify total", &herr);
    if (rc != CLH_OK)
        return cls__from_host(ctx, rc, &herr);

    cl_uint nn = n, new_count = 0;
    cl_float threshold = CLS_DENSIFY_GRAD, dense = CLS_PERCENT_DENSE * t->extent;
    cl_float prune_size = CLS_PRUNE_WORLD_SIZE * t->extent, min_logit = logit(CLS_PRUNE_OPACITY);
    cl_uint prune_large = step > CLS_OPACITY_RESET_EVERY;
    cls_status st = CLS_OK;
    for (cl_uint allow_growth = 1;; allow_growth = 0) {
        const clh_arg plan_args[] = {CLH_ARG(nn), CLH_MEM(t->grad_accum), CLH_MEM(t->denom), CLH_MEM(s->log_scales),
                                     CLH_MEM(s->opacity_logits), CLH_ARG(threshold), CLH_ARG(dense),
                                     CLH_ARG(prune_size), CLH_ARG(min_logit), CLH_ARG(prune_large),
                                     CLH_ARG(allow_growth), CLH_MEM(t->plan), CLH_MEM(t->counts)};
        st = launch_1d(t, t->densify_plan, "densify_plan", n, plan_args, CLS__ARRAY_COUNT(plan_args));
        if (st == CLS_OK)
            st = cls__scan_exclusive(ctx, &t->scan, t->counts.mem, t->offsets.mem, n, t->total.mem, NULL,
                                     CLS_PASS_SCAN);
        if (st != CLS_OK)
            return st;
        rc = clh_buffer_read(&ctx->rt, &t->total, 0, &new_count, sizeof new_count, "densify total", &herr);
        if (rc != CLH_OK)
            return cls__from_host(ctx, rc, &herr);
        /* Over the cap: prune only, no growth this time. */
        if (!allow_growth || t->desc.max_gaussians == 0 || new_count <= t->desc.max_gaussians)
            break;
    }
    if (new_count == 0)
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "densification at step %u would prune every Gaussian", step);

    /* The new arrays replace the old ones one at a time, each old one freed (after the queue
     * finished with it) before the next new one is allocated: the moment's extra memory is
     * the largest single array, not a second copy of the whole model. */
    const uint32_t stride = (uint32_t)cls_sh_coeff_count(s->sh_degree) * 3;
    const size_t values[GROUP_COUNT] = {3, 3, 4, 1, stride};
    clh_buffer *params[GROUP_COUNT] = {&s->means, &s->log_scales, &s->quats, &s->opacity_logits, &s->sh};
    cl_uint seed = (cl_uint)(t->desc.seed ^ (t->desc.seed >> 32)), st_step = step;
    {
        clh_buffer geometry[4] = {{0}};
        for (int grp = 0; grp < 4 && rc == CLH_OK; grp++)
            rc = clh_buffer_reserve(&ctx->rt, &geometry[grp], (size_t)new_count * values[grp] * sizeof(float),
                                    "densified parameters", &herr);
        cls_status st2 = cls__from_host(ctx, rc, &herr);
        if (st2 == CLS_OK) {
            const clh_arg args[] = {CLH_ARG(nn), CLH_ARG(seed), CLH_ARG(st_step), CLH_MEM(t->plan), CLH_MEM(t->offsets),
                                    CLH_MEM(s->means), CLH_MEM(s->log_scales), CLH_MEM(s->quats),
                                    CLH_MEM(s->opacity_logits), CLH_MEM(geometry[0]), CLH_MEM(geometry[1]),
                                    CLH_MEM(geometry[2]), CLH_MEM(geometry[3])};
            st2 = launch_1d(t, t->densify_geometry, "densify_geometry", n, args, CLS__ARRAY_COUNT(args));
        }
        if (st2 == CLS_OK)
            st2 = finish(ctx, "densification");
        for (int grp = 0; grp < 4; grp++) {
            if (st2 == CLS_OK) {
                clh_buffer_release(params[grp]);
                *params[grp] = geometry[grp];
            } else {
                clh_buffer_release(&geometry[grp]);
            }
        }
        if (st2 != CLS_OK)
            return st2;
    }
    /* SH coefficients, then every Adam moment. (The old SH array is still needed by nothing
     * else; the geometry above was the only kernel that reads several old arrays.) */
    struct array_move {
        clh_buffer *buf;
        cl_uint values, moments;
    } moves[1 + 2 * GROUP_COUNT] = {{&s->sh, stride, 0}};
    for (int grp = 0; grp < GROUP_COUNT; grp++)
        for (int mv = 0; mv < 2; mv++)
            moves[1 + 2 * grp + mv] = (struct array_move){&t->moments[grp][mv], (cl_uint)values[grp], 1};
    for (int a = 0; a < CLS__ARRAY_COUNT(moves); a++) {
        clh_buffer moved = {0};
        rc = clh_buffer_reserve(&ctx->rt, &moved, (size_t)new_count * moves[a].values * sizeof(float),
                                "densified array", &herr);
        st = cls__from_host(ctx, rc, &herr);
        if (st == CLS_OK) {
            const clh_arg args[] = {CLH_ARG(nn), CLH_ARG(moves[a].values), CLH_ARG(moves[a].moments), CLH_MEM(t->plan),
                                    CLH_MEM(t->offsets), CLH_MEM(*moves[a].buf), CLH_MEM(moved)};
            st = launch_1d(t, t->densify_copy, "densify_copy", n, args, CLS__ARRAY_COUNT(args));
        }
        if (st == CLS_OK)
            st = finish(ctx, "densification");
        if (st != CLS_OK) {
            /* The arrays already moved have the new count, the others the old one: the state
             * is no longer consistent, and the caller's error ends the training. */
            clh_buffer_release(&moved);
            return st;
        }
        clh_buffer_release(moves[a].buf);
        *moves[a].buf = moved;
    }
    s->count = new_count;
    clh_buffer *done[] = {&t->plan, &t->counts, &t->offsets, &t->grad_accum, &t->denom};
    for (int i = 0; i < CLS__ARRAY_COUNT(done); i++)
        clh_buffer_release(done[i]);
    st = zeroed_buffer(ctx, &t->grad_accum, new_count * sizeof(float), "grad_accum");
    if (st == CLS_OK)
        st = zeroed_buffer(ctx, &t->denom, new_count * sizeof(cl_uint), "denom");
    return st;
}

static cls_status reset_opacity(cls_trainer *t)
{
    cls_scene *s = t->scene;
    cl_uint n = s->count;
    cl_float reset = logit(CLS_RESET_OPACITY);
    const clh_arg args[] = {CLH_ARG(n), CLH_ARG(reset), CLH_MEM(s->opacity_logits),
                            CLH_MEM(t->moments[GROUP_OPACITY][0]), CLH_MEM(t->moments[GROUP_OPACITY][1])};
    return launch_1d(t, t->opacity_reset, "opacity_reset", n, args, CLS__ARRAY_COUNT(args));
}

cls_status cls__trainer_step(cls_trainer *t, cls_train_stats *stats)
{
    cls_context *ctx = t->ctx;
    cls__ctx_clear(ctx);
    const uint32_t step = t->step + 1; /* 1-based, as the reference counts */
    const size_t view = next_view(t);
    cls_camera cam;
    const uint8_t *photo = NULL;
    cls_error err = {0};
    cls_status st = cls__dataset_view(t->data, CLS_SPLIT_TRAIN, view, &cam, &photo, NULL, &err);
    if (st != CLS_OK)
        return cls__ctx_fail(ctx, st, "%s", err.message);

    /* The photo goes up while nothing waits for it (the dataset keeps the host copy alive). */
    const size_t photo_bytes = (size_t)cam.width * cam.height * 3;
    clh_error herr;
    clh_result rc = clh_buffer_reserve(&ctx->rt, &t->target, photo_bytes, "target", &herr);
    if (rc != CLH_OK)
        return cls__from_host(ctx, rc, &herr);
    cl_int code = clEnqueueWriteBuffer(ctx->rt.queue, t->target.mem, CL_FALSE, 0, photo_bytes, photo, 0, NULL, NULL);
    if (code != CL_SUCCESS)
        return cls__from_host(ctx, clh_fail_cl(&herr, code, "clEnqueueWriteBuffer", "training photo"), &herr);

    /* SH degree: one more band every 1000 steps (INRIA raises it at steps 1000, 2000, 3000). */
    const uint32_t degree = step / CLS_SH_DEGREE_INTERVAL < (uint32_t)(t->desc.sh_degree - 1)
                                ? step / CLS_SH_DEGREE_INTERVAL
                                : (uint32_t)(t->desc.sh_degree - 1);
    cls_render_desc rdesc = {.antialiased = t->desc.antialiased, .sh_degree = (int)degree + 1};
    memcpy(rdesc.background, t->desc.background, sizeof rdesc.background);
    cls_frame *f = t->frame;
    st = cls_render_forward(f, t->scene, &cam, &rdesc);
    if (st == CLS_OK)
        st = cls__frame_reserve_image_grads(f);
    const uint32_t tile = (uint32_t)ctx->params.tile_size;
    if (st == CLS_OK)
        st = cls__loss_compute(ctx, &t->loss, f->image.mem, t->target.mem, cam.width, cam.height, f->tiles_x * tile,
                               f->tiles_y * tile, t->desc.lambda_dssim, f->d_image.mem, t->loss_values.mem, &f->prof);
    if (st != CLS_OK)
        return st;

    /* The backward pass with Adam fused into its last kernel: on a densification step (every
     * 100 steps) only the statistics, and densification instead of an update, as the reference
     * (whose densified parameters have no gradient at that step). */
    cls_scene *s = t->scene;
    const int collect = !t->desc.no_densify && step < CLS_DENSIFY_UNTIL;
    const int densify_now = collect && step > CLS_DENSIFY_FROM && step % CLS_DENSIFY_EVERY == 0;
    cls__adam_fusion fusion = {.hparams = cls__adam_defaults(),
                               .step = step,
                               .apply = !densify_now,
                               .grad_accum = collect ? t->grad_accum.mem : NULL,
                               .denom = collect ? t->denom.mem : NULL,
                               .lr = {position_lr(t, step), CLS_LR_SCALING, CLS_LR_ROTATION, CLS_LR_OPACITY,
                                      CLS_LR_SH_DC, CLS_LR_SH_REST}};
    for (int grp = 0; grp < GROUP_COUNT; grp++)
        for (int mv = 0; mv < 2; mv++)
            fusion.moments[grp][mv] = t->moments[grp][mv].mem;
    if (st == CLS_OK)
        st = cls__backward_adam(f, s, &fusion);
    if (st == CLS_OK && densify_now)
        st = densify(t, step);
    if (st == CLS_OK && collect && step % CLS_OPACITY_RESET_EVERY == 0)
        st = reset_opacity(t);
    const uint32_t n = s->count;
    if (st != CLS_OK)
        return st;
    t->step = step;
    if (stats != NULL) {
        float values[3] = {0, 0, 0};
        rc = clh_buffer_read(&ctx->rt, &t->loss_values, 0, values, sizeof values, "loss", &herr);
        if (rc != CLH_OK)
            return cls__from_host(ctx, rc, &herr);
        const cls_frame_stats fs = f->stats; /* kept when densification trimmed the frame */
        *stats = (cls_train_stats){.step = step, .loss = values[0], .l1 = values[1], .dssim = values[2],
                                   .gaussians = n, .visible = fs.visible, .sh_degree = (int)degree};
        if (ctx->rt.profiling) /* the blocking read above finished the step's commands */
            cls__profile_sum(&f->prof, stats->pass_ms);
    }
    return CLS_OK;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

cls_status cls__trainer_evaluate_view(cls_trainer *t, cls_split split, size_t index, float *psnr, float *ssim,
                                      float *rgb_out)
{
    cls_render_desc rdesc = {.antialiased = t->desc.antialiased, .sh_degree = t->desc.sh_degree};
    memcpy(rdesc.background, t->desc.background, sizeof rdesc.background);
    return cls__evaluate_view_with(t->frame, &t->loss, &t->target, t->scene, t->data, split, index, &rdesc, psnr, ssim,
                                   rgb_out);
}
