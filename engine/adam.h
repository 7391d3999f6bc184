/* The fused Adam update of one parameter group on the device (cl/adam.cl). */
#ifndef CLS_ADAM_H
#define CLS_ADAM_H

#include "internal.h"

typedef struct cls__adam_hparams {
    float lr, beta1, beta2, eps;
} cls__adam_hparams;

/* The reference trainer's values: beta1 0.9, beta2 0.999, eps 1e-15 (lr per group). */
cls__adam_hparams cls__adam_defaults(float lr);

/* param -= Adam(grad) for `count` values at step t (1-based), updating the moments m and v.
 * Work-groups of ctx->params.adam_group_size work-items (tuned: docs/tuning.md); every value
 * is updated on its own, so the result does not depend on the group. */
cls_status cls__adam_step(cls_context *ctx, cl_kernel kernel, cl_mem param, cl_mem grad, cl_mem m, cl_mem v,
                          uint32_t count, const cls__adam_hparams *h, uint32_t t, cls__profile *prof);

/* Adam over SH coefficients laid out [Gaussian][stride]: the first 3 values of each Gaussian
 * (DC) at lr_dc, the rest at lr_rest; beta and eps from h (h->lr unused). Work-groups of
 * (stride, max(1, adam_group_size / stride)) work-items; stride at most CLS__ADAM_MAX_STRIDE
 * for the group to stay within what cls__params_check allowed. */
cls_status cls__adam_step_sh(cls_context *ctx, cl_kernel kernel, cl_mem param, cl_mem grad, cl_mem m, cl_mem v,
                             uint32_t count, uint32_t stride, float lr_dc, float lr_rest, const cls__adam_hparams *h,
                             uint32_t t, cls__profile *prof);

#endif
