/*
 * ref_loss.h - a plain-C, double-precision reference of the training loss and its gradient,
 * written to be read next to ../shared/reference/3dgs-math.md section 7.1 (GS
 * utils/loss_utils.py `l1_loss`, `ssim`, `_ssim`):
 *
 *   L     = (1 - lambda) L1 + lambda (1 - SSIM),            lambda = 0.2 in training
 *   L1    = 1/N sum_{c,p} |x_c(p) - y_c(p)|,                N = width * height * 3
 *   SSIM  = 1/N sum_{c,p} S_c(p)
 *   S     = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))
 *   mu_x(p)  = sum_q w(q - p) x(q)                  s_x^2(p) = sum_q w(q - p) x(q)^2 - mu_x(p)^2
 *   s_xy(p)  = sum_q w(q - p) x(q) y(q) - mu_x(p) mu_y(p)          (same for y)
 *
 * with x the render, y the target, per channel c. w is the 11 x 11 Gaussian window of standard
 * deviation 1.5, normalised: w(i, j) = g(i) g(j), g(i) = exp(-i^2 / 4.5) / sum_k exp(-k^2 / 4.5)
 * for i, j in -5..5. The sums over q run over the image only: pixels outside it count as 0,
 * which is what the reference's F.conv2d(..., padding = 5) does (zero padding, "same" output,
 * and the border windows are NOT renormalised). C1 = 0.01^2 and C2 = 0.03^2 (data range 1).
 * No clamping of the render (GS-2024 clamps to [0, 1] before the loss; callers that want that
 * clamp the image).
 *
 * The gradient is the exact derivative of L with the subgradient sign(0) = 0 for |x - y|.
 * Images are interleaved, row-major: value (x, y, c) at [(y * width + x) * 3 + c].
 *
 * Nothing here needs OpenCL.
 */
#ifndef CLS_REF_LOSS_H
#define CLS_REF_LOSS_H

#include <stddef.h>
#include <stdint.h>

#define REF_SSIM_RADIUS 5     /* the window is (2 * 5 + 1)^2 = 11 x 11 */
#define REF_SSIM_SIGMA 1.5
#define REF_SSIM_C1 (0.01 * 0.01)
#define REF_SSIM_C2 (0.03 * 0.03)
#define REF_LOSS_LAMBDA 0.2

typedef struct ref_loss_values {
    double loss; /* (1 - lambda) l1 + lambda (1 - ssim) */
    double l1;   /* mean |x - y| */
    double ssim; /* mean SSIM map */
    double mse;  /* mean (x - y)^2, for PSNR */
} ref_loss_values;

/* The 1D window g(-5..5) at g[0..10]. */
void ref_ssim_window(double g[2 * REF_SSIM_RADIUS + 1]);

/* Computes the loss of render x against target y (both width x height x 3, interleaved) and,
 * when d_render is not NULL, dL/dx into d_render (same layout). Returns 0 on an allocation
 * failure or an empty image, 1 otherwise. */
int ref_loss(const double *render, const double *target, size_t width, size_t height, double lambda,
             ref_loss_values *out, double *d_render);

#endif
