/* Adam (3dgs-math.md section 7.2) as the trainer runs it: fused into the projection backward
 * (project_backward_adam and its cls_adam_value in cl/project_backward.cl), so that the
 * gradients of a step never go to memory. */
#ifndef CLS_ADAM_H
#define CLS_ADAM_H

#include "internal.h"

typedef struct cls__adam_hparams {
    float beta1, beta2, eps;
} cls__adam_hparams;

/* The reference trainer's values: beta1 0.9, beta2 0.999, eps 1e-15 (the learning rates are
 * per group, in cls__adam_fusion). */
cls__adam_hparams cls__adam_defaults(void);

/* The bias corrections 1 - beta1^t and 1 - beta2^t of step t (1-based): in double, rounded
 * once. */
void cls__adam_bias(const cls__adam_hparams *h, uint32_t t, float *bc1, float *bc2);

/* The parameter groups: means, log-scales, quaternions, opacity logits, SH coefficients. */
#define CLS__ADAM_GROUPS 5

/* Adam inside the projection backward (cls__backward_adam, project_backward_adam in
 * cl/project_backward.cl): the gradients of a step go straight into the update. */
typedef struct cls__adam_fusion {
    cl_mem moments[CLS__ADAM_GROUPS][2]; /* (m, v) per group */
    float lr[6];                         /* per group, SH split into DC and the rest */
    cls__adam_hparams hparams;           /* beta1, beta2, eps */
    uint32_t step;                       /* t, 1-based */
    int apply;                           /* 0: no update (a densification step), statistics only */
    cl_mem grad_accum, denom;            /* NULL: no densification statistics */
} cls__adam_fusion;

#endif
