/* The autotuner (docs/tuning.md): every configuration of every tunable kernel that the device
 * allows computes what the default configuration computes (run under Oclgrind's race and
 * bounds checks too, on small problems), the results file round-trips and is ignored when
 * corrupt, stale or invalid, a candidate that fails to build is rejected without failing the
 * search, and the search keeps to its budget. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/frame.h"
#include "engine/loss.h"
#include "test_util.h"

/* Faint Gaussians in front of an identity camera, some straddling the borders: many per tile,
 * so the batch loops run more than once and pixels stay unsaturated across batches. */
static void random_scene(cls_gaussians *g, size_t n, uint32_t seed)
{
    cls_error err = {0};
    ck_assert_int_eq(cls_gaussians_alloc(g, n, 2, &err), CLS_OK);
    const size_t k = (size_t)cls_sh_coeff_count(2);
    for (size_t i = 0; i < n; i++) {
        float z = test_uniform(&seed, 1.5f, 6.0f);
        g->means[i * 3] = test_uniform(&seed, -0.8f, 0.8f) * z;
        g->means[i * 3 + 1] = test_uniform(&seed, -0.6f, 0.6f) * z;
        g->means[i * 3 + 2] = z;
        for (int a = 0; a < 3; a++)
            g->log_scales[i * 3 + (size_t)a] = test_uniform(&seed, -4.5f, -1.5f);
        for (int a = 0; a < 4; a++)
            g->quats[i * 4 + (size_t)a] = test_uniform(&seed, -1.0f, 1.0f);
        g->opacity_logits[i] = test_uniform(&seed, -3.0f, 1.0f);
        for (size_t c = 0; c < k * 3; c++)
            g->sh[i * k * 3 + c] = test_uniform(&seed, -1.0f, 1.0f) * (c < 3 ? 1.0f : 0.3f);
    }
}

static cls_camera test_camera(uint32_t w, uint32_t h)
{
    return (cls_camera){.width = w, .height = h, .fx = 0.9f * (float)w, .fy = 0.9f * (float)w,
                        .cx = 0.5f * (float)w + 3.0f, .cy = 0.5f * (float)h - 2.0f,
                        .rotation = {1, 0, 0, 0, 1, 0, 0, 0, 1}};
}

static cls_context *open_context(const cls_context_desc *desc)
{
    cls_context *ctx = NULL;
    cls_status st = cls_context_create(desc, &ctx);
    ck_assert_msg(st == CLS_OK, "%s", cls_context_errmsg(ctx));
    return ctx;
}

/* ---- every configuration agrees with the default ------------------------------------------ */
typedef struct frame_result {
    float *rgb, *alpha;
    cls_gaussians grads;
} frame_result;

static void frame_run(cls_context *ctx, cls_scene *scene, const cls_camera *cam, const float *d_rgb, frame_result *r)
{
    cls_frame *frame = NULL;
    cls_grads *grads = NULL;
    const size_t pixels = (size_t)cam->width * cam->height;
    ck_assert_msg(cls_frame_create(ctx, &frame) == CLS_OK, "%s", cls_context_errmsg(ctx));
    ck_assert_int_eq(cls_grads_create(ctx, &grads), CLS_OK);
    ck_assert_msg(cls_render_forward(frame, scene, cam, &(cls_render_desc){.background = {0.2f, 0.4f, 0.6f}}) == CLS_OK,
                  "%s", cls_context_errmsg(ctx));
    ck_assert_msg(cls_render_backward(frame, scene, &(cls_backward_desc){.d_rgb = d_rgb}, grads) == CLS_OK, "%s",
                  cls_context_errmsg(ctx));
    r->rgb = malloc(pixels * 3 * sizeof(float));
    r->alpha = malloc(pixels * sizeof(float));
    ck_assert(r->rgb != NULL && r->alpha != NULL);
    ck_assert_int_eq(cls_frame_read(frame, &(cls_render_output){.rgb = r->rgb, .alpha = r->alpha}), CLS_OK);
    ck_assert_int_eq(cls_grads_read(grads, &r->grads, NULL, NULL, NULL), CLS_OK);
    cls_grads_destroy(grads);
    cls_frame_destroy(frame);
}

static void frame_free(frame_result *r)
{
    free(r->rgb);
    free(r->alpha);
    cls_gaussians_free(&r->grads);
}

/* max |a - b| / scale over n values (NaN counts as infinitely wrong). */
static double rel_diff(const float *a, const float *b, size_t n, int relative)
{
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        d = isnan(e) ? INFINITY : fmax(d, e);
        s = fmax(s, fabs((double)b[i]));
    }
    return relative ? (s > 0.0 ? d / s : d) : d;
}

static void frame_compare(const frame_result *got, const frame_result *ref, size_t pixels, const char *what)
{
    double e = fmax(rel_diff(got->rgb, ref->rgb, pixels * 3, 0), rel_diff(got->alpha, ref->alpha, pixels, 0));
    ck_assert_msg(e <= CLS__TUNE_IMAGE_TOL, "%s: image differs from the default's by %g", what, e);
    const size_t n = ref->grads.count, k = (size_t)cls_sh_coeff_count(ref->grads.sh_degree);
    ck_assert_uint_eq(got->grads.count, n);
    const struct {
        const char *name;
        const float *a, *b;
        size_t count;
    } arrays[] = {
        {"means", got->grads.means, ref->grads.means, n * 3},
        {"log_scales", got->grads.log_scales, ref->grads.log_scales, n * 3},
        {"quats", got->grads.quats, ref->grads.quats, n * 4},
        {"opacity_logits", got->grads.opacity_logits, ref->grads.opacity_logits, n},
        {"sh", got->grads.sh, ref->grads.sh, n * k * 3},
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        double r = rel_diff(arrays[i].a, arrays[i].b, arrays[i].count, 1);
        ck_assert_msg(r <= CLS__TUNE_GRAD_TOL, "%s: dL/d%s differs by %g of its largest magnitude", what,
                      arrays[i].name, r);
    }
}

/* Sort or scan of random values with one configuration, against the CPU's answer. */
static void integer_check(cls_context *ctx, int sort, uint32_t n, const char *what)
{
    uint32_t *keys = malloc(n * sizeof(uint32_t)), *values = malloc(n * sizeof(uint32_t));
    uint32_t *out_k = malloc(n * sizeof(uint32_t)), *out_v = malloc(n * sizeof(uint32_t));
    ck_assert(keys && values && out_k && out_v);
    uint32_t seed = 777u;
    const uint32_t bits = 11;
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = sort ? test_xorshift32(&seed) & ((1u << bits) - 1) : test_xorshift32(&seed) % 17u;
        values[i] = i;
    }
    clh_buffer kb = {0}, vb = {0};
    clh_error herr;
    const size_t bytes = n * sizeof(uint32_t);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &kb, bytes, "keys", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &vb, bytes, "values", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, &kb, 0, keys, bytes, "keys", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, &vb, 0, values, bytes, "values", &herr), CLH_OK);
    if (sort) {
        cls__sort s;
        ck_assert_msg(cls__sort_init(ctx, &s) == CLS_OK, "%s: %s", what, cls_context_errmsg(ctx));
        ck_assert_msg(cls__sort_pairs(ctx, &s, &kb, &vb, n, bits, NULL, CLS_PASS_TILE_SORT) == CLS_OK, "%s", what);
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &kb, 0, out_k, bytes, "keys", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &vb, 0, out_v, bytes, "values", &herr), CLH_OK);
        cls__sort_release(&s);
        /* Stable counting sort on the CPU: the exact expected output. */
        uint32_t *count = calloc((1u << bits) + 1, sizeof(uint32_t));
        ck_assert(count != NULL);
        for (uint32_t i = 0; i < n; i++)
            count[keys[i] + 1]++;
        for (uint32_t d = 0; d < (1u << bits); d++)
            count[d + 1] += count[d];
        for (uint32_t i = 0; i < n; i++) {
            uint32_t at = count[keys[i]]++;
            ck_assert_msg(out_k[at] == keys[i] && out_v[at] == i, "%s: wrong pair at %u", what, at);
        }
        free(count);
    } else {
        cls__scan s;
        ck_assert_msg(cls__scan_init(ctx, &s) == CLS_OK, "%s: %s", what, cls_context_errmsg(ctx));
        ck_assert_msg(cls__scan_exclusive(ctx, &s, kb.mem, vb.mem, n, NULL, NULL, CLS_PASS_SCAN) == CLS_OK, "%s", what);
        ck_assert_int_eq(clh_buffer_read(&ctx->rt, &vb, 0, out_v, bytes, "sums", &herr), CLH_OK);
        cls__scan_release(&s);
        uint32_t sum = 0;
        for (uint32_t i = 0; i < n; i++) {
            ck_assert_msg(out_v[i] == sum, "%s: prefix sum %u is %u, want %u", what, i, out_v[i], sum);
            sum += keys[i];
        }
    }
    clh_buffer_release(&kb);
    clh_buffer_release(&vb);
    free(keys);
    free(values);
    free(out_k);
    free(out_v);
}

/* The loss (forward and dL/dimage) of a render against a random target with the context's
 * configuration: values[3] and the gradient (3 * pitch * rows floats, malloc'ed). */
typedef struct loss_result {
    float values[3];
    float *grad;
    size_t count;
} loss_result;

static void loss_run(cls_context *ctx, cls_frame *frame, const cls_camera *cam, cl_mem target, loss_result *r,
                     const char *what)
{
    const uint32_t pitch = frame->tiles_x * (uint32_t)ctx->params.tile_size;
    const uint32_t rows = frame->tiles_y * (uint32_t)ctx->params.tile_size;
    r->count = 3 * (size_t)pitch * rows;
    r->grad = malloc(r->count * sizeof(float));
    ck_assert(r->grad != NULL);
    clh_buffer grad = {0}, values = {0};
    clh_error herr;
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &grad, r->count * sizeof(float), "dL/dimage", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &values, 3 * sizeof(float), "loss values", &herr), CLH_OK);
    const cl_float nan = NAN; /* what the loss fails to write stays NaN */
    ck_assert_int_eq(clEnqueueFillBuffer(ctx->rt.queue, grad.mem, &nan, sizeof nan, 0, grad.size, 0, NULL, NULL),
                     CL_SUCCESS);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s: %s", what, cls_context_errmsg(ctx));
    ck_assert_msg(cls__loss_compute(ctx, &loss, frame->image.mem, target, cam->width, cam->height, pitch, rows,
                                    CLS__LOSS_LAMBDA, grad.mem, values.mem, NULL) == CLS_OK,
                  "%s: %s", what, cls_context_errmsg(ctx));
    ck_assert_int_eq(clh_buffer_read(&ctx->rt, &values, 0, r->values, sizeof r->values, "loss values", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_read(&ctx->rt, &grad, 0, r->grad, r->count * sizeof(float), "dL/dimage", &herr),
                     CLH_OK);
    cls__loss_release(&loss);
    clh_buffer_release(&grad);
    clh_buffer_release(&values);
}

/* Within the tuner's tolerances (docs/tuning.md); returns whether dL/dimage is bit-identical. */
static int loss_compare(const loss_result *got, const loss_result *ref, const char *what)
{
    for (int i = 0; i < 3; i++) {
        const double d = fabs((double)got->values[i] - (double)ref->values[i]);
        ck_assert_msg(d <= CLS__TUNE_LOSS_TOL * fabs((double)ref->values[i]) + 1e-30,
                      "%s: loss value %d is %.9g, the default's %.9g", what, i, (double)got->values[i],
                      (double)ref->values[i]);
    }
    ck_assert_uint_eq(got->count, ref->count);
    const double r = rel_diff(got->grad, ref->grad, ref->count, 1);
    ck_assert_msg(r <= CLS__TUNE_GRAD_TOL, "%s: dL/dimage differs by %g of its largest magnitude", what, r);
    return memcmp(got->grad, ref->grad, ref->count * sizeof(float)) == 0;
}

/* CLS_TUNE_TEST_KERNEL=name limits the test to one tunable kernel (ctest runs them in
 * parallel under Oclgrind). */
static int kernel_wanted(const char *name)
{
    const char *only = getenv("CLS_TUNE_TEST_KERNEL");
    return only == NULL || only[0] == '\0' || strcmp(only, name) == 0;
}

START_TEST(test_every_configuration_agrees)
{
    const int small = test_small_mode();
    const uint32_t w = small ? 37 : 211, h = small ? 29 : 133;
    const cls_camera cam = test_camera(w, h);
    const size_t pixels = (size_t)w * h;
    cls_gaussians g = {0};
    random_scene(&g, small ? 300 : 3000, 4242u);
    float *d_rgb = malloc(pixels * 3 * sizeof(float));
    ck_assert(d_rgb != NULL);
    uint32_t seed = 99u;
    for (size_t i = 0; i < pixels * 3; i++)
        d_rgb[i] = test_uniform(&seed, -1.0f, 1.0f);

    cls_context *ctx = open_context(&(cls_context_desc){.disable_tuning = 1});
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    const cls_params defaults = ctx->params;
    /* The reference frame only when a frame kernel is tested: the scan and sort run under
     * Oclgrind's uninitialised-value checks, which cannot run the vector backward rasterizer
     * (see engine_backward_tests.cmake). */
    int need_frame = 0;
    for (int k = 0; k < CLS__TUNE_KERNEL_COUNT; k++)
        need_frame |= kernel_wanted(cls__tune_kernels[k].name) && cls__tune_kernels[k].workload == CLS__WORK_FRAME;
    frame_result ref = {0};
    if (need_frame)
        frame_run(ctx, scene, &cam, d_rgb, &ref);
    /* The loss: of the default configuration's render against a random target. */
    int need_loss = 0;
    for (int k = 0; k < CLS__TUNE_KERNEL_COUNT; k++)
        need_loss |= kernel_wanted(cls__tune_kernels[k].name) && cls__tune_kernels[k].workload == CLS__WORK_LOSS;
    cls_frame *loss_frame = NULL;
    clh_buffer target = {0};
    loss_result loss_ref = {.count = 0};
    if (need_loss) {
        ck_assert_int_eq(cls_frame_create(ctx, &loss_frame), CLS_OK);
        ck_assert_int_eq(cls_render_forward(loss_frame, scene, &cam, &(cls_render_desc){.background = {0.2f, 0.4f, 0.6f}}),
                         CLS_OK);
        uint8_t *rgb8 = malloc(pixels * 3);
        ck_assert(rgb8 != NULL);
        for (size_t i = 0; i < pixels * 3; i++)
            rgb8[i] = (uint8_t)(test_xorshift32(&seed) >> 24);
        clh_error herr;
        ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &target, pixels * 3, "target", &herr), CLH_OK);
        ck_assert_int_eq(clh_buffer_write(&ctx->rt, &target, 0, rgb8, pixels * 3, "target", &herr), CLH_OK);
        free(rgb8);
        loss_run(ctx, loss_frame, &cam, target.mem, &loss_ref, "loss: default");
    }

    cls_params *space = calloc(256, sizeof *space);
    ck_assert(space != NULL);
    int checked = 0;
    for (int k = 0; k < CLS__TUNE_KERNEL_COUNT; k++) {
        const cls__tune_kernel *kern = &cls__tune_kernels[k];
        if (!kernel_wanted(kern->name))
            continue;
        int count = cls__tune_enumerate(kern, &defaults, &ctx->rt.info, space, 256);
        ck_assert_int_le(count, 256);
        ck_assert_int_ge(count, 2); /* every kernel has something to choose from on this device */
        for (int c = 0; c < count; c++) {
            char what[300], params[200];
            cls__params_format_kernel(kern, &space[c], params, sizeof params);
            snprintf(what, sizeof what, "%s: %s", kern->name, params);
            ck_assert_msg(cls__params_check(&space[c], &ctx->rt.info, NULL, 0), "%s: enumerated but invalid", what);
            ctx->params = space[c];
            if (kern->workload == CLS__WORK_FRAME) {
                frame_result got = {0};
                frame_run(ctx, scene, &cam, d_rgb, &got);
                frame_compare(&got, &ref, pixels, what);
                frame_free(&got);
            } else if (kern->workload == CLS__WORK_LOSS) {
                loss_result got = {.count = 0};
                loss_run(ctx, loss_frame, &cam, target.mem, &got, what);
                const int identical = loss_compare(&got, &loss_ref, what);
                printf("%s: loss %.9g (default %.9g), dL/dimage %s\n", what, (double)got.values[0],
                       (double)loss_ref.values[0], identical ? "bit-identical" : "within the tolerance");
                free(got.grad);
            } else {
                integer_check(ctx, kern->workload == CLS__WORK_SORT, small ? 5000 : 300000, what);
            }
            checked++;
        }
        printf("%s: %d configurations agree with the default\n", kern->name, count);
    }
    ck_assert_int_gt(checked, 0);
    ctx->params = defaults;
    free(space);
    free(loss_ref.grad);
    clh_buffer_release(&target);
    cls_frame_destroy(loss_frame);
    frame_free(&ref);
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    cls_gaussians_free(&g);
    free(d_rgb);
}
END_TEST

/* ---- the results file ----------------------------------------------------------------------- */
typedef struct log_capture {
    char text[8192];
} log_capture;

static void capture(void *user, cls_log_level level, const char *message)
{
    (void)level;
    log_capture *c = user;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", message);
}

static void fresh_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/tune-%s-%ld", CLS_TEST_TMP_DIR, name, (long)getpid());
    mkdir(out, 0755);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = calloc(1, 65536);
    ck_assert(buf != NULL);
    size_t n = fread(buf, 1, 65535, f);
    (void)n;
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(text, 1, n, f), n);
    fclose(f);
}

/* Rewrites the checksum line so that only the deliberate change is wrong. */
static void fix_checksum(char *text)
{
    char *sum = strstr(text, "checksum ");
    ck_assert(sum != NULL);
    snprintf(sum, 40, "checksum %016llx\n", (unsigned long long)clh_hash64(text, (size_t)(sum - text), 0));
}

static int same(const cls_params *a, const cls_params *b)
{
    for (int i = 0; i < CLS__P_COUNT; i++)
        if (cls__param_get(a, (cls__param_id)i) != cls__param_get(b, (cls__param_id)i))
            return 0;
    return 1;
}

START_TEST(test_cache_round_trip_and_corruption)
{
    char dir[1100];
    fresh_dir(dir, sizeof dir, "cache");
    log_capture log = {{0}};
    const cls_context_desc desc = {.tune_dir = dir, .log = {.fn = capture, .user_data = &log, .level = CLS_LOG_DEBUG}};

    cls_context *ctx = open_context(&desc);
    const cls_params defaults = ctx->params;
    ck_assert_msg(strncmp(cls_context_config(ctx), "defaults", 8) == 0, "%s", cls_context_config(ctx));
    /* A valid, non-default configuration for two size buckets. */
    cls_params tuned = defaults, small_tuned = defaults;
    tuned.raster_batch = defaults.raster_batch == 32 ? 16 : 32;
    tuned.sort_radix_bits = 5;
    small_tuned.gaussian_group_size = defaults.gaussian_group_size == 32 ? 128 : 32;
    ck_assert(cls__params_check(&tuned, &ctx->rt.info, NULL, 0));
    char path[1200], path2[1200];
    ck_assert_int_eq(cls__tune_store(ctx, 1920 * 1080, &tuned, path, sizeof path), CLS_OK);
    ck_assert_int_eq(cls__tune_store(ctx, 64 * 64, &small_tuned, path2, sizeof path2), CLS_OK);
    ck_assert_str_eq(path, path2);
    cls_context_destroy(ctx);

    /* Round trip: the largest bucket without a size hint, the nearest one with it. */
    ctx = open_context(&desc);
    ck_assert(same(&ctx->params, &tuned));
    ck_assert_msg(strncmp(cls_context_config(ctx), "tuned", 5) == 0, "%s", cls_context_config(ctx));
    cls_context_destroy(ctx);
    cls_context_desc hinted = desc;
    hinted.tune_pixels = 80 * 60;
    ctx = open_context(&hinted);
    ck_assert(same(&ctx->params, &small_tuned));
    cls_context_destroy(ctx);
    /* disable_tuning forces the defaults. */
    cls_context_desc off = desc;
    off.disable_tuning = 1;
    ctx = open_context(&off);
    ck_assert(same(&ctx->params, &defaults));
    cls_context_destroy(ctx);

    char *good = slurp(path);
    const size_t len = strlen(good);
    struct {
        const char *name, *expect;
    } cases[] = {{"flipped byte", "corrupt"}, {"truncated", "corrupt"}, {"stale driver", "stale"},
                 {"stale sources", "stale"},  {"invalid value", "not valid"}, {"unknown parameter", "corrupt"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *bad = calloc(1, 65536);
        ck_assert(bad != NULL);
        memcpy(bad, good, len);
        size_t n = len;
        if (c == 0) {
            char *entry = strstr(bad, "raster_batch=");
            entry[strlen("raster_batch=")] ^= 0x01; /* a digit changes, the checksum does not */
        } else if (c == 1) {
            n = len / 2;
        } else if (c == 2 || c == 3) {
            char *line = strstr(bad, c == 2 ? "\ndriver " : "\nsources ");
            line[strlen(c == 2 ? "\ndriver " : "\nsources ")] ^= 0x02;
            fix_checksum(bad);
            n = strlen(bad);
        } else if (c == 4) {
            /* A tile of 3 pixels: well-formed, not a configuration this device can run. */
            char *entry = strstr(strstr(bad, "bucket=21"), "tile_size=");
            memmove(entry + strlen("tile_size=3"), entry + strlen("tile_size=16"), strlen(entry + strlen("tile_size=16")) + 1);
            memcpy(entry, "tile_size=3", strlen("tile_size=3"));
            fix_checksum(bad);
            n = strlen(bad);
        } else {
            char *entry = strstr(bad, "raster_batch=");
            memcpy(entry, "raster_batcX=", strlen("raster_batcX="));
            fix_checksum(bad);
            n = strlen(bad);
        }
        spit(path, bad, n);
        log.text[0] = '\0';
        ctx = open_context(&desc);
        ck_assert_msg(same(&ctx->params, &defaults), "%s: the entry was used", cases[c].name);
        ck_assert_msg(strstr(log.text, cases[c].expect) != NULL, "%s: the log says:\n%s", cases[c].name, log.text);
        ck_assert_msg(strncmp(cls_context_config(ctx), "defaults", 8) == 0, "%s", cls_context_config(ctx));
        cls_context_destroy(ctx);
        free(bad);
    }
    /* Writing over a corrupt file replaces it with a valid one. */
    ctx = open_context(&desc);
    ck_assert_int_eq(cls__tune_store(ctx, 1920 * 1080, &tuned, path, sizeof path), CLS_OK);
    cls_context_destroy(ctx);
    ctx = open_context(&desc);
    ck_assert(same(&ctx->params, &tuned));
    cls_context_destroy(ctx);
    free(good);
    remove(path);
    rmdir(dir);
}
END_TEST

/* ---- the search -------------------------------------------------------------------------- */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void tune_scene(cls_context *ctx, cls_scene **scene, cls_camera *cam)
{
    cls_gaussians g = {0};
    random_scene(&g, 4000, 555u);
    *cam = test_camera(160, 120);
    ck_assert_int_eq(cls_scene_create(ctx, &g, scene), CLS_OK);
    cls_gaussians_free(&g);
}

START_TEST(test_budget_is_kept)
{
    char dir[1100];
    fresh_dir(dir, sizeof dir, "budget");
    cls_context *ctx = open_context(&(cls_context_desc){.tune_dir = dir, .enable_profiling = 1});
    cls_scene *scene = NULL;
    cls_camera cam;
    tune_scene(ctx, &scene, &cam);
    /* One candidate's cost: a search whose budget ends after the first kernel's default. */
    cls_tune_report report;
    double t0 = now_s();
    ck_assert_int_eq(cls_tune(ctx, scene, &cam, &(cls_tune_desc){.budget_seconds = 1e-3, .no_cache_write = 1},
                              &report), CLS_OK);
    const double one = now_s() - t0;
    ck_assert_int_eq(report.kernel_count, CLS__TUNE_KERNEL_COUNT);
    ck_assert_int_le(report.kernels[1].measured, 0); /* nothing after the first kernel's default */

    const double budget = 2.0;
    t0 = now_s();
    ck_assert_int_eq(cls_tune(ctx, scene, &cam, &(cls_tune_desc){.budget_seconds = budget}, &report), CLS_OK);
    const double took = now_s() - t0;
    printf("budget %.1f s: the search took %.2f s (one candidate with setup %.2f s)\n", budget, took, one);
    /* Budget plus one candidate (a cold PoCL build of one configuration is a few seconds). */
    ck_assert_msg(took <= budget + fmax(2.0 * one, 5.0), "a %.1f s budget took %.2f s", budget, took);
    ck_assert(report.path[0] != '\0');
    ck_assert(cls__params_check(&ctx->params, &ctx->rt.info, NULL, 0));
    ck_assert_msg(strncmp(cls_context_config(ctx), "tuned", 5) == 0, "%s", cls_context_config(ctx));
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    /* What the search wrote is what the next context loads. */
    cls_context *again = open_context(&(cls_context_desc){.tune_dir = dir});
    ck_assert_msg(strncmp(cls_context_config(again), "tuned", 5) == 0, "%s", cls_context_config(again));
    cls_context_destroy(again);
    remove(report.path);
    rmdir(dir);
}
END_TEST

/* Copies cl/ into dir, with rasterize.cl refusing to build with a batch of 32. */
static void broken_kernels(const char *dir)
{
    static const char *const names[] = {"common", "project", "scan", "radix_sort", "tiles", "rasterize",
                                        "rasterize_backward", "project_backward", "loss", "densify", "knn",
                                        "bench"};
    mkdir(dir, 0755);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char from[1400], to[1400];
        snprintf(from, sizeof from, "%s/../cl/%s.cl", CLS_SAMPLE_DIR, names[i]);
        snprintf(to, sizeof to, "%s/%s.cl", dir, names[i]);
        char *text = slurp(from);
        size_t n = strlen(text);
        if (strcmp(names[i], "rasterize") == 0) {
            const char *poison = "\n#if CLS_BATCH == 32\n#error \"test_tune: this candidate must be rejected\"\n#endif\n";
            memcpy(text + n, poison, strlen(poison) + 1);
            n += strlen(poison);
        }
        spit(to, text, n);
        free(text);
    }
}

START_TEST(test_failing_candidate_is_rejected)
{
    char dir[1100], kernels[1200];
    fresh_dir(dir, sizeof dir, "reject");
    snprintf(kernels, sizeof kernels, "%s/cl", dir);
    broken_kernels(kernels);
    cls_context *ctx = open_context(&(cls_context_desc){.tune_dir = dir, .enable_profiling = 1, .kernel_dir = kernels});
    cls_scene *scene = NULL;
    cls_camera cam;
    tune_scene(ctx, &scene, &cam);
    cls_tune_report report;
    ck_assert_int_eq(cls_tune(ctx, scene, &cam,
                              &(cls_tune_desc){.budget_seconds = 120, .repeats = 3, .kernels = "rasterize",
                                               .no_cache_write = 1},
                              &report),
                     CLS_OK);
    ck_assert_int_eq(report.kernel_count, 1);
    ck_assert_str_eq(report.kernels[0].name, "rasterize");
    ck_assert_int_eq(report.kernels[0].rejected, 2); /* batch 32 with either row shape */
    ck_assert_int_eq(report.kernels[0].measured, report.kernels[0].candidates - 2);
    ck_assert_int_ne(ctx->params.raster_batch, 32);
    /* An unknown kernel name is an argument error, not a crash. */
    ck_assert_int_eq(cls_tune(ctx, scene, &cam, &(cls_tune_desc){.kernels = "rasterise"}, &report),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "rasterise"));
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
}
END_TEST

/* The kernel sources each get only the defines they read (the rest would rebuild them for
 * nothing), and the ones they do read. */
START_TEST(test_defines_follow_the_sources)
{
    cls_params p = {.tile_size = 8, .pixels_per_item = 4, .raster_batch = 32, .sort_radix_bits = 5,
                    .sort_group_size = 16, .sort_items = 64, .scan_group_size = 64, .scan_items = 16};
    char out[512];
    cls__params_defines(&p, "__kernel void k(void) { int x = CLS_SCAN_WG * CLS_SCAN_ITEMS; }", out, sizeof out);
    ck_assert_str_eq(out, "-DCLS_TILE=8 -DCLS_SCAN_WG=64 -DCLS_SCAN_ITEMS=16"); /* the tile always */
    cls__params_defines(&p, "CLS_TILE_RECT(a) vecf v; MANY", out, sizeof out);
    ck_assert_str_eq(out, "-DCLS_TILE=8 -DCLS_PIXELS_PER_ITEM=4");
    cls__params_defines(&p, "float f; /* nothing */", out, sizeof out);
    ck_assert_str_eq(out, "-DCLS_TILE=8");
    cls__params_defines(&p, NULL, out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, "-DCLS_BATCH=32"));
    ck_assert_ptr_nonnull(strstr(out, "-DCLS_RADIX_BITS=5"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("tune");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_defines_follow_the_sources);
    tcase_add_test(tc, test_cache_round_trip_and_corruption);
    tcase_add_test(tc, test_every_configuration_agrees);
    if (!test_small_mode()) { /* timing and a second kernel folder: not for the simulator */
        tcase_add_test(tc, test_budget_is_kept);
        tcase_add_test(tc, test_failing_candidate_is_rejected);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
