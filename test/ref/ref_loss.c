/*
 * ref_loss.c - the double-precision loss reference (see ref_loss.h; "§7.1" is
 * ../shared/reference/3dgs-math.md section 7.1).
 *
 * Straight 2D window sums, no separability: for each channel and each pixel p, the five window
 * statistics are sums over the 11 x 11 pixels q around p that lie inside the image (zero
 * padding). The gradient follows the chain rule through those sums. With
 *   a = 2 mu_x mu_y + C1,  b = 2 s_xy + C2,  c = mu_x^2 + mu_y^2 + C1,  d = s_x^2 + s_y^2 + C2,
 *   S = a b / (c d),
 * the partial derivatives of S(p) w.r.t. its own statistics are
 *   dS/dmu_x   = 2 mu_y b / (c d) - 2 mu_x S / c
 *   dS/ds_x^2  = -S / d
 *   dS/ds_xy   = 2 a / (c d)
 * and the statistics depend on x(q) through
 *   dmu_x(p)/dx(q)   = w(q - p)
 *   ds_x^2(p)/dx(q)  = 2 w(q - p) (x(q) - mu_x(p))
 *   ds_xy(p)/dx(q)   = w(q - p) (y(q) - mu_y(p)),
 * so dSSIM/dx(q) = 1/N sum_p w(q - p) [dS/dmu_x(p) + 2 dS/ds_x^2(p) (x(q) - mu_x(p))
 *                                      + dS/ds_xy(p) (y(q) - mu_y(p))],
 * summed over the pixels p of the image whose window contains q. (The engine uses the
 * separable, rearranged form of the same sum; this one is written as derived.)
 */
#include "ref/ref_loss.h"

#include <math.h>
#include <stdlib.h>

#define R REF_SSIM_RADIUS
#define TAPS (2 * REF_SSIM_RADIUS + 1)

void ref_ssim_window(double g[TAPS])
{
    double sum = 0.0;
    for (int i = -R; i <= R; i++) {
        g[i + R] = exp(-(double)(i * i) / (2.0 * REF_SSIM_SIGMA * REF_SSIM_SIGMA));
        sum += g[i + R];
    }
    for (int i = 0; i < TAPS; i++)
        g[i] /= sum;
}

/* Per channel and pixel: the statistics and the partial derivatives of S. */
typedef struct pixel_stats {
    double mu_x, mu_y, s_xx, s_yy, s_xy;
    double S, dS_dmu_x, dS_dsxx, dS_dsxy;
} pixel_stats;

static double value(const double *img, size_t width, size_t x, size_t y, int c)
{
    return img[(y * width + x) * 3 + (size_t)c];
}

static void window_stats(const double *x, const double *y, size_t width, size_t height, const double g[TAPS],
                         long px, long py, int c, pixel_stats *st)
{
    double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
    for (long j = -R; j <= R; j++)
        for (long i = -R; i <= R; i++) {
            long qx = px + i, qy = py + j;
            if (qx < 0 || qy < 0 || qx >= (long)width || qy >= (long)height)
                continue; /* zero padding */
            double w = g[i + R] * g[j + R];
            double xv = value(x, width, (size_t)qx, (size_t)qy, c), yv = value(y, width, (size_t)qx, (size_t)qy, c);
            mx += w * xv;
            my += w * yv;
            exx += w * xv * xv;
            eyy += w * yv * yv;
            exy += w * xv * yv;
        }
    st->mu_x = mx;
    st->mu_y = my;
    st->s_xx = exx - mx * mx;
    st->s_yy = eyy - my * my;
    st->s_xy = exy - mx * my;

    const double C1 = REF_SSIM_C1, C2 = REF_SSIM_C2;
    double a = 2.0 * mx * my + C1, b = 2.0 * st->s_xy + C2;
    double cc = mx * mx + my * my + C1, d = st->s_xx + st->s_yy + C2;
    st->S = a * b / (cc * d);
    st->dS_dmu_x = 2.0 * my * b / (cc * d) - 2.0 * mx * st->S / cc;
    st->dS_dsxx = -st->S / d;
    st->dS_dsxy = 2.0 * a / (cc * d);
}

int ref_loss(const double *render, const double *target, size_t width, size_t height, double lambda,
             ref_loss_values *out, double *d_render)
{
    if (width == 0 || height == 0)
        return 0;
    const size_t pixels = width * height, n = pixels * 3;
    pixel_stats *stats = malloc(n * sizeof *stats);
    if (stats == NULL)
        return 0;
    double g[TAPS];
    ref_ssim_window(g);

    double l1 = 0.0, l2 = 0.0, ssim = 0.0;
    for (size_t py = 0; py < height; py++)
        for (size_t px = 0; px < width; px++)
            for (int c = 0; c < 3; c++) {
                size_t k = (py * width + px) * 3 + (size_t)c;
                pixel_stats *st = &stats[k];
                window_stats(render, target, width, height, g, (long)px, (long)py, c, st);
                double diff = render[k] - target[k];
                l1 += fabs(diff);
                l2 += diff * diff;
                ssim += st->S;
            }
    out->l1 = l1 / (double)n;
    out->mse = l2 / (double)n;
    out->ssim = ssim / (double)n;
    out->loss = (1.0 - lambda) * out->l1 + lambda * (1.0 - out->ssim);

    if (d_render != NULL) {
        for (size_t qy = 0; qy < height; qy++)
            for (size_t qx = 0; qx < width; qx++)
                for (int c = 0; c < 3; c++) {
                    size_t k = (qy * width + qx) * 3 + (size_t)c;
                    double xq = render[k], yq = target[k];
                    /* sum over the windows (centred at p) that contain q */
                    double dssim = 0.0;
                    for (long j = -R; j <= R; j++)
                        for (long i = -R; i <= R; i++) {
                            long px = (long)qx + i, py = (long)qy + j;
                            if (px < 0 || py < 0 || px >= (long)width || py >= (long)height)
                                continue;
                            const pixel_stats *st = &stats[((size_t)py * width + (size_t)px) * 3 + (size_t)c];
                            double w = g[i + R] * g[j + R];
                            dssim += w * (st->dS_dmu_x + 2.0 * st->dS_dsxx * (xq - st->mu_x) +
                                          st->dS_dsxy * (yq - st->mu_y));
                        }
                    double diff = xq - yq;
                    double sign = diff > 0.0 ? 1.0 : (diff < 0.0 ? -1.0 : 0.0);
                    d_render[k] = ((1.0 - lambda) * sign - lambda * dssim) / (double)n;
                }
    }
    free(stats);
    return 1;
}
