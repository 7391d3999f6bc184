/*
 * test_reference.c - self-tests of the double-precision forward reference (test/ref). None of
 * them takes the reference's own output as the expected value: each compares it with closed
 * forms (rotations, SH constants, a head-on Gaussian, opaque stacks), with an independent
 * computation (quaternion products, sphere quadrature, finite differences, pixel moments), or
 * with a symmetry (principal-point shift, input order). No OpenCL is needed.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_forward.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

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

/* Host Gaussians allocated here (not with cls_gaussians_alloc) so that this test needs
 * nothing but the reference. */
static cls_gaussians scene_alloc(size_t n, int degree)
{
    cls_gaussians g;
    size_t K = (size_t)((degree + 1) * (degree + 1));
    memset(&g, 0, sizeof g);
    g.count = n;
    g.sh_degree = degree;
    g.means = calloc(n * 3 + 1, sizeof(float));
    g.log_scales = calloc(n * 3 + 1, sizeof(float));
    g.quats = calloc(n * 4 + 1, sizeof(float));
    g.opacity_logits = calloc(n + 1, sizeof(float));
    g.sh = calloc(n * K * 3 + 1, sizeof(float));
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

static double logit(double o)
{
    return log(o / (1.0 - o));
}

/* Sets Gaussian i: an isotropic or axis-scaled Gaussian with identity rotation, opacity o and
 * a view-independent colour (DC only). */
static void set_gaussian(cls_gaussians *g, size_t i, double x, double y, double z, double s0, double s1,
                         double s2, double o, const double rgb[3])
{
    size_t K = (size_t)((g->sh_degree + 1) * (g->sh_degree + 1));
    g->means[i * 3 + 0] = (float)x;
    g->means[i * 3 + 1] = (float)y;
    g->means[i * 3 + 2] = (float)z;
    g->log_scales[i * 3 + 0] = (float)log(s0);
    g->log_scales[i * 3 + 1] = (float)log(s1);
    g->log_scales[i * 3 + 2] = (float)log(s2);
    g->quats[i * 4 + 0] = 1.0f;
    g->quats[i * 4 + 1] = g->quats[i * 4 + 2] = g->quats[i * 4 + 3] = 0.0f;
    g->opacity_logits[i] = (float)logit(o);
    for (size_t k = 0; k < K * 3; k++)
        g->sh[i * K * 3 + k] = 0.0f;
    for (int c = 0; c < 3; c++)
        g->sh[i * K * 3 + (size_t)c] = (float)((rgb[c] - 0.5) / REF_SH_C0);
}

/* Values as the reference sees them: the stored floats, activated in double. */
static double stored_scale(const cls_gaussians *g, size_t i, int axis)
{
    return exp((double)g->log_scales[i * 3 + (size_t)axis]);
}

static double stored_opacity(const cls_gaussians *g, size_t i)
{
    return 1.0 / (1.0 + exp(-(double)g->opacity_logits[i]));
}

static double stored_dc_colour(const cls_gaussians *g, size_t i, int c)
{
    size_t K = (size_t)((g->sh_degree + 1) * (g->sh_degree + 1));
    double v = REF_SH_C0 * (double)g->sh[i * K * 3 + (size_t)c] + 0.5;
    return v < 0.0 ? 0.0 : v;
}

/* A camera at the origin looking down +z (identity pose). */
static cls_camera camera_simple(uint32_t w, uint32_t h, float f, float cx, float cy)
{
    cls_camera cam;
    memset(&cam, 0, sizeof cam);
    cam.width = w;
    cam.height = h;
    cam.fx = cam.fy = f;
    cam.cx = cx;
    cam.cy = cy;
    cam.rotation[0] = cam.rotation[4] = cam.rotation[8] = 1.0f;
    return cam;
}

static void random_quat(rng *r, double q[4])
{
    double n;
    do {
        for (int k = 0; k < 4; k++)
            q[k] = rng_range(r, -1.0, 1.0);
        n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    } while (n < 0.05 || n > 1.0);
    double scale = rng_range(r, 0.2, 3.0); /* not normalised on purpose */
    for (int k = 0; k < 4; k++)
        q[k] *= scale;
}

/* Hamilton product a*b, (w, x, y, z). */
static void quat_mul(const double a[4], const double b[4], double out[4])
{
    out[0] = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
    out[1] = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
    out[2] = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
    out[3] = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
}

#define PIX(f, i, j) ((size_t)(i) * (f).width + (size_t)(j))

/* ---- §2.3: rotation ---------------------------------------------------------------------- */

START_TEST(test_rotmat_orthonormal)
{
    rng r = {0x9E3779B97F4A7C15ull};
    for (int trial = 0; trial < 2000; trial++) {
        double q[4], R[9];
        random_quat(&r, q);
        ck_assert(ref_quat_to_rotmat(q, R));
        /* R R^T = I */
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double s = 0.0;
                for (int k = 0; k < 3; k++)
                    s += R[i * 3 + k] * R[j * 3 + k];
                ck_assert_double_eq_tol(s, i == j ? 1.0 : 0.0, 1e-13);
            }
        /* det R = +1 (a rotation, not a reflection) */
        double det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                     R[2] * (R[3] * R[7] - R[4] * R[6]);
        ck_assert_double_eq_tol(det, 1.0, 1e-13);
        /* R v equals the quaternion rotation q v q* / |q|^2: an independent formula that also
         * fixes the sign convention (w, x, y, z) of the matrix. */
        double v[4] = {0.0, rng_range(&r, -1, 1), rng_range(&r, -1, 1), rng_range(&r, -1, 1)};
        double qc[4] = {q[0], -q[1], -q[2], -q[3]}, tmp[4], rot[4];
        double n2 = q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
        quat_mul(q, v, tmp);
        quat_mul(tmp, qc, rot);
        for (int i = 0; i < 3; i++) {
            double rv = R[i * 3 + 0] * v[1] + R[i * 3 + 1] * v[2] + R[i * 3 + 2] * v[3];
            ck_assert_double_eq_tol(rv, rot[i + 1] / n2, 1e-12);
        }
    }
    /* A zero quaternion has no rotation: the projection culls it. */
    double zero[4] = {0, 0, 0, 0}, R[9];
    ck_assert(!ref_quat_to_rotmat(zero, R));
}
END_TEST

START_TEST(test_covariance_positive_definite)
{
    rng r = {12345};
    for (int trial = 0; trial < 2000; trial++) {
        double q[4], ls[3], S[9], R[9];
        random_quat(&r, q);
        for (int k = 0; k < 3; k++)
            ls[k] = rng_range(&r, -8.0, 1.0);
        ck_assert(ref_covariance3d(ls, q, S));
        ck_assert(ref_quat_to_rotmat(q, R));
        double smax = 0.0;
        for (int k = 0; k < 3; k++)
            smax = fmax(smax, exp(2.0 * ls[k]));
        /* Symmetric. */
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                ck_assert_double_eq_tol(S[i * 3 + j], S[j * 3 + i], 1e-15 * smax);
        /* Eigenpairs: column k of R(q) with eigenvalue s_k^2. */
        for (int k = 0; k < 3; k++) {
            double s2 = exp(2.0 * ls[k]);
            for (int i = 0; i < 3; i++) {
                double Sv = S[i * 3 + 0] * R[0 * 3 + k] + S[i * 3 + 1] * R[1 * 3 + k] + S[i * 3 + 2] * R[2 * 3 + k];
                ck_assert_double_eq_tol(Sv, s2 * R[i * 3 + k], 1e-13 * smax);
            }
        }
        /* Positive definite: x^T S x > 0 for random x, and the leading minors are positive on
         * well-conditioned draws (the smallest eigenvalue is resolvable in double there). */
        for (int t = 0; t < 8; t++) {
            double x[3] = {rng_range(&r, -1, 1), rng_range(&r, -1, 1), rng_range(&r, -1, 1)};
            double quad = 0.0;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    quad += x[i] * S[i * 3 + j] * x[j];
            ck_assert(quad > 0.0);
        }
        double smin = fmin(exp(2.0 * ls[0]), fmin(exp(2.0 * ls[1]), exp(2.0 * ls[2])));
        if (smin / smax > 1e-3) {
            double m1 = S[0], m2 = S[0] * S[4] - S[1] * S[3];
            double m3 = S[0] * (S[4] * S[8] - S[5] * S[7]) - S[1] * (S[3] * S[8] - S[5] * S[6]) +
                        S[2] * (S[3] * S[7] - S[4] * S[6]);
            ck_assert(m1 > 0.0 && m2 > 0.0 && m3 > 0.0);
            ck_assert_double_eq_tol(m3, exp(2.0 * (ls[0] + ls[1] + ls[2])), 1e-8 * m3); /* cancellation: ~eps cond^2 */
        }
    }
}
END_TEST

/* ---- §2.4: the Jacobian ------------------------------------------------------------------ */

START_TEST(test_jacobian_matches_finite_differences)
{
    /* Inside the clamp limits J is the derivative of the pinhole projection. Limits here:
     * x/z in [-0.683, 0.761], y/z in [-0.498, 0.448]. */
    cls_camera cam = camera_simple(200, 131, 180.0f, 93.0f, 70.0f);
    rng r = {777};
    for (int trial = 0; trial < 500; trial++) {
        double z = rng_range(&r, 0.2, 20.0);
        double p[3] = {z * rng_range(&r, -0.6, 0.7), z * rng_range(&r, -0.45, 0.4), z}, J[6];
        ref_projection_jacobian(&cam, p, J);
        for (int axis = 0; axis < 3; axis++) {
            double h = 1e-6 * z, pp[3], pm[3];
            memcpy(pp, p, sizeof pp);
            memcpy(pm, p, sizeof pm);
            pp[axis] += h;
            pm[axis] -= h;
            double du = (cam.fx * pp[0] / pp[2] - cam.fx * pm[0] / pm[2]) / (2 * h);
            double dv = (cam.fy * pp[1] / pp[2] - cam.fy * pm[1] / pm[2]) / (2 * h);
            double scale = cam.fx / z * 2.0;
            ck_assert_double_eq_tol(J[axis], du, 1e-6 * scale);
            ck_assert_double_eq_tol(J[3 + axis], dv, 1e-6 * scale);
        }
    }
    /* Far outside on the right, the clamp uses lim_x+ = (W - cx)/fx + 0.3 W/(2 fx); with
     * cx = W/2 that is INRIA's 1.3 tan(fov_x/2) (section 2.4). */
    cls_camera centred = camera_simple(160, 100, 150.0f, 80.0f, 50.0f);
    double p[3] = {30.0, -40.0, 2.0}, J[6];
    ref_projection_jacobian(&centred, p, J);
    double lim_x = 1.3 * 0.5 * 160.0 / 150.0, lim_y = 1.3 * 0.5 * 100.0 / 150.0;
    ck_assert_double_eq_tol(J[2], -150.0 * (2.0 * lim_x) / 4.0, 1e-12);
    ck_assert_double_eq_tol(J[5], -150.0 * (2.0 * -lim_y) / 4.0, 1e-12);
}
END_TEST

/* ---- §3: spherical harmonics ------------------------------------------------------------- */

START_TEST(test_sh_constants_closed_form)
{
    /* The table's constants are the real SH normalisations (with the INRIA signs). */
    const double pi = M_PI;
    ck_assert_double_eq_tol(REF_SH_C0, 0.5 / sqrt(pi), 1e-16);
    ck_assert_double_eq_tol(REF_SH_C1, sqrt(3.0 / (4.0 * pi)), 1e-16);
    ck_assert_double_eq_tol(REF_SH_C2_0, 0.5 * sqrt(15.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C2_1, -0.5 * sqrt(15.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C2_2, 0.25 * sqrt(5.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C2_3, -0.5 * sqrt(15.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C2_4, 0.25 * sqrt(15.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C3_0, -0.25 * sqrt(35.0 / (2.0 * pi)), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C3_1, 0.5 * sqrt(105.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C3_2, -0.25 * sqrt(21.0 / (2.0 * pi)), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C3_3, 0.25 * sqrt(7.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C3_4, -0.25 * sqrt(21.0 / (2.0 * pi)), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C3_5, 0.25 * sqrt(105.0 / pi), 1e-15);
    ck_assert_double_eq_tol(REF_SH_C3_6, -0.25 * sqrt(35.0 / (2.0 * pi)), 1e-15);
}
END_TEST

START_TEST(test_sh_basis_orthonormal)
{
    /* Integral over the sphere of Y_i Y_j = delta_ij, by quadrature: midpoint rule in
     * z = cos(theta) (2000 nodes; error ~1e-7) times a uniform rule in phi (exact for the
     * trigonometric degrees <= 6 that occur). This catches a wrong constant or polynomial. */
    enum { NZ = 2000, NPHI = 64 };
    double G[16][16];
    memset(G, 0, sizeof G);
    for (int a = 0; a < NZ; a++) {
        double z = -1.0 + (a + 0.5) * (2.0 / NZ);
        double rho = sqrt(1.0 - z * z);
        for (int b = 0; b < NPHI; b++) {
            double phi = 2.0 * M_PI * b / NPHI;
            double n[3] = {rho * cos(phi), rho * sin(phi), z}, Y[16];
            ref_sh_basis(3, n, Y);
            double w = (2.0 / NZ) * (2.0 * M_PI / NPHI);
            for (int i = 0; i < 16; i++)
                for (int j = 0; j < 16; j++)
                    G[i][j] += w * Y[i] * Y[j];
        }
    }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            ck_assert_msg(fabs(G[i][j] - (i == j ? 1.0 : 0.0)) < 1e-5, "<Y%d, Y%d> = %.9f", i, j, G[i][j]);
    /* Known values at n = +z and n = +x fix the INRIA signs of bands 1-3. */
    double nz[3] = {0, 0, 1}, nx[3] = {1, 0, 0}, ny[3] = {0, 1, 0}, Y[16];
    ref_sh_basis(3, nz, Y);
    ck_assert_double_eq_tol(Y[2], REF_SH_C1, 1e-15);
    ck_assert_double_eq_tol(Y[6], 2.0 * REF_SH_C2_2, 1e-15);
    ck_assert_double_eq_tol(Y[12], 2.0 * REF_SH_C3_3, 1e-15);
    ref_sh_basis(3, nx, Y);
    ck_assert_double_eq_tol(Y[3], -REF_SH_C1, 1e-15);
    ck_assert_double_eq_tol(Y[8], REF_SH_C2_4, 1e-15);
    ck_assert_double_eq_tol(Y[15], REF_SH_C3_6, 1e-15);
    ref_sh_basis(3, ny, Y);
    ck_assert_double_eq_tol(Y[1], -REF_SH_C1, 1e-15);
    ck_assert_double_eq_tol(Y[8], -REF_SH_C2_4, 1e-15);
    ck_assert_double_eq_tol(Y[9], -REF_SH_C3_0, 1e-15);
    /* Lower degrees leave the higher coefficients at zero. */
    ref_sh_basis(1, nz, Y);
    for (int k = 4; k < 16; k++)
        ck_assert_double_eq(Y[k], 0.0);
}
END_TEST

START_TEST(test_sh_degree0_colour_exact)
{
    rng r = {4242};
    cls_gaussians g = scene_alloc(64, 3);
    cls_camera cam = camera_simple(64, 48, 60.0f, 32.0f, 24.0f);
    for (size_t i = 0; i < g.count; i++) {
        double rgb[3] = {0.5, 0.5, 0.5};
        set_gaussian(&g, i, rng_range(&r, -0.5, 0.5), rng_range(&r, -0.5, 0.5), rng_range(&r, 2, 4), 0.1, 0.1,
                     0.1, 0.8, rgb);
        for (size_t k = 0; k < 16 * 3; k++)
            g.sh[i * 48 + k] = (float)rng_range(&r, -2.0, 2.0); /* DC and a non-zero rest */
    }
    ref_options opt = ref_options_default();
    opt.sh_degree = 0; /* active degree 0: the rest must be ignored */
    for (size_t i = 0; i < g.count; i++) {
        ref_projection p;
        ref_project(&g, i, &cam, &opt, &p);
        ck_assert(p.visible);
        for (int c = 0; c < 3; c++) {
            /* Two statements: no contraction into an fma. */
            double product = REF_SH_C0 * (double)g.sh[i * 48 + (size_t)c];
            double expected = product + 0.5;
            if (expected < 0.0) {
                ck_assert_double_eq(p.rgb[c], 0.0);
                ck_assert_int_eq(p.clamped[c], 1);
            } else {
                ck_assert_double_eq(p.rgb[c], expected); /* exactly */
                ck_assert_int_eq(p.clamped[c], 0);
            }
        }
    }
    scene_free(&g);
}
END_TEST

START_TEST(test_sh_direction_from_camera_centre)
{
    /* Degree 1, only the coefficient of Y_2 = C1 z set: the colour is 0.5 + C1 * n_z * f with
     * n the unit vector from the camera centre (-R^T t) to the mean. A camera translated and
     * rotated 90 degrees about y checks the centre and the direction convention. */
    cls_gaussians g = scene_alloc(1, 1);
    double grey[3] = {0.5, 0.5, 0.5};
    set_gaussian(&g, 0, 1.0, 2.0, 3.0, 0.1, 0.1, 0.1, 0.9, grey);
    g.sh[2 * 3 + 0] = 0.4f;
    /* Camera centre C = (-4, 2, 3): looking along world +x, i.e. camera z = world x. R rows:
     * camera x = world -z, camera y = world y, camera z = world x; t = -R C. */
    cls_camera cam = camera_simple(64, 64, 50.0f, 32.0f, 32.0f);
    float R[9] = {0, 0, -1, 0, 1, 0, 1, 0, 0};
    memcpy(cam.rotation, R, sizeof R);
    cam.translation[0] = 3.0f;  /* -(0*-4 + 0*2 + -1*3) */
    cam.translation[1] = -2.0f; /* -(2) */
    cam.translation[2] = 4.0f;  /* -(-4) */
    ref_options opt = ref_options_default();
    ref_projection p;
    ref_project(&g, 0, &cam, &opt, &p);
    ck_assert(p.visible);
    ck_assert_double_eq_tol(p.depth, 5.0, 1e-12);
    /* d = mean - C = (5, 0, 0): n_z = 0, so Y_2 contributes nothing; move the mean up in z. */
    ck_assert_double_eq_tol(p.rgb[0], 0.5, 1e-12);
    g.means[2] = 6.0f; /* d = (5, 0, 3) */
    ref_project(&g, 0, &cam, &opt, &p);
    ck_assert(p.visible);
    ck_assert_double_eq_tol(p.rgb[0], 0.5 + REF_SH_C1 * (3.0 / sqrt(34.0)) * 0.4, 1e-7);
    ck_assert_double_eq_tol(p.rgb[1], 0.5, 1e-12);
    scene_free(&g);
}
END_TEST

/* ---- §2, §5: a single Gaussian, closed form ---------------------------------------------- */

START_TEST(test_single_gaussian_head_on)
{
    /* Identity camera, 65x65, f = 100, principal point at the centre of pixel (32, 32).
     * Gaussian at (0, 0, 5), isotropic s = 0.1: Sigma_2D = (f s / z)^2 I = 4 I, plus 0.3. */
    const double bg[3] = {0.1, 0.2, 0.3}, col[3] = {0.2, 0.5, 0.9};
    cls_camera cam = camera_simple(65, 65, 100.0f, 32.5f, 32.5f);
    cls_gaussians g = scene_alloc(1, 0);
    set_gaussian(&g, 0, 0.0, 0.0, 5.0, 0.1, 0.1, 0.1, 0.6, col);
    for (int aa = 0; aa <= 1; aa++) {
        ref_options opt = ref_options_default();
        opt.antialiased = aa;
        memcpy(opt.background, bg, sizeof bg);
        ref_frame f;
        ck_assert(ref_render(&g, &cam, &opt, &f));
        double s = stored_scale(&g, 0, 0), raw = pow(100.0 * s / 5.0, 2.0), a = raw + 0.3;
        double o = stored_opacity(&g, 0);
        if (aa)
            o *= sqrt(raw * raw / (a * a)); /* det0 / det */
        ck_assert_int_eq((int)f.visible, 1);
        ck_assert_double_eq_tol(f.proj[0].u, 32.5, 1e-12);
        ck_assert_double_eq_tol(f.proj[0].v, 32.5, 1e-12);
        ck_assert_double_eq_tol(f.proj[0].cov2d[0], a, 1e-12);
        ck_assert_double_eq_tol(f.proj[0].cov2d[1], 0.0, 1e-12);
        ck_assert_double_eq_tol(f.proj[0].conic[0], 1.0 / a, 1e-12);
        ck_assert_double_eq_tol(f.proj[0].opacity, o, 1e-12);
        /* Extent: k = sqrt(2 ln(255 o)), r = ceil(k sqrt(a)). */
        int r = (int)ceil(sqrt(2.0 * log(255.0 * o)) * sqrt(a));
        ck_assert_int_eq(f.proj[0].radius[0], r);
        ck_assert_int_eq(f.proj[0].radius[1], r);
        /* Pixels at offsets (di, dj) from the centre: alpha = o exp(-(di^2 + dj^2) / (2a)). */
        const int offsets[][2] = {{0, 0}, {0, 1}, {1, 0}, {-1, 2}, {2, -2}, {0, 5}, {-4, -3}, {0, 9}, {9, 9}};
        for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
            int di = offsets[k][0], dj = offsets[k][1];
            size_t pix = PIX(f, 32 + di, 32 + dj);
            double alpha = o * exp(-(double)(di * di + dj * dj) / (2.0 * a));
            if (alpha < 1.0 / 255.0)
                alpha = 0.0; /* skipped */
            for (int c = 0; c < 3; c++) {
                double expected = alpha * stored_dc_colour(&g, 0, c) + (1.0 - alpha) * bg[c];
                double got = f.rgb[pix * 3 + (size_t)c];
                ck_assert_msg(fabs(got - expected) < 1e-12, "aa %d pixel (%d, %d) c %d: %.15f vs %.15f", aa, di, dj, c,
                              got, expected);
            }
            ck_assert_double_eq_tol(f.alpha[pix], alpha, 1e-12);
            ck_assert_double_eq_tol(f.final_t[pix], 1.0 - alpha, 1e-12);
            ck_assert_double_eq_tol(f.depth[pix], alpha > 0.0 ? 5.0 : 0.0, 1e-6);
            ck_assert_uint_eq(f.n_contrib[pix], alpha > 0.0 ? 1u : 0u);
        }
        ref_frame_free(&f);
    }
    scene_free(&g);
}
END_TEST

START_TEST(test_antialiased_floor)
{
    /* A sub-pixel Gaussian (s = e^-8) in antialiased mode: det0/det ~ 1e-11 is floored at
     * 2.5e-5, so the opacity is o * 0.005 (section 2.5); with o = 0.98 that is 0.0049 >= 1/255,
     * still visible, and the centre pixel gets exactly that alpha. Without antialiasing the
     * dilated splat has the full opacity. */
    const double col[3] = {0.9, 0.6, 0.3};
    cls_camera cam = camera_simple(33, 33, 100.0f, 16.5f, 16.5f);
    cls_gaussians g = scene_alloc(1, 0);
    set_gaussian(&g, 0, 0.0, 0.0, 5.0, exp(-8.0), exp(-8.0), exp(-8.0), 0.98, col);
    double o = stored_opacity(&g, 0);
    ref_options opt = ref_options_default();
    opt.antialiased = 1;
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    ck_assert_int_eq(f.proj[0].visible, 1);
    ck_assert_double_eq_tol(f.proj[0].opacity, o * sqrt(2.5e-5), 1e-15);
    ck_assert_double_eq_tol(f.alpha[PIX(f, 16, 16)], o * sqrt(2.5e-5), 1e-15);
    ref_frame_free(&f);
    opt.antialiased = 0;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    ck_assert_double_eq_tol(f.alpha[PIX(f, 16, 16)], o, 1e-15);
    ref_frame_free(&f);
    /* o = 0.7: 0.0035 < 1/255, culled in antialiased mode only. */
    g.opacity_logits[0] = (float)logit(0.7);
    opt.antialiased = 1;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    ck_assert_uint_eq(f.visible, 0);
    ref_frame_free(&f);
    scene_free(&g);
}
END_TEST

START_TEST(test_behind_camera_contributes_nothing)
{
    const double bg[3] = {0.25, 0.5, 0.75}, col[3] = {1.0, 0.0, 0.0};
    cls_camera cam = camera_simple(40, 30, 40.0f, 20.0f, 15.0f);
    cls_gaussians g = scene_alloc(4, 0);
    set_gaussian(&g, 0, 0.0, 0.0, -5.0, 1.0, 1.0, 1.0, 0.99, col);   /* behind */
    set_gaussian(&g, 1, 0.0, 0.0, -0.5, 0.3, 0.3, 0.3, 0.99, col);   /* just behind */
    set_gaussian(&g, 2, 0.0, 0.0, 0.005, 0.01, 0.01, 0.01, 0.99, col); /* in front, inside near */
    set_gaussian(&g, 3, 0.0, 0.0, 200.0, 50.0, 50.0, 50.0, 0.99, col); /* beyond far = 100 */
    ref_options opt = ref_options_default();
    opt.far_plane = 100.0;
    memcpy(opt.background, bg, sizeof bg);
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    ck_assert_uint_eq(f.visible, 0);
    ck_assert_uint_eq(f.intersections, 0);
    for (size_t pix = 0; pix < (size_t)f.width * f.height; pix++) {
        for (int c = 0; c < 3; c++)
            ck_assert_double_eq(f.rgb[pix * 3 + (size_t)c], bg[c]);
        ck_assert_double_eq(f.alpha[pix], 0.0);
        ck_assert_double_eq(f.depth[pix], 0.0);
        ck_assert_double_eq(f.final_t[pix], 1.0);
        ck_assert_uint_eq(f.n_contrib[pix], 0);
    }
    ref_frame_free(&f);
    scene_free(&g);
}
END_TEST

START_TEST(test_opaque_front_gaussian)
{
    /* Front Gaussian fully opaque (alpha clamped to 0.99), back one o = 0.5, both centred on
     * pixel (32, 32): C = 0.99 c1 + 0.01 * 0.5 c2 + 0.01 * 0.5 bg. */
    const double bg[3] = {0.3, 0.3, 0.3}, c1[3] = {1.0, 0.2, 0.1}, c2[3] = {0.1, 0.9, 0.4};
    cls_camera cam = camera_simple(65, 65, 100.0f, 32.5f, 32.5f);
    cls_gaussians g = scene_alloc(2, 0);
    set_gaussian(&g, 0, 0.0, 0.0, 6.0, 0.2, 0.2, 0.2, 0.5, c2); /* listed first but behind */
    set_gaussian(&g, 1, 0.0, 0.0, 4.0, 0.2, 0.2, 0.2, 0.5, c1);
    g.opacity_logits[1] = 20.0f; /* o = 1 - 2e-9: alpha clamps at 0.99 */
    ref_options opt = ref_options_default();
    memcpy(opt.background, bg, sizeof bg);
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    size_t pix = PIX(f, 32, 32);
    double o2 = stored_opacity(&g, 0);
    for (int c = 0; c < 3; c++) {
        double expected = 0.99 * stored_dc_colour(&g, 1, c) + 0.01 * o2 * stored_dc_colour(&g, 0, c) +
                          0.01 * (1.0 - o2) * bg[c];
        ck_assert_double_eq_tol(f.rgb[pix * 3 + (size_t)c], expected, 1e-12);
    }
    ck_assert_double_eq_tol(f.final_t[pix], 0.01 * (1.0 - o2), 1e-12);
    ck_assert_double_eq_tol(f.depth[pix], (0.99 * 4.0 + 0.01 * o2 * 6.0) / (1.0 - 0.01 * (1.0 - o2)), 1e-6);
    ck_assert_uint_eq(f.n_contrib[pix], 2);
    ck_assert_uint_eq(f.order[0], 1); /* front first */
    ref_frame_free(&f);
    scene_free(&g);
}
END_TEST

START_TEST(test_transmittance_stop_rule)
{
    const double bg[3] = {0.5, 0.5, 0.5};
    cls_camera cam = camera_simple(65, 65, 100.0f, 32.5f, 32.5f);
    double cols[5][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {0, 1, 1}};
    size_t pix;
    ref_options opt = ref_options_default();
    memcpy(opt.background, bg, sizeof bg);

    /* (a) Five opaque Gaussians (alpha 0.99) stacked at z = 2..6 on pixel (32, 32). T after
     * n of them is 0.01^n: 0.01 and 1e-4 are not < 1e-4, 1e-6 is, so the 3rd stops the pixel
     * and is not added (in double, (1 - 0.99)^2 = 1.0000000000000018e-4 >= 1e-4 as well). */
    cls_gaussians g = scene_alloc(5, 0);
    for (size_t i = 0; i < 5; i++) {
        set_gaussian(&g, i, 0.0, 0.0, 2.0 + (double)i, 0.05 * (2.0 + (double)i), 0.05 * (2.0 + (double)i),
                     0.1, 0.5, cols[i]);
        g.opacity_logits[i] = 20.0f;
    }
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    pix = PIX(f, 32, 32);
    ck_assert_uint_eq(f.n_contrib[pix], 2);
    double T2 = (1.0 - 0.99) * (1.0 - 0.99);
    ck_assert_double_eq_tol(f.final_t[pix], T2, 1e-15);
    for (int c = 0; c < 3; c++) {
        double expected = 0.99 * stored_dc_colour(&g, 0, c) + 0.01 * 0.99 * stored_dc_colour(&g, 1, c) + T2 * bg[c];
        ck_assert_double_eq_tol(f.rgb[pix * 3 + (size_t)c], expected, 1e-12);
    }
    ref_frame_free(&f);

    /* (b) The same stack with o = 0.95 (clear of both thresholds): T = 0.05, 0.0025,
     * 1.25e-4, then 6.25e-6 < 1e-4: three contribute. A tiny Gaussian in front, in the same
     * tile but 7.5 pixels away, is visited and skipped (alpha < 1/255): it still counts in
     * n_contrib's list position, which becomes 4. */
    cls_gaussians h = scene_alloc(6, 0);
    for (size_t i = 0; i < 5; i++) {
        double z = 2.0 + (double)i;
        set_gaussian(&h, i, 0.0, 0.0, z, 0.05 * z, 0.05 * z, 0.1, 0.95, cols[i]);
    }
    set_gaussian(&h, 5, 7.5 * 1.0 / 100.0, 0.0, 1.0, 0.003, 0.003, 0.003, 0.9, cols[0]);
    ck_assert(ref_render(&h, &cam, &opt, &f));
    pix = PIX(f, 32, 32);
    ck_assert_int_eq(f.proj[5].visible, 1);
    ck_assert_int_eq(f.proj[5].rect[0] <= 2 && f.proj[5].rect[2] > 2, 1); /* tile (2, 2) */
    ck_assert_uint_eq(f.n_contrib[pix], 4);
    double o = stored_opacity(&h, 0), T = 1.0, C[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        for (int c = 0; c < 3; c++)
            C[c] += o * T * stored_dc_colour(&h, (size_t)k, c);
        T *= 1.0 - o;
    }
    ck_assert_double_eq_tol(f.final_t[pix], T, 1e-12);
    for (int c = 0; c < 3; c++)
        ck_assert_double_eq_tol(f.rgb[pix * 3 + (size_t)c], C[c] + T * bg[c], 1e-12);
    ref_frame_free(&f);
    scene_free(&h);
    scene_free(&g);
}
END_TEST

START_TEST(test_principal_point_shift)
{
    /* Moving the principal point by (+7, -3) pixels moves the splat by exactly that. */
    rng r = {99};
    cls_camera a = camera_simple(96, 80, 90.0f, 48.0f, 40.0f);
    cls_camera b = a;
    b.cx += 7.0f;
    b.cy -= 3.0f;
    cls_gaussians g = scene_alloc(1, 2);
    double col[3] = {0.7, 0.4, 0.2};
    set_gaussian(&g, 0, 0.1, -0.05, 5.0, 0.3, 0.15, 0.2, 0.8, col);
    double q[4];
    random_quat(&r, q);
    for (int k = 0; k < 4; k++)
        g.quats[k] = (float)q[k];
    for (int k = 3; k < 27; k++)
        g.sh[k] = (float)rng_range(&r, -0.3, 0.3);
    ref_options opt = ref_options_default();
    ref_frame fa, fb;
    ck_assert(ref_render(&g, &a, &opt, &fa));
    ck_assert(ref_render(&g, &b, &opt, &fb));
    ck_assert_double_eq_tol(fb.proj[0].u - fa.proj[0].u, 7.0, 1e-12);
    ck_assert_double_eq_tol(fb.proj[0].v - fa.proj[0].v, -3.0, 1e-12);
    for (uint32_t i = 0; i < a.height; i++)
        for (uint32_t j = 0; j < a.width; j++) {
            int ib = (int)i - 3, jb = (int)j + 7;
            if (ib < 0 || jb >= (int)b.width)
                continue;
            for (int c = 0; c < 3; c++)
                ck_assert_double_eq_tol(fb.rgb[PIX(fb, ib, jb) * 3 + (size_t)c], fa.rgb[PIX(fa, i, j) * 3 + (size_t)c],
                                        1e-12);
        }
    /* The alpha-weighted centroid moves by the same amount. */
    double ca[3] = {0, 0, 0}, cb[3] = {0, 0, 0};
    for (uint32_t i = 0; i < a.height; i++)
        for (uint32_t j = 0; j < a.width; j++) {
            double wa = fa.alpha[PIX(fa, i, j)], wb = fb.alpha[PIX(fb, i, j)];
            ca[0] += wa, ca[1] += wa * (j + 0.5), ca[2] += wa * (i + 0.5);
            cb[0] += wb, cb[1] += wb * (j + 0.5), cb[2] += wb * (i + 0.5);
        }
    ck_assert_double_eq_tol(cb[1] / cb[0] - ca[1] / ca[0], 7.0, 1e-9);
    ck_assert_double_eq_tol(cb[2] / cb[0] - ca[2] / ca[0], -3.0, 1e-9);
    ref_frame_free(&fa);
    ref_frame_free(&fb);
    scene_free(&g);
}
END_TEST

START_TEST(test_alpha_moments_match_covariance)
{
    /* One rotated anisotropic Gaussian seen head-on at the image centre, rotation theta about
     * the optical axis. Sigma_2D = (f/z)^2 Rz diag(s1^2, s2^2) Rz^T + 0.3 I in closed form.
     * The alpha image is o exp(-sigma) where alpha >= 1/255, i.e. a 2D Gaussian truncated at
     * the Mahalanobis radius R with exp(-R^2/2) = 1/(255 o). Its pixel sums are:
     *   mass   = o 2 pi sqrt(det) (1 - e)                        e = exp(-R^2 / 2)
     *   second moments = Sigma_2D * (2 - (R^2 + 2) e) / (2 (1 - e))
     * Riemann sums on the pixel grid are exact to ~1e-6 for widths > 1 pixel; the jump of
     * 1/255 at the truncation edge costs up to 2.2e-3 relative (measured), hence 0.5%. A
     * missing 0.3 dilation changes the mass by 2% and 18% in the two cases, a flipped
     * rotation flips the sign of the cross moment. */
    const double theta = 0.7, z = 4.0, f = 200.0, o = 0.98;
    const double scales[2][2] = {{0.12, 0.06}, {0.04, 0.02}};
    for (int t = 0; t < 2; t++) {
        cls_camera cam = camera_simple(201, 201, (float)f, 100.5f, 100.5f);
        cls_gaussians g = scene_alloc(1, 0);
        double col[3] = {0.5, 0.5, 0.5};
        set_gaussian(&g, 0, 0.0, 0.0, z, scales[t][0], scales[t][1], 0.5, o, col);
        g.quats[0] = (float)cos(theta / 2);
        g.quats[3] = (float)sin(theta / 2);
        ref_options opt = ref_options_default();
        ref_frame fr;
        ck_assert(ref_render(&g, &cam, &opt, &fr));
        double s1 = stored_scale(&g, 0, 0), s2 = stored_scale(&g, 0, 1), k2 = (f / z) * (f / z);
        double th = 2.0 * atan2((double)g.quats[3], (double)g.quats[0]);
        double ct = cos(th), st = sin(th);
        double a = k2 * (s1 * s1 * ct * ct + s2 * s2 * st * st) + 0.3;
        double b = k2 * (s1 * s1 - s2 * s2) * st * ct;
        double c = k2 * (s1 * s1 * st * st + s2 * s2 * ct * ct) + 0.3;
        double det = a * c - b * b, oo = stored_opacity(&g, 0);
        double e = 1.0 / (255.0 * oo), R2 = -2.0 * log(e);
        double mass = oo * 2.0 * M_PI * sqrt(det) * (1.0 - e);
        double m2 = (2.0 - (R2 + 2.0) * e) / (2.0 * (1.0 - e));
        double S0 = 0, Sx = 0, Sy = 0, Sxx = 0, Sxy = 0, Syy = 0;
        for (uint32_t i = 0; i < fr.height; i++)
            for (uint32_t j = 0; j < fr.width; j++) {
                double w = fr.alpha[PIX(fr, i, j)], dx = j + 0.5 - 100.5, dy = i + 0.5 - 100.5;
                S0 += w, Sx += w * dx, Sy += w * dy;
                Sxx += w * dx * dx, Sxy += w * dx * dy, Syy += w * dy * dy;
            }
        ck_assert_msg(fabs(S0 / mass - 1.0) < 0.005, "case %d: mass %.6f vs %.6f", t, S0, mass);
        ck_assert_double_eq_tol(Sx / S0, 0.0, 1e-9);
        ck_assert_double_eq_tol(Sy / S0, 0.0, 1e-9);
        ck_assert_msg(fabs(Sxx / S0 / (a * m2) - 1.0) < 0.005, "case %d: xx %.6f vs %.6f", t, Sxx / S0, a * m2);
        ck_assert_msg(fabs(Syy / S0 / (c * m2) - 1.0) < 0.005, "case %d: yy %.6f vs %.6f", t, Syy / S0, c * m2);
        ck_assert_msg(fabs(Sxy / S0 / (b * m2) - 1.0) < 0.005, "case %d: xy %.6f vs %.6f", t, Sxy / S0, b * m2);
        ref_frame_free(&fr);
        scene_free(&g);
    }
}
END_TEST

START_TEST(test_extent_covers_all_visible_alpha)
{
    /* Every pixel where o exp(-sigma) >= 1/255 must lie in a tile of the Gaussian's rectangle,
     * and a Gaussian culled for its extent (off the image) must have no such pixel: the extent
     * loses nothing the blending would use. Random Gaussians around and beyond the image. */
    rng r = {2024};
    cls_camera cam = camera_simple(61, 47, 50.0f, 27.0f, 25.0f);
    cls_gaussians g = scene_alloc(400, 0);
    for (size_t i = 0; i < g.count; i++) {
        double z = rng_range(&r, 0.5, 6.0), col[3] = {0.5, 0.5, 0.5};
        set_gaussian(&g, i, z * rng_range(&r, -0.9, 0.9), z * rng_range(&r, -0.9, 0.9), z, 1, 1, 1, 0.5, col);
        double q[4];
        random_quat(&r, q);
        for (int k = 0; k < 4; k++)
            g.quats[i * 4 + (size_t)k] = (float)q[k];
        for (int k = 0; k < 3; k++)
            g.log_scales[i * 3 + (size_t)k] = (float)rng_range(&r, -6.0, -0.5);
        g.opacity_logits[i] = (float)rng_range(&r, -6.0, 6.0);
    }
    for (int aa = 0; aa <= 1; aa++) {
        ref_options opt = ref_options_default();
        opt.antialiased = aa;
        int checked = 0;
        for (size_t i = 0; i < g.count; i++) {
            ref_projection p;
            ref_project(&g, i, &cam, &opt, &p);
            if (!(p.det > 0.0) || p.opacity < 1.0 / 255.0)
                continue; /* culled before the extent */
            checked++;
            double A = p.cov2d[2] / p.det, B = -p.cov2d[1] / p.det, C = p.cov2d[0] / p.det;
            double u = cam.fx * p.p_cam[0] / p.p_cam[2] + cam.cx, v = cam.fy * p.p_cam[1] / p.p_cam[2] + cam.cy;
            for (uint32_t y = 0; y < cam.height; y++)
                for (uint32_t x = 0; x < cam.width; x++) {
                    double dx = u - (x + 0.5), dy = v - (y + 0.5);
                    double sigma = 0.5 * (A * dx * dx + C * dy * dy) + B * dx * dy;
                    if (p.opacity * exp(-sigma) < 1.0 / 255.0)
                        continue;
                    int tx = (int)x / 16, ty = (int)y / 16;
                    ck_assert_msg(p.visible && tx >= p.rect[0] && tx < p.rect[2] && ty >= p.rect[1] && ty < p.rect[3],
                                  "Gaussian %zu (aa %d): pixel (%u, %u) has alpha >= 1/255 outside its tiles", i, aa,
                                  y, x);
                }
        }
        ck_assert_int_gt(checked, 200);
    }
    scene_free(&g);
}
END_TEST

START_TEST(test_tile_rectangle)
{
    /* 100x70 image: 7x5 tiles. An isotropic Gaussian at pixel (24.5, 40.5) with radius r:
     * x tiles floor((24.5 - r)/16) .. ceil((24.5 + r)/16), clamped, half-open. */
    cls_camera cam = camera_simple(100, 70, 100.0f, 24.5f, 40.5f);
    cls_gaussians g = scene_alloc(1, 0);
    double col[3] = {0.5, 0.5, 0.5};
    set_gaussian(&g, 0, 0.0, 0.0, 5.0, 0.2, 0.2, 0.2, 0.9, col);
    ref_options opt = ref_options_default();
    ref_projection p;
    ref_project(&g, 0, &cam, &opt, &p);
    ck_assert(p.visible);
    /* a = 16 + 0.3, o ~ 0.9: k = sqrt(2 ln(229.5)) = 3.2956, r = ceil(3.2956 * 4.0373) = 14. */
    ck_assert_int_eq(p.radius[0], 14);
    ck_assert_int_eq(p.rect[0], 0);  /* floor(10.5 / 16) */
    ck_assert_int_eq(p.rect[2], 3);  /* ceil(38.5 / 16) */
    ck_assert_int_eq(p.rect[1], 1);  /* floor(26.5 / 16) */
    ck_assert_int_eq(p.rect[3], 4);  /* ceil(54.5 / 16) */
    ref_frame f;
    ck_assert(ref_render(&g, &cam, &opt, &f));
    ck_assert_uint_eq(f.intersections, 9);
    ref_frame_free(&f);
    /* Off the image to the left by more than the radius: culled. */
    cam.cx = -15.0f;
    ref_project(&g, 0, &cam, &opt, &p);
    ck_assert(!p.visible);
    /* Its rectangle reaches the image, but its alpha >= 1/255 ellipse (3.2956 sigma = 13.3 px)
     * ends before the first pixel centre (x = 0.5): no tile is touched, culled. */
    cam.cx = -13.5f;
    ref_project(&g, 0, &cam, &opt, &p);
    ck_assert(!p.visible);
    ck_assert_int_eq(p.tiles, 0);
    /* Straddling the left border (the ellipse reaches x = 1.3): tiles start at 0. */
    cam.cx = -12.0f;
    ref_project(&g, 0, &cam, &opt, &p);
    ck_assert(p.visible);
    ck_assert_int_eq(p.tiles, 1);
    ck_assert_int_eq(p.rect[0], 0);
    ck_assert_int_eq(p.rect[2], 1);
    scene_free(&g);
}
END_TEST

START_TEST(test_order_independence)
{
    /* Listing the Gaussians in another order gives the same image, bit for bit, when their
     * depths differ: blending follows depth, not the input order. */
    rng r = {31337};
    enum { N = 300 };
    cls_camera cam = camera_simple(77, 53, 60.0f, 40.0f, 25.0f);
    cam.rotation[0] = 0.8f, cam.rotation[2] = 0.6f, cam.rotation[6] = -0.6f, cam.rotation[8] = 0.8f;
    cam.translation[2] = 0.5f;
    cls_gaussians g = scene_alloc(N, 2), h = scene_alloc(N, 2);
    for (size_t i = 0; i < N; i++) {
        double col[3] = {rng_uniform(&r), rng_uniform(&r), rng_uniform(&r)};
        set_gaussian(&g, i, rng_range(&r, -3, 3), rng_range(&r, -2, 2), rng_range(&r, 1, 6), 0.1, 0.1, 0.1,
                     rng_range(&r, 0.05, 0.99), col);
        for (int k = 0; k < 3; k++)
            g.log_scales[i * 3 + (size_t)k] = (float)rng_range(&r, -4.0, -1.0);
        double q[4];
        random_quat(&r, q);
        for (int k = 0; k < 4; k++)
            g.quats[i * 4 + (size_t)k] = (float)q[k];
        for (size_t k = 3; k < 27; k++)
            g.sh[i * 27 + k] = (float)rng_range(&r, -0.3, 0.3);
    }
    size_t perm[N];
    for (size_t i = 0; i < N; i++)
        perm[i] = i;
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = (size_t)(rng_uniform(&r) * (double)(i + 1));
        size_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (size_t i = 0; i < N; i++) {
        size_t s = perm[i];
        memcpy(h.means + i * 3, g.means + s * 3, 3 * sizeof(float));
        memcpy(h.log_scales + i * 3, g.log_scales + s * 3, 3 * sizeof(float));
        memcpy(h.quats + i * 4, g.quats + s * 4, 4 * sizeof(float));
        h.opacity_logits[i] = g.opacity_logits[s];
        memcpy(h.sh + i * 27, g.sh + s * 27, 27 * sizeof(float));
    }
    ref_options opt = ref_options_default();
    opt.background[1] = 0.4;
    ref_frame fg, fh;
    ck_assert(ref_render(&g, &cam, &opt, &fg));
    ck_assert(ref_render(&h, &cam, &opt, &fh));
    ck_assert_uint_gt(fg.visible, 100);
    ck_assert_uint_eq(fg.visible, fh.visible);
    ck_assert_uint_eq(fg.intersections, fh.intersections);
    size_t npix = (size_t)cam.width * cam.height;
    ck_assert(memcmp(fg.rgb, fh.rgb, npix * 3 * sizeof(double)) == 0);
    ck_assert(memcmp(fg.alpha, fh.alpha, npix * sizeof(double)) == 0);
    ck_assert(memcmp(fg.depth, fh.depth, npix * sizeof(double)) == 0);
    ck_assert(memcmp(fg.n_contrib, fh.n_contrib, npix * sizeof(unsigned)) == 0);
    ref_frame_free(&fg);
    ref_frame_free(&fh);
    scene_free(&g);
    scene_free(&h);
}
END_TEST

static Suite *reference_suite(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_rotmat_orthonormal);
    tcase_add_test(tc, test_covariance_positive_definite);
    tcase_add_test(tc, test_jacobian_matches_finite_differences);
    tcase_add_test(tc, test_sh_constants_closed_form);
    tcase_add_test(tc, test_sh_basis_orthonormal);
    tcase_add_test(tc, test_sh_degree0_colour_exact);
    tcase_add_test(tc, test_sh_direction_from_camera_centre);
    tcase_add_test(tc, test_single_gaussian_head_on);
    tcase_add_test(tc, test_antialiased_floor);
    tcase_add_test(tc, test_behind_camera_contributes_nothing);
    tcase_add_test(tc, test_opaque_front_gaussian);
    tcase_add_test(tc, test_transmittance_stop_rule);
    tcase_add_test(tc, test_principal_point_shift);
    tcase_add_test(tc, test_alpha_moments_match_covariance);
    tcase_add_test(tc, test_extent_covers_all_visible_alpha);
    tcase_add_test(tc, test_tile_rectangle);
    tcase_add_test(tc, test_order_independence);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reference_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
