/* The trainer's internal entry points (the public ones are in clsplat.h). */
#ifndef CLS_TRAINER_H
#define CLS_TRAINER_H

#include "dataset.h"
#include "frame.h"
#include "internal.h"
#include "loss.h"
#include "scan.h"

enum { GROUP_MEANS, GROUP_SCALES, GROUP_QUATS, GROUP_OPACITY, GROUP_SH, GROUP_COUNT = CLS__ADAM_GROUPS };

/* The trainer's state (checkpoint.c reads and writes it). */
struct cls_trainer {
    cls_context *ctx;
    const cls__dataset *data;
    cls_trainer_desc desc;
    cls_scene *scene;
    cls_frame *frame;
    cls__loss loss;
    cl_kernel densify_plan, densify_geometry, densify_copy, opacity_reset;
    cls__scan scan;
    clh_buffer grad_accum, denom, plan, counts, offsets, total; /* densification state */
    clh_buffer moments[GROUP_COUNT][2]; /* Adam m and v per group */
    clh_buffer target;                  /* the current view's photo, uint8 RGB */
    clh_buffer loss_values;             /* L, L1, 1 - SSIM */
    float extent;                       /* scene radius (INRIA cameras_extent) */
    uint32_t step;
    uint64_t rng;
    uint32_t *order; /* permutation of the training views */
    size_t order_left, views;
};


/* xorshift64*: the trainer's only source of randomness (seeded). */
uint64_t cls__trainer_rng_next(uint64_t *s);

cls_status cls__trainer_create(cls_context *ctx, const cls__dataset *data, const cls_trainer_desc *desc,
                               cls_trainer **out);
cls_status cls__trainer_step(cls_trainer *t, cls_train_stats *stats);
/* Renders view i of a split from `scene` into `frame` and measures it against its photo with
 * `loss`'s metrics (the photo goes through `target`): shared by cls_evaluate_view, which makes
 * its own frame and loss, and the trainer, which reuses its own (engine/evaluate.c). */
cls_status cls__evaluate_view_with(cls_frame *frame, cls__loss *loss, clh_buffer *target, cls_scene *scene,
                                   const cls__dataset *ds, cls_split split, size_t i, const cls_render_desc *desc,
                                   float *psnr, float *ssim, float *rgb);
/* Renders view `index` of a split and measures it against its photo: PSNR (dB, from the MSE
 * over all pixels and channels) and mean SSIM; optionally the render (interleaved RGB). */
cls_status cls__trainer_evaluate_view(cls_trainer *t, cls_split split, size_t index, float *psnr, float *ssim,
                                      float *rgb_out);

/* Checkpoints (engine/checkpoint.c): the whole training state, resumable bit for bit. */
cls_status cls__trainer_save_checkpoint(cls_trainer *t, const char *path);
cls_status cls__trainer_load_checkpoint(cls_trainer *t, const char *path);

#endif
