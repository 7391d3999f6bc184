/*
 * ref_forward.c - the double-precision forward reference (see ref_forward.h). Section numbers
 * ("§2.4") refer to ../shared/reference/3dgs-math.md.
 */
#include "ref/ref_forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ref_options ref_options_default(void)
{
    ref_options o;
    memset(&o, 0, sizeof o);
    o.sh_degree = -1;
    o.antialiased = 0;
    o.near_plane = REF_NEAR_PLANE;
    o.far_plane = REF_FAR_PLANE;
    o.tile = REF_TILE;
    return o;
}

/* ---- small 3x3 helpers (row-major) ------------------------------------------------------- */

/* out = a * b */
static void mat3_mul(const double a[9], const double b[9], double out[9])
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += a[i * 3 + k] * b[k * 3 + j];
            r[i * 3 + j] = s;
        }
    memcpy(out, r, sizeof r);
}

/* out = a^T */
static void mat3_transpose(const double a[9], double out[9])
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[i * 3 + j] = a[j * 3 + i];
    memcpy(out, r, sizeof r);
}

static void camera_rotation(const cls_camera *cam, double R[9])
{
    for (int k = 0; k < 9; k++)
        R[k] = (double)cam->rotation[k];
}

/* ---- §2.3: rotation and 3D covariance ---------------------------------------------------- */

int ref_quat_to_rotmat(const double q[4], double R[9])
{
    double norm = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (norm == 0.0)
        return 0;
    double w = q[0] / norm, x = q[1] / norm, y = q[2] / norm, z = q[3] / norm;
    R[0] = 1.0 - 2.0 * (y * y + z * z);
    R[1] = 2.0 * (x * y - w * z);
    R[2] = 2.0 * (x * z + w * y);
    R[3] = 2.0 * (x * y + w * z);
    R[4] = 1.0 - 2.0 * (x * x + z * z);
    R[5] = 2.0 * (y * z - w * x);
    R[6] = 2.0 * (x * z - w * y);
    R[7] = 2.0 * (y * z + w * x);
    R[8] = 1.0 - 2.0 * (x * x + y * y);
    return 1;
}

int ref_covariance3d(const double log_scale[3], const double quat[4], double sigma[9])
{
    double R[9];
    if (!ref_quat_to_rotmat(quat, R))
        return 0;
    /* M = R diag(s): column j of R scaled by s_j; Sigma = M M^T = R diag(s^2) R^T. */
    double M[9], Mt[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            M[i * 3 + j] = R[i * 3 + j] * exp(log_scale[j]);
    mat3_transpose(M, Mt);
    mat3_mul(M, Mt, sigma);
    return 1;
}

/* ---- §2.4: EWA Jacobian with gsplat's asymmetric frustum clamp --------------------------- */

void ref_projection_jacobian(const cls_camera *cam, const double p[3], double J[6])
{
    double W = (double)cam->width, H = (double)cam->height;
    double fx = cam->fx, fy = cam->fy, cx = cam->cx, cy = cam->cy;
    double tan_fovx = 0.5 * W / fx, tan_fovy = 0.5 * H / fy;
    double lim_xp = (W - cx) / fx + 0.3 * tan_fovx, lim_xn = cx / fx + 0.3 * tan_fovx;
    double lim_yp = (H - cy) / fy + 0.3 * tan_fovy, lim_yn = cy / fy + 0.3 * tan_fovy;
    double z = p[2];
    double rx = p[0] / z, ry = p[1] / z;
    rx = rx < -lim_xn ? -lim_xn : (rx > lim_xp ? lim_xp : rx);
    ry = ry < -lim_yn ? -lim_yn : (ry > lim_yp ? lim_yp : ry);
    double tx = z * rx, ty = z * ry; /* the clamped camera-space x, y (Jacobian only) */
    J[0] = fx / z;
    J[1] = 0.0;
    J[2] = -fx * tx / (z * z);
    J[3] = 0.0;
    J[4] = fy / z;
    J[5] = -fy * ty / (z * z);
}

/* ---- §3: spherical harmonics ------------------------------------------------------------- */

void ref_sh_basis(int degree, const double n[3], double Y[16])
{
    double x = n[0], y = n[1], z = n[2];
    double xx = x * x, yy = y * y, zz = z * z;
    for (int k = 0; k < 16; k++)
        Y[k] = 0.0;
    Y[0] = REF_SH_C0;
    if (degree < 1)
        return;
    Y[1] = -REF_SH_C1 * y;
    Y[2] = REF_SH_C1 * z;
    Y[3] = -REF_SH_C1 * x;
    if (degree < 2)
        return;
    Y[4] = REF_SH_C2_0 * x * y;
    Y[5] = REF_SH_C2_1 * y * z;
    Y[6] = REF_SH_C2_2 * (2.0 * zz - xx - yy);
    Y[7] = REF_SH_C2_3 * x * z;
    Y[8] = REF_SH_C2_4 * (xx - yy);
    if (degree < 3)
        return;
    Y[9] = REF_SH_C3_0 * y * (3.0 * xx - yy);
    Y[10] = REF_SH_C3_1 * x * y * z;
    Y[11] = REF_SH_C3_2 * y * (4.0 * zz - xx - yy);
    Y[12] = REF_SH_C3_3 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy);
    Y[13] = REF_SH_C3_4 * x * (4.0 * zz - xx - yy);
    Y[14] = REF_SH_C3_5 * z * (xx - yy);
    Y[15] = REF_SH_C3_6 * x * (xx - 3.0 * yy);
}

void ref_sh_color(int degree, const float *sh, const double n[3], double rgb[3], int clamped[3])
{
    double Y[16];
    int count = (degree + 1) * (degree + 1);
    ref_sh_basis(degree, n, Y);
    for (int c = 0; c < 3; c++) {
        double sum = 0.0;
        for (int k = 0; k < count; k++)
            sum += Y[k] * (double)sh[k * 3 + c];
        double value = sum + 0.5;
        clamped[c] = value < 0.0;
        rgb[c] = value < 0.0 ? 0.0 : value;
    }
}

/* ---- §2: projection of one Gaussian ------------------------------------------------------ */

static int active_degree(const cls_gaussians *g, const ref_options *opt)
{
    if (opt->sh_degree < 0 || opt->sh_degree > g->sh_degree)
        return g->sh_degree;
    return opt->sh_degree;
}

static int tile_size(const ref_options *opt)
{
    return opt->tile > 0 ? opt->tile : REF_TILE;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* The exponent sigma at (dx, dy) from the mean. */
static double ref_sigma(const ref_projection *p, double dx, double dy)
{
    return 0.5 * (p->conic[0] * dx * dx + p->conic[2] * dy * dy) + p->conic[1] * dx * dy;
}

int ref_tile_touched(const ref_projection *p, int T, int tx, int ty)
{
    if (!(tx >= p->rect[0] && tx < p->rect[2] && ty >= p->rect[1] && ty < p->rect[3]))
        return 0;
    /* The smallest sigma over the rectangle of the tile's pixel centres (a convex quadratic):
     * zero when the mean is inside, else on an edge, where it is a parabola in one variable
     * minimised at its stationary point clamped into the edge. */
    const double x0 = tx * T + 0.5 - p->u, x1 = tx * T + T - 0.5 - p->u;
    const double y0 = ty * T + 0.5 - p->v, y1 = ty * T + T - 0.5 - p->v;
    const double A = p->conic[0], B = p->conic[1], C = p->conic[2];
    double best = (x0 <= 0.0 && 0.0 <= x1 && y0 <= 0.0 && 0.0 <= y1) ? 0.0 : INFINITY;
    const double xs[2] = {x0, x1}, ys[2] = {y0, y1};
    for (int e = 0; e < 2; e++) {
        const double dy = clampd(-B * xs[e] / C, y0, y1);
        best = fmin(best, ref_sigma(p, xs[e], dy));
        const double dx = clampd(-B * ys[e] / A, x0, x1);
        best = fmin(best, ref_sigma(p, dx, ys[e]));
    }
    return best <= log(255.0 * p->opacity * (1.0 + 1e-3));
}

void ref_project(const cls_gaussians *g, size_t i, const cls_camera *cam, const ref_options *opt,
                 ref_projection *out)
{
    memset(out, 0, sizeof *out);
    double R[9], t[3], mu[3];
    camera_rotation(cam, R);
    for (int k = 0; k < 3; k++) {
        t[k] = (double)cam->translation[k];
        mu[k] = (double)g->means[i * 3 + (size_t)k];
    }

    /* 1. p = R mu + t; near/far cull (§2.2, gsplat). */
    double p[3];
    for (int r = 0; r < 3; r++)
        p[r] = R[r * 3 + 0] * mu[0] + R[r * 3 + 1] * mu[1] + R[r * 3 + 2] * mu[2] + t[r];
    memcpy(out->p_cam, p, sizeof p);
    out->depth = p[2]; /* 13. */
    if (p[2] < opt->near_plane || p[2] > opt->far_plane)
        return;

    /* 2. Sigma = R(q) diag(s^2) R(q)^T (§2.3); cull a zero quaternion. */
    double q[4], ls[3];
    for (int k = 0; k < 4; k++)
        q[k] = (double)g->quats[i * 4 + (size_t)k];
    for (int k = 0; k < 3; k++)
        ls[k] = (double)g->log_scales[i * 3 + (size_t)k];
    if (!ref_covariance3d(ls, q, out->cov3d))
        return;

    /* 3. Sigma_c = R Sigma R^T (§2.4). */
    double Rt[9], tmp[9], sigma_c[9];
    mat3_transpose(R, Rt);
    mat3_mul(R, out->cov3d, tmp);
    mat3_mul(tmp, Rt, sigma_c);

    /* 4.-5. Sigma_2D = J Sigma_c J^T with the clamped Jacobian, then the dilation (§2.4-2.6). */
    double J[6];
    ref_projection_jacobian(cam, p, J);
    double JS[6]; /* J Sigma_c, 2x3 */
    for (int r = 0; r < 2; r++)
        for (int col = 0; col < 3; col++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += J[r * 3 + k] * sigma_c[k * 3 + col];
            JS[r * 3 + col] = s;
        }
    double s2d[4]; /* (J Sigma_c) J^T, 2x2 */
    for (int r = 0; r < 2; r++)
        for (int col = 0; col < 2; col++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += JS[r * 3 + k] * J[col * 3 + k];
            s2d[r * 2 + col] = s;
        }
    double a = s2d[0], b = s2d[1], c = s2d[3];
    out->det0 = a * c - b * b;
    a += REF_DILATION;
    c += REF_DILATION;
    double det = a * c - b * b;
    out->cov2d[0] = a;
    out->cov2d[1] = b;
    out->cov2d[2] = c;
    out->det = det;
    if (!(det > 0.0))
        return;

    /* 6.-7. Opacity, antialiasing compensation (§2.5), 1/255 cull (§2.7). */
    double o = 1.0 / (1.0 + exp(-(double)g->opacity_logits[i]));
    if (opt->antialiased) {
        double ratio = out->det0 / det;
        o *= sqrt(ratio > REF_AA_MIN_RATIO ? ratio : REF_AA_MIN_RATIO);
    }
    out->opacity = o;
    if (o < REF_ALPHA_MIN)
        return;

    /* 8. Conic = Sigma_2D^-1 (§2.6). */
    out->conic[0] = c / det;
    out->conic[1] = -b / det;
    out->conic[2] = a / det;

    /* 9. Mean in pixels from the unclamped p (§2.1, gsplat). */
    double W = (double)cam->width, H = (double)cam->height;
    double u = (double)cam->fx * p[0] / p[2] + (double)cam->cx;
    double v = (double)cam->fy * p[1] / p[2] + (double)cam->cy;
    out->u = u;
    out->v = v;

    /* 10. Opacity-aware per-axis extent (§2.7, gsplat 1.5.3) and the off-image cull. */
    double k = sqrt(2.0 * log(255.0 * o));
    if (k > REF_EXTENT_SIGMAS)
        k = REF_EXTENT_SIGMAS;
    int rx = (int)ceil(k * sqrt(a));
    int ry = (int)ceil(k * sqrt(c));
    out->radius[0] = rx;
    out->radius[1] = ry;
    if (rx <= 0 && ry <= 0)
        return;
    if (u + rx <= 0.0 || u - rx >= W || v + ry <= 0.0 || v - ry >= H)
        return;

    /* 11. Tile rectangle, half-open (§2.8, gsplat IntersectTile). */
    int T = tile_size(opt);
    int tiles_x = (int)((cam->width + (unsigned)T - 1) / (unsigned)T);
    int tiles_y = (int)((cam->height + (unsigned)T - 1) / (unsigned)T);
    out->rect[0] = clampi((int)floor((u - rx) / T), 0, tiles_x);
    out->rect[1] = clampi((int)floor((v - ry) / T), 0, tiles_y);
    out->rect[2] = clampi((int)ceil((u + rx) / T), 0, tiles_x);
    out->rect[3] = clampi((int)ceil((v + ry) / T), 0, tiles_y);
    if ((out->rect[2] - out->rect[0]) * (out->rect[3] - out->rect[1]) <= 0)
        return;
    for (int ty = out->rect[1]; ty < out->rect[3]; ty++)
        for (int tx = out->rect[0]; tx < out->rect[2]; tx++)
            out->tiles += ref_tile_touched(out, T, tx, ty);
    if (out->tiles == 0)
        return;

    /* 12. Colour toward the Gaussian from the camera centre campos = -R^T t (§3). */
    double campos[3], d[3];
    for (int r = 0; r < 3; r++)
        campos[r] = -(R[0 * 3 + r] * t[0] + R[1 * 3 + r] * t[1] + R[2 * 3 + r] * t[2]);
    for (int r = 0; r < 3; r++)
        d[r] = mu[r] - campos[r];
    double len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    for (int r = 0; r < 3; r++)
        d[r] = len > 0.0 ? d[r] / len : 0.0;
    size_t K = (size_t)((g->sh_degree + 1) * (g->sh_degree + 1));
    ref_sh_color(active_degree(g, opt), g->sh + i * K * 3, d, out->rgb, out->clamped);

    out->visible = 1;
}

/* ---- §4-5: depth order, tile lists and blending ------------------------------------------ */

typedef struct depth_key {
    double depth;
    size_t index;
} depth_key;

/* Depth, then index: the order a stable sort by depth gives. */
static int depth_key_cmp(const void *pa, const void *pb)
{
    const depth_key *a = pa, *b = pb;
    if (a->depth < b->depth)
        return -1;
    if (a->depth > b->depth)
        return 1;
    return (a->index > b->index) - (a->index < b->index);
}

void ref_frame_free(ref_frame *f)
{
    if (f == NULL)
        return;
    free(f->rgb);
    free(f->alpha);
    free(f->depth);
    free(f->final_t);
    free(f->n_contrib);
    free(f->proj);
    free(f->order);
    memset(f, 0, sizeof *f);
}

int ref_render(const cls_gaussians *g, const cls_camera *cam, const ref_options *opt, ref_frame *out)
{
    memset(out, 0, sizeof *out);
    if (cam->width == 0 || cam->height == 0)
        return 0;
    size_t W = cam->width, H = cam->height, n = g->count, npix = W * H;
    int T = tile_size(opt);
    out->width = cam->width;
    out->height = cam->height;
    out->tile = T;
    out->tiles_x = (int)((W + (size_t)T - 1) / (size_t)T);
    out->tiles_y = (int)((H + (size_t)T - 1) / (size_t)T);
    out->rgb = malloc(npix * 3 * sizeof *out->rgb);
    out->alpha = malloc(npix * sizeof *out->alpha);
    out->depth = malloc(npix * sizeof *out->depth);
    out->final_t = malloc(npix * sizeof *out->final_t);
    out->n_contrib = malloc(npix * sizeof *out->n_contrib);
    out->proj = malloc((n > 0 ? n : 1) * sizeof *out->proj);
    out->order = malloc((n > 0 ? n : 1) * sizeof *out->order);
    depth_key *keys = malloc((n > 0 ? n : 1) * sizeof *keys);
    size_t *list = malloc((n > 0 ? n : 1) * sizeof *list);
    if (!out->rgb || !out->alpha || !out->depth || !out->final_t || !out->n_contrib || !out->proj ||
        !out->order || !keys || !list) {
        free(keys);
        free(list);
        ref_frame_free(out);
        return 0;
    }

    /* Project every Gaussian; the visible ones, stable-sorted by depth (§4). */
    size_t visible = 0;
    for (size_t i = 0; i < n; i++) {
        ref_project(g, i, cam, opt, &out->proj[i]);
        if (out->proj[i].visible) {
            keys[visible].depth = out->proj[i].depth;
            keys[visible].index = i;
            visible++;
            out->intersections += (size_t)out->proj[i].tiles;
        }
    }
    qsort(keys, visible, sizeof *keys, depth_key_cmp);
    for (size_t k = 0; k < visible; k++)
        out->order[k] = keys[k].index;
    out->visible = visible;
    free(keys);

    /* Per tile: its depth-ordered list, then every pixel of the tile blends it (§5). */
    for (int ty = 0; ty < out->tiles_y; ty++) {
        for (int tx = 0; tx < out->tiles_x; tx++) {
            size_t len = 0;
            for (size_t k = 0; k < visible; k++) {
                if (ref_tile_touched(&out->proj[out->order[k]], T, tx, ty))
                    list[len++] = out->order[k];
            }
            for (size_t i = (size_t)ty * (size_t)T; i < H && i < (size_t)(ty + 1) * (size_t)T; i++) {
                for (size_t j = (size_t)tx * (size_t)T; j < W && j < (size_t)(tx + 1) * (size_t)T; j++) {
                    double px = (double)j + 0.5, py = (double)i + 0.5;
                    double Tr = 1.0, C[3] = {0.0, 0.0, 0.0}, D = 0.0;
                    unsigned last = 0;
                    for (size_t k = 0; k < len; k++) {
                        const ref_projection *pr = &out->proj[list[k]];
                        double dx = pr->u - px, dy = pr->v - py;
                        double sigma = 0.5 * (pr->conic[0] * dx * dx + pr->conic[2] * dy * dy) +
                                       pr->conic[1] * dx * dy;
                        if (sigma < 0.0)
                            continue;
                        double alpha = pr->opacity * exp(-sigma);
                        if (alpha > REF_ALPHA_MAX)
                            alpha = REF_ALPHA_MAX;
                        if (alpha < REF_ALPHA_MIN)
                            continue;
                        double t_next = Tr * (1.0 - alpha);
                        if (t_next < REF_T_MIN)
                            break; /* exclusive: this Gaussian is not added */
                        for (int c = 0; c < 3; c++)
                            C[c] += pr->rgb[c] * alpha * Tr;
                        D += pr->depth * alpha * Tr;
                        Tr = t_next;
                        last = (unsigned)(k + 1);
                    }
                    size_t pix = i * W + j;
                    for (int c = 0; c < 3; c++)
                        out->rgb[pix * 3 + (size_t)c] = C[c] + Tr * opt->background[c];
                    out->alpha[pix] = 1.0 - Tr;
                    out->depth[pix] = 1.0 - Tr > 0.0 ? D / (1.0 - Tr) : 0.0;
                    out->final_t[pix] = Tr;
                    out->n_contrib[pix] = last;
                }
            }
        }
    }
    free(list);
    return 1;
}
