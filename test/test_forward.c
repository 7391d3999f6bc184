/*
 * test_forward.c - the engine's forward pass (cls_scene_create + cls_render_forward, on the
 * default OpenCL device) against the double-precision reference in test/ref, on seeded random
 * scenes and on the trained scenes in ../shared/data; plus determinism, frame statistics and
 * edge cases.
 *
 * How images are compared. The engine blends in float, the reference in double; the two
 * differ mostly where a float rounding moves a quantity across a threshold: a Gaussian's
 * alpha across 1/255 at one pixel (the pixel changes by at most ~alpha (c - C_behind), i.e.
 * a few 1e-3), the 1e-4 transmittance stop (~1e-4), or two Gaussians at depths equal to
 * float precision swapping places (alpha1 alpha2 |c1 - c2|, rare). Everywhere else the error
 * is float rounding, ~1e-6. So the assertions are on robust statistics over all pixels and
 * channels, each stated next to its check: the mean absolute error, the 99.9th percentile
 * of the absolute error, and a looser maximum. A wrong SH constant, a missing 0.3 dilation
 * or a wrong clamp moves thousands of pixels by 1e-2 or more and fails the mean and the
 * percentile by orders of magnitude.
 *
 * CLS_TEST_SMALL=1 (for Oclgrind) runs only tiny problems: 32x24 images, <= 100 Gaussians.
 * CLS_TEST_VERBOSE=1 prints the measured errors of every comparison.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clsplat.h"
#include "ref/ref_forward.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- environment ------------------------------------------------------------------------- */

static int env_flag(const char *name)
{
    const char *s = getenv(name);
    return s != NULL && s[0] != '\0' && strcmp(s, "0") != 0;
}

static int small_only(void)
{
    return env_flag("CLS_TEST_SMALL");
}

static int verbose(void)
{
    return env_flag("CLS_TEST_VERBOSE");
}

/* A missing device is a failure, never a silent pass: CI always has PoCL. */
static cls_context *open_context(void)
{
    cls_context *ctx = NULL;
    cls_status st = cls_context_create(&(cls_context_desc){0}, &ctx);
    if (st != CLS_OK) {
        printf("cls_context_create failed: %s: %s\n", cls_status_name(st), cls_context_errmsg(ctx));
        ck_abort_msg("cls_context_create: %s: %s", cls_status_name(st), cls_context_errmsg(ctx));
    }
    if (verbose())
        printf("  device: %s / %s\n", cls_context_device(ctx)->platform_name, cls_context_device(ctx)->name);
    return ctx;
}

static int shared_data_present(const char *test)
{
    struct stat st;
    if (stat(CLS_SHARED_DATA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return 1;
    printf("SKIP %s: ../shared/data not present\n", test);
    return 0;
}

/* ---- random numbers, cameras -------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static double rng_uniform(rng *r) /* xorshift64*, [0, 1) */
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (double)((r->s * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_range(rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_uniform(r);
}

static void normalize3(double v[3])
{
    double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    v[0] /= n, v[1] /= n, v[2] /= n;
}

static void cross3(const double a[3], const double b[3], double out[3])
{
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

/* An OpenCV camera at `eye` looking at `target` (+x right, +y down, +z forward), with `down`
 * a world direction that should appear downward in the image (not parallel to the view). */
static cls_camera look_at(const double eye[3], const double target[3], const double down[3], uint32_t width,
                          uint32_t height, double fx, double fy, double cx, double cy)
{
    double z[3] = {target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]}, x[3], y[3];
    normalize3(z);
    cross3(down, z, x); /* x = down x z: with down = +y, z = +z this is +x */
    normalize3(x);
    cross3(z, x, y);
    cls_camera cam;
    memset(&cam, 0, sizeof cam);
    cam.width = width;
    cam.height = height;
    cam.fx = (float)fx;
    cam.fy = (float)fy;
    cam.cx = (float)cx;
    cam.cy = (float)cy;
    for (int k = 0; k < 3; k++) {
        cam.rotation[0 * 3 + k] = (float)x[k];
        cam.rotation[1 * 3 + k] = (float)y[k];
        cam.rotation[2 * 3 + k] = (float)z[k];
    }
    const double *rows[3] = {x, y, z};
    for (int r = 0; r < 3; r++) /* t = -R eye */
        cam.translation[r] = (float)-(rows[r][0] * eye[0] + rows[r][1] * eye[1] + rows[r][2] * eye[2]);
    return cam;
}

/* ---- random scenes ------------------------------------------------------------------------ */

/* n Gaussians around the view of cam: most in front and spread 25% beyond every image border
 * (straddling tiles and the image edges, some beyond the Jacobian clamp), some behind the
 * camera, inside the near plane, very close, or far; very small (log-scale -8) and very large
 * (+1) ones; anisotropic scales; opacities from near-transparent (around the 1/255 cull) to
 * opaque; random non-normalised quaternions (one zero); random SH of every band. */
static void random_scene(cls_gaussians *g, size_t n, int degree, const cls_camera *cam, uint64_t seed)
{
    ck_assert_int_eq(cls_gaussians_alloc(g, n, degree, NULL), CLS_OK);
    rng r = {seed * 0x9E3779B97F4A7C15ull + 0x1234567ull};
    double W = cam->width, H = cam->height, R[9], t[3];
    for (int k = 0; k < 9; k++)
        R[k] = cam->rotation[k];
    for (int k = 0; k < 3; k++)
        t[k] = cam->translation[k];
    size_t K = (size_t)cls_sh_coeff_count(degree);
    for (size_t i = 0; i < n; i++) {
        double kind = rng_uniform(&r), z;
        if (kind < 0.05)
            z = rng_range(&r, -5.0, -0.02); /* behind the camera */
        else if (kind < 0.08)
            z = rng_range(&r, 0.0, 0.0099); /* in front, inside the near plane */
        else if (kind < 0.11)
            z = rng_range(&r, 0.05, 0.4); /* very close: huge on screen */
        else if (kind < 0.18)
            z = rng_range(&r, 8.0, 40.0);
        else
            z = rng_range(&r, 0.4, 8.0);
        double u = rng_range(&r, -0.25 * W, 1.25 * W), v = rng_range(&r, -0.25 * H, 1.25 * H);
        double zz = fabs(z) > 0.05 ? fabs(z) : 1.0;
        double p[3] = {(u - cam->cx) * zz / cam->fx, (v - cam->cy) * zz / cam->fy, z};
        for (int k = 0; k < 3; k++) /* world = R^T (p - t) */
            g->means[i * 3 + (size_t)k] =
                (float)(R[0 * 3 + k] * (p[0] - t[0]) + R[1 * 3 + k] * (p[1] - t[1]) + R[2 * 3 + k] * (p[2] - t[2]));
        /* Scales: mostly 0.5-40 pixels; 7% tiny (log-scale -8, sub-pixel: the 0.3 dilation
         * makes them); 0.5% huge (+1, the whole image) and then translucent, so that they do
         * not hide everything; very close ones small enough to stay on screen. */
        double size_kind = rng_uniform(&r), o_kind = rng_uniform(&r);
        int huge = size_kind >= 0.07 && size_kind < 0.075;
        for (int k = 0; k < 3; k++) {
            double ls = size_kind < 0.07 ? -8.0
                        : huge          ? 1.0
                        : z < 0.4       ? rng_range(&r, -7.5, -5.0)
                                        : rng_range(&r, -5.5, -2.0);
            g->log_scales[i * 3 + (size_t)k] = (float)ls;
        }
        double qn = rng_range(&r, 0.3, 3.0);
        for (int k = 0; k < 4; k++)
            g->quats[i * 4 + (size_t)k] = (float)(qn * rng_range(&r, -1.0, 1.0));
        if (i == 7)
            memset(g->quats + i * 4, 0, 4 * sizeof(float)); /* culled by both */
        g->opacity_logits[i] = (float)(huge             ? rng_range(&r, -4.0, -1.0)
                                       : o_kind < 0.15 ? rng_range(&r, -5.7, -5.3) /* around 1/255 */
                                       : o_kind < 0.3  ? rng_range(&r, 5.0, 12.0)  /* opaque */
                                                       : rng_range(&r, -4.0, 5.0));
        for (size_t k = 0; k < K * 3; k++)
            g->sh[i * K * 3 + k] = (float)(k < 3 ? rng_range(&r, -1.6, 1.6) : rng_range(&r, -0.35, 0.35));
    }
}

/* ---- rendering both ways ------------------------------------------------------------------ */

typedef struct engine_image {
    float *rgb, *alpha, *depth;
    cls_frame_stats stats;
} engine_image;

static void engine_image_free(engine_image *e)
{
    free(e->rgb);
    free(e->alpha);
    free(e->depth);
    memset(e, 0, sizeof *e);
}

/* Renders through a frame (to read the statistics too); fails the test on an error. */
static void engine_render_frame(cls_context *ctx, cls_frame *frame, cls_scene *scene, const cls_camera *cam,
                                const cls_render_desc *desc, engine_image *out)
{
    size_t npix = (size_t)cam->width * cam->height;
    memset(out, 0, sizeof *out);
    out->rgb = malloc(npix * 3 * sizeof(float));
    out->alpha = malloc(npix * sizeof(float));
    out->depth = malloc(npix * sizeof(float));
    ck_assert(out->rgb && out->alpha && out->depth);
    cls_status st = cls_render_forward(frame, scene, cam, desc);
    ck_assert_msg(st == CLS_OK, "cls_render_forward: %s: %s", cls_status_name(st), cls_context_errmsg(ctx));
    st = cls_frame_read(frame, &(cls_render_output){.rgb = out->rgb, .alpha = out->alpha, .depth = out->depth});
    ck_assert_msg(st == CLS_OK, "cls_frame_read: %s: %s", cls_status_name(st), cls_context_errmsg(ctx));
    st = cls_frame_stats_get(frame, &out->stats);
    ck_assert_msg(st == CLS_OK, "cls_frame_stats_get: %s: %s", cls_status_name(st), cls_context_errmsg(ctx));
}

static void engine_render(cls_context *ctx, cls_scene *scene, const cls_camera *cam, const cls_render_desc *desc,
                          engine_image *out)
{
    cls_frame *frame = NULL;
    cls_status st = cls_frame_create(ctx, &frame);
    ck_assert_msg(st == CLS_OK, "cls_frame_create: %s: %s", cls_status_name(st), cls_context_errmsg(ctx));
    engine_render_frame(ctx, frame, scene, cam, desc, out);
    cls_frame_destroy(frame);
}

/* The engine's tile size, from the tile count it reports (16 unless tuned otherwise). */
static int infer_tile(const cls_frame_stats *s)
{
    static const int sizes[] = {16, 8, 32, 64, 4};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint32_t T = (uint32_t)sizes[k];
        if (((s->width + T - 1) / T) * ((s->height + T - 1) / T) == s->tiles)
            return sizes[k];
    }
    ck_abort_msg("no tile size gives %u tiles for %ux%u", s->tiles, s->width, s->height);
    return 16;
}

static ref_options ref_options_from(const cls_render_desc *d, int tile)
{
    ref_options o = ref_options_default();
    o.sh_degree = d->sh_degree == 0 ? -1 : d->sh_degree - 1; /* the desc holds degree + 1 */
    o.antialiased = d->antialiased;
    if (d->near_plane > 0.0f)
        o.near_plane = d->near_plane;
    if (d->far_plane > 0.0f)
        o.far_plane = d->far_plane;
    for (int c = 0; c < 3; c++)
        o.background[c] = d->background[c];
    o.tile = tile;
    return o;
}

/* ---- error statistics --------------------------------------------------------------------- */

typedef struct err_stats {
    double mean, p999, max;
    size_t count, worst; /* values compared; index of the largest error */
} err_stats;

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Statistics of err[0..n) (sorted in place). */
static err_stats summarize(double *err, size_t n)
{
    err_stats s = {0, 0, 0, n, 0};
    if (n == 0)
        return s;
    double sum = 0.0;
    for (size_t k = 0; k < n; k++) {
        sum += err[k];
        if (err[k] > s.max || k == 0) {
            s.max = err[k];
            s.worst = k;
        }
    }
    s.mean = sum / (double)n;
    qsort(err, n, sizeof *err, cmp_double);
    s.p999 = err[(size_t)floor(0.999 * (double)(n - 1))];
    return s;
}

/* |got - want| over n values (NaN counts as an infinite error). */
static err_stats abs_errors(const float *got, const double *want, size_t n)
{
    double *err = malloc((n ? n : 1) * sizeof *err);
    ck_assert_ptr_nonnull(err);
    for (size_t k = 0; k < n; k++) {
        double e = fabs((double)got[k] - want[k]);
        err[k] = e == e ? e : INFINITY;
    }
    err_stats s = summarize(err, n);
    free(err);
    return s;
}

/* Relative error of the expected depth, over pixels where the reference's alpha is at least
 * 0.05: below that the depth is a ratio of two tiny sums and a single threshold flip
 * changes it completely, which the alpha comparison already bounds. */
static err_stats depth_errors(const float *got, const ref_frame *f)
{
    size_t npix = (size_t)f->width * f->height, m = 0;
    double *err = malloc((npix ? npix : 1) * sizeof *err);
    ck_assert_ptr_nonnull(err);
    for (size_t k = 0; k < npix; k++) {
        if (f->alpha[k] < 0.05)
            continue;
        double e = fabs((double)got[k] - f->depth[k]) / fabs(f->depth[k]);
        err[m++] = e == e ? e : INFINITY;
    }
    err_stats s = summarize(err, m);
    free(err);
    return s;
}

typedef struct tolerance {
    double mean, p999, max;
} tolerance;

/* RGB and alpha, absolute. Measured on PoCL (float) over every comparison in this file:
 * mean <= 9.3e-7, p99.9 <= 4.5e-5, max <= 1.2e-3 (a threshold flip). The bounds leave ~10x
 * room on the mean and the percentile; the max bound allows one alpha = 1/255 flip of a
 * bright Gaussian (1/255 x colour <= ~3) and still catches a wrong colour or a missing
 * Gaussian (errors of 0.1-1). */
static const tolerance TOL_IMAGE = {1e-5, 5e-4, 2e-2};
/* Expected depth, relative, where alpha >= 0.05. Measured: mean <= 3.2e-6, p99.9 <= 1.9e-4,
 * max <= 4e-3 (the depth moves more than the colour when a far Gaussian's alpha flips at
 * 1/255 behind a faint near one). */
static const tolerance TOL_DEPTH = {3e-5, 2e-3, 5e-2};

static void check_errors(const char *label, const char *what, err_stats e, tolerance tol)
{
    if (verbose())
        printf("  %-44s %-5s n %7zu  mean %.2e  p99.9 %.2e  max %.2e\n", label, what, e.count, e.mean, e.p999,
               e.max);
    ck_assert_msg(e.mean <= tol.mean, "%s: %s mean abs error %.3e > %.1e", label, what, e.mean, tol.mean);
    ck_assert_msg(e.p999 <= tol.p999, "%s: %s 99.9th percentile error %.3e > %.1e", label, what, e.p999, tol.p999);
    ck_assert_msg(e.max <= tol.max, "%s: %s max error %.3e > %.1e", label, what, e.max, tol.max);
}

/* Visible Gaussians and intersections must match the reference. They are integer decisions
 * on float quantities (o >= 1/255, the bbox against the image edge, ceil(k sqrt(a)),
 * floor((u - r)/16)), so a value within float rounding of a boundary may go the other way:
 * for random inputs that is ~1e-5 per Gaussian. Allowed: 2 + 0.1% of the count. */
static void check_counts(const char *label, const cls_frame_stats *s, const ref_frame *f, size_t n)
{
    long dv = (long)s->visible - (long)f->visible, di = (long)s->intersections - (long)f->intersections;
    if (verbose() || dv != 0 || di != 0)
        printf("  %-44s visible %u (ref %zu), intersections %u (ref %zu)\n", label, s->visible, f->visible,
               s->intersections, f->intersections);
    ck_assert_uint_eq(s->gaussians, n);
    ck_assert_uint_eq(s->width, f->width);
    ck_assert_uint_eq(s->height, f->height);
    ck_assert_msg(labs(dv) <= 2 + (long)(f->visible / 1000), "%s: visible %u, reference %zu", label, s->visible,
                  f->visible);
    ck_assert_msg(labs(di) <= 2 + (long)(f->intersections / 1000), "%s: intersections %u, reference %zu", label,
                  s->intersections, f->intersections);
}

/* Renders g from cam with the engine and the reference and compares everything. */
static void compare_render(cls_context *ctx, cls_scene *scene, const cls_gaussians *g, const cls_camera *cam,
                           const cls_render_desc *desc, const char *label)
{
    engine_image e;
    cls_render_desc d = *desc;
    d.with_depth = 1;
    engine_render(ctx, scene, cam, &d, &e);
    ref_options opt = ref_options_from(&d, infer_tile(&e.stats));
    ref_frame f;
    ck_assert(ref_render(g, cam, &opt, &f));
    size_t npix = (size_t)cam->width * cam->height;
    if (verbose()) {
        double mean_alpha = 0.0, mean_last = 0.0;
        size_t saturated = 0;
        for (size_t k = 0; k < npix; k++) {
            mean_alpha += f.alpha[k] / (double)npix;
            mean_last += f.n_contrib[k] / (double)npix;
            saturated += f.final_t[k] < 1e-3;
        }
        printf("  %-44s ref: mean alpha %.3f, T < 1e-3 at %.1f%%, mean last contributor %.1f\n", label, mean_alpha,
               100.0 * (double)saturated / (double)npix, mean_last);
    }
    check_counts(label, &e.stats, &f, g->count);
    check_errors(label, "rgb", abs_errors(e.rgb, f.rgb, npix * 3), TOL_IMAGE);
    check_errors(label, "alpha", abs_errors(e.alpha, f.alpha, npix), TOL_IMAGE);
    check_errors(label, "depth", depth_errors(e.depth, &f), TOL_DEPTH);
    /* Where the reference hit nothing at all, the engine must show the exact background
     * unless a threshold flipped (alpha then tiny). */
    for (size_t k = 0; k < npix; k++)
        if (f.alpha[k] == 0.0 && e.alpha[k] == 0.0)
            for (int c = 0; c < 3; c++)
                ck_assert_msg(e.rgb[k * 3 + (size_t)c] == d.background[c], "%s: pixel %zu is not the background",
                              label, k);
    ref_frame_free(&f);
    engine_image_free(&e);
}

/* ---- random scenes ------------------------------------------------------------------------ */

typedef struct fwd_case {
    uint32_t width, height;
    size_t count;
    int degree;       /* the scene's SH degree */
    int desc_degree;  /* cls_render_desc.sh_degree: active degree + 1, 0 = the scene's */
    int antialiased;
    float background[3];
    double cx_frac, cy_frac; /* principal point as a fraction of the image size */
} fwd_case;

static const fwd_case full_cases[] = {
    {61, 47, 300, 0, 0, 0, {0.0f, 0.0f, 0.0f}, 0.5, 0.5},
    {61, 47, 300, 3, 1, 1, {0.2f, 0.3f, 0.4f}, 0.42, 0.55},  /* active degree 0 of 3 */
    {128, 96, 800, 1, 0, 0, {1.0f, 1.0f, 1.0f}, 0.5, 0.5},
    {128, 96, 800, 2, 2, 1, {0.0f, 0.5f, 0.0f}, 0.6, 0.4},   /* active degree 1 of 2 */
    {200, 131, 1500, 3, 0, 0, {0.1f, 0.1f, 0.1f}, 0.37, 0.62},
    {200, 131, 1500, 3, 3, 1, {0.3f, 0.2f, 0.1f}, 0.55, 0.45}, /* active degree 2 of 3 */
    {96, 64, 600, 3, 4, 0, {0.5f, 0.5f, 0.5f}, 0.5, 0.5},    /* degree 3 named explicitly */
    {17, 9, 60, 2, 0, 1, {0.0f, 0.0f, 1.0f}, 0.3, 0.7},      /* smaller than one tile */
    {128, 96, 4000, 3, 0, 0, {0.0f, 0.0f, 0.0f}, 0.5, 0.5},  /* dense: many pixels reach T < 1e-4 */
};
static const fwd_case small_cases[] = {
    {32, 24, 50, 3, 0, 0, {0.2f, 0.3f, 0.4f}, 0.5, 0.5},
    {32, 24, 50, 2, 2, 1, {0.0f, 0.0f, 0.0f}, 0.4, 0.6},
};
#define FULL_SEEDS 3

static cls_camera case_camera(const fwd_case *c, uint64_t seed)
{
    rng r = {seed * 7919 + 17};
    double theta = rng_range(&r, 0.0, 2.0 * M_PI), phi = rng_range(&r, -0.8, 0.8), dist = rng_range(&r, 2.0, 6.0);
    double eye[3] = {dist * cos(phi) * cos(theta), dist * sin(phi), dist * cos(phi) * sin(theta)};
    double target[3] = {rng_range(&r, -0.5, 0.5), rng_range(&r, -0.5, 0.5), rng_range(&r, -0.5, 0.5)};
    double down[3] = {rng_range(&r, -0.3, 0.3), 1.0, rng_range(&r, -0.3, 0.3)};
    double fx = c->width * rng_range(&r, 0.7, 1.2), fy = fx * rng_range(&r, 0.9, 1.1);
    return look_at(eye, target, down, c->width, c->height, fx, fy, c->cx_frac * c->width, c->cy_frac * c->height);
}

START_TEST(test_random_scenes)
{
    const fwd_case *cases = small_only() ? small_cases : full_cases;
    int seeds = small_only() ? 1 : FULL_SEEDS;
    const fwd_case *c = &cases[_i / seeds];
    uint64_t seed = (uint64_t)_i + 1;
    cls_context *ctx = open_context();
    cls_camera cam = case_camera(c, seed);
    cls_gaussians g;
    random_scene(&g, c->count, c->degree, &cam, seed);
    cls_scene *scene = NULL;
    cls_status st = cls_scene_create(ctx, &g, &scene);
    ck_assert_msg(st == CLS_OK, "cls_scene_create: %s", cls_context_errmsg(ctx));
    cls_render_desc desc = {.antialiased = c->antialiased, .sh_degree = c->desc_degree};
    memcpy(desc.background, c->background, sizeof desc.background);
    char label[128];
    snprintf(label, sizeof label, "random %ux%u n=%zu deg %d/%d aa %d seed %d", c->width, c->height, c->count,
             c->degree, c->desc_degree - 1, c->antialiased, (int)seed);
    compare_render(ctx, scene, &g, &cam, &desc, label);
    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_near_far_planes)
{
    /* Non-default near and far planes cut the random scene differently. */
    fwd_case c = {small_only() ? 32u : 96u, small_only() ? 24u : 72u, small_only() ? 50u : 500u, 1, 0, 0,
                  {0.1f, 0.1f, 0.1f}, 0.5, 0.5};
    cls_context *ctx = open_context();
    cls_camera cam = case_camera(&c, 99);
    cls_gaussians g;
    random_scene(&g, c.count, c.degree, &cam, 99);
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    cls_render_desc desc = {.near_plane = 1.5f, .far_plane = 6.0f};
    compare_render(ctx, scene, &g, &cam, &desc, "near 1.5 far 6");
    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

/* ---- real data ---------------------------------------------------------------------------- */

/* Cameras looking at the centroid of g from 2x the bounding-box diagonal. */
static cls_camera scene_camera(const cls_gaussians *g, int which, uint32_t width, uint32_t height)
{
    static const double dirs[][3] = {{0.3, -0.2, -1.0}, {1.0, -0.3, 0.2}, {-0.5, -0.5, 0.7}, {0.1, 0.2, 1.0}};
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY}, c[3] = {0, 0, 0};
    for (size_t i = 0; i < g->count; i++)
        for (int k = 0; k < 3; k++) {
            double v = g->means[i * 3 + (size_t)k];
            lo[k] = fmin(lo[k], v);
            hi[k] = fmax(hi[k], v);
            c[k] += v / (double)g->count;
        }
    double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                       (hi[2] - lo[2]) * (hi[2] - lo[2]));
    double d[3] = {dirs[which][0], dirs[which][1], dirs[which][2]};
    normalize3(d);
    double eye[3] = {c[0] + 2.0 * diag * d[0], c[1] + 2.0 * diag * d[1], c[2] + 2.0 * diag * d[2]};
    double down[3] = {0.0, 1.0, 0.0};
    double f = 0.5 * width / tan(25.0 * M_PI / 180.0); /* 50 degrees horizontal field of view */
    double cx = 0.5 * width + (which == 1 ? 0.07 * width : 0.0), cy = 0.5 * height - (which == 2 ? 0.05 * height : 0.0);
    return look_at(eye, c, down, width, height, f, f * (which == 3 ? 1.05 : 1.0), cx, cy);
}

static void compare_real_scene(const char *file, const char *test, int cameras)
{
    if (!shared_data_present(test))
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CLS_SHARED_DATA_DIR, file);
    cls_gaussians g;
    cls_error err;
    cls_status st = cls_gaussians_load(path, &g, &err);
    ck_assert_msg(st == CLS_OK, "cls_gaussians_load %s: %s", path, err.message);
    cls_context *ctx = open_context();
    cls_scene *scene = NULL;
    st = cls_scene_create(ctx, &g, &scene);
    ck_assert_msg(st == CLS_OK, "cls_scene_create: %s", cls_context_errmsg(ctx));
    static const uint32_t sizes[][2] = {{256, 192}, {320, 240}};
    for (int k = 0; k < cameras; k++) {
        uint32_t w = small_only() ? 32 : sizes[k % 2][0], h = small_only() ? 24 : sizes[k % 2][1];
        cls_camera cam = scene_camera(&g, k, w, h);
        cls_render_desc desc = {.antialiased = k == 2, .sh_degree = k == 3 ? 2 : 0};
        if (k == 1)
            desc.background[0] = desc.background[1] = desc.background[2] = 1.0f;
        char label[128];
        snprintf(label, sizeof label, "%s cam %d %ux%u", file, k, w, h);
        compare_render(ctx, scene, &g, &cam, &desc, label);
    }
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    cls_gaussians_free(&g);
}

START_TEST(test_fruit_drops)
{
    if (small_only()) {
        printf("SKIP test_fruit_drops: 4,721 Gaussians is too many for CLS_TEST_SMALL\n");
        return;
    }
    compare_real_scene("fruit_drops_minimal/fruit_drops_minimal.ply", "test_fruit_drops", 4);
}
END_TEST

START_TEST(test_epfl_pc_short)
{
    compare_real_scene("epfl_pc_short/pc_short.ply", "test_epfl_pc_short", small_only() ? 1 : 4);
}
END_TEST

/* ---- determinism -------------------------------------------------------------------------- */

static void assert_images_identical(const engine_image *a, const engine_image *b, size_t npix, const char *what)
{
    ck_assert_msg(memcmp(a->rgb, b->rgb, npix * 3 * sizeof(float)) == 0, "%s: rgb differs", what);
    ck_assert_msg(memcmp(a->alpha, b->alpha, npix * sizeof(float)) == 0, "%s: alpha differs", what);
    ck_assert_msg(memcmp(a->depth, b->depth, npix * sizeof(float)) == 0, "%s: depth differs", what);
    ck_assert_uint_eq(a->stats.visible, b->stats.visible);
    ck_assert_uint_eq(a->stats.intersections, b->stats.intersections);
}

START_TEST(test_determinism)
{
    /* The same inputs give bit-identical images: through one frame twice, through a fresh
     * frame, after the frame rendered a larger and a smaller image in between (its buffers
     * grown and reused), and through the one-shot cls_render. */
    fwd_case c = {small_only() ? 32u : 160u, small_only() ? 24u : 120u, small_only() ? 50u : 2000u, 3, 0, 1,
                  {0.2f, 0.1f, 0.3f}, 0.45, 0.5};
    fwd_case big = c;
    big.width = small_only() ? 48 : 333;
    big.height = small_only() ? 40 : 250;
    cls_context *ctx = open_context();
    cls_camera cam = case_camera(&c, 5), cam_big = case_camera(&big, 6), cam_small = case_camera(&c, 7);
    cam_small.width = 7;
    cam_small.height = 5;
    cls_gaussians g;
    random_scene(&g, c.count, c.degree, &cam, 5);
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    cls_render_desc desc = {.antialiased = 1, .with_depth = 1};
    memcpy(desc.background, c.background, sizeof desc.background);
    size_t npix = (size_t)c.width * c.height;

    cls_frame *frame = NULL;
    ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_OK);
    engine_image a, b, tmp;
    engine_render_frame(ctx, frame, scene, &cam, &desc, &a);
    engine_render_frame(ctx, frame, scene, &cam, &desc, &b);
    assert_images_identical(&a, &b, npix, "same frame twice");
    engine_image_free(&b);
    engine_render_frame(ctx, frame, scene, &cam_big, &desc, &tmp);
    engine_image_free(&tmp);
    engine_render_frame(ctx, frame, scene, &cam_small, &desc, &tmp);
    engine_image_free(&tmp);
    engine_render_frame(ctx, frame, scene, &cam, &desc, &b);
    assert_images_identical(&a, &b, npix, "frame reused after other sizes");
    engine_image_free(&b);
    cls_frame_destroy(frame);

    engine_render(ctx, scene, &cam, &desc, &b);
    assert_images_identical(&a, &b, npix, "fresh frame");
    engine_image_free(&b);

    float *rgb = malloc(npix * 3 * sizeof(float)), *alpha = malloc(npix * sizeof(float)),
          *depth = malloc(npix * sizeof(float));
    ck_assert(rgb && alpha && depth);
    ck_assert_int_eq(cls_render(scene, &cam, &desc, &(cls_render_output){.rgb = rgb, .alpha = alpha, .depth = depth}),
                     CLS_OK);
    ck_assert_msg(memcmp(rgb, a.rgb, npix * 3 * sizeof(float)) == 0, "cls_render: rgb differs");
    ck_assert_msg(memcmp(alpha, a.alpha, npix * sizeof(float)) == 0, "cls_render: alpha differs");
    ck_assert_msg(memcmp(depth, a.depth, npix * sizeof(float)) == 0, "cls_render: depth differs");
    /* Only rgb wanted: the same rgb. */
    memset(rgb, 0, npix * 3 * sizeof(float));
    ck_assert_int_eq(cls_render(scene, &cam, &desc, &(cls_render_output){.rgb = rgb}), CLS_OK);
    ck_assert_msg(memcmp(rgb, a.rgb, npix * 3 * sizeof(float)) == 0, "cls_render rgb only: rgb differs");
    free(rgb);
    free(alpha);
    free(depth);
    engine_image_free(&a);

    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

/* ---- edge cases --------------------------------------------------------------------------- */

START_TEST(test_empty_scene)
{
    /* The header does not say whether a scene may be empty. Accepted: cls_scene_create
     * rejects it with CLS_ERROR_INVALID_ARGUMENT and a message, or it renders the background
     * (or the render rejects it, likewise with a message). */
    cls_context *ctx = open_context();
    cls_gaussians g;
    ck_assert_int_eq(cls_gaussians_alloc(&g, 0, 0, NULL), CLS_OK);
    cls_scene *scene = NULL;
    cls_status st = cls_scene_create(ctx, &g, &scene);
    if (st != CLS_OK) {
        ck_assert_int_eq(st, CLS_ERROR_INVALID_ARGUMENT);
        ck_assert(cls_context_errmsg(ctx)[0] != '\0');
        ck_assert_ptr_null(scene);
    } else {
        cls_camera cam = look_at((double[3]){0, 0, -3}, (double[3]){0, 0, 0}, (double[3]){0, 1, 0}, 20, 10, 20, 20,
                                 10, 5);
        float rgb[20 * 10 * 3], alpha[20 * 10];
        cls_render_desc desc = {.background = {0.25f, 0.5f, 0.75f}};
        st = cls_render(scene, &cam, &desc, &(cls_render_output){.rgb = rgb, .alpha = alpha});
        if (st != CLS_OK) {
            ck_assert_int_eq(st, CLS_ERROR_INVALID_ARGUMENT);
            ck_assert(cls_context_errmsg(ctx)[0] != '\0');
        } else {
            for (size_t k = 0; k < 200; k++) {
                for (int c = 0; c < 3; c++)
                    ck_assert(rgb[k * 3 + (size_t)c] == desc.background[c]);
                ck_assert(alpha[k] == 0.0f);
            }
        }
        cls_scene_destroy(scene);
    }
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_all_culled)
{
    /* Every Gaussian behind the camera, inside the near plane, beyond the far plane, with a
     * zero quaternion, transparent, or off the image: exactly the background, alpha 0,
     * depth 0, nothing visible. */
    const uint32_t W = 45, H = 29;
    cls_context *ctx = open_context();
    cls_gaussians g;
    const size_t n = 40;
    ck_assert_int_eq(cls_gaussians_alloc(&g, n, 1, NULL), CLS_OK);
    rng r = {8};
    for (size_t i = 0; i < n; i++) {
        double x = rng_range(&r, -0.5, 0.5), y = rng_range(&r, -0.5, 0.5), z;
        switch (i % 6) {
        case 0: z = rng_range(&r, -10.0, -0.1); break;     /* behind */
        case 1: z = rng_range(&r, 0.0, 0.009); break;      /* inside the near plane */
        case 2: z = rng_range(&r, 101.0, 200.0); break;    /* beyond far = 100 */
        case 3: z = 3.0; break;                            /* zero quaternion below */
        case 4: z = 3.0; break;                            /* transparent below */
        default: z = 3.0, x = (i & 1 ? 1.0 : -1.0) * 50.0; /* far off the image */
        }
        g.means[i * 3 + 0] = (float)x;
        g.means[i * 3 + 1] = (float)y;
        g.means[i * 3 + 2] = (float)z;
        for (int k = 0; k < 3; k++)
            g.log_scales[i * 3 + (size_t)k] = -2.0f;
        g.quats[i * 4] = i % 6 == 3 ? 0.0f : 1.0f;
        g.opacity_logits[i] = i % 6 == 4 ? -6.0f : 4.0f; /* sigmoid(-6) = 0.0025 < 1/255 */
        for (int k = 0; k < 12; k++)
            g.sh[i * 12 + (size_t)k] = 0.3f;
    }
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    cls_camera cam = look_at((double[3]){0, 0, 0}, (double[3]){0, 0, 1}, (double[3]){0, 1, 0}, W, H, 30, 30, 22.5,
                             14.5);
    cls_render_desc desc = {.background = {0.1f, 0.6f, 0.9f}, .far_plane = 100.0f, .with_depth = 1};
    engine_image e;
    engine_render(ctx, scene, &cam, &desc, &e);
    ck_assert_uint_eq(e.stats.visible, 0);
    ck_assert_uint_eq(e.stats.intersections, 0);
    for (size_t k = 0; k < (size_t)W * H; k++) {
        for (int c = 0; c < 3; c++)
            ck_assert_msg(e.rgb[k * 3 + (size_t)c] == desc.background[c], "pixel %zu channel %d: %g", k, c,
                          (double)e.rgb[k * 3 + (size_t)c]);
        ck_assert(e.alpha[k] == 0.0f);
        ck_assert(e.depth[k] == 0.0f);
    }
    /* The reference agrees that nothing is visible. */
    ref_options opt = ref_options_from(&desc, 16);
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    ck_assert_uint_eq(f.visible, 0);
    ref_frame_free(&f);
    engine_image_free(&e);
    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_one_pixel_image)
{
    fwd_case c = {1, 1, small_only() ? 50u : 200u, 2, 0, 0, {0.3f, 0.3f, 0.3f}, 0.5, 0.5};
    cls_context *ctx = open_context();
    cls_camera cam = case_camera(&c, 11);
    cam.fx = cam.fy = 1.0f; /* a wide view so that the pixel sees many Gaussians */
    cls_gaussians g;
    random_scene(&g, c.count, c.degree, &cam, 11);
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    cls_render_desc desc = {.background = {0.3f, 0.3f, 0.3f}};
    compare_render(ctx, scene, &g, &cam, &desc, "1x1");
    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_width_not_multiple_of_tile)
{
    /* Widths and heights one past and one short of a tile multiple: the last, partial tile
     * column and row are drawn and nothing is written past the row ends. */
    static const uint32_t sizes[][2] = {{33, 17}, {47, 31}, {15, 49}};
    cls_context *ctx = open_context();
    for (int k = 0; k < (small_only() ? 1 : 3); k++) {
        fwd_case c = {sizes[k][0], sizes[k][1], small_only() ? 50u : 300u, 1, 0, 0, {0.0f, 0.2f, 0.0f}, 0.5, 0.5};
        cls_camera cam = case_camera(&c, (uint64_t)(20 + k));
        cls_gaussians g;
        random_scene(&g, c.count, c.degree, &cam, (uint64_t)(20 + k));
        cls_scene *scene = NULL;
        ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
        cls_render_desc desc = {.background = {0.0f, 0.2f, 0.0f}};
        char label[64];
        snprintf(label, sizeof label, "%ux%u", c.width, c.height);
        compare_render(ctx, scene, &g, &cam, &desc, label);
        cls_scene_destroy(scene);
        cls_gaussians_free(&g);
    }
    cls_context_destroy(ctx);
}
END_TEST

static Suite *forward_suite(void)
{
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("engine vs reference");
    int cases = small_only() ? (int)(sizeof small_cases / sizeof small_cases[0])
                             : (int)(sizeof full_cases / sizeof full_cases[0]) * FULL_SEEDS;
    tcase_add_loop_test(tc, test_random_scenes, 0, cases);
    tcase_add_test(tc, test_near_far_planes);
    tcase_add_test(tc, test_fruit_drops);
    tcase_add_test(tc, test_epfl_pc_short);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_empty_scene);
    tcase_add_test(tc, test_all_culled);
    tcase_add_test(tc, test_one_pixel_image);
    tcase_add_test(tc, test_width_not_multiple_of_tile);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(forward_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
