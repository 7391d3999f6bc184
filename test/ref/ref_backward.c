/*
 * ref_backward.c - the double-precision backward reference (see ref_backward.h). Section
 * numbers ("§6.1") refer to ../shared/reference/3dgs-math.md.
 *
 * Two stages, as in the engine:
 *   1. the rasterizer backward, per pixel (§6.1): gradients w.r.t. each Gaussian's mean2d (u, v),
 *      conic (A, B, C), blending opacity o, colour and depth z, summed over pixels;
 *   2. the projection backward, per Gaussian (§6.2, §6.3, §3, §2.5): from those to the stored
 *      parameters.
 *
 * Blending recap (one pixel, contributors k = 1..m front to back, T_1 = 1):
 *   w_k = alpha_k T_k,   T_{k+1} = T_k (1 - alpha_k),   T_f = T_{m+1}
 *   rgb   = sum_k c_k w_k + T_f bg
 *   alpha = 1 - T_f
 *   depth = E = D / (1 - T_f),   D = sum_k z_k w_k          (E = 0 when m = 0)
 * With S_k = sum_{j>k} c_j w_j and SD_k = sum_{j>k} z_j w_j (gsplat's "absolute" accumulators,
 * built back to front) and dT_j/dalpha_k = -T_j / (1 - alpha_k) for j > k (T_f included):
 *   drgb/dalpha_k   = c_k T_k - (S_k + T_f bg) / (1 - alpha_k)
 *   dalpha/dalpha_k = T_f / (1 - alpha_k)
 *   dD/dalpha_k     = z_k T_k - SD_k / (1 - alpha_k)
 *   dE/dalpha_k     = (dD/dalpha_k - E T_f / (1 - alpha_k)) / (1 - T_f)     (quotient rule)
 *   dE/dz_k         = w_k / (1 - T_f),     drgb/dc_k = w_k.
 * The T_k are recomputed front to back and stored (no division to recover them): in double this
 * is the clearest form; the engine may divide (T_k = T_{k+1} / (1 - alpha_k)) and agrees to
 * rounding since 1 - alpha >= 0.01.
 */
#include "ref/ref_backward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation -------------------------------------------------------------------------- */

static size_t sh_count(int degree)
{
    return (size_t)((degree + 1) * (degree + 1));
}

void ref_grads_free(ref_grads *gr)
{
    if (gr == NULL)
        return;
    free(gr->means);
    free(gr->log_scales);
    free(gr->quats);
    free(gr->opacity_logits);
    free(gr->sh);
    free(gr->mean2d);
    free(gr->conic);
    free(gr->opacity);
    free(gr->colour);
    free(gr->depth);
    free(gr->grad_norm);
    free(gr->absgrad_norm);
    free(gr->visible);
    memset(gr, 0, sizeof *gr);
}

int ref_grads_alloc(ref_grads *gr, size_t count, int sh_degree)
{
    memset(gr, 0, sizeof *gr);
    if (sh_degree < 0 || sh_degree > CLS_MAX_SH_DEGREE)
        return 0;
    size_t n = count > 0 ? count : 1, K = sh_count(sh_degree);
    gr->means = calloc(n * 3, sizeof(double));
    gr->log_scales = calloc(n * 3, sizeof(double));
    gr->quats = calloc(n * 4, sizeof(double));
    gr->opacity_logits = calloc(n, sizeof(double));
    gr->sh = calloc(n * K * 3, sizeof(double));
    gr->mean2d = calloc(n * 2, sizeof(double));
    gr->conic = calloc(n * 3, sizeof(double));
    gr->opacity = calloc(n, sizeof(double));
    gr->colour = calloc(n * 3, sizeof(double));
    gr->depth = calloc(n, sizeof(double));
    gr->grad_norm = calloc(n, sizeof(double));
    gr->absgrad_norm = calloc(n, sizeof(double));
    gr->visible = calloc(n, sizeof(int));
    if (!gr->means || !gr->log_scales || !gr->quats || !gr->opacity_logits || !gr->sh || !gr->mean2d ||
        !gr->conic || !gr->opacity || !gr->colour || !gr->depth || !gr->grad_norm || !gr->absgrad_norm ||
        !gr->visible) {
        ref_grads_free(gr);
        return 0;
    }
    gr->count = count;
    gr->sh_degree = sh_degree;
    return 1;
}

static void grads_zero(ref_grads *gr)
{
    size_t n = gr->count, K = sh_count(gr->sh_degree);
    memset(gr->means, 0, n * 3 * sizeof(double));
    memset(gr->log_scales, 0, n * 3 * sizeof(double));
    memset(gr->quats, 0, n * 4 * sizeof(double));
    memset(gr->opacity_logits, 0, n * sizeof(double));
    memset(gr->sh, 0, n * K * 3 * sizeof(double));
    memset(gr->mean2d, 0, n * 2 * sizeof(double));
    memset(gr->conic, 0, n * 3 * sizeof(double));
    memset(gr->opacity, 0, n * sizeof(double));
    memset(gr->colour, 0, n * 3 * sizeof(double));
    memset(gr->depth, 0, n * sizeof(double));
    memset(gr->grad_norm, 0, n * sizeof(double));
    memset(gr->absgrad_norm, 0, n * sizeof(double));
    memset(gr->visible, 0, n * sizeof(int));
}

/* ---- small helpers (row-major) ----------------------------------------------------------- */

/* out (r x c) = a (r x k) * b (k x c) */
static void mat_mul(const double *a, const double *b, double *out, int r, int k, int c)
{
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) {
            double s = 0.0;
            for (int l = 0; l < k; l++)
                s += a[i * k + l] * b[l * c + j];
            out[i * c + j] = s;
        }
}

/* out (c x r) = a^T, a is r x c */
static void mat_transpose(const double *a, double *out, int r, int c)
{
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++)
            out[j * r + i] = a[i * c + j];
}

static int active_degree(const cls_gaussians *g, const ref_options *opt)
{
    if (opt->sh_degree < 0 || opt->sh_degree > g->sh_degree)
        return g->sh_degree;
    return opt->sh_degree;
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* ---- §3: SH backward --------------------------------------------------------------------- */

void ref_sh_basis_grad(int degree, const double n[3], double dY[16 * 3])
{
    double x = n[0], y = n[1], z = n[2];
    double xx = x * x, yy = y * y, zz = z * z;
    for (int k = 0; k < 16 * 3; k++)
        dY[k] = 0.0;
#define SET(k, gx, gy, gz) (dY[(k) * 3 + 0] = (gx), dY[(k) * 3 + 1] = (gy), dY[(k) * 3 + 2] = (gz))
    if (degree < 1)
        return;
    SET(1, 0.0, -REF_SH_C1, 0.0);                                 /* -C1 y */
    SET(2, 0.0, 0.0, REF_SH_C1);                                  /* C1 z */
    SET(3, -REF_SH_C1, 0.0, 0.0);                                 /* -C1 x */
    if (degree < 2)
        return;
    SET(4, REF_SH_C2_0 * y, REF_SH_C2_0 * x, 0.0);                /* xy */
    SET(5, 0.0, REF_SH_C2_1 * z, REF_SH_C2_1 * y);                /* yz */
    SET(6, -2.0 * REF_SH_C2_2 * x, -2.0 * REF_SH_C2_2 * y, 4.0 * REF_SH_C2_2 * z); /* 2zz - xx - yy */
    SET(7, REF_SH_C2_3 * z, 0.0, REF_SH_C2_3 * x);                /* xz */
    SET(8, 2.0 * REF_SH_C2_4 * x, -2.0 * REF_SH_C2_4 * y, 0.0);   /* xx - yy */
    if (degree < 3)
        return;
    /* y (3xx - yy) */
    SET(9, 6.0 * REF_SH_C3_0 * x * y, REF_SH_C3_0 * (3.0 * xx - 3.0 * yy), 0.0);
    /* xyz */
    SET(10, REF_SH_C3_1 * y * z, REF_SH_C3_1 * x * z, REF_SH_C3_1 * x * y);
    /* y (4zz - xx - yy) */
    SET(11, -2.0 * REF_SH_C3_2 * x * y, REF_SH_C3_2 * (4.0 * zz - xx - 3.0 * yy), 8.0 * REF_SH_C3_2 * y * z);
    /* z (2zz - 3xx - 3yy) */
    SET(12, -6.0 * REF_SH_C3_3 * x * z, -6.0 * REF_SH_C3_3 * y * z, REF_SH_C3_3 * (6.0 * zz - 3.0 * xx - 3.0 * yy));
    /* x (4zz - xx - yy) */
    SET(13, REF_SH_C3_4 * (4.0 * zz - 3.0 * xx - yy), -2.0 * REF_SH_C3_4 * x * y, 8.0 * REF_SH_C3_4 * x * z);
    /* z (xx - yy) */
    SET(14, 2.0 * REF_SH_C3_5 * x * z, -2.0 * REF_SH_C3_5 * y * z, REF_SH_C3_5 * (xx - yy));
    /* x (xx - 3yy) */
    SET(15, REF_SH_C3_6 * (3.0 * xx - 3.0 * yy), -6.0 * REF_SH_C3_6 * x * y, 0.0);
#undef SET
}

void ref_sh_backward(int degree, const float *sh, const double n[3], const double d_rgb[3], double *d_sh,
                     double d_n[3])
{
    double Y[16], dY[16 * 3];
    int count = (degree + 1) * (degree + 1);
    ref_sh_basis(degree, n, Y);
    ref_sh_basis_grad(degree, n, dY);
    d_n[0] = d_n[1] = d_n[2] = 0.0;
    for (int k = 0; k < count; k++)
        for (int c = 0; c < 3; c++) {
            d_sh[k * 3 + c] += Y[k] * d_rgb[c];
            for (int j = 0; j < 3; j++)
                d_n[j] += d_rgb[c] * (double)sh[k * 3 + c] * dY[k * 3 + j];
        }
}

/* ---- §6.3: Sigma -> log-scale, quaternion ------------------------------------------------ */

int ref_covariance3d_backward(const double log_scale[3], const double quat[4], const double d_sigma[9],
                              double d_log_scale[3], double d_quat[4])
{
    double R[9];
    for (int k = 0; k < 3; k++)
        d_log_scale[k] = 0.0;
    for (int k = 0; k < 4; k++)
        d_quat[k] = 0.0;
    if (!ref_quat_to_rotmat(quat, R))
        return 0;
    double qn = sqrt(quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3]);
    double w = quat[0] / qn, x = quat[1] / qn, y = quat[2] / qn, z = quat[3] / qn;
    double s[3], M[9];
    for (int j = 0; j < 3; j++)
        s[j] = exp(log_scale[j]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            M[i * 3 + j] = R[i * 3 + j] * s[j];
    /* Sigma = M M^T: dL/dM = (G + G^T) M. */
    double Gs[9], dM[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            Gs[i * 3 + j] = d_sigma[i * 3 + j] + d_sigma[j * 3 + i];
    mat_mul(Gs, M, dM, 3, 3, 3);
    /* M = R diag(s): dL/ds_j = sum_i R_ij dM_ij, U = dL/dR = dM diag(s). */
    double U[9];
    for (int j = 0; j < 3; j++) {
        double ds = 0.0;
        for (int i = 0; i < 3; i++) {
            ds += R[i * 3 + j] * dM[i * 3 + j];
            U[i * 3 + j] = dM[i * 3 + j] * s[j];
        }
        d_log_scale[j] = s[j] * ds; /* s = exp(log_scale) */
    }
    /* R(q^) differentiated entry by entry (§6.3), q^ = (w, x, y, z) normalised. */
#define Uij(i, j) U[(i) * 3 + (j)]
    double g[4];
    g[0] = 2.0 * (x * (Uij(2, 1) - Uij(1, 2)) + y * (Uij(0, 2) - Uij(2, 0)) + z * (Uij(1, 0) - Uij(0, 1)));
    g[1] = 2.0 * (-2.0 * x * (Uij(1, 1) + Uij(2, 2)) + y * (Uij(1, 0) + Uij(0, 1)) + z * (Uij(2, 0) + Uij(0, 2)) +
                  w * (Uij(2, 1) - Uij(1, 2)));
    g[2] = 2.0 * (x * (Uij(1, 0) + Uij(0, 1)) - 2.0 * y * (Uij(0, 0) + Uij(2, 2)) + z * (Uij(2, 1) + Uij(1, 2)) +
                  w * (Uij(0, 2) - Uij(2, 0)));
    g[3] = 2.0 * (x * (Uij(2, 0) + Uij(0, 2)) + y * (Uij(2, 1) + Uij(1, 2)) - 2.0 * z * (Uij(0, 0) + Uij(1, 1)) +
                  w * (Uij(1, 0) - Uij(0, 1)));
#undef Uij
    /* Through q^ = q / |q|: dL/dq = (g - (g . q^) q^) / |q|. */
    double qh[4] = {w, x, y, z};
    double dot = g[0] * w + g[1] * x + g[2] * y + g[3] * z;
    for (int k = 0; k < 4; k++)
        d_quat[k] = (g[k] - dot * qh[k]) / qn;
    return 1;
}

/* ---- §6.1: the rasterizer backward ------------------------------------------------------- */

/* One contributor of one pixel, recorded front to back. */
typedef struct contrib {
    size_t id;
    double dx, dy;  /* u - px, v - py */
    double G;       /* exp(-sigma) */
    double alpha;   /* min(0.99, o G) */
    double T;       /* transmittance before this Gaussian */
    int saturated;  /* o G > 0.99: alpha is the constant 0.99 */
} contrib;

/* Pixel (row i, column j) of a tile whose depth-ordered list is list[0..len): replays the
 * forward decisions exactly, then walks the contributors back to front. abs_sum (2 per
 * Gaussian) collects |per-pixel dL/du|, |per-pixel dL/dv|. */
static void pixel_backward(const ref_frame *f, const ref_options *opt, const size_t *list, size_t len,
                           size_t i, size_t j, const double *d_rgb, const double *d_alpha, const double *d_depth,
                           contrib *cs, ref_grads *out, double *abs_sum)
{
    const ref_projection *proj = f->proj;
    double px = (double)j + 0.5, py = (double)i + 0.5;
    double T = 1.0, D = 0.0;
    size_t m = 0;
    /* Forward replay: the same expressions as ref_render, so the same decisions. */
    for (size_t k = 0; k < len; k++) {
        const ref_projection *pr = &proj[list[k]];
        double dx = pr->u - px, dy = pr->v - py;
        double sigma = 0.5 * (pr->conic[0] * dx * dx + pr->conic[2] * dy * dy) + pr->conic[1] * dx * dy;
        if (sigma < 0.0)
            continue;
        double G = exp(-sigma);
        double oG = pr->opacity * G;
        double alpha = oG > REF_ALPHA_MAX ? REF_ALPHA_MAX : oG;
        if (alpha < REF_ALPHA_MIN)
            continue;
        double t_next = T * (1.0 - alpha);
        if (t_next < REF_T_MIN)
            break;
        cs[m].id = list[k];
        cs[m].dx = dx;
        cs[m].dy = dy;
        cs[m].G = G;
        cs[m].alpha = alpha;
        cs[m].T = T;
        cs[m].saturated = oG > REF_ALPHA_MAX;
        D += pr->depth * alpha * T;
        T = t_next;
        m++;
    }
    if (m == 0)
        return; /* nothing contributed: the pixel is bg, alpha 0, depth 0, all constant */

    size_t pix = i * f->width + j;
    const double Tf = T;
    double gc[3], gbg = 0.0;
    for (int c = 0; c < 3; c++) {
        gc[c] = d_rgb[pix * 3 + (size_t)c];
        gbg += opt->background[c] * gc[c];
    }
    double ga = d_alpha ? d_alpha[pix] : 0.0;
    double gd = d_depth ? d_depth[pix] : 0.0;
    double one_minus_tf = 1.0 - Tf; /* >= 1/255 here */
    double E = D / one_minus_tf;

    double S[3] = {0.0, 0.0, 0.0}, SD = 0.0; /* sum over j > k of c_j w_j and z_j w_j */
    for (size_t kk = m; kk-- > 0;) {
        const contrib *ck = &cs[kk];
        size_t id = ck->id;
        const ref_projection *pr = &proj[id];
        double a = ck->alpha, Tk = ck->T, w = a * Tk;
        double inv = 1.0 / (1.0 - a);

        /* Colour and depth values. */
        for (int c = 0; c < 3; c++)
            out->colour[id * 3 + (size_t)c] += w * gc[c];
        out->depth[id] += w / one_minus_tf * gd;

        /* dL/dalpha_k (see the top of the file). */
        double dL_dalpha = 0.0;
        for (int c = 0; c < 3; c++)
            dL_dalpha += (pr->rgb[c] * Tk - S[c] * inv) * gc[c];
        dL_dalpha -= Tf * inv * gbg;
        dL_dalpha += Tf * inv * ga;
        double dD = pr->depth * Tk - SD * inv;
        dL_dalpha += (dD - E * Tf * inv) / one_minus_tf * gd;

        for (int c = 0; c < 3; c++)
            S[c] += pr->rgb[c] * w;
        SD += pr->depth * w;

        if (ck->saturated)
            continue; /* alpha = 0.99 does not depend on o or G */
        /* alpha = o G, G = exp(-sigma). */
        out->opacity[id] += ck->G * dL_dalpha;
        double dL_dsigma = -pr->opacity * ck->G * dL_dalpha;
        double A = pr->conic[0], B = pr->conic[1], C = pr->conic[2];
        double dx = ck->dx, dy = ck->dy;
        double du = dL_dsigma * (A * dx + B * dy);
        double dv = dL_dsigma * (B * dx + C * dy);
        out->mean2d[id * 2 + 0] += du;
        out->mean2d[id * 2 + 1] += dv;
        abs_sum[id * 2 + 0] += fabs(du);
        abs_sum[id * 2 + 1] += fabs(dv);
        out->conic[id * 3 + 0] += dL_dsigma * 0.5 * dx * dx;
        out->conic[id * 3 + 1] += dL_dsigma * dx * dy;
        out->conic[id * 3 + 2] += dL_dsigma * 0.5 * dy * dy;
    }
}

/* ---- §6.2, §6.3, §3, §2.5: the projection backward of Gaussian i --------------------------- */

static void project_backward(const cls_gaussians *g, size_t i, const cls_camera *cam, const ref_options *opt,
                             const ref_projection *pr, const double abs_sum[2], ref_grads *out)
{
    const double fx = cam->fx, fy = cam->fy, cx = cam->cx, cy = cam->cy;
    const double W = (double)cam->width, H = (double)cam->height;
    double gu = out->mean2d[i * 2 + 0], gv = out->mean2d[i * 2 + 1];
    double gA = out->conic[i * 3 + 0], gB = out->conic[i * 3 + 1], gC = out->conic[i * 3 + 2];
    double go = out->opacity[i], gz = out->depth[i];

    double Rc[9], Rct[9], tc[3], mu[3];
    for (int k = 0; k < 9; k++)
        Rc[k] = (double)cam->rotation[k];
    mat_transpose(Rc, Rct, 3, 3);
    for (int k = 0; k < 3; k++) {
        tc[k] = (double)cam->translation[k];
        mu[k] = (double)g->means[i * 3 + (size_t)k];
    }
    const double *p = pr->p_cam;
    const double z = p[2];

    /* 1. conic = Sigma2D^-1 (dilated): dL/dSigma2D = -Q V Q, V the symmetric matrix of the conic
     *    gradients with B's split half and half onto the two off-diagonal entries (§6.2). */
    double Q[4] = {pr->conic[0], pr->conic[1], pr->conic[1], pr->conic[2]};
    double V[4] = {gA, 0.5 * gB, 0.5 * gB, gC};
    double QV[4], G2[4];
    mat_mul(Q, V, QV, 2, 2, 2);
    mat_mul(QV, Q, G2, 2, 2, 2);
    for (int k = 0; k < 4; k++)
        G2[k] = -G2[k];
    /* The 0.3 dilation adds a constant: G2 is also dL/d(undilated Sigma2D). */

    /* 2. Opacity: o = sigmoid(logit) * rho, rho = sqrt(max(2.5e-5, det0 / det)) when antialiased
     *    (§2.5); det0 from the undilated a, b, c, det from the dilated ones. */
    double o_raw = sigmoid((double)g->opacity_logits[i]);
    double d_oraw = go;
    if (opt->antialiased) {
        double a1 = pr->cov2d[0], b = pr->cov2d[1], c1 = pr->cov2d[2]; /* dilated */
        double a0 = a1 - REF_DILATION, c0 = c1 - REF_DILATION;          /* undilated */
        double det0 = pr->det0, det = pr->det, ratio = det0 / det;
        double rho = sqrt(ratio > REF_AA_MIN_RATIO ? ratio : REF_AA_MIN_RATIO);
        d_oraw = rho * go;
        if (ratio > REF_AA_MIN_RATIO) { /* the floor is a constant: no gradient there */
            double d_ratio = o_raw * go / (2.0 * rho);
            double det2 = det * det;
            double dr_da = (c0 * det - det0 * c1) / det2;
            double dr_dc = (a0 * det - det0 * a1) / det2;
            double dr_db = 2.0 * b * (det0 - det) / det2; /* b is one parameter: split below */
            G2[0] += d_ratio * dr_da;
            G2[3] += d_ratio * dr_dc;
            G2[1] += 0.5 * d_ratio * dr_db;
            G2[2] += 0.5 * d_ratio * dr_db;
        }
    }
    out->opacity_logits[i] = o_raw * (1.0 - o_raw) * d_oraw;

    /* 3. Sigma2D = J Sigma_c J^T, Sigma_c = Rc Sigma Rc^T: dL/dSigma_c = J^T G2 J and
     *    dL/dJ = 2 G2 J Sigma_c (G2, Sigma_c symmetric). */
    double tmp[9], Sc[9], J[6];
    mat_mul(Rc, pr->cov3d, tmp, 3, 3, 3);
    mat_mul(tmp, Rct, Sc, 3, 3, 3);
    ref_projection_jacobian(cam, p, J);
    double Jt[6], JtG[6], dSc[9], GJ[6], dJ[6];
    mat_transpose(J, Jt, 2, 3);
    mat_mul(Jt, G2, JtG, 3, 2, 2);
    mat_mul(JtG, J, dSc, 3, 2, 3);
    mat_mul(G2, J, GJ, 2, 2, 3);
    mat_mul(GJ, Sc, dJ, 2, 3, 3);
    for (int k = 0; k < 6; k++)
        dJ[k] *= 2.0;

    /* 4. J -> p with gsplat's exact clamp derivative (§6.2). J02 = -fx tx'/z^2 with
     *    tx' = p.x unclamped, tx' = z lim (a constant lim) clamped. */
    double tan_fovx = 0.5 * W / fx, tan_fovy = 0.5 * H / fy;
    double lim_xp = (W - cx) / fx + 0.3 * tan_fovx, lim_xn = cx / fx + 0.3 * tan_fovx;
    double lim_yp = (H - cy) / fy + 0.3 * tan_fovy, lim_yn = cy / fy + 0.3 * tan_fovy;
    double rx = p[0] / z, ry = p[1] / z;
    int clamp_x = rx < -lim_xn || rx > lim_xp;
    int clamp_y = ry < -lim_yn || ry > lim_yp;
    double txc = z * (rx < -lim_xn ? -lim_xn : (rx > lim_xp ? lim_xp : rx)); /* the clamped tx', ty' */
    double tyc = z * (ry < -lim_yn ? -lim_yn : (ry > lim_yp ? lim_yp : ry));
    double dp[3] = {0.0, 0.0, 0.0};
    double z2 = z * z, z3 = z2 * z;
    dp[2] += -fx / z2 * dJ[0] - fy / z2 * dJ[4];
    if (clamp_x) {
        dp[2] += fx * txc / z3 * dJ[2]; /* d(-fx lim / z)/dz; no p.x gradient */
    } else {
        dp[0] += -fx / z2 * dJ[2];
        dp[2] += 2.0 * fx * txc / z3 * dJ[2];
    }
    if (clamp_y) {
        dp[2] += fy * tyc / z3 * dJ[5];
    } else {
        dp[1] += -fy / z2 * dJ[5];
        dp[2] += 2.0 * fy * tyc / z3 * dJ[5];
    }

    /* 5. u = fx p.x / z + cx, v = fy p.y / z + cy (unclamped p); depth = z. */
    dp[0] += fx / z * gu;
    dp[1] += fy / z * gv;
    dp[2] += -(fx * p[0] * gu + fy * p[1] * gv) / z2;
    dp[2] += gz;

    /* 6. p = Rc mu + t: dL/dmu = Rc^T dL/dp. */
    double dmu[3];
    mat_mul(Rct, dp, dmu, 3, 3, 1);

    /* 7. dL/dSigma = Rc^T dL/dSigma_c Rc, then to log-scales and the raw quaternion. */
    double dS[9];
    mat_mul(Rct, dSc, tmp, 3, 3, 3);
    mat_mul(tmp, Rc, dS, 3, 3, 3);
    double ls[3], q[4];
    for (int k = 0; k < 3; k++)
        ls[k] = (double)g->log_scales[i * 3 + (size_t)k];
    for (int k = 0; k < 4; k++)
        q[k] = (double)g->quats[i * 4 + (size_t)k];
    ref_covariance3d_backward(ls, q, dS, out->log_scales + i * 3, out->quats + i * 4);

    /* 8. SH (§3): clamped channels pass nothing; the direction d = mu - campos, n = d/|d|. */
    double campos[3], d[3];
    for (int r = 0; r < 3; r++)
        campos[r] = -(Rc[0 * 3 + r] * tc[0] + Rc[1 * 3 + r] * tc[1] + Rc[2 * 3 + r] * tc[2]);
    for (int r = 0; r < 3; r++)
        d[r] = mu[r] - campos[r];
    double len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (len > 0.0) {
        double n[3] = {d[0] / len, d[1] / len, d[2] / len}, gcol[3], dn[3];
        for (int c = 0; c < 3; c++)
            gcol[c] = pr->clamped[c] ? 0.0 : out->colour[i * 3 + (size_t)c];
        size_t K = sh_count(g->sh_degree);
        ref_sh_backward(active_degree(g, opt), g->sh + i * K * 3, n, gcol, out->sh + i * K * 3, dn);
        double ndn = n[0] * dn[0] + n[1] * dn[1] + n[2] * dn[2];
        for (int r = 0; r < 3; r++)
            dmu[r] += (dn[r] - n[r] * ndn) / len; /* "dnormvdv" */
    }
    for (int r = 0; r < 3; r++)
        out->means[i * 3 + (size_t)r] = dmu[r];

    /* 9. Densification statistics in INRIA's NDC units (§6.1, §8.2). */
    out->grad_norm[i] = hypot(gu * 0.5 * W, gv * 0.5 * H);
    out->absgrad_norm[i] = hypot(abs_sum[0] * 0.5 * W, abs_sum[1] * 0.5 * H);
    out->visible[i] = 1;
}

/* ---- the whole backward ------------------------------------------------------------------ */

int ref_backward(const cls_gaussians *g, const cls_camera *cam, const ref_options *opt, const double *d_rgb,
                 const double *d_alpha, const double *d_depth, ref_grads *out)
{
    if (out->count != g->count || out->sh_degree != g->sh_degree)
        return 0;
    grads_zero(out);
    ref_frame f;
    if (!ref_render(g, cam, opt, &f))
        return 0;
    size_t n = g->count, W = cam->width, H = cam->height;
    size_t *list = malloc((n > 0 ? n : 1) * sizeof *list);
    contrib *cs = malloc((n > 0 ? n : 1) * sizeof *cs);
    double *abs_sum = calloc((n > 0 ? n : 1) * 2, sizeof *abs_sum);
    if (!list || !cs || !abs_sum) {
        free(list);
        free(cs);
        free(abs_sum);
        ref_frame_free(&f);
        return 0;
    }

    /* Stage 1: per tile, the forward's depth-ordered list; per pixel, the reverse traversal. */
    int T = f.tile;
    for (int ty = 0; ty < f.tiles_y; ty++) {
        for (int tx = 0; tx < f.tiles_x; tx++) {
            size_t len = 0;
            for (size_t k = 0; k < f.visible; k++) {
                if (ref_tile_touched(&f.proj[f.order[k]], T, tx, ty))
                    list[len++] = f.order[k];
            }
            for (size_t i = (size_t)ty * (size_t)T; i < H && i < (size_t)(ty + 1) * (size_t)T; i++)
                for (size_t j = (size_t)tx * (size_t)T; j < W && j < (size_t)(tx + 1) * (size_t)T; j++)
                    pixel_backward(&f, opt, list, len, i, j, d_rgb, d_alpha, d_depth, cs, out, abs_sum);
        }
    }

    /* Stage 2: per visible Gaussian, the projection backward. */
    for (size_t i = 0; i < n; i++)
        if (f.proj[i].visible)
            project_backward(g, i, cam, opt, &f.proj[i], abs_sum + i * 2, out);

    free(list);
    free(cs);
    free(abs_sum);
    ref_frame_free(&f);
    return 1;
}
