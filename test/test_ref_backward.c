/*
 * test_ref_backward.c - checks of the double-precision backward reference (test/ref/
 * ref_backward.c) against central finite differences of the forward reference. No OpenCL.
 *
 * Nothing here takes the backward's own output as an expected value: every analytic gradient
 * is compared with finite differences of a scalar loss built from the FORWARD reference
 *     L = sum_pix,c w_pc rgb_pc + sum_pix v_p alpha_p + sum_pix u_p depth_p
 * (fixed random weights; the alpha and depth terms where a case enables them), so that the
 * upstream gradients handed to ref_backward are the weights themselves.
 *
 * Finite differences of the stored (float) parameters: x+ = fl(x + h), x- = fl(x - h) with
 * h = 1e-5 max(1, |x|), and the second-order three-point formula for the (slightly unequal)
 * steps actually taken; the loss is evaluated in double, so the quotient is exact to O(h^2)
 * plus ~1e-16 |L| / h of rounding. The forward has discontinuities (the 1/255 skip, the
 * transmittance stop, the depth order) and kinks (alpha = 0.99); the scenes are placed so that
 * no step crosses one (e.g. no two Gaussians at the same depth), and any value where the
 * quotients at h and h/2 disagree (a crossing) is excluded and counted: at most 1% per case
 * (measured: none). Bound: per parameter group, ||analytic - FD|| / ||FD|| <= 1e-4 (measured:
 * 1e-10 .. 7e-9 for the stored parameters, up to 1e-7 for the intermediates). Setting
 * REF_BACKWARD_VERBOSE lists any excluded value.
 *
 * The intermediate gradients (mean2d, conic, blending opacity, colour, depth) are checked the
 * same way against an independent re-implementation of the blending (blend_loss below) in
 * which one projected quantity of one Gaussian at a time is perturbed; the densification
 * statistics against per-pixel finite differences of that blending.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_backward.h"
#include "ref/ref_forward.h"

/* ---- bounds ------------------------------------------------------------------------------ */

#define REL_ERR_MAX 1e-4        /* ||analytic - FD|| / ||FD|| per parameter group */
#define EXCLUDED_FRACTION_MAX 0.01
#define DISAGREE_TOL 1e-6       /* |FD_h - FD_h/2| > DISAGREE_TOL (|FD_h| + rms): a crossing */

/* ---- helpers ----------------------------------------------------------------------------- */

/* xorshift64*: small, seeded, the same everywhere. */
typedef struct rng {
    uint64_t s;
} rng;

static double rng_uniform(rng *r) /* [0, 1) */
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

static size_t sh_k(int degree)
{
    return (size_t)((degree + 1) * (degree + 1));
}

static double logit(double o)
{
    return log(o / (1.0 - o));
}

/* A camera rotated by `angle` about `axis` (Rodrigues), translated by t. */
static cls_camera camera_posed(uint32_t w, uint32_t h, float f, float cx, float cy, const double axis[3],
                               double angle, const double t[3])
{
    cls_camera cam;
    memset(&cam, 0, sizeof cam);
    cam.width = w;
    cam.height = h;
    cam.fx = cam.fy = f;
    cam.cx = cx;
    cam.cy = cy;
    double n = sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
    double k[3] = {axis[0] / n, axis[1] / n, axis[2] / n}, c = cos(angle), s = sin(angle);
    double K[9] = {0, -k[2], k[1], k[2], 0, -k[0], -k[1], k[0], 0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double kk = 0.0;
            for (int l = 0; l < 3; l++)
                kk += K[i * 3 + l] * K[l * 3 + j];
            cam.rotation[i * 3 + j] = (float)((i == j ? 1.0 : 0.0) + s * K[i * 3 + j] + (1.0 - c) * kk);
        }
    for (int i = 0; i < 3; i++)
        cam.translation[i] = (float)t[i];
    return cam;
}

/* Stores the world mean whose camera-space image is p: mu = R^T (p - t). */
static void set_mean_camera(cls_gaussians *g, size_t i, const cls_camera *cam, const double p[3])
{
    for (int r = 0; r < 3; r++) {
        double s = 0.0;
        for (int k = 0; k < 3; k++)
            s += (double)cam->rotation[k * 3 + r] * (p[k] - (double)cam->translation[k]);
        g->means[i * 3 + (size_t)r] = (float)s;
    }
}

/* Gaussian i centred on pixel position (u, v) at depth z, axis scales of about s_px pixels,
 * opacity o, a random non-normalised quaternion and random SH around a mid-grey colour. */
static void set_gaussian(cls_gaussians *g, size_t i, const cls_camera *cam, rng *r, double u, double v, double z,
                         const double s_px[3], double o)
{
    double p[3] = {(u - cam->cx) * z / cam->fx, (v - cam->cy) * z / cam->fy, z};
    set_mean_camera(g, i, cam, p);
    for (int k = 0; k < 3; k++)
        g->log_scales[i * 3 + (size_t)k] = (float)log(s_px[k] * fabs(z) / cam->fx);
    double q[4], qn;
    do {
        for (int k = 0; k < 4; k++)
            q[k] = rng_range(r, -1.0, 1.0);
        qn = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    } while (qn < 0.3 || qn > 1.0);
    double scale = rng_range(r, 0.3, 2.5); /* not normalised on purpose */
    for (int k = 0; k < 4; k++)
        g->quats[i * 4 + (size_t)k] = (float)(q[k] * scale);
    g->opacity_logits[i] = (float)logit(o);
    size_t K = sh_k(g->sh_degree);
    for (int c = 0; c < 3; c++)
        g->sh[i * K * 3 + (size_t)c] = (float)((rng_range(r, 0.25, 0.75) - 0.5) / REF_SH_C0);
    for (size_t k = 1; k < K; k++)
        for (int c = 0; c < 3; c++)
            g->sh[i * K * 3 + k * 3 + (size_t)c] = (float)rng_range(r, -0.25, 0.25);
}

/* Host Gaussians allocated here (not with cls_gaussians_alloc) so that this test needs nothing
 * but the two references. */
static cls_gaussians scene_alloc(size_t n, int degree)
{
    cls_gaussians g;
    memset(&g, 0, sizeof g);
    g.count = n;
    g.sh_degree = degree;
    g.means = calloc(n * 3 + 1, sizeof(float));
    g.log_scales = calloc(n * 3 + 1, sizeof(float));
    g.quats = calloc(n * 4 + 1, sizeof(float));
    g.opacity_logits = calloc(n + 1, sizeof(float));
    g.sh = calloc(n * sh_k(degree) * 3 + 1, sizeof(float));
    ck_assert(g.means && g.log_scales && g.quats && g.opacity_logits && g.sh);
    return g;
}

static void scene_free(cls_gaussians *g)
{
    free(g->means);
    free(g->log_scales);
    free(g->quats);
    free(g->opacity_logits);
    free(g->sh);
    memset(g, 0, sizeof *g);
}

/* ---- the loss ---------------------------------------------------------------------------- */

typedef struct loss_weights {
    size_t npix;
    double *rgb;   /* npix * 3 */
    double *alpha; /* npix, or NULL: no alpha term */
    double *depth; /* npix, or NULL: no depth term */
} loss_weights;

static loss_weights weights_make(size_t npix, int with_alpha, int with_depth, uint64_t seed)
{
    rng r = {seed};
    loss_weights w;
    w.npix = npix;
    w.rgb = malloc(npix * 3 * sizeof(double));
    w.alpha = with_alpha ? malloc(npix * sizeof(double)) : NULL;
    w.depth = with_depth ? malloc(npix * sizeof(double)) : NULL;
    ck_assert(w.rgb && (!with_alpha || w.alpha) && (!with_depth || w.depth));
    for (size_t p = 0; p < npix * 3; p++)
        w.rgb[p] = rng_range(&r, -1.0, 1.0);
    for (size_t p = 0; with_alpha && p < npix; p++)
        w.alpha[p] = rng_range(&r, -1.0, 1.0);
    for (size_t p = 0; with_depth && p < npix; p++)
        w.depth[p] = rng_range(&r, -0.3, 0.3);
    return w;
}

static void weights_free(loss_weights *w)
{
    free(w->rgb);
    free(w->alpha);
    free(w->depth);
}

static double pixel_loss(const loss_weights *w, size_t p, const double rgb[3], double alpha, double depth)
{
    double l = w->rgb[p * 3 + 0] * rgb[0] + w->rgb[p * 3 + 1] * rgb[1] + w->rgb[p * 3 + 2] * rgb[2];
    if (w->alpha)
        l += w->alpha[p] * alpha;
    if (w->depth)
        l += w->depth[p] * depth;
    return l;
}

static double frame_loss(const ref_frame *f, const loss_weights *w, double *pix_loss)
{
    double L = 0.0;
    for (size_t p = 0; p < w->npix; p++) {
        double l = pixel_loss(w, p, f->rgb + p * 3, f->alpha[p], f->depth[p]);
        if (pix_loss)
            pix_loss[p] = l;
        L += l;
    }
    return L;
}

static double render_loss(const cls_gaussians *g, const cls_camera *cam, const ref_options *opt,
                          const loss_weights *w)
{
    ref_frame f;
    ck_assert(ref_render(g, cam, opt, &f));
    double L = frame_loss(&f, w, NULL);
    ref_frame_free(&f);
    return L;
}

/* An independent re-implementation of the blending of 3dgs-math.md section 5 over given
 * projections, with the frame's depth order and tile rectangles: lets a test perturb one
 * projected quantity of one Gaussian and nothing else. Per-pixel losses go to pix_loss (may
 * be NULL); *saturated and *stopped (may be NULL) count the contributions with o G > 0.99 and
 * the pixels that hit the transmittance stop. */
static double blend_loss(const ref_frame *f, const ref_projection *proj, const ref_options *opt,
                         const loss_weights *w, double *pix_loss, int *saturated, int *stopped)
{
    double L = 0.0;
    int T = f->tile;
    for (unsigned i = 0; i < f->height; i++)
        for (unsigned j = 0; j < f->width; j++) {
            int tx = (int)j / T, ty = (int)i / T;
            double Tr = 1.0, C[3] = {0, 0, 0}, D = 0.0;
            for (size_t k = 0; k < f->visible; k++) {
                const ref_projection *pr = &proj[f->order[k]];
                if (!ref_tile_touched(pr, T, tx, ty))
                    continue;
                double dx = pr->u - (j + 0.5), dy = pr->v - (i + 0.5);
                double s = 0.5 * (pr->conic[0] * dx * dx + pr->conic[2] * dy * dy) + pr->conic[1] * dx * dy;
                if (s < 0.0)
                    continue;
                double a = fmin(REF_ALPHA_MAX, pr->opacity * exp(-s));
                if (a < REF_ALPHA_MIN)
                    continue;
                if (Tr * (1.0 - a) < REF_T_MIN) {
                    if (stopped)
                        (*stopped)++;
                    break;
                }
                if (saturated && pr->opacity * exp(-s) > REF_ALPHA_MAX)
                    (*saturated)++;
                for (int c = 0; c < 3; c++)
                    C[c] += pr->rgb[c] * a * Tr;
                D += pr->depth * a * Tr;
                Tr *= 1.0 - a;
            }
            double rgb[3];
            for (int c = 0; c < 3; c++)
                rgb[c] = C[c] + Tr * opt->background[c];
            size_t p = (size_t)i * f->width + j;
            double l = pixel_loss(w, p, rgb, 1.0 - Tr, 1.0 - Tr > 0.0 ? D / (1.0 - Tr) : 0.0);
            if (pix_loss)
                pix_loss[p] = l;
            L += l;
        }
    return L;
}

/* ---- comparing analytic with finite differences ------------------------------------------ */

typedef struct case_stats {
    size_t params, excluded;
} case_stats;

/* Compares analytic[0..m) with the difference quotients fd1 (step h) and fd2 (h/2); entries
 * where fd1 and fd2 disagree are excluded and counted in *cs. Asserts the relative L2 error
 * and returns it. */
static double compare_group(const char *label, const char *group, const double *analytic, const double *fd1,
                            const double *fd2, size_t m, case_stats *cs)
{
    double rms = 0.0;
    for (size_t k = 0; k < m; k++)
        rms += fd1[k] * fd1[k];
    rms = sqrt(rms / (double)(m > 0 ? m : 1));
    double num = 0.0, den = 0.0;
    size_t excluded = 0;
    for (size_t k = 0; k < m; k++) {
        if (fabs(fd1[k] - fd2[k]) > DISAGREE_TOL * (fabs(fd1[k]) + rms) + 1e-12) {
            if (getenv("REF_BACKWARD_VERBOSE"))
                printf("    excluded %s %s [%zu]: analytic %.10g fd(h) %.10g fd(h/2) %.10g\n", label, group, k,
                       analytic[k], fd1[k], fd2[k]);
            excluded++;
            continue;
        }
        num += (analytic[k] - fd1[k]) * (analytic[k] - fd1[k]);
        den += fd1[k] * fd1[k];
    }
    cs->params += m;
    cs->excluded += excluded;
    ck_assert_msg(den > 0.0, "%s %s: the finite differences are all zero", label, group);
    double rel = sqrt(num / den);
    printf("  %-22s %-16s rel L2 err %.2e  (%zu values, %zu excluded, |FD| rms %.3g)\n", label, group, rel, m,
           excluded, rms);
    ck_assert_msg(rel <= REL_ERR_MAX, "%s %s: relative error %.3e > %.0e", label, group, rel, REL_ERR_MAX);
    return rel;
}

/* dL/dx at the stored float *p by second-order differences on the float grid: x+ = fl(x + h),
 * x- = fl(x - h) need not be symmetric, so the three-point formula for unequal steps is used,
 * f'(x) = (hm^2 f(x+) - hp^2 f(x-) - (hm^2 - hp^2) f(x)) / (hm hp (hm + hp)), exact for
 * quadratics; at h ~ 1e-5 max(1, |x|) and at h/2. l0 is the loss at x. */
static void fd_float(float *p, const cls_gaussians *g, const cls_camera *cam, const ref_options *opt,
                     const loss_weights *w, double l0, double *fd1, double *fd2)
{
    const float x = *p;
    double out[2];
    for (int s = 0; s < 2; s++) {
        double h = (s == 0 ? 1e-5 : 0.5e-5) * fmax(1.0, fabs((double)x));
        float xp = (float)((double)x + h), xm = (float)((double)x - h);
        double hp = (double)xp - (double)x, hm = (double)x - (double)xm;
        ck_assert(hp > 0.0 && hm > 0.0);
        *p = xp;
        double lp = render_loss(g, cam, opt, w);
        *p = xm;
        double lm = render_loss(g, cam, opt, w);
        out[s] = (hm * hm * (lp - l0) - hp * hp * (lm - l0)) / (hm * hp * (hm + hp));
    }
    *p = x;
    *fd1 = out[0];
    *fd2 = out[1];
}

/* Finite differences of the stored values arr[idx[k]] against analytic[idx[k]]. */
static double check_params(const char *label, const char *group, cls_gaussians *g, const cls_camera *cam,
                           const ref_options *opt, const loss_weights *w, float *arr, const double *analytic,
                           const size_t *idx, size_t m, case_stats *cs)
{
    double *a = malloc(m * sizeof(double)), *f1 = malloc(m * sizeof(double)), *f2 = malloc(m * sizeof(double));
    ck_assert(a && f1 && f2);
    double l0 = render_loss(g, cam, opt, w);
    for (size_t k = 0; k < m; k++) {
        a[k] = analytic[idx[k]];
        fd_float(&arr[idx[k]], g, cam, opt, w, l0, &f1[k], &f2[k]);
    }
    double rel = compare_group(label, group, a, f1, f2, m, cs);
    free(a);
    free(f1);
    free(f2);
    return rel;
}

static size_t *index_range(size_t m)
{
    size_t *idx = malloc((m > 0 ? m : 1) * sizeof *idx);
    ck_assert(idx);
    for (size_t k = 0; k < m; k++)
        idx[k] = k;
    return idx;
}

/* ---- one case: every parameter group, optionally the intermediates ----------------------- */

typedef struct case_desc {
    const char *label;
    int with_alpha, with_depth;
    int intermediates; /* also check mean2d, conic, opacity, colour, depth and the statistics */
} case_desc;

static void check_intermediates(const case_desc *cd, const cls_camera *cam, const ref_options *opt,
                                const loss_weights *w, const ref_frame *f, const ref_grads *gr, case_stats *cs);

static void run_case(const case_desc *cd, cls_gaussians *g, const cls_camera *cam, const ref_options *opt)
{
    size_t n = g->count, npix = (size_t)cam->width * cam->height, K = sh_k(g->sh_degree);
    int active = opt->sh_degree < 0 || opt->sh_degree > g->sh_degree ? g->sh_degree : opt->sh_degree;
    loss_weights w = weights_make(npix, cd->with_alpha, cd->with_depth, 0xC0FFEEull + npix);
    ref_grads gr;
    ck_assert(ref_grads_alloc(&gr, n, g->sh_degree));
    ck_assert(ref_backward(g, cam, opt, w.rgb, w.alpha, w.depth, &gr));
    ref_frame f;
    ck_assert(ref_render(g, cam, opt, &f));
    printf("%s: %zu Gaussians (%zu visible), %ux%u, SH degree %d active %d, aa %d, alpha %d, depth %d\n", cd->label,
           n, f.visible, cam->width, cam->height, g->sh_degree, active, opt->antialiased, cd->with_alpha,
           cd->with_depth);

    /* Visibility equals the forward's; culled Gaussians get exactly nothing. */
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(gr.visible[i], f.proj[i].visible);
        if (f.proj[i].visible)
            continue;
        ck_assert(gr.opacity_logits[i] == 0.0 && gr.opacity[i] == 0.0 && gr.depth[i] == 0.0);
        ck_assert(gr.grad_norm[i] == 0.0 && gr.absgrad_norm[i] == 0.0);
        for (int k = 0; k < 3; k++)
            ck_assert(gr.means[i * 3 + (size_t)k] == 0.0 && gr.log_scales[i * 3 + (size_t)k] == 0.0 &&
                      gr.conic[i * 3 + (size_t)k] == 0.0 && gr.colour[i * 3 + (size_t)k] == 0.0);
        for (size_t k = 0; k < K * 3; k++)
            ck_assert(gr.sh[i * K * 3 + k] == 0.0);
    }

    case_stats cs = {0, 0};
    size_t *idx = index_range(n * K * 3);
    const double l0 = render_loss(g, cam, opt, &w);
    check_params(cd->label, "means", g, cam, opt, &w, g->means, gr.means, idx, n * 3, &cs);
    check_params(cd->label, "log_scales", g, cam, opt, &w, g->log_scales, gr.log_scales, idx, n * 3, &cs);
    check_params(cd->label, "quats (raw)", g, cam, opt, &w, g->quats, gr.quats, idx, n * 4, &cs);
    check_params(cd->label, "opacity_logits", g, cam, opt, &w, g->opacity_logits, gr.opacity_logits, idx, n, &cs);

    /* SH, one group per band; bands above the active degree: exactly zero, and the loss does not
     * move either. */
    for (int band = 0; band <= g->sh_degree; band++) {
        size_t k0 = (size_t)(band * band), k1 = (size_t)((band + 1) * (band + 1)), m = 0;
        size_t *sidx = malloc(n * (k1 - k0) * 3 * sizeof *sidx);
        ck_assert(sidx);
        for (size_t i = 0; i < n; i++)
            for (size_t k = k0; k < k1; k++)
                for (size_t c = 0; c < 3; c++)
                    sidx[m++] = i * K * 3 + k * 3 + c;
        char name[32];
        snprintf(name, sizeof name, "sh band %d", band);
        if (band <= active) {
            check_params(cd->label, name, g, cam, opt, &w, g->sh, gr.sh, sidx, m, &cs);
        } else {
            for (size_t k = 0; k < m; k++) {
                double f1, f2;
                ck_assert_msg(gr.sh[sidx[k]] == 0.0, "%s: inactive sh[%zu] gradient %g", cd->label, sidx[k],
                              gr.sh[sidx[k]]);
                fd_float(&g->sh[sidx[k]], g, cam, opt, &w, l0, &f1, &f2);
                ck_assert(f1 == 0.0 && f2 == 0.0);
            }
            printf("  %-22s %-16s inactive: %zu values exactly zero\n", cd->label, name, m);
        }
        free(sidx);
    }

    /* Clamped colour channels: no gradient to any of their coefficients, and indeed none moves
     * the loss. At least one such channel must be present where a case says so. */
    int clamped_channels = 0;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            if (!f.proj[i].visible || !f.proj[i].clamped[c])
                continue;
            clamped_channels++;
            ck_assert(gr.colour[i * 3 + (size_t)c] != 0.0); /* the blending does see it */
            for (size_t k = 0; k < K; k++) {
                size_t e = i * K * 3 + k * 3 + (size_t)c;
                double f1, f2;
                ck_assert_msg(gr.sh[e] == 0.0, "%s: clamped channel %d of Gaussian %zu: sh gradient %g", cd->label, c,
                              i, gr.sh[e]);
                fd_float(&g->sh[e], g, cam, opt, &w, l0, &f1, &f2);
                ck_assert(f1 == 0.0);
            }
        }
    if (clamped_channels)
        printf("  %-22s %d clamped colour channel(s): SH gradient exactly zero\n", cd->label, clamped_channels);

    if (cd->intermediates)
        check_intermediates(cd, cam, opt, &w, &f, &gr, &cs);

    printf("  %-22s excluded %zu of %zu values (crossings)\n", cd->label, cs.excluded, cs.params);
    ck_assert_msg((double)cs.excluded <= EXCLUDED_FRACTION_MAX * (double)cs.params, "%s: %zu of %zu excluded",
                  cd->label, cs.excluded, cs.params);
    free(idx);
    ref_frame_free(&f);
    ref_grads_free(&gr);
    weights_free(&w);
}

/* One projected quantity of one Gaussian, by pointer into a copy of the projections. */
static void fd_blend(double *field, double h, const ref_frame *f, const ref_projection *proj,
                     const ref_options *opt, const loss_weights *w, double *fd1, double *fd2)
{
    double x = *field, out[2], steps[2] = {h, 0.5 * h};
    for (int s = 0; s < 2; s++) {
        *field = x + steps[s];
        double lp = blend_loss(f, proj, opt, w, NULL, NULL, NULL);
        *field = x - steps[s];
        double lm = blend_loss(f, proj, opt, w, NULL, NULL, NULL);
        out[s] = (lp - lm) / (2.0 * steps[s]);
    }
    *field = x;
    *fd1 = out[0];
    *fd2 = out[1];
}

static void check_intermediates(const case_desc *cd, const cls_camera *cam, const ref_options *opt,
                                const loss_weights *w, const ref_frame *f, const ref_grads *gr, case_stats *cs)
{
    size_t n = gr->count, npix = w->npix;
    ref_projection *proj = malloc(n * sizeof *proj);
    double *pl = malloc(npix * sizeof(double)), *pl2 = malloc(npix * sizeof(double));
    double *pp = malloc(npix * sizeof(double)), *pm = malloc(npix * sizeof(double));
    ck_assert(proj && pl && pl2 && pp && pm);
    memcpy(proj, f->proj, n * sizeof *proj);

    /* The re-implemented blending gives ref_render's images. */
    int saturated = 0, stopped = 0;
    blend_loss(f, proj, opt, w, pl, &saturated, &stopped);
    frame_loss(f, w, pl2);
    for (size_t p = 0; p < npix; p++)
        ck_assert_msg(fabs(pl[p] - pl2[p]) <= 1e-13 * (1.0 + fabs(pl2[p])), "pixel %zu: %.17g vs %.17g", p, pl[p],
                      pl2[p]);
    printf("  %-22s blending: %d saturated contributions, %d pixels stopped\n", cd->label, saturated, stopped);

    /* Per visible Gaussian: u, v, A, B, C, o, r, g, b, z. */
    enum { NF = 10 };
    size_t nv = 0;
    for (size_t i = 0; i < n; i++)
        nv += (size_t)f->proj[i].visible;
    double *an[NF], *f1[NF], *f2[NF];
    for (int k = 0; k < NF; k++) {
        an[k] = malloc(nv * sizeof(double));
        f1[k] = malloc(nv * sizeof(double));
        f2[k] = malloc(nv * sizeof(double));
        ck_assert(an[k] && f1[k] && f2[k]);
    }
    double *abs1 = malloc(nv * sizeof(double)), *abs2 = malloc(nv * sizeof(double));
    double *absan = malloc(nv * sizeof(double)), *gn_fd = malloc(nv * sizeof(double));
    double *gn_an = malloc(nv * sizeof(double));
    ck_assert(abs1 && abs2 && absan && gn_fd && gn_an);
    double W = cam->width, H = cam->height;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!f->proj[i].visible)
            continue;
        ref_projection *pr = &proj[i];
        double *fields[NF] = {&pr->u, &pr->v, &pr->conic[0], &pr->conic[1], &pr->conic[2],
                              &pr->opacity, &pr->rgb[0], &pr->rgb[1], &pr->rgb[2], &pr->depth};
        const double analytic[NF] = {gr->mean2d[i * 2], gr->mean2d[i * 2 + 1], gr->conic[i * 3],
                                     gr->conic[i * 3 + 1], gr->conic[i * 3 + 2], gr->opacity[i],
                                     gr->colour[i * 3], gr->colour[i * 3 + 1], gr->colour[i * 3 + 2], gr->depth[i]};
        for (int k = 0; k < NF; k++) {
            double h = 1e-6 * fmax(fabs(*fields[k]), k >= 2 && k <= 4 ? 1e-2 : 1.0);
            an[k][v] = analytic[k];
            fd_blend(fields[k], h, f, proj, opt, w, &f1[k][v], &f2[k][v]);
        }
        /* absgrad: per pixel |dL_pix/du|, |dL_pix/dv|, summed, at steps h and h/2. */
        double sums[2][2];
        for (int s = 0; s < 2; s++)
            for (int axis = 0; axis < 2; axis++) {
                double *fld = axis == 0 ? &pr->u : &pr->v, x = *fld, h = s == 0 ? 1e-6 : 0.5e-6;
                *fld = x + h;
                blend_loss(f, proj, opt, w, pp, NULL, NULL);
                *fld = x - h;
                blend_loss(f, proj, opt, w, pm, NULL, NULL);
                *fld = x;
                double sum = 0.0;
                for (size_t p = 0; p < npix; p++)
                    sum += fabs(pp[p] - pm[p]) / (2.0 * h);
                sums[s][axis] = sum;
            }
        abs1[v] = hypot(sums[0][0] * W / 2, sums[0][1] * H / 2);
        abs2[v] = hypot(sums[1][0] * W / 2, sums[1][1] * H / 2);
        absan[v] = gr->absgrad_norm[i];
        gn_fd[v] = hypot(f1[0][v] * W / 2, f1[1][v] * H / 2);
        gn_an[v] = gr->grad_norm[i];
        /* |sum| <= sum |.| per component, so the absgrad norm bounds the grad norm. */
        ck_assert(gr->absgrad_norm[i] >= gr->grad_norm[i] * (1.0 - 1e-12));
        v++;
    }
    const char *names[NF] = {"mean2d u", "mean2d v", "conic A", "conic B", "conic C",
                             "opacity (blend)", "colour r", "colour g", "colour b", "depth z"};
    for (int k = 0; k < NF; k++) {
        if (!cd->with_depth && k == NF - 1) {
            for (size_t j = 0; j < nv; j++)
                ck_assert(an[k][j] == 0.0 && f1[k][j] == 0.0);
            continue;
        }
        compare_group(cd->label, names[k], an[k], f1[k], f2[k], nv, cs);
    }
    compare_group(cd->label, "absgrad norm", absan, abs1, abs2, nv, cs);
    compare_group(cd->label, "grad norm", gn_an, gn_fd, gn_fd, nv, cs);
    for (int k = 0; k < NF; k++) {
        free(an[k]);
        free(f1[k]);
        free(f2[k]);
    }
    free(abs1);
    free(abs2);
    free(absan);
    free(gn_fd);
    free(gn_an);
    free(proj);
    free(pl);
    free(pl2);
    free(pp);
    free(pm);
}

/* ---- scenes ------------------------------------------------------------------------------ */

static cls_camera test_camera(void)
{
    /* 24x20: 2x2 tiles of 16 pixels, off-centre principal point, a posed camera. */
    const double axis[3] = {0.3, 1.0, 0.2}, t[3] = {0.1, -0.2, 0.3};
    return camera_posed(24, 20, 22.0f, 11.3f, 9.1f, axis, 0.25, t);
}

/* Quaternion (w, x, y, z) of a rotation matrix (row-major), Shepperd's method. */
static void rotmat_to_quat(const double R[9], double q[4])
{
    double tr = R[0] + R[4] + R[8];
    if (tr > 0.0) {
        double s = 2.0 * sqrt(1.0 + tr);
        q[0] = 0.25 * s, q[1] = (R[7] - R[5]) / s, q[2] = (R[2] - R[6]) / s, q[3] = (R[3] - R[1]) / s;
    } else if (R[0] > R[4] && R[0] > R[8]) {
        double s = 2.0 * sqrt(1.0 + R[0] - R[4] - R[8]);
        q[0] = (R[7] - R[5]) / s, q[1] = 0.25 * s, q[2] = (R[1] + R[3]) / s, q[3] = (R[2] + R[6]) / s;
    } else if (R[4] > R[8]) {
        double s = 2.0 * sqrt(1.0 + R[4] - R[0] - R[8]);
        q[0] = (R[2] - R[6]) / s, q[1] = (R[1] + R[3]) / s, q[2] = 0.25 * s, q[3] = (R[5] + R[7]) / s;
    } else {
        double s = 2.0 * sqrt(1.0 + R[8] - R[0] - R[4]);
        q[0] = (R[3] - R[1]) / s, q[1] = (R[2] + R[6]) / s, q[2] = (R[5] + R[7]) / s, q[3] = 0.25 * s;
    }
}

/* The "mixed" scene (SH degree 3): Gaussians across the tile borders x = 16 and y = 16 and the
 * image borders, opaque stacks that saturate alpha (o G > 0.99) and hit the transmittance stop,
 * a channel clamped at 0, a sub-pixel Gaussian and a needle (both on the antialiasing floor),
 * one behind the camera and one off the image. */
static cls_gaussians scene_mixed(const cls_camera *cam)
{
    rng r = {20240611};
    cls_gaussians g = scene_alloc(17, 3);
    const struct {
        double u, v, z, s[3], o;
    } d[] = {
        {16.2, 9.7, 3.0, {2.0, 1.2, 1.5}, 0.7},   /* 0: across x = 16 */
        {5.5, 16.4, 4.0, {1.5, 2.5, 1.0}, 0.8},   /* 1: across y = 16 */
        {16.5, 15.8, 4.4, {3.0, 2.0, 2.0}, 0.6},  /* 2: at the corner of four tiles */
        {-1.5, 8.0, 3.5, {2.5, 2.5, 2.5}, 0.9},   /* 3: over the left border */
        {22.8, 19.6, 5.0, {2.0, 2.0, 2.0}, 0.85}, /* 4: over the bottom-right corner */
        {10.4, 6.4, 2.6, {2.2, 2.2, 2.2}, 0.9999}, /* 5: saturates near (10.5, 6.5) */
        {11.0, 7.0, 2.8, {3.0, 2.5, 3.0}, 0.97},  /* 6: behind 5 */
        {10.5, 6.5, 3.2, {3.0, 3.0, 2.0}, 0.98},  /* 7: behind 6: the stop */
        {7.0, 13.0, 3.3, {2.0, 1.5, 2.0}, 0.75},  /* 8: red clamped */
        {18.6, 4.6, 2.2, {1.0, 1.0, 1.0}, 0.98},  /* 9: sub-pixel, scales set below */
        {12.0, 10.0, -2.0, {2.0, 2.0, 2.0}, 0.9}, /* 10: behind the camera */
        {60.0, 10.0, 3.0, {1.0, 1.0, 1.0}, 0.9},  /* 11: off the image */
        {4.3, 4.4, 3.6, {2.5, 2.5, 2.5}, 0.9995}, /* 12-15: a second opaque stack */
        {4.6, 4.7, 3.9, {2.8, 2.8, 2.8}, 0.99},
        {4.9, 4.2, 4.2, {2.6, 2.6, 2.6}, 0.99},
        {4.4, 4.9, 4.5, {3.0, 3.0, 3.0}, 0.98},
        {20.55, 12.0, 2.4, {3.0, 1.0, 1.0}, 0.98}, /* 16: a vertical needle, set below */
    };
    for (size_t i = 0; i < g.count; i++)
        set_gaussian(&g, i, cam, &r, d[i].u, d[i].v, d[i].z, d[i].s, d[i].o);
    /* 8: red is -0.4 whatever the direction. */
    g.sh[8 * 48 + 0] = (float)((-0.4 - 0.5) / REF_SH_C0);
    for (size_t k = 1; k < 16; k++)
        g.sh[8 * 48 + k * 3] = 0.0f;
    /* 9: a 3e-4 world-unit Gaussian: det0 / det ~ 1e-9 is floored in antialiased mode. */
    for (int k = 0; k < 3; k++)
        g.log_scales[9 * 3 + (size_t)k] = -8.0f;
    /* 16: 3 pixels long along the camera's y axis, 1e-4 wide: det0 / det ~ 4e-6, floored too,
     * with a covariance large enough for the floor to matter. Local axes (0, 1, 2) = camera
     * (y, z, x), a rotation, its quaternion scaled by 1.3. */
    double Rl[9], q[4];
    for (int row = 0; row < 3; row++) {
        Rl[row * 3 + 0] = cam->rotation[1 * 3 + row];
        Rl[row * 3 + 1] = cam->rotation[2 * 3 + row];
        Rl[row * 3 + 2] = cam->rotation[0 * 3 + row];
    }
    rotmat_to_quat(Rl, q);
    for (int k = 0; k < 4; k++)
        g.quats[16 * 4 + (size_t)k] = (float)(1.3 * q[k]);
    g.log_scales[16 * 3 + 1] = g.log_scales[16 * 3 + 2] = -9.0f;
    return g;
}

/* Frustum-clamped Gaussians: 0 far right (x/z beyond lim_x+), 1 far above (y/z below -lim_y-),
 * both large enough to reach into the image; three ordinary ones overlapping them. */
static cls_gaussians scene_frustum(const cls_camera *cam)
{
    rng r = {777};
    cls_gaussians g = scene_alloc(5, 2);
    const struct {
        double u, v, z, s[3], o;
    } d[] = {
        {33.0, 10.0, 3.0, {8.0, 3.0, 8.0}, 0.8},
        {12.0, -12.0, 3.3, {3.0, 9.0, 8.0}, 0.85},
        {20.0, 8.0, 4.0, {2.5, 2.0, 3.0}, 0.7},
        {12.0, 3.0, 3.5, {2.0, 2.5, 2.0}, 0.6},
        {8.0, 10.0, 2.5, {3.0, 2.0, 2.0}, 0.75},
    };
    for (size_t i = 0; i < g.count; i++)
        set_gaussian(&g, i, cam, &r, d[i].u, d[i].v, d[i].z, d[i].s, d[i].o);
    /* Keep the two big ones nearly axis-aligned (still not normalised): elongated along x and y. */
    const float q0[4] = {1.7f, 0.1f, -0.05f, 0.08f}, q1[4] = {0.6f, -0.03f, 0.04f, 0.05f};
    memcpy(g.quats, q0, sizeof q0);
    memcpy(g.quats + 4, q1, sizeof q1);
    return g;
}

/* ---- tests ------------------------------------------------------------------------------- */

START_TEST(test_sh_basis_grad_matches_fd)
{
    rng r = {31};
    for (int trial = 0; trial < 200; trial++) {
        double n[3] = {rng_range(&r, -1, 1), rng_range(&r, -1, 1), rng_range(&r, -1, 1)}, dY[48];
        ref_sh_basis_grad(3, n, dY);
        for (int j = 0; j < 3; j++) {
            double np[3], nm[3], Yp[16], Ym[16], h = 1e-6;
            memcpy(np, n, sizeof np);
            memcpy(nm, n, sizeof nm);
            np[j] += h;
            nm[j] -= h;
            ref_sh_basis(3, np, Yp);
            ref_sh_basis(3, nm, Ym);
            for (int k = 0; k < 16; k++)
                ck_assert_msg(fabs((Yp[k] - Ym[k]) / (2 * h) - dY[k * 3 + j]) < 1e-8, "dY%d/dn%d", k, j);
        }
        /* Lower degrees: zero above. */
        ref_sh_basis_grad(1, n, dY);
        for (int k = 4 * 3; k < 48; k++)
            ck_assert(dY[k] == 0.0);
    }
}
END_TEST

START_TEST(test_covariance_backward_matches_fd)
{
    /* L = sum_ij Wt_ij Sigma_ij with a random, non-symmetric Wt: the 6.3 chain on its own, in
     * double, through the normalisation of non-unit quaternions. */
    rng r = {4711};
    for (int trial = 0; trial < 300; trial++) {
        double q[4], ls[3], Wt[9], dls[3], dq[4];
        for (int k = 0; k < 4; k++)
            q[k] = rng_range(&r, -1.5, 1.5);
        for (int k = 0; k < 3; k++)
            ls[k] = rng_range(&r, -3.0, 0.5);
        for (int k = 0; k < 9; k++)
            Wt[k] = rng_range(&r, -1, 1);
        ck_assert(ref_covariance3d_backward(ls, q, Wt, dls, dq));
        double params[7], grads[7] = {dls[0], dls[1], dls[2], dq[0], dq[1], dq[2], dq[3]};
        memcpy(params, ls, sizeof ls);
        memcpy(params + 3, q, sizeof q);
        double num = 0, den = 0;
        for (int k = 0; k < 7; k++) {
            double h = 1e-6, L[2];
            for (int s = 0; s < 2; s++) {
                double pp[7], S[9];
                memcpy(pp, params, sizeof pp);
                pp[k] += s == 0 ? h : -h;
                ck_assert(ref_covariance3d(pp, pp + 3, S));
                L[s] = 0.0;
                for (int e = 0; e < 9; e++)
                    L[s] += Wt[e] * S[e];
            }
            double fd = (L[0] - L[1]) / (2 * h);
            num += (fd - grads[k]) * (fd - grads[k]);
            den += fd * fd;
        }
        ck_assert_msg(sqrt(num / den) < 1e-7, "trial %d: rel err %g", trial, sqrt(num / den));
        /* The gradient of a scale-invariant function is orthogonal to q. */
        ck_assert(fabs(dq[0] * q[0] + dq[1] * q[1] + dq[2] * q[2] + dq[3] * q[3]) < 1e-12);
    }
    double zero[4] = {0, 0, 0, 0}, ls[3] = {0, 0, 0}, Wt[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, dls[3], dq[4];
    ck_assert(!ref_covariance3d_backward(ls, zero, Wt, dls, dq));
    ck_assert(dls[0] == 0.0 && dq[0] == 0.0);
}
END_TEST

START_TEST(test_mixed_rgb_alpha_depth)
{
    cls_camera cam = test_camera();
    cls_gaussians g = scene_mixed(&cam);
    ref_options opt = ref_options_default();
    opt.background[0] = 0.2, opt.background[1] = 0.5, opt.background[2] = 0.9;
    /* The scene is what it claims: 10 and 11 culled, the rest visible, red of 8 clamped. */
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    for (size_t i = 0; i < g.count; i++)
        ck_assert_int_eq(f.proj[i].visible, i != 10 && i != 11);
    ck_assert(f.proj[8].clamped[0]);
    ck_assert(f.proj[0].rect[0] == 0 && f.proj[0].rect[2] == 2); /* both tile columns */
    ck_assert(f.proj[1].rect[1] == 0 && f.proj[1].rect[3] == 2); /* both tile rows */
    ref_frame_free(&f);
    case_desc cd = {"mixed", 1, 1, 1};
    run_case(&cd, &g, &cam, &opt);
    scene_free(&g);
}
END_TEST

START_TEST(test_mixed_antialiased)
{
    cls_camera cam = test_camera();
    cls_gaussians g = scene_mixed(&cam);
    ref_options opt = ref_options_default();
    opt.antialiased = 1;
    opt.background[0] = 0.7, opt.background[1] = 0.1, opt.background[2] = 0.4;
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    ck_assert(f.proj[9].visible);
    ck_assert(f.proj[9].det0 / f.proj[9].det < REF_AA_MIN_RATIO); /* the floor is active for 9 */
    ck_assert(f.proj[16].visible);
    ck_assert(f.proj[16].det0 / f.proj[16].det < REF_AA_MIN_RATIO); /* and for the needle */
    ck_assert(f.proj[16].cov2d[0] < 0.31 && f.proj[16].cov2d[2] > 8.0);
    ck_assert(f.proj[0].det0 / f.proj[0].det > REF_AA_MIN_RATIO);
    ref_frame_free(&f);
    case_desc cd = {"mixed aa", 1, 1, 1};
    run_case(&cd, &g, &cam, &opt);
    scene_free(&g);
}
END_TEST

START_TEST(test_mixed_active_degree_1)
{
    cls_camera cam = test_camera();
    cls_gaussians g = scene_mixed(&cam);
    ref_options opt = ref_options_default();
    opt.sh_degree = 1; /* bands 2 and 3 inactive: exactly zero */
    opt.background[1] = 0.3;
    case_desc cd = {"mixed deg 1 rgb only", 0, 0, 1};
    run_case(&cd, &g, &cam, &opt);
    scene_free(&g);
}
END_TEST

START_TEST(test_frustum_clamp)
{
    cls_camera cam = test_camera();
    cls_gaussians g = scene_frustum(&cam);
    ref_options opt = ref_options_default();
    opt.background[2] = 0.6;
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    /* 0 is clamped in x, 1 in y (the limits of 3dgs-math 2.4), and both are visible. */
    double W = cam.width, H = cam.height, fx = cam.fx, fy = cam.fy;
    double lim_xp = (W - cam.cx) / fx + 0.3 * W / (2 * fx), lim_yn = cam.cy / fy + 0.3 * H / (2 * fy);
    ck_assert(f.proj[0].visible && f.proj[1].visible);
    ck_assert(f.proj[0].p_cam[0] / f.proj[0].p_cam[2] > lim_xp * 1.1);
    ck_assert(f.proj[1].p_cam[1] / f.proj[1].p_cam[2] < -lim_yn * 1.1);
    /* ... and they do reach the image: some pixel has alpha from them alone (the right and top
     * borders). */
    ck_assert(f.alpha[10 * 24 + 23] > 0.05);
    ck_assert(f.alpha[0 * 24 + 12] > 0.05);
    ref_frame_free(&f);
    case_desc cd = {"frustum", 0, 1, 1};
    run_case(&cd, &g, &cam, &opt);

    /* The clamped Gaussians on their own: means and scales per Gaussian. */
    loss_weights w = weights_make((size_t)cam.width * cam.height, 0, 1, 0xC0FFEEull + (size_t)cam.width * cam.height);
    ref_grads gr;
    ck_assert(ref_grads_alloc(&gr, g.count, g.sh_degree));
    ck_assert(ref_backward(&g, &cam, &opt, w.rgb, w.alpha, w.depth, &gr));
    case_stats cs = {0, 0};
    for (size_t i = 0; i < 2; i++) {
        size_t idx3[3] = {i * 3, i * 3 + 1, i * 3 + 2}, idx4[4] = {i * 4, i * 4 + 1, i * 4 + 2, i * 4 + 3};
        check_params(i == 0 ? "frustum x-clamped" : "frustum y-clamped", "means", &g, &cam, &opt, &w, g.means,
                     gr.means, idx3, 3, &cs);
        check_params(i == 0 ? "frustum x-clamped" : "frustum y-clamped", "log_scales", &g, &cam, &opt, &w,
                     g.log_scales, gr.log_scales, idx3, 3, &cs);
        check_params(i == 0 ? "frustum x-clamped" : "frustum y-clamped", "quats", &g, &cam, &opt, &w, g.quats,
                     gr.quats, idx4, 4, &cs);
    }
    ck_assert_uint_eq(cs.excluded, 0);
    ref_grads_free(&gr);
    weights_free(&w);
    scene_free(&g);
}
END_TEST

START_TEST(test_api_edges)
{
    /* A zero-sized camera and a mismatched gradient struct are refused; an empty scene gives
     * nothing; an allocation of a bad degree fails cleanly. */
    cls_camera cam = test_camera();
    ref_options opt = ref_options_default();
    cls_gaussians g = scene_mixed(&cam);
    ref_grads gr;
    ck_assert(!ref_grads_alloc(&gr, 4, 7));
    ck_assert(gr.means == NULL);
    ck_assert(ref_grads_alloc(&gr, g.count - 1, g.sh_degree));
    double *d_rgb = calloc((size_t)cam.width * cam.height * 3, sizeof(double));
    ck_assert(d_rgb);
    ck_assert(!ref_backward(&g, &cam, &opt, d_rgb, NULL, NULL, &gr));
    ref_grads_free(&gr);
    ck_assert(ref_grads_alloc(&gr, g.count, g.sh_degree));
    cls_camera empty = cam;
    empty.width = 0;
    ck_assert(!ref_backward(&g, &empty, &opt, d_rgb, NULL, NULL, &gr));
    /* Zero upstream gradients: zero everywhere, visibility still reported. */
    ck_assert(ref_backward(&g, &cam, &opt, d_rgb, NULL, NULL, &gr));
    for (size_t i = 0; i < g.count; i++) {
        ck_assert_int_eq(gr.visible[i], i != 10 && i != 11);
        ck_assert(gr.means[i * 3] == 0.0 && gr.opacity_logits[i] == 0.0 && gr.grad_norm[i] == 0.0);
    }
    ref_grads_free(&gr);
    ref_grads_free(NULL);
    cls_gaussians none = scene_alloc(0, 1);
    ck_assert(ref_grads_alloc(&gr, 0, 1));
    ck_assert(ref_backward(&none, &cam, &opt, d_rgb, NULL, NULL, &gr));
    ref_grads_free(&gr);
    scene_free(&none);
    free(d_rgb);
    scene_free(&g);
}
END_TEST

static Suite *ref_backward_suite(void)
{
    Suite *s = suite_create("ref_backward");
    TCase *tc = tcase_create("backward");
    tcase_add_test(tc, test_sh_basis_grad_matches_fd);
    tcase_add_test(tc, test_covariance_backward_matches_fd);
    tcase_add_test(tc, test_mixed_rgb_alpha_depth);
    tcase_add_test(tc, test_mixed_antialiased);
    tcase_add_test(tc, test_mixed_active_degree_1);
    tcase_add_test(tc, test_frustum_clamp);
    tcase_add_test(tc, test_api_edges);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ref_backward_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
