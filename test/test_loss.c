/* test_loss.c - the training loss (engine/loss.c, cl/loss.cl; 3dgs-math.md section 7.1):
 *
 *   - the double reference gradient (test/ref/ref_loss.c) against central finite differences
 *     of the reference loss, every value of small images;
 *   - the kernels against the reference on random images and on real photos (two different
 *     JPEGs of the fox scene, one perturbed as the "render"): L, L1 and SSIM to a relative
 *     1e-5, dL/dx to a relative L2 error of 1e-4, the padding of dL/dx written as 0 and the
 *     render's padding ignored (it holds NaN here);
 *   - identical images (L = 0, SSIM = 1, gradient exactly 0 with sign(0) = 0), determinism
 *     (bit-identical repeats), the metrics entry, argument errors, and timings (printed).
 *
 * CLS_TEST_SMALL=1 runs only tiny images (for Oclgrind: test/oclgrind-run.sh ./test_loss). */
#include "internal.h"
#include "loss.h"
#include "ref/ref_loss.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include "test_util.h"

/* Tolerances (the brief's bounds). */
#define TOL_FD 1e-6      /* reference gradient vs finite differences, relative L2 */
#define TOL_VALUE 1e-5   /* kernel L, L1, SSIM vs reference, relative */
#define TOL_GRAD 1e-4    /* kernel dL/dx vs reference, relative L2 */

/* Pixels per work-item the kernel tests run with: the device's default, then the GPU shape
 * (one pixel per work-item) and a 4-lane variant, so that every shape is checked on any device
 * (and under Oclgrind). Each with a band height (loss_band, 0: the default): short bands of 8
 * rows (several per image, the shared rows re-blurred) and one of 64 (taller than the small
 * images: rows rounded up past the layout). */
static const int lane_variants[] = {0, 1, 4};
static const int band_variants[] = {0, 8, 64};

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

/* open_context with the lane and band variant `variant` (an index into lane_variants). */
static cls_context *open_context_lanes(int variant)
{
    cls_context *ctx = open_context(0);
    if (lane_variants[variant] > 0)
        ctx->params.pixels_per_item = lane_variants[variant];
    if (band_variants[variant] > 0)
        ctx->params.loss_band = band_variants[variant];
    return ctx;
}

/* Uniform in [0, 1). */
static double uniform(uint32_t *state) { return (double)(test_xorshift32(state) >> 8) / 16777216.0; }

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ---- images ------------------------------------------------------------------------------ */

/* A render (float, interleaved) and a target (uint8, interleaved), width x height x 3. */
typedef struct image_pair {
    uint32_t width, height;
    float *render;
    uint8_t *target;
} image_pair;

static image_pair pair_alloc(uint32_t width, uint32_t height)
{
    size_t n = (size_t)width * height * 3;
    return (image_pair){width, height, xmalloc(n * sizeof(float)), xmalloc(n)};
}

static void pair_free(image_pair *p)
{
    free(p->render);
    free(p->target);
    *p = (image_pair){0};
}

enum pattern {
    PATTERN_INDEPENDENT, /* render and target unrelated, render also outside [0, 1] */
    PATTERN_NOISY,       /* render = target + noise of amplitude 0.1 */
    PATTERN_SMOOTH,      /* smooth target, render = target + noise of 0.01: SSIM near 1 */
    PATTERN_COUNT
};

static void pair_random(image_pair *p, enum pattern pattern, uint32_t seed)
{
    const size_t n = (size_t)p->width * p->height * 3;
    for (uint32_t y = 0; y < p->height; y++)
        for (uint32_t x = 0; x < p->width; x++)
            for (int c = 0; c < 3; c++) {
                size_t k = ((size_t)y * p->width + x) * 3 + (size_t)c;
                double t;
                if (pattern == PATTERN_SMOOTH)
                    t = 0.5 + 0.3 * sin(0.21 * x + 1.3 * c) * cos(0.17 * y) + 0.02 * uniform(&seed);
                else
                    t = uniform(&seed);
                p->target[k] = (uint8_t)lround(t * 255.0);
            }
    for (size_t k = 0; k < n; k++) {
        double t = p->target[k] / 255.0;
        switch (pattern) {
        case PATTERN_INDEPENDENT: p->render[k] = (float)(1.2 * uniform(&seed) - 0.1); break;
        case PATTERN_NOISY: p->render[k] = (float)(t + 0.2 * (uniform(&seed) - 0.5)); break;
        default: p->render[k] = (float)(t + 0.02 * (uniform(&seed) - 0.5)); break;
        }
    }
}

/* ---- the reference on a pair ------------------------------------------------------------- */

typedef struct ref_result {
    ref_loss_values v;
    double *grad; /* interleaved */
} ref_result;

/* The target as the kernels read it: value * (1/255) rounded to float. The reference gets the
 * same inputs, so that the comparison measures the kernels' arithmetic and not the float
 * rounding of the target (which, where render and target differ by less than it, would also
 * flip sign(x - y) in the L1 gradient). */
static double target_value(uint8_t t) { return (double)((float)t * (1.0f / 255.0f)); }

static ref_result ref_run(const image_pair *p, double lambda)
{
    const size_t n = (size_t)p->width * p->height * 3;
    double *x = xmalloc(n * sizeof *x), *y = xmalloc(n * sizeof *y);
    for (size_t k = 0; k < n; k++) {
        x[k] = p->render[k];
        y[k] = target_value(p->target[k]);
    }
    ref_result r = {.grad = xmalloc(n * sizeof(double))};
    ck_assert(ref_loss(x, y, p->width, p->height, lambda, &r.v, r.grad));
    free(x);
    free(y);
    return r;
}

/* ---- the device -------------------------------------------------------------------------- */

typedef struct device_bufs {
    clh_buffer image, target, d_image, values;
} device_bufs;

/* Oclgrind 21.10 keeps the "uninitialized" shadow of a released buffer for the next one in the
 * same slot: every test sizes its buffers (and the loss scratch, by running its largest image
 * first) before anything else and releases them only at the end. */
static void bufs_reserve(cls_context *ctx, device_bufs *b, uint32_t max_w, uint32_t max_h)
{
    const size_t tile = (size_t)ctx->params.tile_size;
    const size_t plane = (max_w + tile - 1) / tile * tile * ((max_h + tile - 1) / tile * tile);
    clh_error herr;
    struct {
        clh_buffer *buf;
        size_t bytes;
    } needs[] = {{&b->image, plane * 3 * sizeof(float)},
                 {&b->target, (size_t)max_w * max_h * 3},
                 {&b->d_image, plane * 3 * sizeof(float)},
                 {&b->values, 3 * sizeof(float)}};
    for (int i = 0; i < CLS__ARRAY_COUNT(needs); i++) {
        clh_result hr = clh_buffer_reserve(&ctx->rt, needs[i].buf, needs[i].bytes, "test", &herr);
        ck_assert_msg(hr == CLH_OK, "%s", herr.message);
    }
}

static void bufs_release(device_bufs *b)
{
    clh_buffer_release(&b->image);
    clh_buffer_release(&b->target);
    clh_buffer_release(&b->d_image);
    clh_buffer_release(&b->values);
}

/* The padded layout of the forward pass: whole 16 x 16 tiles. */
static void padded_layout(const cls_context *ctx, uint32_t w, uint32_t h, uint32_t *pitch, uint32_t *rows)
{
    ck_assert_int_eq(ctx->params.tile_size, 16);
    *pitch = (w + 15) / 16 * 16;
    *rows = (h + 15) / 16 * 16;
}

static void write_buf(cls_context *ctx, clh_buffer *buf, const void *data, size_t bytes)
{
    clh_error herr;
    clh_result hr = clh_buffer_write(&ctx->rt, buf, 0, data, bytes, "test", &herr);
    ck_assert_msg(hr == CLH_OK, "%s", herr.message);
}

static void read_buf(cls_context *ctx, const clh_buffer *buf, void *data, size_t bytes)
{
    clh_error herr;
    clh_result hr = clh_buffer_read(&ctx->rt, buf, 0, data, bytes, "test", &herr);
    ck_assert_msg(hr == CLH_OK, "%s", herr.message);
}

/* Uploads the pair: the render planar and padded (padding NaN: the loss must not read it),
 * the target as is; d_image is filled with garbage the loss must overwrite. */
static void upload_pair_layout(cls_context *ctx, device_bufs *b, const image_pair *p, uint32_t pitch, uint32_t rows)
{
    const size_t plane = (size_t)pitch * rows;
    float *planar = xmalloc(plane * 3 * sizeof(float));
    for (size_t i = 0; i < plane * 3; i++)
        planar[i] = NAN;
    for (uint32_t y = 0; y < p->height; y++)
        for (uint32_t x = 0; x < p->width; x++)
            for (uint32_t c = 0; c < 3; c++)
                planar[c * plane + (size_t)y * pitch + x] = p->render[((size_t)y * p->width + x) * 3 + c];
    write_buf(ctx, &b->image, planar, plane * 3 * sizeof(float));
    for (size_t i = 0; i < plane * 3; i++)
        planar[i] = 12345.0f;
    write_buf(ctx, &b->d_image, planar, plane * 3 * sizeof(float));
    write_buf(ctx, &b->target, p->target, (size_t)p->width * p->height * 3);
    free(planar);
}

static void upload_pair(cls_context *ctx, device_bufs *b, const image_pair *p)
{
    uint32_t pitch, rows;
    padded_layout(ctx, p->width, p->height, &pitch, &rows);
    upload_pair_layout(ctx, b, p, pitch, rows);
}

typedef struct device_result {
    float values[3]; /* L, L1, 1 - SSIM */
    float *grad;     /* interleaved */
    float *padded;   /* dL/dx as written, planar and padded */
    int padding_zero; /* every padding value of dL/dx is exactly 0 */
} device_result;

static void device_result_free(device_result *r)
{
    free(r->grad);
    free(r->padded);
    r->grad = r->padded = NULL;
}

/* Runs the loss on the pair uploaded in the layout pitch x rows (0: the forward pass's). */
static device_result device_run_layout(cls_context *ctx, cls__loss *loss, device_bufs *b, const image_pair *p,
                                       float lambda, uint32_t pitch, uint32_t rows)
{
    if (pitch == 0)
        padded_layout(ctx, p->width, p->height, &pitch, &rows);
    upload_pair_layout(ctx, b, p, pitch, rows);
    cls_status st = cls__loss_compute(ctx, loss, b->image.mem, b->target.mem, p->width, p->height, pitch, rows,
                                      lambda, b->d_image.mem, b->values.mem, NULL);
    ck_assert_msg(st == CLS_OK, "cls__loss_compute: %s", cls_context_errmsg(ctx));
    const size_t plane = (size_t)pitch * rows;
    device_result r = {.grad = xmalloc((size_t)p->width * p->height * 3 * sizeof(float)),
                       .padded = xmalloc(plane * 3 * sizeof(float)),
                       .padding_zero = 1};
    read_buf(ctx, &b->values, r.values, sizeof r.values);
    read_buf(ctx, &b->d_image, r.padded, plane * 3 * sizeof(float));
    for (uint32_t c = 0; c < 3; c++)
        for (uint32_t y = 0; y < rows; y++)
            for (uint32_t x = 0; x < pitch; x++) {
                float v = r.padded[c * plane + (size_t)y * pitch + x];
                if (x < p->width && y < p->height)
                    r.grad[((size_t)y * p->width + x) * 3 + c] = v;
                else if (v != 0.0f)
                    r.padding_zero = 0;
            }
    return r;
}

static device_result device_run(cls_context *ctx, cls__loss *loss, device_bufs *b, const image_pair *p, float lambda)
{
    return device_run_layout(ctx, loss, b, p, lambda, 0, 0);
}

static double rel_err(double got, double want) { return fabs(got - want) / fmax(fabs(want), 1e-300); }

static double rel_l2(const float *got, const double *want, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += (got[i] - want[i]) * (got[i] - want[i]);
        den += want[i] * want[i];
    }
    return sqrt(num / fmax(den, 1e-300));
}

/* Runs the pair on the device and the reference and checks every value and the gradient. */
static void check_pair_layout(cls_context *ctx, cls__loss *loss, device_bufs *b, const image_pair *p, float lambda,
                              const char *what, uint32_t pitch, uint32_t rows)
{
    ref_result ref = ref_run(p, lambda);
    device_result dev = device_run_layout(ctx, loss, b, p, lambda, pitch, rows);
    const size_t n = (size_t)p->width * p->height * 3;
    double e_loss = rel_err(dev.values[0], ref.v.loss), e_l1 = rel_err(dev.values[1], ref.v.l1);
    double e_dssim = rel_err(dev.values[2], 1.0 - ref.v.ssim);
    double e_ssim = rel_err(1.0 - (double)dev.values[2], ref.v.ssim);
    double e_grad = rel_l2(dev.grad, ref.grad, n);
    printf("%-28s %4ux%-4u L %.7f (%.1e) L1 %.7f (%.1e) SSIM %.7f (%.1e, 1-SSIM %.1e) grad %.1e\n", what,
           p->width, p->height, ref.v.loss, e_loss, ref.v.l1, e_l1, ref.v.ssim, e_ssim, e_dssim, e_grad);
    fflush(stdout);
    ck_assert_msg(e_loss <= TOL_VALUE, "%s: L %.9g vs reference %.9g", what, dev.values[0], ref.v.loss);
    ck_assert_msg(e_l1 <= TOL_VALUE, "%s: L1 %.9g vs reference %.9g", what, dev.values[1], ref.v.l1);
    ck_assert_msg(e_dssim <= TOL_VALUE, "%s: 1-SSIM %.9g vs reference %.9g", what, dev.values[2], 1.0 - ref.v.ssim);
    ck_assert_msg(e_ssim <= TOL_VALUE, "%s: SSIM %.9g vs reference %.9g", what, 1.0 - dev.values[2], ref.v.ssim);
    ck_assert_msg(e_grad <= TOL_GRAD, "%s: gradient relative L2 error %.3g", what, e_grad);
    ck_assert_msg(dev.padding_zero, "%s: the padding of dL/dx is not zero", what);
    device_result_free(&dev);
    free(ref.grad);
}

static void check_pair(cls_context *ctx, cls__loss *loss, device_bufs *b, const image_pair *p, float lambda,
                       const char *what)
{
    check_pair_layout(ctx, loss, b, p, lambda, what, 0, 0);
}

/* ---- the reference against finite differences ------------------------------------------ */

START_TEST(test_reference_vs_finite_differences)
{
    static const uint32_t sizes[][2] = {{1, 1}, {3, 2}, {13, 11}, {17, 12}};
    for (int s = 0; s < CLS__ARRAY_COUNT(sizes); s++)
        for (int pattern = 0; pattern < PATTERN_COUNT; pattern++) {
            const uint32_t w = sizes[s][0], h = sizes[s][1];
            const size_t n = (size_t)w * h * 3;
            image_pair p = pair_alloc(w, h);
            pair_random(&p, (enum pattern)pattern, 77u + (uint32_t)(s * 10 + pattern));
            double *x = xmalloc(n * sizeof *x), *y = xmalloc(n * sizeof *y), *grad = xmalloc(n * sizeof *grad);
            for (size_t k = 0; k < n; k++) {
                y[k] = p.target[k] / 255.0;
                x[k] = p.render[k];
                /* Keep clear of the kink of |x - y|, which the step must not cross. */
                if (fabs(x[k] - y[k]) < 1e-3)
                    x[k] = y[k] + 1e-3;
            }
            ref_loss_values v;
            ck_assert(ref_loss(x, y, w, h, REF_LOSS_LAMBDA, &v, grad));
            const double step = 1e-6;
            double num = 0.0, den = 0.0;
            for (size_t k = 0; k < n; k++) {
                ref_loss_values plus, minus;
                const double keep = x[k];
                x[k] = keep + step;
                ck_assert(ref_loss(x, y, w, h, REF_LOSS_LAMBDA, &plus, NULL));
                x[k] = keep - step;
                ck_assert(ref_loss(x, y, w, h, REF_LOSS_LAMBDA, &minus, NULL));
                x[k] = keep;
                const double fd = (plus.loss - minus.loss) / (2.0 * step);
                num += (fd - grad[k]) * (fd - grad[k]);
                den += grad[k] * grad[k];
            }
            const double err = sqrt(num / den);
            printf("reference vs FD %2ux%-2u pattern %d: relative L2 %.2e (SSIM %.4f)\n", w, h, pattern, err, v.ssim);
            ck_assert_msg(err <= TOL_FD, "%ux%u pattern %d: reference gradient vs FD relative L2 %.3g", w, h, pattern,
                          err);
            free(x);
            free(y);
            free(grad);
            pair_free(&p);
        }
}
END_TEST

/* The window and the loss of known cases: SSIM of identical images is 1; the window sums to 1. */
START_TEST(test_reference_basics)
{
    double g[2 * REF_SSIM_RADIUS + 1], sum = 0.0;
    ref_ssim_window(g);
    for (int i = 0; i <= 2 * REF_SSIM_RADIUS; i++)
        sum += g[i];
    ck_assert(fabs(sum - 1.0) < 1e-15);
    ck_assert(fabs(g[5] - 0.26601172486179436) < 1e-15);
    double img[4 * 3 * 3], d[4 * 3 * 3];
    uint32_t seed = 5;
    for (int i = 0; i < 36; i++)
        img[i] = uniform(&seed);
    ref_loss_values v;
    ck_assert(ref_loss(img, img, 4, 3, 0.2, &v, d));
    ck_assert(fabs(v.ssim - 1.0) < 1e-15 && v.l1 == 0.0 && fabs(v.loss) < 1e-15);
    for (int i = 0; i < 36; i++)
        ck_assert(fabs(d[i]) < 1e-15);
}
END_TEST

/* ---- the kernels against the reference ---------------------------------------------------- */

START_TEST(test_kernels_random)
{
    /* Largest first (see bufs_reserve). */
    static const uint32_t sizes_full[][2] = {{269, 480}, {100, 37}, {37, 29}, {16, 16}, {17, 33}, {5, 3}, {1, 1}};
    static const uint32_t sizes_small[][2] = {{37, 29}, {17, 5}, {5, 3}, {1, 1}};
    const int small = test_small_mode();
    const uint32_t (*sizes)[2] = small ? sizes_small : sizes_full;
    const int count = small ? CLS__ARRAY_COUNT(sizes_small) : CLS__ARRAY_COUNT(sizes_full);
    cls_context *ctx = open_context_lanes(_i);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s", cls_context_errmsg(ctx));
    device_bufs b = {0};
    bufs_reserve(ctx, &b, sizes[0][0], sizes[0][1]);
    for (int s = 0; s < count; s++)
        for (int pattern = 0; pattern < PATTERN_COUNT; pattern++) {
            if (!small && s == 0 && pattern != PATTERN_NOISY)
                continue; /* the reference is slow: one pattern at the large size */
            image_pair p = pair_alloc(sizes[s][0], sizes[s][1]);
            pair_random(&p, (enum pattern)pattern, 1000u + (uint32_t)(s * 10 + pattern));
            char what[64];
            snprintf(what, sizeof what, "random pattern %d, %d lanes, band %d", pattern, ctx->params.pixels_per_item,
                     ctx->params.loss_band);
            check_pair(ctx, &loss, &b, &p, CLS__LOSS_LAMBDA, what);
            if (s == count - 2 && pattern == PATTERN_NOISY)
                check_pair(ctx, &loss, &b, &p, 0.7f, "random, lambda 0.7");
            if (s == 2 && pattern == PATTERN_NOISY) {
                /* A layout with more padding than the forward pass's (still within the buffers). */
                const uint32_t lanes = (uint32_t)ctx->params.pixels_per_item;
                const uint32_t pitch = (p.width + 16 + lanes - 1) / lanes * lanes, rows = p.height + 19;
                ck_assert((size_t)pitch * rows <= b.image.size / (3 * sizeof(float)));
                check_pair_layout(ctx, &loss, &b, &p, CLS__LOSS_LAMBDA, "random, wide layout", pitch, rows);
            }
            pair_free(&p);
        }
    bufs_release(&b);
    cls__loss_release(&loss);
    cls_context_destroy(ctx);
}
END_TEST

/* Reads a JPEG of the fox scene as uint8, halved to the nearest-even size by 2 x 2 box
 * averaging when `halve` (538 x 960 → 269 x 480). */
static uint8_t *read_photo(const char *name, int halve, uint32_t *w, uint32_t *h)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fox_undistorted/images/%s", CLS_SHARED_DATA_DIR, name);
    float *pixels = NULL;
    uint32_t iw = 0, ih = 0;
    int channels = 0;
    cls_error err;
    cls_status st = cls_image_read(path, &pixels, &iw, &ih, &channels, &err);
    ck_assert_msg(st == CLS_OK, "cls_image_read(%s) failed", path);
    ck_assert_int_eq(channels, 3);
    const uint32_t f = halve ? 2 : 1;
    *w = iw / f;
    *h = ih / f;
    uint8_t *out = xmalloc((size_t)*w * *h * 3);
    for (uint32_t y = 0; y < *h; y++)
        for (uint32_t x = 0; x < *w; x++)
            for (uint32_t c = 0; c < 3; c++) {
                double sum = 0.0;
                for (uint32_t j = 0; j < f; j++)
                    for (uint32_t i = 0; i < f; i++)
                        sum += pixels[((size_t)(y * f + j) * iw + x * f + i) * 3 + c];
                out[((size_t)y * *w + x) * 3 + c] = (uint8_t)lround(sum / (f * f) * 255.0);
            }
    free(pixels);
    return out;
}

static int have_shared_data(void)
{
    struct stat sb;
    if (stat(CLS_SHARED_DATA_DIR "/fox_undistorted/images", &sb) == 0)
        return 1;
    printf("SKIP: %s/fox_undistorted/images does not exist\n", CLS_SHARED_DATA_DIR);
    return 0;
}

/* render = photo 0001 plus a small perturbation, target = photo 0002. */
static image_pair photo_pair(int halve)
{
    uint32_t w0, h0, w1, h1;
    uint8_t *a = read_photo("0001.jpg", halve, &w0, &h0), *t = read_photo("0002.jpg", halve, &w1, &h1);
    ck_assert(w0 == w1 && h0 == h1);
    image_pair p = pair_alloc(w0, h0);
    uint32_t seed = 99;
    for (size_t k = 0; k < (size_t)w0 * h0 * 3; k++) {
        p.render[k] = (float)(a[k] / 255.0 + 0.02 * (uniform(&seed) - 0.5));
        p.target[k] = t[k];
    }
    free(a);
    free(t);
    return p;
}

START_TEST(test_kernels_photos)
{
    if (test_small_mode()) {
        printf("SKIP: photos in small mode\n");
        return;
    }
    if (!have_shared_data())
        return;
    cls_context *ctx = open_context(0);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s", cls_context_errmsg(ctx));
    device_bufs b = {0};
    bufs_reserve(ctx, &b, 538, 960);
    image_pair full = photo_pair(0), half = photo_pair(1);
    check_pair(ctx, &loss, &b, &full, CLS__LOSS_LAMBDA, "photos 0001+noise vs 0002");
    check_pair(ctx, &loss, &b, &half, CLS__LOSS_LAMBDA, "photos 0001+noise vs 0002");
    /* The render close to its own target: SSIM near 1, where the float sums cancel most. */
    uint32_t seed = 7;
    for (size_t k = 0; k < (size_t)half.width * half.height * 3; k++)
        half.render[k] = (float)(half.target[k] / 255.0 + 0.01 * (uniform(&seed) - 0.5));
    check_pair(ctx, &loss, &b, &half, CLS__LOSS_LAMBDA, "photo 0002+noise vs 0002");
    pair_free(&full);
    pair_free(&half);
    bufs_release(&b);
    cls__loss_release(&loss);
    cls_context_destroy(ctx);
}
END_TEST

/* ---- identical images, determinism, metrics, errors --------------------------------------- */

START_TEST(test_identical_images)
{
    static const uint32_t sizes[][2] = {{37, 29}, {16, 16}, {3, 2}};
    cls_context *ctx = open_context_lanes(_i);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s", cls_context_errmsg(ctx));
    device_bufs b = {0};
    bufs_reserve(ctx, &b, sizes[0][0], sizes[0][1]);
    for (int s = 0; s < CLS__ARRAY_COUNT(sizes); s++) {
        image_pair p = pair_alloc(sizes[s][0], sizes[s][1]);
        pair_random(&p, PATTERN_NOISY, 31u + (uint32_t)s);
        /* Exactly the kernel's conversion of the target. */
        for (size_t k = 0; k < (size_t)p.width * p.height * 3; k++)
            p.render[k] = (float)p.target[k] * (1.0f / 255.0f);
        device_result dev = device_run(ctx, &loss, &b, &p, CLS__LOSS_LAMBDA);
        ck_assert_msg(dev.values[0] == 0.0f && dev.values[1] == 0.0f && dev.values[2] == 0.0f,
                      "%ux%u: L %g, L1 %g, 1-SSIM %g (want 0)", p.width, p.height, dev.values[0], dev.values[1],
                      dev.values[2]);
        for (size_t k = 0; k < (size_t)p.width * p.height * 3; k++)
            ck_assert_msg(dev.grad[k] == 0.0f, "%ux%u: gradient %g at %zu (want 0)", p.width, p.height, dev.grad[k], k);
        ck_assert(dev.padding_zero);
        device_result_free(&dev);
        pair_free(&p);
    }
    bufs_release(&b);
    cls__loss_release(&loss);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_deterministic)
{
    const uint32_t w = test_small_mode() ? 37 : 269, h = test_small_mode() ? 29 : 480;
    cls_context *ctx = open_context_lanes(_i);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s", cls_context_errmsg(ctx));
    device_bufs b = {0};
    bufs_reserve(ctx, &b, w, h);
    image_pair p = pair_alloc(w, h);
    pair_random(&p, PATTERN_NOISY, 4242);
    device_result first = device_run(ctx, &loss, &b, &p, CLS__LOSS_LAMBDA);
    uint32_t pitch, rows;
    padded_layout(ctx, w, h, &pitch, &rows);
    for (int rep = 0; rep < 3; rep++) {
        device_result again = device_run(ctx, &loss, &b, &p, CLS__LOSS_LAMBDA);
        ck_assert(memcmp(first.values, again.values, sizeof first.values) == 0);
        ck_assert(memcmp(first.padded, again.padded, (size_t)pitch * rows * 3 * sizeof(float)) == 0);
        device_result_free(&again);
    }
    device_result_free(&first);
    pair_free(&p);
    bufs_release(&b);
    cls__loss_release(&loss);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_metrics)
{
    static const uint32_t sizes[][2] = {{37, 29}, {5, 3}};
    cls_context *ctx = open_context_lanes(_i);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s", cls_context_errmsg(ctx));
    device_bufs b = {0};
    bufs_reserve(ctx, &b, sizes[0][0], sizes[0][1]);
    for (int s = 0; s < CLS__ARRAY_COUNT(sizes); s++)
        for (int pattern = 0; pattern < PATTERN_COUNT; pattern++) {
            image_pair p = pair_alloc(sizes[s][0], sizes[s][1]);
            pair_random(&p, (enum pattern)pattern, 555u + (uint32_t)(s * 10 + pattern));
            ref_result ref = ref_run(&p, REF_LOSS_LAMBDA);
            upload_pair(ctx, &b, &p);
            uint32_t pitch, rows;
            padded_layout(ctx, p.width, p.height, &pitch, &rows);
            float ssim = -1.0f, mse = -1.0f;
            cls_status st = cls__loss_metrics(ctx, &loss, b.image.mem, b.target.mem, p.width, p.height, pitch, rows,
                                              &ssim, &mse, NULL);
            ck_assert_msg(st == CLS_OK, "%s", cls_context_errmsg(ctx));
            ck_assert_msg(rel_err(ssim, ref.v.ssim) <= TOL_VALUE, "SSIM %.9g vs %.9g", ssim, ref.v.ssim);
            ck_assert_msg(rel_err(mse, ref.v.mse) <= TOL_VALUE, "MSE %.9g vs %.9g", mse, ref.v.mse);
            free(ref.grad);
            pair_free(&p);
        }
    bufs_release(&b);
    cls__loss_release(&loss);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_errors)
{
    cls_context *ctx = open_context(0);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s", cls_context_errmsg(ctx));
    device_bufs b = {0};
    bufs_reserve(ctx, &b, 16, 16);
    cl_mem im = b.image.mem, tg = b.target.mem, d = b.d_image.mem, v = b.values.mem;
    ck_assert_int_eq(cls__loss_compute(ctx, &loss, im, tg, 17, 16, 16, 16, 0.2f, d, v, NULL),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert(strstr(cls_context_errmsg(ctx), "pitch") != NULL);
    ck_assert_int_eq(cls__loss_compute(ctx, &loss, im, tg, 16, 17, 16, 16, 0.2f, d, v, NULL),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(cls__loss_compute(ctx, &loss, im, tg, 0, 16, 16, 16, 0.2f, d, v, NULL),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(cls__loss_compute(ctx, &loss, im, tg, 16, 16, 16, 16, NAN, d, v, NULL),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(cls__loss_compute(ctx, &loss, im, tg, 16, 16, 16, 16, 0.2f, NULL, v, NULL),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(cls__loss_metrics(ctx, &loss, im, tg, 16, 16, 8, 16, NULL, NULL, NULL),
                     CLS_ERROR_INVALID_ARGUMENT);
    if (ctx->params.pixels_per_item > 1) /* the pitch must be a whole number of work-item lanes */
        ck_assert_int_eq(cls__loss_compute(ctx, &loss, im, tg, 15, 16, 15, 16, 0.2f, d, v, NULL),
                         CLS_ERROR_INVALID_ARGUMENT);
    bufs_release(&b);
    cls__loss_release(&loss);
    cls__loss_release(&loss); /* twice: harmless */
    cls_context_destroy(ctx);
}
END_TEST

/* ---- timings ----------------------------------------------------------------------------- */

/* CPU time of the process (all threads, PoCL's included), ms: less sensitive than wall time
 * to other work on the machine. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-3;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

START_TEST(test_timings)
{
    if (test_small_mode()) {
        printf("SKIP: timings in small mode\n");
        return;
    }
    static const uint32_t sizes[][2] = {{538, 960}, {269, 480}};
    cls_context *ctx = open_context(1);
    cls__loss loss;
    ck_assert_msg(cls__loss_init(ctx, &loss) == CLS_OK, "%s", cls_context_errmsg(ctx));
    device_bufs b = {0};
    bufs_reserve(ctx, &b, sizes[0][0], sizes[0][1]);
    for (int s = 0; s < CLS__ARRAY_COUNT(sizes); s++) {
        image_pair p = pair_alloc(sizes[s][0], sizes[s][1]);
        pair_random(&p, PATTERN_NOISY, 8);
        upload_pair(ctx, &b, &p);
        uint32_t pitch, rows;
        padded_layout(ctx, p.width, p.height, &pitch, &rows);
        const int runs = 20;
        double best = 1e30, total = 0.0, cpu = 0.0, kernels[16] = {0};
        int kernel_count = 0;
        cls__profile prof = {0};
        for (int r = -2; r < runs; r++) {
            cls__profile_reset(&prof);
            const double t0 = now_ms(), c0 = cpu_ms();
            cls_status st = cls__loss_compute(ctx, &loss, b.image.mem, b.target.mem, p.width, p.height, pitch, rows,
                                              CLS__LOSS_LAMBDA, b.d_image.mem, b.values.mem, &prof);
            ck_assert_msg(st == CLS_OK, "%s", cls_context_errmsg(ctx));
            ck_assert_int_eq(clFinish(ctx->rt.queue), CL_SUCCESS);
            const double ms = now_ms() - t0, cpu_used = cpu_ms() - c0;
            if (r < 0)
                continue; /* warm-up: kernel compilation, first touches */
            cpu += cpu_used;
            best = fmin(best, ms);
            total += ms;
            kernel_count = prof.count;
            for (int i = 0; i < prof.count && i < 16; i++)
                kernels[i] += clh_event_ms(prof.events[i]);
        }
        cls__profile_reset(&prof);
        printf("loss forward+backward %ux%u: wall best %.2f ms, mean %.2f ms; CPU %.2f ms; per kernel (mean ms):",
               p.width, p.height, best, total / runs, cpu / runs);
        for (int i = 0; i < kernel_count && i < 16; i++)
            printf(" %.2f", kernels[i] / runs);
        printf("\n");
        pair_free(&p);
    }
    bufs_release(&b);
    cls__loss_release(&loss);
    cls_context_destroy(ctx);
}
END_TEST

static Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");
    TCase *ref = tcase_create("reference");
    tcase_set_timeout(ref, 600);
    tcase_add_test(ref, test_reference_basics);
    tcase_add_test(ref, test_reference_vs_finite_differences);
    suite_add_tcase(s, ref);
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 900);
    const int variants = CLS__ARRAY_COUNT(lane_variants);
    tcase_add_loop_test(tc, test_kernels_random, 0, variants);
    tcase_add_test(tc, test_kernels_photos);
    tcase_add_loop_test(tc, test_identical_images, 0, variants);
    tcase_add_loop_test(tc, test_deterministic, 0, variants);
    tcase_add_loop_test(tc, test_metrics, 0, variants);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_timings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(loss_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
