/*
 * ref_forward.h - a plain-C, double-precision reference of clsplat's forward pass: projection
 * (cull, covariance, EWA splat, opacity, extent, tiles, SH colour) and front-to-back alpha
 * blending. Written to be read next to ../shared/reference/3dgs-math.md sections 1-5; the
 * conventions are the engine's (gsplat 1.5.3 projection, INRIA blending thresholds):
 *
 *   - camera: OpenCV pinhole, x_cam = R x_world + t, pixel (row i, column j) centred at
 *     (j + 0.5, i + 0.5); cull when z < near or z > far;
 *   - EWA Jacobian with gsplat's asymmetric frustum clamp, 0.3 dilation, optional
 *     antialiasing compensation floored at 2.5e-5;
 *   - opacity-aware per-axis extent k = min(3.33, sqrt(2 ln(255 o))), 16x16 tiles by default;
 *   - INRIA SH polynomials, colour + 0.5 clamped at 0;
 *   - Gaussians blended in a stable depth order, alpha = min(0.99, o exp(-sigma)), skipped under
 *     1/255, exclusive stop when the transmittance would drop under 1e-4.
 *
 * Everything is slow and obvious on purpose: it is the yardstick the kernels are measured by.
 * Nothing here needs OpenCL; it uses only the cls_gaussians and cls_camera structs of the
 * public header.
 */
#ifndef CLS_REF_FORWARD_H
#define CLS_REF_FORWARD_H

#include <stddef.h>

#include "clsplat.h"

/* The forward constants (3dgs-math.md sections 2 and 5). */
#define REF_NEAR_PLANE 0.01
#define REF_FAR_PLANE 1e10
#define REF_DILATION 0.3          /* added to the 2D covariance diagonal, section 2.5 */
#define REF_AA_MIN_RATIO 2.5e-5   /* floor of det0/det in antialiased mode, section 2.5 */
#define REF_ALPHA_MIN (1.0 / 255.0)
#define REF_ALPHA_MAX 0.99
#define REF_T_MIN 1e-4
#define REF_EXTENT_SIGMAS 3.33
#define REF_TILE 16

/* The SH constants, exactly as written in 3dgs-math.md section 3. */
#define REF_SH_C0 0.28209479177387814
#define REF_SH_C1 0.4886025119029199
#define REF_SH_C2_0 1.0925484305920792
#define REF_SH_C2_1 -1.0925484305920792
#define REF_SH_C2_2 0.31539156525252005
#define REF_SH_C2_3 -1.0925484305920792
#define REF_SH_C2_4 0.5462742152960396
#define REF_SH_C3_0 -0.5900435899266435
#define REF_SH_C3_1 2.890611442640554
#define REF_SH_C3_2 -0.4570457994644658
#define REF_SH_C3_3 0.3731763325901154
#define REF_SH_C3_4 -0.4570457994644658
#define REF_SH_C3_5 1.445305721320277
#define REF_SH_C3_6 -0.5900435899266435

typedef struct ref_options {
    int sh_degree;            /* active SH degree; -1: the scene's (values above it are clipped) */
    int antialiased;          /* multiply the opacity by the compensation, section 2.5 */
    double near_plane;        /* cull z < near_plane */
    double far_plane;         /* cull z > far_plane */
    double background[3];     /* added with the final transmittance */
    int tile;                 /* tile width and height in pixels */
} ref_options;

/* sh_degree -1, not antialiased, near 0.01, far 1e10, black background, 16-pixel tiles. */
ref_options ref_options_default(void);

/* Everything the projection of one Gaussian yields. When visible is 0 only the fields up to
 * the point of culling are meaningful (p_cam and depth always are). */
typedef struct ref_projection {
    int visible;
    double p_cam[3];     /* camera-space mean */
    double cov3d[9];     /* world-space covariance, row-major */
    double cov2d[3];     /* a, b, c of the dilated 2D covariance */
    double det0;         /* determinant before the dilation */
    double det;          /* determinant after the dilation */
    double u, v;         /* pixel position of the mean (unclamped p) */
    double conic[3];     /* A, B, C: the inverse of the dilated 2D covariance */
    double opacity;      /* sigmoid(logit), times the compensation when antialiased */
    double rgb[3];       /* SH colour + 0.5, clamped at 0 */
    int clamped[3];      /* 1 where the channel was < 0 before the clamp */
    double depth;        /* camera-space z */
    int radius[2];       /* r_x, r_y in pixels */
    int rect[4];         /* tile rectangle x0, y0, x1, y1, half-open */
    int tiles;           /* tiles of the rectangle it touches (ref_tile_touched) */
} ref_projection;

/* The rendered image and the per-pixel state a backward pass needs. Arrays are row-major from
 * the top row; rgb is interleaved. */
typedef struct ref_frame {
    unsigned width, height;
    int tile, tiles_x, tiles_y;
    double *rgb;             /* width*height*3: C + T*background */
    double *alpha;           /* width*height: 1 - T */
    double *depth;           /* width*height: sum(w z) / (1 - T), 0 where 1 - T == 0 */
    double *final_t;         /* width*height: T after the last contributor */
    unsigned *n_contrib;     /* width*height: 1-based position of the last contributor in the
                                tile's list, 0 when none contributed */
    ref_projection *proj;    /* one per Gaussian */
    size_t *order;           /* the visible Gaussians, stable-sorted by depth */
    size_t visible;          /* count of order */
    size_t intersections;    /* (tile, Gaussian) pairs: the sum of the rectangle areas */
} ref_frame;

/* ---- the pieces, each one section of 3dgs-math.md ---------------------------------------- */

/* R(q) of a quaternion (w, x, y, z), normalised first (section 2.3). Returns 0 (and leaves R
 * untouched) when |q| == 0. R is row-major. */
int ref_quat_to_rotmat(const double q[4], double R[9]);

/* Sigma = R(q) diag(exp(log_scale)^2) R(q)^T, row-major (section 2.3). Returns 0 when |q| == 0. */
int ref_covariance3d(const double log_scale[3], const double quat[4], double sigma[9]);

/* The 2x3 EWA Jacobian at camera-space point p with gsplat's clamp (section 2.4), row-major. */
void ref_projection_jacobian(const cls_camera *cam, const double p[3], double J[6]);

/* The INRIA SH basis Y_0..Y_{(degree+1)^2 - 1} at unit direction n (section 3). */
void ref_sh_basis(int degree, const double n[3], double Y[16]);

/* colour_c = sum_k Y_k(n) sh[k*3 + c] + 0.5, clamped at 0 with per-channel flags (section 3).
 * n must be a unit vector. */
void ref_sh_color(int degree, const float *sh, const double n[3], double rgb[3], int clamped[3]);

/* Projects Gaussian i of g (section 2 and 3). */
/* Whether tile (tx, ty) of side T is in the projection's rectangle and holds a pixel centre
 * (of the whole tile, padding included) where the exponent sigma is at most
 * log(255 opacity (1 + 1e-3)): where alpha >= 1/255, with the engine's row-test margin. Only
 * touched tiles list the Gaussian (the engine's exact tile culling, cl/common.cl). */
int ref_tile_touched(const ref_projection *p, int T, int tx, int ty);

void ref_project(const cls_gaussians *g, size_t i, const cls_camera *cam, const ref_options *opt,
                 ref_projection *out);

/* Renders g from cam (sections 2-5). Fills *out (allocating its arrays); returns 0 on an
 * allocation failure or a zero-sized camera, with *out zeroed. Free with ref_frame_free. */
int ref_render(const cls_gaussians *g, const cls_camera *cam, const ref_options *opt, ref_frame *out);

/* Frees the arrays of f and zeroes it. NULL is a no-op. */
void ref_frame_free(ref_frame *f);

#endif
