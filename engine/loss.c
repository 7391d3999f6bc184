/* The loss (3dgs-math.md section 7.1) on the device: see loss.h for the contract and
 * cl/loss.cl for the maths and the passes. Four launches, no host synchronisation:
 * prepare → SSIM sweep (+ partial sums, + A, B, E) → gradient sweep → final sums. */
#include "loss.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The profiling pass of the loss launches (a CLS_PASS_LOSS is proposed). */
#define CLS__LOSS_PASS CLS_PASS_LOSS

#define CLS__LOSS_MAPS_XY 2
#define CLS__LOSS_MAPS_ABC 3
/* Bordered rows are padded to this many floats (64 bytes; a multiple of every lane count). */
#define CLS__LOSS_ROW_ALIGN 16u

/* Where every pass works, for one image size (see cl/loss.cl, "Layouts"). */
typedef struct loss_geometry {
    cl_uint width, height, pitch, rows; /* the render's layout */
    cl_uint strips, bands;              /* covered region: pitch x bands * band (>= rows) */
    cl_uint bpitch, brows, bplane, map; /* bordered maps: row pitch, rows, floats per plane, per map */
    size_t sweep[2];                    /* global size of the sweeps (work-items) */
    cl_uint groups;                     /* work-groups of loss_ssim */
} loss_geometry;

static uint64_t round_up(uint64_t n, uint64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

static cls_status geometry(cls_context *ctx, const cls__loss *loss, uint32_t width, uint32_t height,
                           uint32_t pitch, uint32_t rows, loss_geometry *g)
{
    if (width == 0 || height == 0 || pitch < width || rows < height || pitch % loss->lanes != 0)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "loss: image %ux%u in a layout of pitch %u and %u rows (need 0 < width <= pitch, "
                             "0 < height <= rows, pitch a multiple of %u)", width, height, pitch, rows, loss->lanes);
    const uint64_t strips = pitch / loss->lanes;
    const uint64_t bands = ((uint64_t)rows + loss->band - 1) / loss->band;
    const uint64_t bpitch = round_up(CLS__LOSS_LEFT + (uint64_t)pitch + CLS__LOSS_HALO, CLS__LOSS_ROW_ALIGN);
    const uint64_t brows = bands * loss->band + 2 * CLS__LOSS_HALO;
    const uint64_t bplane = bpitch * brows, map = 3 * bplane;
    /* The kernels index in 32 bits: the largest index is 3 maps into abc. */
    if (CLS__LOSS_MAPS_ABC * map > UINT32_MAX || 3 * (uint64_t)pitch * rows > UINT32_MAX)
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "loss: image %ux%u (pitch %u, %u rows) is too large for 32-bit "
                             "indexing of the scratch maps", width, height, pitch, rows);
    *g = (loss_geometry){.width = width, .height = height, .pitch = pitch, .rows = rows,
                         .strips = (cl_uint)strips, .bands = (cl_uint)bands, .bpitch = (cl_uint)bpitch,
                         .brows = (cl_uint)brows, .bplane = (cl_uint)bplane, .map = (cl_uint)map,
                         .sweep = {(size_t)round_up(strips, loss->group[0]),
                                   (size_t)round_up(3 * bands, loss->group[1])}};
    g->groups = (cl_uint)((g->sweep[0] / loss->group[0]) * (g->sweep[1] / loss->group[1]));
    return CLS_OK;
}

cls_status cls__loss_init(cls_context *ctx, cls__loss *loss)
{
    memset(loss, 0, sizeof *loss);
    const cls_params *p = &ctx->params;
    if (p->tile_size < 1 || p->pixels_per_item < 1 || p->tile_size % p->pixels_per_item != 0 || p->loss_band < 1)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "loss: invalid tile_size %d / pixels_per_item %d / loss_band %d", p->tile_size,
                             p->pixels_per_item, p->loss_band);
    loss->lanes = (uint32_t)p->pixels_per_item;
    loss->band = (uint32_t)p->loss_band;
    loss->group[0] = (size_t)p->tile_size;
    loss->group[1] = (size_t)(p->tile_size / p->pixels_per_item);
    const size_t items = loss->group[0] * loss->group[1];

    /* CLS_LOSS_BAND comes with the context's parameters (cls__kernel: cl/loss.cl reads it). */
    char options[128];
    snprintf(options, sizeof options, "-DCLS_LOSS_HALO=%d -DCLS_LOSS_LEFT=%d", CLS__LOSS_HALO, CLS__LOSS_LEFT);
    struct {
        cl_kernel *out;
        const char *name;
    } table[] = {
        {&loss->prepare, "loss_prepare"},
        {&loss->ssim, "loss_ssim"},
        {&loss->gradient, "loss_gradient"},
        {&loss->finish, "loss_finish"},
    };
    cls_status st = CLS_OK;
    for (int i = 0; st == CLS_OK && i < CLS__ARRAY_COUNT(table); i++) {
        st = cls__kernel(ctx, "loss", options, table[i].name, table[i].out);
        size_t max_local = 0;
        clh_error herr;
        clh_result hr = st == CLS_OK ? clh_kernel_max_local(&ctx->rt, *table[i].out, &max_local, &herr) : CLH_OK;
        if (hr != CLH_OK)
            st = cls__from_host(ctx, hr, &herr);
        else if (st == CLS_OK && max_local < items)
            st = cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "loss: kernel %s runs work-groups of at most %zu work-items; "
                               "%zux%zu are needed", table[i].name, max_local, loss->group[0], loss->group[1]);
    }
    if (st != CLS_OK)
        cls__loss_release(loss);
    return st;
}

void cls__loss_release(cls__loss *loss)
{
    cl_kernel *kernels[] = {&loss->prepare, &loss->ssim, &loss->gradient, &loss->finish};
    for (int i = 0; i < CLS__ARRAY_COUNT(kernels); i++) {
        if (*kernels[i] != NULL)
            clReleaseKernel(*kernels[i]);
        *kernels[i] = NULL;
    }
    clh_buffer *buffers[] = {&loss->xy, &loss->abc, &loss->partials, &loss->metrics};
    for (int i = 0; i < CLS__ARRAY_COUNT(buffers); i++)
        clh_buffer_release(buffers[i]);
    loss->abc_zeroed_mem = NULL;
}

static cls_status launch(cls_context *ctx, const cls__loss *loss, cl_kernel kernel, const char *name, size_t nx,
                         size_t ny, const clh_arg *args, int arg_count, cls__profile *prof)
{
    clh_launch_desc desc = {.name = name, .dims = 2, .items = {nx, ny}, .local = {loss->group[0], loss->group[1]},
                            .exact_local = 1};
    return cls__launch(ctx, kernel, &desc, args, arg_count, prof, CLS__LOSS_PASS);
}

/* Sizes the scratch buffers for g; with_grad also readies the abc maps (margins zeroed once
 * per buffer and geometry: no kernel writes them). */
static cls_status reserve(cls_context *ctx, cls__loss *loss, const loss_geometry *g, int with_grad)
{
    const size_t map_bytes = (size_t)g->map * sizeof(float);
    struct {
        clh_buffer *buf;
        size_t bytes;
        const char *what;
    } needs[] = {
        {&loss->xy, CLS__LOSS_MAPS_XY * map_bytes, "loss xy"},
        {&loss->abc, with_grad ? CLS__LOSS_MAPS_ABC * map_bytes : 1, "loss abc"},
        {&loss->partials, (size_t)g->groups * 3 * sizeof(float), "loss partials"},
        {&loss->metrics, 3 * sizeof(float), "loss metrics"},
    };
    clh_error herr;
    for (int i = 0; i < CLS__ARRAY_COUNT(needs); i++) {
        clh_result hr = clh_buffer_reserve(&ctx->rt, needs[i].buf, needs[i].bytes, needs[i].what, &herr);
        if (hr != CLH_OK)
            return cls__from_host(ctx, hr, &herr);
    }
    if (!with_grad || (loss->abc_zeroed_mem == loss->abc.mem && loss->abc_zeroed_size == loss->abc.size &&
                       loss->abc_zeroed_bpitch == g->bpitch && loss->abc_zeroed_brows == g->brows))
        return CLS_OK;
    const cl_float zero = 0.0f;
    cl_int code = clEnqueueFillBuffer(ctx->rt.queue, loss->abc.mem, &zero, sizeof zero, 0,
                                      CLS__LOSS_MAPS_ABC * map_bytes, 0, NULL, NULL);
    if (code != CL_SUCCESS)
        return cls__from_host(ctx, clh_fail_cl(&herr, code, "clEnqueueFillBuffer", "loss abc maps"), &herr);
    loss->abc_zeroed_mem = loss->abc.mem;
    loss->abc_zeroed_size = loss->abc.size;
    loss->abc_zeroed_bpitch = g->bpitch;
    loss->abc_zeroed_brows = g->brows;
    return CLS_OK;
}

/* prepare → the SSIM sweep; write_grad also stores A, B, E. */
static cls_status forward(cls_context *ctx, cls__loss *loss, const loss_geometry *g, cl_mem image, cl_mem target,
                          cl_uint write_grad, cls__profile *prof)
{
    const clh_arg prep_args[] = {CLH_ARG(image),     CLH_ARG(target),  CLH_ARG(g->width),  CLH_ARG(g->height),
                                 CLH_ARG(g->pitch),  CLH_ARG(g->rows), CLH_ARG(g->bpitch), CLH_ARG(g->brows),
                                 CLH_ARG(g->bplane), CLH_ARG(g->map),  CLH_MEM(loss->xy)};
    cls_status st = launch(ctx, loss, loss->prepare, "loss_prepare", g->bpitch / loss->lanes, 3 * (size_t)g->brows,
                           prep_args, CLS__ARRAY_COUNT(prep_args), prof);
    const clh_arg ssim_args[] = {CLH_MEM(loss->xy),     CLH_ARG(g->width),  CLH_ARG(g->height), CLH_ARG(g->strips),
                                 CLH_ARG(g->bpitch),    CLH_ARG(g->bplane), CLH_ARG(g->map),    CLH_ARG(g->bands),
                                 CLH_ARG(write_grad),   CLH_MEM(loss->abc), CLH_MEM(loss->partials)};
    if (st == CLS_OK)
        st = launch(ctx, loss, loss->ssim, "loss_ssim", g->sweep[0], g->sweep[1], ssim_args,
                    CLS__ARRAY_COUNT(ssim_args), prof);
    return st;
}

static cls_status finish(cls_context *ctx, cls__loss *loss, const loss_geometry *g, float lambda, cl_uint mode,
                         cl_mem values, cls__profile *prof)
{
    const cl_float inv_n = (cl_float)(1.0 / (3.0 * (double)g->width * (double)g->height));
    const clh_arg args[] = {CLH_MEM(loss->partials), CLH_ARG(g->groups), CLH_ARG(inv_n), CLH_ARG(lambda),
                            CLH_ARG(mode), CLH_ARG(values)};
    const size_t items = loss->group[0] * loss->group[1];
    clh_launch_desc desc = {.name = "loss_finish", .dims = 1, .items = {items, 1}, .local = {items, 1},
                            .exact_local = 1};
    return cls__launch(ctx, loss->finish, &desc, args, CLS__ARRAY_COUNT(args), prof, CLS__LOSS_PASS);
}

cls_status cls__loss_compute(cls_context *ctx, cls__loss *loss, cl_mem image, cl_mem target, uint32_t width,
                             uint32_t height, uint32_t pitch, uint32_t rows, float lambda, cl_mem d_image,
                             cl_mem values, cls__profile *prof)
{
    CLS__CHECK_ARG(ctx, loss->ssim != NULL && image != NULL && target != NULL && d_image != NULL && values != NULL);
    if (!isfinite(lambda))
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "loss: lambda %g is not finite", (double)lambda);
    loss_geometry g;
    cls_status st = geometry(ctx, loss, width, height, pitch, rows, &g);
    if (st == CLS_OK)
        st = reserve(ctx, loss, &g, 1);
    if (st == CLS_OK)
        st = forward(ctx, loss, &g, image, target, 1, prof);
    if (st != CLS_OK)
        return st;
    const double n = 3.0 * (double)width * (double)height;
    const cl_float scale_l1 = (cl_float)((1.0 - (double)lambda) / n), scale_ssim = (cl_float)((double)lambda / n);
    const clh_arg grad_args[] = {CLH_MEM(loss->xy), CLH_MEM(loss->abc),  CLH_ARG(g.width),    CLH_ARG(g.height),
                                 CLH_ARG(g.pitch),  CLH_ARG(g.rows),     CLH_ARG(g.bpitch),   CLH_ARG(g.bplane),
                                 CLH_ARG(g.map),    CLH_ARG(g.bands),    CLH_ARG(scale_l1),   CLH_ARG(scale_ssim),
                                 CLH_ARG(d_image)};
    st = launch(ctx, loss, loss->gradient, "loss_gradient", g.sweep[0], g.sweep[1], grad_args,
                CLS__ARRAY_COUNT(grad_args), prof);
    if (st == CLS_OK)
        st = finish(ctx, loss, &g, lambda, 0, values, prof);
    return st;
}

cls_status cls__loss_metrics(cls_context *ctx, cls__loss *loss, cl_mem image, cl_mem target, uint32_t width,
                             uint32_t height, uint32_t pitch, uint32_t rows, float *ssim, float *mse,
                             cls__profile *prof)
{
    CLS__CHECK_ARG(ctx, loss->ssim != NULL && image != NULL && target != NULL);
    loss_geometry g;
    cls_status st = geometry(ctx, loss, width, height, pitch, rows, &g);
    if (st == CLS_OK)
        st = reserve(ctx, loss, &g, 0);
    if (st == CLS_OK)
        st = forward(ctx, loss, &g, image, target, 0, prof);
    if (st == CLS_OK)
        st = finish(ctx, loss, &g, 0.0f, 1, loss->metrics.mem, prof);
    if (st != CLS_OK)
        return st;
    float values[3];
    clh_error herr;
    clh_result hr = clh_buffer_read(&ctx->rt, &loss->metrics, 0, values, sizeof values, "loss metrics", &herr);
    if (hr != CLH_OK)
        return cls__from_host(ctx, hr, &herr);
    if (ssim != NULL)
        *ssim = values[0];
    if (mse != NULL)
        *mse = values[1];
    return CLS_OK;
}
