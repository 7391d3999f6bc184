/* The trainer's internal entry points (the public ones are in clsplat.h). */
#ifndef CLS_TRAINER_H
#define CLS_TRAINER_H

#include "dataset.h"
#include "internal.h"

cls_status cls__trainer_create(cls_context *ctx, const cls__dataset *data, const cls_trainer_desc *desc,
                               cls_trainer **out);
cls_status cls__trainer_step(cls_trainer *t, cls_train_stats *stats);
/* Renders view `index` of a split and measures it against its photo: PSNR (dB, from the MSE
 * over all pixels and channels) and mean SSIM; optionally the render (interleaved RGB). */
cls_status cls__trainer_evaluate_view(cls_trainer *t, cls_split split, size_t index, float *psnr, float *ssim,
                                      float *rgb_out);

#endif
