#include "adam.h"

#include <math.h>

cls__adam_hparams cls__adam_defaults(float lr)
{
    return (cls__adam_hparams){.lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-15f};
}

cls_status cls__adam_step(cls_context *ctx, cl_kernel kernel, cl_mem param, cl_mem grad, cl_mem m, cl_mem v,
                          uint32_t count, const cls__adam_hparams *h, uint32_t t, cls__profile *prof)
{
    if (t == 0)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "Adam steps count from 1");
    cl_uint n = count;
    cl_float lr = h->lr, b1 = h->beta1, b2 = h->beta2, eps = h->eps;
    /* Bias corrections in double, then rounded once. */
    cl_float bc1 = (cl_float)(1.0 - pow((double)h->beta1, (double)t));
    cl_float bc2 = (cl_float)(1.0 - pow((double)h->beta2, (double)t));
    const clh_arg args[] = {CLH_ARG(n), {sizeof(cl_mem), &param}, {sizeof(cl_mem), &grad}, {sizeof(cl_mem), &m},
                            {sizeof(cl_mem), &v}, CLH_ARG(lr), CLH_ARG(b1), CLH_ARG(b2), CLH_ARG(eps), CLH_ARG(bc1),
                            CLH_ARG(bc2)};
    clh_launch_desc desc = {.name = "adam", .dims = 1, .items = {count, 1},
                            .local = {(size_t)ctx->params.adam_group_size, 1}};
    return cls__launch(ctx, kernel, &desc, args, CLS__ARRAY_COUNT(args), prof, CLS_PASS_OPTIMIZE);
}

cls_status cls__adam_step_sh(cls_context *ctx, cl_kernel kernel, cl_mem param, cl_mem grad, cl_mem m, cl_mem v,
                             uint32_t count, uint32_t stride, float lr_dc, float lr_rest, const cls__adam_hparams *h,
                             uint32_t t, cls__profile *prof)
{
    if (t == 0)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "Adam steps count from 1");
    cl_uint n = count, st = stride;
    cl_float dc = lr_dc, rest = lr_rest, b1 = h->beta1, b2 = h->beta2, eps = h->eps;
    cl_float bc1 = (cl_float)(1.0 - pow((double)h->beta1, (double)t));
    cl_float bc2 = (cl_float)(1.0 - pow((double)h->beta2, (double)t));
    const clh_arg args[] = {CLH_ARG(n), CLH_ARG(st), {sizeof(cl_mem), &param}, {sizeof(cl_mem), &grad},
                            {sizeof(cl_mem), &m}, {sizeof(cl_mem), &v}, CLH_ARG(dc), CLH_ARG(rest), CLH_ARG(b1),
                            CLH_ARG(b2), CLH_ARG(eps), CLH_ARG(bc1), CLH_ARG(bc2)};
    if (stride == 0)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "Adam over SH: stride 0");
    /* Rows of whole Gaussians: (stride, adam_group_size / stride) work-items, at least one row. */
    const size_t rows = (size_t)ctx->params.adam_group_size / stride;
    clh_launch_desc desc = {.name = "adam_sh", .dims = 2, .items = {stride, count},
                            .local = {stride, rows > 0 ? rows : 1}};
    return cls__launch(ctx, kernel, &desc, args, CLS__ARRAY_COUNT(args), prof, CLS_PASS_OPTIMIZE);
}
