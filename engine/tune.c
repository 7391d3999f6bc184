/* The autotuner (docs/tuning.md): for each tunable kernel of engine/params.c's table, every
 * configuration the device allows is built, warmed up once (PoCL compiles each local size at
 * its first launch, outside the profiling window: opencl-engine-notes.md 1.8), checked against
 * the default configuration's output, then timed with profiling events in rounds that visit
 * the candidates round-robin. When the kernel's share of the budget cannot give every
 * candidate its repetitions, the slower half is dropped after each round (successive halving);
 * candidates not even built before the share runs out are left unmeasured (a seeded random
 * sample of the space is what gets built). The winner is the lowest median. Failures to build
 * or run reject the candidate, never the search. */
#include "frame.h"
#include "loss.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TUNE_MAX_CANDIDATES 160
#define TUNE_MAX_REPEATS 31
#define TUNE_DEFAULT_BUDGET 120.0
#define TUNE_DEFAULT_REPEATS 7
/* A challenger must beat the default's median by this factor: noise never displaces it. */
#define TUNE_MIN_GAIN 0.98
/* Part of a kernel's share of the budget that building and warming up candidates may take. */
#define TUNE_ADMIT_SHARE 0.7
/* Weight of a frame-workload candidate against a scan or sort one when the budget is shared
 * out: it builds and runs several programs. */
#define TUNE_FRAME_WEIGHT 4

/* One report per tunable kernel (cls_tune_report.kernels). */
_Static_assert(CLS__TUNE_KERNEL_COUNT <= CLS_TUNE_MAX_KERNELS, "raise CLS_TUNE_MAX_KERNELS in clsplat.h");

enum { CAND_PENDING = 0, CAND_READY, CAND_REJECTED, CAND_DROPPED };

typedef struct candidate {
    cls_params params;
    int state;
    cls_frame *frame;
    cls_grads *grads;
    cls__scan scan;
    cls__sort sort;
    cls__loss loss;
    int reps;
    double times[TUNE_MAX_REPEATS];
    double wall; /* seconds of its last run, for the budget */
} candidate;

typedef struct tuner {
    cls_context *ctx;
    cls_scene *scene;
    cls_camera cam;
    double deadline;
    float *d_rgb;
    /* frame workload: the default's outputs and a scratch copy */
    size_t pixels;
    float *ref_rgb, *ref_alpha, *rgb, *alpha;
    cls_gaussians ref_grads;
    /* scan and sort workloads */
    uint32_t scan_n, sort_n, key_bits;
    uint32_t *in_keys, *in_values, *out_keys, *out_values, *ref_keys, *ref_values;
    clh_buffer in_a, in_b, work_a, work_b;
    /* loss workload (made at its first use): the scene's render by the configuration the loss
     * is tuned with, a random target, dL/dimage and the values; the default's outputs */
    int loss_ready;
    cls_frame *loss_frame;
    uint32_t loss_pitch, loss_rows;
    clh_buffer loss_target, loss_grad, loss_values;
    float *loss_ref_grad, *loss_got_grad, loss_ref_values[3];
    cls__profile prof;
} tuner;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *v, int n)
{
    if (n <= 0)
        return 0.0;
    double sorted[TUNE_MAX_REPEATS];
    memcpy(sorted, v, (size_t)n * sizeof *v);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_double);
    return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

static double objective_ms(const cls__tune_kernel *k, const double ms[CLS_PASS_COUNT])
{
    double sum = 0.0;
    for (int p = 0; p < CLS_PASS_COUNT; p++)
        if (k->objective & (UINT32_C(1) << p))
            sum += ms[p];
    return sum;
}

static cls_status finish(cls_context *ctx)
{
    cl_int code = clFinish(ctx->rt.queue);
    if (code == CL_SUCCESS)
        return CLS_OK;
    clh_error herr;
    return cls__from_host(ctx, clh_fail_cl(&herr, code, "clFinish", "tuning run"), &herr);
}

static void release_candidate(candidate *c)
{
    cls_grads_destroy(c->grads);
    cls_frame_destroy(c->frame);
    cls__scan_release(&c->scan);
    cls__sort_release(&c->sort);
    cls__loss_release(&c->loss);
    c->grads = NULL;
    c->frame = NULL;
}

/* ---- the workloads ------------------------------------------------------------------------ */
static cls_status loss_inputs(tuner *t);

static cls_status prepare(tuner *t, const cls__tune_kernel *k, candidate *c)
{
    cls_context *ctx = t->ctx;
    ctx->params = c->params;
    switch (k->workload) {
    case CLS__WORK_FRAME: {
        cls_status st = cls_frame_create(ctx, &c->frame);
        return st == CLS_OK ? cls_grads_create(ctx, &c->grads) : st;
    }
    case CLS__WORK_SCAN: return cls__scan_init(ctx, &c->scan);
    case CLS__WORK_SORT: return cls__sort_init(ctx, &c->sort);
    case CLS__WORK_LOSS: {
        /* The first candidate is the default: the render is made with its configuration, which
         * shares the layout (tile, pixels_per_item) of every other candidate's. */
        cls_status st = loss_inputs(t);
        return st == CLS_OK ? cls__loss_init(ctx, &c->loss) : st;
    }
    }
    return CLS_ERROR_INVALID_ARGUMENT;
}

/* Largest |a - b| over n values, and largest |b|. */
static void max_diff(const float *a, const float *b, size_t n, double *diff, double *scale)
{
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= d)) /* NaN counts as a difference */
            d = isnan(e) ? INFINITY : e;
        s = fmax(s, fabs((double)b[i]));
    }
    *diff = d;
    *scale = s;
}

/* Compares the frame's outputs with the default's (or records them when reference is set). */
static cls_status check_frame(tuner *t, candidate *c, int reference, char *why, size_t cap)
{
    cls_context *ctx = t->ctx;
    cls_status st = cls_frame_read(c->frame, &(cls_render_output){.rgb = reference ? t->ref_rgb : t->rgb,
                                                                   .alpha = reference ? t->ref_alpha : t->alpha});
    if (st != CLS_OK)
        return st;
    cls_gaussians g = {0};
    st = cls_grads_read(c->grads, &g, NULL, NULL, NULL);
    if (st != CLS_OK)
        return st;
    if (reference) {
        cls_gaussians_free(&t->ref_grads);
        t->ref_grads = g;
        return CLS_OK;
    }
    double d, s;
    max_diff(t->rgb, t->ref_rgb, t->pixels * 3, &d, &s);
    double d2;
    max_diff(t->alpha, t->ref_alpha, t->pixels, &d2, &s);
    if (!(fmax(d, d2) <= CLS__TUNE_IMAGE_TOL)) {
        snprintf(why, cap, "its image differs from the default's by %g (tolerance %g)", fmax(d, d2),
                 CLS__TUNE_IMAGE_TOL);
        cls_gaussians_free(&g);
        return CLS_OK;
    }
    const size_t n = g.count, k = (size_t)cls_sh_coeff_count(g.sh_degree);
    const struct {
        const char *name;
        const float *a, *b;
        size_t count;
    } arrays[] = {
        {"means", g.means, t->ref_grads.means, n * 3},
        {"log_scales", g.log_scales, t->ref_grads.log_scales, n * 3},
        {"quats", g.quats, t->ref_grads.quats, n * 4},
        {"opacity_logits", g.opacity_logits, t->ref_grads.opacity_logits, n},
        {"sh", g.sh, t->ref_grads.sh, n * k * 3},
    };
    for (int i = 0; i < CLS__ARRAY_COUNT(arrays); i++) {
        max_diff(arrays[i].a, arrays[i].b, arrays[i].count, &d, &s);
        if (!(d <= CLS__TUNE_GRAD_TOL * s + 1e-30)) {
            snprintf(why, cap, "its dL/d%s differs from the default's by %g of its largest magnitude %g (tolerance %g)",
                     arrays[i].name, s > 0 ? d / s : d, s, CLS__TUNE_GRAD_TOL);
            break;
        }
    }
    (void)ctx;
    cls_gaussians_free(&g);
    return CLS_OK;
}

/* Compares scan or sort outputs exactly with the default's (or records them). */
static cls_status check_integers(tuner *t, int sort, int reference, char *why, size_t cap)
{
    cls_context *ctx = t->ctx;
    const uint32_t n = sort ? t->sort_n : t->scan_n;
    const size_t bytes = (size_t)n * sizeof(uint32_t);
    uint32_t *keys = reference ? t->ref_keys : t->out_keys, *values = reference ? t->ref_values : t->out_values;
    clh_error herr;
    clh_result hr = clh_buffer_read(&ctx->rt, &t->work_a, 0, keys, bytes, "tuning output", &herr);
    if (hr == CLH_OK && sort)
        hr = clh_buffer_read(&ctx->rt, &t->work_b, 0, values, bytes, "tuning output", &herr);
    if (hr != CLH_OK)
        return cls__from_host(ctx, hr, &herr);
    if (reference)
        return CLS_OK;
    for (uint32_t i = 0; i < n; i++)
        if (keys[i] != t->ref_keys[i] || (sort && values[i] != t->ref_values[i])) {
            snprintf(why, cap, "its output differs from the default's at element %u", i);
            break;
        }
    return CLS_OK;
}

/* Compares the loss's values and dL/dimage with the default's (or records them). */
static cls_status check_loss(tuner *t, int reference, char *why, size_t cap)
{
    cls_context *ctx = t->ctx;
    const size_t n = 3 * (size_t)t->loss_pitch * t->loss_rows;
    float values[3];
    clh_error herr;
    clh_result hr = clh_buffer_read(&ctx->rt, &t->loss_values, 0, values, sizeof values, "tuning loss", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_read(&ctx->rt, &t->loss_grad, 0, reference ? t->loss_ref_grad : t->loss_got_grad,
                             n * sizeof(float), "tuning dL/dimage", &herr);
    if (hr != CLH_OK)
        return cls__from_host(ctx, hr, &herr);
    if (reference) {
        memcpy(t->loss_ref_values, values, sizeof values);
        return CLS_OK;
    }
    static const char *const names[3] = {"loss", "L1", "1 - SSIM"};
    for (int i = 0; i < 3; i++) {
        const double ref = (double)t->loss_ref_values[i], d = fabs((double)values[i] - ref);
        if (!(d <= CLS__TUNE_LOSS_TOL * fabs(ref) + 1e-30)) {
            snprintf(why, cap, "its %s %.9g differs from the default's %.9g by more than %g of it", names[i],
                     (double)values[i], ref, CLS__TUNE_LOSS_TOL);
            return CLS_OK;
        }
    }
    double d, s;
    max_diff(t->loss_got_grad, t->loss_ref_grad, n, &d, &s);
    if (!(d <= CLS__TUNE_GRAD_TOL * s + 1e-30))
        snprintf(why, cap, "its dL/dimage differs from the default's by %g of its largest magnitude %g (tolerance %g)",
                 s > 0 ? d / s : d, s, CLS__TUNE_GRAD_TOL);
    return CLS_OK;
}

/* One run of the candidate's workload: *ms receives the objective's device time. With check,
 * the output is compared (why is set on a mismatch) or, with reference, recorded. */
static cls_status run(tuner *t, const cls__tune_kernel *k, candidate *c, int check, int reference, double *ms,
                      char *why, size_t cap)
{
    cls_context *ctx = t->ctx;
    ctx->params = c->params;
    double pass_ms[CLS_PASS_COUNT];
    cls_status st = CLS_OK;
    if (k->workload == CLS__WORK_FRAME) {
        st = cls_render_forward(c->frame, t->scene, &t->cam, &(cls_render_desc){.background = {0.1f, 0.2f, 0.3f}});
        if (st == CLS_OK)
            st = cls_render_backward(c->frame, t->scene, &(cls_backward_desc){.d_rgb = t->d_rgb}, c->grads);
        if (st == CLS_OK)
            st = cls_frame_timings(c->frame, pass_ms);
        if (st == CLS_OK && check)
            st = check_frame(t, c, reference, why, cap);
    } else if (k->workload == CLS__WORK_LOSS) {
        const cls_frame *f = t->loss_frame;
        if (check) { /* NaN wherever the candidate fails to write */
            const cl_float nan = NAN;
            cl_int code = clEnqueueFillBuffer(ctx->rt.queue, t->loss_grad.mem, &nan, sizeof nan, 0,
                                              t->loss_grad.size, 0, NULL, NULL);
            if (code != CL_SUCCESS) {
                clh_error herr;
                return cls__from_host(ctx, clh_fail_cl(&herr, code, "clEnqueueFillBuffer", "tuning dL/dimage"), &herr);
            }
        }
        cls__profile_reset(&t->prof);
        st = cls__loss_compute(ctx, &c->loss, f->image.mem, t->loss_target.mem, t->cam.width, t->cam.height,
                               t->loss_pitch, t->loss_rows, CLS__LOSS_LAMBDA, t->loss_grad.mem, t->loss_values.mem,
                               &t->prof);
        if (st == CLS_OK)
            st = finish(ctx);
        if (st == CLS_OK)
            cls__profile_sum(&t->prof, pass_ms);
        cls__profile_reset(&t->prof);
        if (st == CLS_OK && check)
            st = check_loss(t, reference, why, cap);
    } else {
        const int sort = k->workload == CLS__WORK_SORT;
        const uint32_t n = sort ? t->sort_n : t->scan_n;
        const size_t bytes = (size_t)n * sizeof(uint32_t);
        clh_error herr;
        clh_result hr = clh_buffer_reserve(&ctx->rt, &t->work_a, bytes, "tuning keys", &herr);
        if (hr == CLH_OK)
            hr = clh_buffer_reserve(&ctx->rt, &t->work_b, bytes, "tuning values", &herr);
        if (hr != CLH_OK)
            return cls__from_host(ctx, hr, &herr);
        cl_int code = clEnqueueCopyBuffer(ctx->rt.queue, t->in_a.mem, t->work_a.mem, 0, 0, bytes, 0, NULL, NULL);
        if (code == CL_SUCCESS && sort)
            code = clEnqueueCopyBuffer(ctx->rt.queue, t->in_b.mem, t->work_b.mem, 0, 0, bytes, 0, NULL, NULL);
        if (code != CL_SUCCESS)
            return cls__from_host(ctx, clh_fail_cl(&herr, code, "clEnqueueCopyBuffer", "tuning input"), &herr);
        cls__profile_reset(&t->prof);
        if (sort)
            st = cls__sort_pairs(ctx, &c->sort, &t->work_a, &t->work_b, n, t->key_bits, &t->prof, CLS_PASS_TILE_SORT);
        else
            st = cls__scan_exclusive(ctx, &c->scan, t->work_a.mem, t->work_a.mem, n, NULL, &t->prof, CLS_PASS_SCAN);
        if (st == CLS_OK)
            st = finish(ctx);
        if (st == CLS_OK)
            cls__profile_sum(&t->prof, pass_ms);
        cls__profile_reset(&t->prof);
        if (sort) { /* the sorter's spare buffers are not kept between runs: memory stays bounded */
            clh_buffer_release(&c->sort.keys_alt);
            clh_buffer_release(&c->sort.values_alt);
        }
        if (st == CLS_OK && check)
            st = check_integers(t, sort, reference, why, cap);
    }
    if (st == CLS_OK)
        *ms = objective_ms(k, pass_ms);
    return st;
}

/* ---- inputs ------------------------------------------------------------------------------- */
static cls_status tuner_init(tuner *t, cls_context *ctx, cls_scene *scene, const cls_camera *cam)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->scene = scene;
    t->cam = *cam;
    t->pixels = (size_t)cam->width * cam->height;
    t->d_rgb = malloc(t->pixels * 3 * sizeof(float));
    t->ref_rgb = malloc(t->pixels * 3 * sizeof(float));
    t->rgb = malloc(t->pixels * 3 * sizeof(float));
    t->ref_alpha = malloc(t->pixels * sizeof(float));
    t->alpha = malloc(t->pixels * sizeof(float));
    if (!t->d_rgb || !t->ref_rgb || !t->rgb || !t->ref_alpha || !t->alpha)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "cls_tune: out of host memory");
    uint32_t seed = 12345u;
    for (size_t i = 0; i < t->pixels * 3; i++) /* a fixed, dense upstream gradient */
        t->d_rgb[i] = ((float)(xorshift32(&seed) >> 8) / 16777216.0f - 0.5f) / (float)(t->pixels * 3);

    /* The sort and scan sizes of this problem: the default configuration's render. */
    cls_frame *frame = NULL;
    cls_status st = cls_frame_create(ctx, &frame);
    if (st == CLS_OK)
        st = cls_render_forward(frame, scene, cam, &(cls_render_desc){0});
    cls_frame_stats stats = {0};
    if (st == CLS_OK)
        st = cls_frame_stats_get(frame, &stats);
    cls_frame_destroy(frame);
    if (st != CLS_OK)
        return st;
    t->scan_n = scene->count > 4096 ? scene->count : 4096;
    t->sort_n = stats.intersections < 4096 ? 4096 : stats.intersections > (1u << 23) ? (1u << 23) : stats.intersections;
    t->key_bits = cls__bits_for(stats.tiles > 1 ? stats.tiles : 2);
    const uint32_t n = t->scan_n > t->sort_n ? t->scan_n : t->sort_n;
    const size_t bytes = (size_t)n * sizeof(uint32_t);
    uint32_t *all = malloc(6 * bytes);
    if (all == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "cls_tune: out of host memory");
    t->in_keys = all;
    t->in_values = all + n;
    t->out_keys = all + 2 * (size_t)n;
    t->out_values = all + 3 * (size_t)n;
    t->ref_keys = all + 4 * (size_t)n;
    t->ref_values = all + 5 * (size_t)n;
    /* Tile keys below 2^key_bits in random order, values the emission slots. */
    const uint32_t mask = (uint32_t)((UINT64_C(1) << t->key_bits) - 1);
    for (uint32_t i = 0; i < n; i++) {
        t->in_keys[i] = xorshift32(&seed) & mask;
        t->in_values[i] = i;
    }
    clh_error herr;
    clh_result hr = clh_buffer_reserve(&ctx->rt, &t->in_a, bytes, "tuning input keys", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_reserve(&ctx->rt, &t->in_b, bytes, "tuning input values", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_write(&ctx->rt, &t->in_a, 0, t->in_keys, bytes, "tuning input keys", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_write(&ctx->rt, &t->in_b, 0, t->in_values, bytes, "tuning input values", &herr);
    return cls__from_host(ctx, hr, &herr);
}

/* The loss workload's inputs, at its first use: the scene rendered with the context's
 * configuration (the loss kernel's default), a random target, the output buffers. */
static cls_status loss_inputs(tuner *t)
{
    if (t->loss_ready)
        return CLS_OK;
    cls_context *ctx = t->ctx;
    cls_frame_destroy(t->loss_frame); /* what an earlier, failed try left */
    t->loss_frame = NULL;
    cls_status st = cls_frame_create(ctx, &t->loss_frame);
    if (st == CLS_OK)
        st = cls_render_forward(t->loss_frame, t->scene, &t->cam,
                                &(cls_render_desc){.background = {0.1f, 0.2f, 0.3f}});
    if (st != CLS_OK) {
        cls_frame_destroy(t->loss_frame);
        t->loss_frame = NULL;
        return st;
    }
    const cls_frame *f = t->loss_frame;
    t->loss_pitch = f->tiles_x * (uint32_t)ctx->params.tile_size;
    t->loss_rows = f->tiles_y * (uint32_t)ctx->params.tile_size;
    const size_t n = 3 * (size_t)t->loss_pitch * t->loss_rows, target_bytes = t->pixels * 3;
    free(t->loss_ref_grad);
    free(t->loss_got_grad);
    t->loss_ref_grad = malloc(n * sizeof(float));
    t->loss_got_grad = malloc(n * sizeof(float));
    uint8_t *target = malloc(target_bytes);
    if (t->loss_ref_grad == NULL || t->loss_got_grad == NULL || target == NULL) {
        free(target);
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "cls_tune: out of host memory");
    }
    uint32_t seed = 0x5eed1055u;
    for (size_t i = 0; i < target_bytes; i++)
        target[i] = (uint8_t)(xorshift32(&seed) >> 24);
    clh_error herr;
    clh_result hr = clh_buffer_reserve(&ctx->rt, &t->loss_target, target_bytes, "tuning target", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_write(&ctx->rt, &t->loss_target, 0, target, target_bytes, "tuning target", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_reserve(&ctx->rt, &t->loss_grad, n * sizeof(float), "tuning dL/dimage", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_reserve(&ctx->rt, &t->loss_values, 3 * sizeof(float), "tuning loss values", &herr);
    free(target);
    if (hr != CLH_OK)
        return cls__from_host(ctx, hr, &herr);
    t->loss_ready = 1;
    return CLS_OK;
}

static void tuner_release(tuner *t)
{
    cls_frame_destroy(t->loss_frame);
    free(t->loss_ref_grad);
    free(t->loss_got_grad);
    clh_buffer_release(&t->loss_target);
    clh_buffer_release(&t->loss_grad);
    clh_buffer_release(&t->loss_values);
    free(t->d_rgb);
    free(t->ref_rgb);
    free(t->rgb);
    free(t->ref_alpha);
    free(t->alpha);
    free(t->in_keys);
    cls_gaussians_free(&t->ref_grads);
    clh_buffer_release(&t->in_a);
    clh_buffer_release(&t->in_b);
    clh_buffer_release(&t->work_a);
    clh_buffer_release(&t->work_b);
    cls__profile_reset(&t->prof);
}

/* ---- the search of one kernel ------------------------------------------------------------- */
/* Builds, warms up and checks one candidate; on failure it is rejected (logged). */
static void admit(tuner *t, const cls__tune_kernel *k, candidate *c, int reference, cls_tune_kernel_report *rep)
{
    cls_context *ctx = t->ctx;
    char params[256], why[512] = "";
    cls__params_format_kernel(k, &c->params, params, sizeof params);
    double t0 = now_s(), ms = 0.0;
    cls_status st = prepare(t, k, c);
    if (st == CLS_OK)
        st = run(t, k, c, 1, reference, &ms, why, sizeof why);
    c->wall = now_s() - t0;
    if (st != CLS_OK)
        snprintf(why, sizeof why, "%s: %s", cls_status_name(st), cls_context_errmsg(ctx));
    if (why[0] != '\0') {
        cls__log(ctx, CLS_LOG_INFO, "tune %s: candidate %s rejected: %s", k->name, params, why);
        c->state = CAND_REJECTED;
        rep->rejected++;
        release_candidate(c);
        /* A failed OpenCL call may leave work queued: let it drain before the next candidate. */
        clFinish(ctx->rt.queue);
        return;
    }
    c->state = CAND_READY;
    cls__log(ctx, CLS_LOG_DEBUG, "tune %s: candidate %s ready (warm-up %.3f ms)", k->name, params, ms);
}

static double candidate_median(const candidate *c) { return median_of(c->times, c->reps); }

/* Drops the slower half of the ready candidates (by their medians so far); the default keeps
 * its times for the comparison. */
static void drop_slower_half(candidate *cands, int count)
{
    int ready = 0;
    double medians[TUNE_MAX_CANDIDATES];
    for (int i = 0; i < count; i++)
        if (cands[i].state == CAND_READY && cands[i].reps > 0)
            medians[ready++] = candidate_median(&cands[i]);
    if (ready < 3)
        return;
    qsort(medians, (size_t)ready, sizeof *medians, compare_double);
    const double cut = medians[(ready - 1) / 2];
    for (int i = 0; i < count; i++)
        if (cands[i].state == CAND_READY && cands[i].reps > 0 && candidate_median(&cands[i]) > cut) {
            cands[i].state = CAND_DROPPED;
            release_candidate(&cands[i]);
        }
}

static cls_status tune_kernel(tuner *t, const cls__tune_kernel *k, cls_params *base, double share, int repeats,
                              cls_tune_kernel_report *rep)
{
    cls_context *ctx = t->ctx;
    candidate *cands = calloc(TUNE_MAX_CANDIDATES, sizeof *cands);
    cls_params *space = calloc(TUNE_MAX_CANDIDATES, sizeof *space);
    if (cands == NULL || space == NULL) {
        free(cands);
        free(space);
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "cls_tune: out of host memory");
    }
    int count = cls__tune_enumerate(k, base, &ctx->rt.info, space, TUNE_MAX_CANDIDATES);
    if (count > TUNE_MAX_CANDIDATES)
        count = TUNE_MAX_CANDIDATES;
    /* A seeded shuffle of the challengers: what a short budget builds is a random sample. */
    uint32_t seed = 0x2545f491u;
    for (int i = count - 1; i > 1; i--) {
        int j = 1 + (int)(xorshift32(&seed) % (uint32_t)i);
        cls_params tmp = space[i];
        space[i] = space[j];
        space[j] = tmp;
    }
    for (int i = 0; i < count; i++)
        cands[i].params = space[i];
    free(space);
    snprintf(rep->name, sizeof rep->name, "%s", k->name);
    rep->candidates = count;
    cls__params_format_kernel(k, base, rep->defaults, sizeof rep->defaults);
    cls__params_format_kernel(k, base, rep->best, sizeof rep->best);

    const double start = now_s();
    double end = start + share;
    if (end > t->deadline)
        end = t->deadline;
    /* The default's output is the reference: without it nothing can be compared. */
    admit(t, k, &cands[0], 1, rep);
    if (cands[0].state != CAND_READY) {
        cls__log(ctx, CLS_LOG_WARN, "tune %s: the default configuration failed; kept without tuning", k->name);
        goto done;
    }
    /* Building and warming up may take most of the share, not all of it: the rest times. */
    const double admit_end = start + TUNE_ADMIT_SHARE * (end - start);
    for (int i = 1; i < count && now_s() < admit_end; i++)
        admit(t, k, &cands[i], 0, rep);

    /* Timed rounds, round-robin over the candidates still in the race. */
    for (int round = 0; round < repeats && round < TUNE_MAX_REPEATS; round++) {
        double round_cost = 0.0;
        int ready = 0;
        for (int i = 0; i < count; i++)
            if (cands[i].state == CAND_READY) {
                round_cost += cands[i].wall;
                ready++;
            }
        if (ready == 0 || now_s() >= end)
            break;
        /* Not enough time left for every remaining round of the whole field: halve it. */
        if (round >= 2 && ready > 2 && now_s() + round_cost * (double)(repeats - round) > end)
            drop_slower_half(cands, count);
        for (int i = 0; i < count && now_s() < end; i++) {
            candidate *c = &cands[i];
            if (c->state != CAND_READY)
                continue;
            double t0 = now_s(), ms = 0.0;
            char why[256] = "";
            cls_status st = run(t, k, c, 0, 0, &ms, why, sizeof why);
            c->wall = now_s() - t0;
            if (st != CLS_OK) {
                cls__log(ctx, CLS_LOG_INFO, "tune %s: a timed run failed, candidate rejected: %s", k->name,
                         cls_context_errmsg(ctx));
                c->state = CAND_REJECTED;
                rep->rejected++;
                release_candidate(c);
                clFinish(ctx->rt.queue);
                continue;
            }
            c->times[c->reps++] = ms;
            rep->timed_runs++;
        }
    }

    /* The winner: the lowest median, if it beats the default's clearly. */
    int best = 0;
    const double default_ms = candidate_median(&cands[0]);
    for (int i = 0; i < count; i++) {
        if (cands[i].reps > 0)
            rep->measured++;
        if (i == 0 || cands[i].reps < 2 || cands[i].state == CAND_REJECTED || cands[0].reps == 0)
            continue;
        double m = candidate_median(&cands[i]);
        if (m < TUNE_MIN_GAIN * default_ms && m < candidate_median(&cands[best]))
            best = i;
    }
    rep->default_ms = default_ms;
    rep->best_ms = cands[0].reps > 0 ? candidate_median(&cands[best]) : 0.0;
    *base = cands[best].params;
    cls__params_format_kernel(k, base, rep->best, sizeof rep->best);
    cls__log(ctx, CLS_LOG_INFO, "tune %s: %d candidates, %d measured, %d rejected; best %s (%.3f ms, default %.3f ms) "
             "in %.1f s", k->name, count, rep->measured, rep->rejected, rep->best, rep->best_ms, rep->default_ms,
             now_s() - start);
done:
    for (int i = 0; i < count; i++)
        release_candidate(&cands[i]);
    free(cands);
    ctx->params = *base;
    return CLS_OK;
}

/* Whether kernel `name` is in the comma-separated list (NULL: every kernel). */
static int selected(const char *list, const char *name)
{
    if (list == NULL || list[0] == '\0')
        return 1;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, len) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static cls_status check_kernel_list(cls_context *ctx, const char *list)
{
    if (list == NULL)
        return CLS_OK;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int known = 0;
        for (int i = 0; i < CLS__TUNE_KERNEL_COUNT; i++)
            known |= strlen(cls__tune_kernels[i].name) == n && strncmp(p, cls__tune_kernels[i].name, n) == 0;
        if (!known) {
            char names[256] = "";
            for (int i = 0; i < CLS__TUNE_KERNEL_COUNT; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                         cls__tune_kernels[i].name);
            return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_tune: unknown kernel '%.*s' (known: %s)", (int)n,
                                 p, names);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return CLS_OK;
}

cls_status cls_tune(cls_context *ctx, cls_scene *scene, const cls_camera *cam, const cls_tune_desc *desc,
                    cls_tune_report *report)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, scene != NULL && cam != NULL && report != NULL);
    CLS__CHECK_ARG(ctx, scene->ctx == ctx);
    cls_tune_desc d = desc != NULL ? *desc : (cls_tune_desc){0};
    CLS__CHECK_ARG(ctx, d.budget_seconds >= 0.0 && d.repeats >= 0);
    if (d.budget_seconds == 0.0)
        d.budget_seconds = TUNE_DEFAULT_BUDGET;
    if (d.repeats == 0)
        d.repeats = TUNE_DEFAULT_REPEATS;
    if (d.repeats > TUNE_MAX_REPEATS)
        d.repeats = TUNE_MAX_REPEATS;
    if (!ctx->rt.profiling)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "cls_tune needs device timers: create the context with enable_profiling = 1");
    cls_status st = check_kernel_list(ctx, d.kernels);
    if (st != CLS_OK)
        return st;
    memset(report, 0, sizeof *report);
    const double start = now_s();
    tuner t;
    const cls_params before = ctx->params;
    st = tuner_init(&t, ctx, scene, cam);
    t.deadline = start + d.budget_seconds;
    if (st != CLS_OK) {
        tuner_release(&t);
        return st;
    }
    /* Shares of the budget in proportion to the sizes of the spaces (with the defaults). */
    int sizes[CLS__TUNE_KERNEL_COUNT], total = 0;
    for (int i = 0; i < CLS__TUNE_KERNEL_COUNT; i++) {
        sizes[i] = selected(d.kernels, cls__tune_kernels[i].name)
                       ? cls__tune_enumerate(&cls__tune_kernels[i], &ctx->params, &ctx->rt.info, NULL, 0)
                       : 0;
        if (cls__tune_kernels[i].workload == CLS__WORK_FRAME)
            sizes[i] *= TUNE_FRAME_WEIGHT;
        total += sizes[i];
    }
    cls_params best = ctx->params;
    for (int i = 0; i < CLS__TUNE_KERNEL_COUNT && st == CLS_OK; i++) {
        if (sizes[i] == 0)
            continue;
        const double left = t.deadline - now_s();
        const double share = total > 0 ? left * (double)sizes[i] / (double)total : left;
        total -= sizes[i];
        cls_tune_kernel_report *rep = &report->kernels[report->kernel_count++];
        if (left <= 0.0) {
            snprintf(rep->name, sizeof rep->name, "%s", cls__tune_kernels[i].name);
            cls__params_format_kernel(&cls__tune_kernels[i], &best, rep->defaults, sizeof rep->defaults);
            cls__params_format_kernel(&cls__tune_kernels[i], &best, rep->best, sizeof rep->best);
            continue; /* the budget is spent: the remaining kernels keep their defaults */
        }
        st = tune_kernel(&t, &cls__tune_kernels[i], &best, share, d.repeats, rep);
    }
    tuner_release(&t);
    if (st != CLS_OK) {
        ctx->params = before;
        return st;
    }
    ctx->params = best;
    report->bucket = cls__tune_bucket((uint64_t)cam->width * cam->height);
    char origin[1200];
    if (!d.no_cache_write) {
        st = cls__tune_store(ctx, (uint64_t)cam->width * cam->height, &best, report->path, sizeof report->path);
        if (st != CLS_OK) {
            report->path[0] = '\0';
            return st;
        }
        snprintf(origin, sizeof origin, "tuned (%s, 2^%d px)", report->path, report->bucket);
    } else {
        snprintf(origin, sizeof origin, "tuned (not saved)");
    }
    cls__config_describe(ctx, origin);
    report->seconds = now_s() - start;
    return CLS_OK;
}
