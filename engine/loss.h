/* loss.h - the training loss of 3dgs-math.md section 7.1 on the device (cl/loss.cl):
 * L = (1 - lambda) mean|x - y| + lambda (1 - mean SSIM), SSIM with the 11 x 11 Gaussian window
 * (sigma 1.5), C1 = 0.01^2, C2 = 0.03^2 and zero padding outside the image (the reference's
 * conv2d with padding 5), and dL/dx for the backward pass; plus SSIM and MSE for evaluation.
 * Internal.
 *
 * The render x is the forward pass's image: planar float, 3 planes of `rows` rows of `pitch`
 * floats (pitch >= width and a multiple of ctx->params.pixels_per_item, rows >= height; pixels
 * outside width x height are padding and are ignored). The target y is uint8 RGB interleaved, width * height * 3, read as value / 255.
 * Means are over width * height * 3 values. */
#ifndef CLS_LOSS_H
#define CLS_LOSS_H

#include "internal.h"

/* The bordered scratch layout of cl/loss.cl: pixel (x, y) of a plane sits at row
 * CLS__LOSS_HALO + y, column CLS__LOSS_LEFT + x (passed to the kernels with -D). */
#define CLS__LOSS_HALO 5 /* the window radius (11 taps) */
#define CLS__LOSS_LEFT 8 /* left margin, >= the radius, keeping rows 32-byte aligned */
/* The rows one work-item of the SSIM and gradient kernels sweeps (CLS_LOSS_BAND; neighbouring
 * bands re-blur 10 shared rows) are ctx->params.loss_band, tuned (docs/tuning.md). */

/* The training weight of the SSIM term (3dgs-math.md section 7.1). */
#define CLS__LOSS_LAMBDA 0.2f

typedef struct cls__loss {
    cl_kernel prepare, ssim, gradient, finish;
    /* What the kernels were built for (from ctx->params at init). */
    uint32_t lanes;       /* CLS_PIXELS_PER_ITEM: pixels of a row per work-item */
    uint32_t band;        /* CLS_LOSS_BAND: rows per work-item of the sweeps (loss_band) */
    size_t group[2];      /* the 2D work-group: (tile, tile / lanes) */
    clh_buffer xy;        /* 2 bordered maps: render, target */
    clh_buffer abc;       /* 3 bordered maps: the per-pixel SSIM partials, 0 outside the image */
    clh_buffer partials;  /* 3 floats per work-group of loss_ssim */
    clh_buffer metrics;   /* 3 floats: what cls__loss_metrics reads back */
    /* abc's margins are zero for this buffer and geometry (mem NULL: not yet). */
    cl_mem abc_zeroed_mem;
    size_t abc_zeroed_size;
    uint32_t abc_zeroed_bpitch, abc_zeroed_brows;
} cls__loss;

/* Builds the kernels with the context's parameters (tile_size, pixels_per_item; work-groups of
 * tile_size x tile_size / pixels_per_item work-items, as many as the rasterizer's; loss_band
 * rows per work-item). The band changes only the grouping of the partial sums: dL/dimage is the
 * same per pixel, the loss values round differently. On failure
 * the message is on ctx and *loss holds nothing to release (releasing it anyway is harmless). */
cls_status cls__loss_init(cls_context *ctx, cls__loss *loss);
/* Releases kernels and buffers; a zeroed struct is a no-op. */
void cls__loss_release(cls__loss *loss);

/* Enqueues the loss of `image` (padded planar, pitch and rows as given; pitch a multiple of
 * ctx->params.pixels_per_item, as the forward pass's is) against `target` (uint8 RGB,
 * width x height) with SSIM weight `lambda`: writes dL/dimage into d_image (same
 * padded layout, at least 3 * pitch * rows floats; 0 in the padding) and {L, L1, 1 - SSIM}
 * into values (3 floats). The gradient uses sign(0) = 0 for the L1 term. No host
 * synchronisation; launches are recorded in prof (may be NULL). The result is bit-identical
 * from run to run on a device. */
cls_status cls__loss_compute(cls_context *ctx, cls__loss *loss, cl_mem image, cl_mem target, uint32_t width,
                             uint32_t height, uint32_t pitch, uint32_t rows, float lambda, cl_mem d_image,
                             cl_mem values, cls__profile *prof);

/* Evaluation metrics of `image` against `target` (layouts as above), no gradient: mean SSIM
 * (same definition as the loss) and MSE (PSNR = -10 log10(mse)); either pointer may be NULL.
 * Blocks until the values are read back. The image is not clamped to [0, 1]; the reference's
 * evaluation clamps the render first. */
cls_status cls__loss_metrics(cls_context *ctx, cls__loss *loss, cl_mem image, cl_mem target, uint32_t width,
                             uint32_t height, uint32_t pitch, uint32_t rows, float *ssim, float *mse,
                             cls__profile *prof);

#endif
