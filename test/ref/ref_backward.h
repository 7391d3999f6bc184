/*
 * ref_backward.h - the analytic backward pass of the double-precision forward reference
 * (ref_forward.h), in plain C: given the upstream gradients of the rendered images, the
 * gradients of every stored parameter, the per-Gaussian intermediate gradients the engine's
 * kernels produce pass by pass, and the densification statistics. Written to be read next to
 * ../shared/reference/3dgs-math.md sections 2.5, 3 and 6. Conventions (these define "correct";
 * the engine follows them):
 *
 *   - exact derivatives of the reference forward wherever it is differentiable: alpha =
 *     min(0.99, o G) has zero derivative w.r.t. o and G where o G > 0.99 (gsplat's rule, not
 *     INRIA's pass-through); colour channels clamped at 0 pass no gradient to the SH; the
 *     frustum clamp of the EWA Jacobian gives no gradient to t.x (t.y) and the clamped
 *     t.z * lim term is differentiated w.r.t. t.z (gsplat); the antialiasing compensation is
 *     differentiated w.r.t. the undilated a, b, c, and passes nothing where its floor is active;
 *   - blending gradients in gsplat's "absolute accumulator" form (see ref_backward.c);
 *   - discrete decisions (culling, tiles, the 1/255 skip, the transmittance stop, the depth
 *     order) are taken as in the forward and not differentiated.
 *
 * Nothing here needs OpenCL.
 */
#ifndef CLS_REF_BACKWARD_H
#define CLS_REF_BACKWARD_H

#include <stddef.h>

#include "clsplat.h"
#include "ref/ref_forward.h"

/* Everything ref_backward produces. Arrays are per Gaussian, in the scene's order; Gaussians
 * that were culled have all of them zero. */
typedef struct ref_grads {
    size_t count;
    int sh_degree; /* the scene's degree: sh holds count * (sh_degree + 1)^2 * 3 entries */

    /* dL/d(stored parameter), same layouts as cls_gaussians. */
    double *means;          /* 3n */
    double *log_scales;     /* 3n: through s = exp(log_scale) */
    double *quats;          /* 4n: w.r.t. the raw (unnormalised) quaternion (w, x, y, z) */
    double *opacity_logits; /* n: through the sigmoid */
    double *sh;             /* n*K*3: zero above the active degree */

    /* Intermediate gradients: what the rasterizer backward hands to the projection backward. */
    double *mean2d;  /* 2n: dL/du, dL/dv (pixels) */
    double *conic;   /* 3n: dL/dA, dL/dB, dL/dC, sigma = 1/2 (A dx^2 + C dy^2) + B dx dy */
    double *opacity; /* n: dL/do for the o used in blending (sigmoid times the compensation) */
    double *colour;  /* 3n: dL/d(colour after +0.5 and the clamp); NOT zeroed for clamped channels */
    double *depth;   /* n: dL/dz (camera-space z) from the expected-depth image only */

    /* Densification statistics (3dgs-math.md sections 6.1, 8.2). */
    double *grad_norm;    /* n: |(dL/du * W/2, dL/dv * H/2)|, INRIA's NDC viewspace gradient norm */
    double *absgrad_norm; /* n: |(sum_pix |dL_pix/du| * W/2, sum_pix |dL_pix/dv| * H/2)|, gsplat absgrad */
    int *visible;         /* n: 1 when the Gaussian survived culling and touches >= 1 tile */
} ref_grads;

/* Allocates zeroed arrays for count Gaussians of SH degree sh_degree (0..3). Returns 0 (and
 * leaves *gr zeroed) on an allocation failure or a bad degree. */
int ref_grads_alloc(ref_grads *gr, size_t count, int sh_degree);

/* Frees the arrays of gr and zeroes it. NULL is a no-op. */
void ref_grads_free(ref_grads *gr);

/* ---- the pieces --------------------------------------------------------------------------- */

/* dY_k/dn_j of the INRIA SH polynomials as written (not restricted to the unit sphere):
 * dY[k*3 + j], k < (degree+1)^2, zero above. */
void ref_sh_basis_grad(int degree, const double n[3], double dY[16 * 3]);

/* SH backward for one Gaussian (section 3): d_rgb is dL/dcolour with clamped channels already
 * zeroed; adds Y_k(n) d_rgb[c] to d_sh[k*3 + c] for k < (degree+1)^2 and writes dL/dn (the
 * direction n, before the normalisation) to d_n. */
void ref_sh_backward(int degree, const float *sh, const double n[3], const double d_rgb[3], double *d_sh,
                     double d_n[3]);

/* Backward of Sigma = R(q/|q|) diag(exp(ls))^2 R^T (section 6.3). d_sigma is dL/dSigma as a full
 * row-major 3x3 matrix (dL = sum_ij d_sigma_ij dSigma_ij; it need not be symmetric). Writes
 * dL/dlog_scale and dL/dq (raw q). Returns 0 when |q| == 0 (outputs zero). */
int ref_covariance3d_backward(const double log_scale[3], const double quat[4], const double d_sigma[9],
                              double d_log_scale[3], double d_quat[4]);

/* The backward of ref_render(g, cam, opt): d_rgb (width*height*3, interleaved, row-major) is
 * required, d_alpha (width*height) and d_depth (width*height, the expected depth image) may be
 * NULL (zero). out must come from ref_grads_alloc(out, g->count, g->sh_degree) (0 is returned
 * otherwise); it is overwritten. Returns 0 on an allocation failure or a zero-sized camera
 * (out's arrays are zeroed then), 1 on success. */
int ref_backward(const cls_gaussians *g, const cls_camera *cam, const ref_options *opt, const double *d_rgb,
                 const double *d_alpha, const double *d_depth, ref_grads *out);

#endif
