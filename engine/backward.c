/* The backward pass (brief section 3, atomic-free): depth ranks → rasterize_backward (per
 * tile, back to front; per-(tile, Gaussian) gradients reduced in the work-group and stored
 * at the intersection's emission slot) → project_backward (per Gaussian: sum of its slots in
 * order, then the chain rule to the stored parameters). */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLS_GRAD_VALUES 12
/* Local memory the backward rasterizer may use for its per-work-item partial sums. */
#define CLS_BWD_LOCAL_BUDGET (24u * 1024u)

static void grads_release_buffers(cls_grads *g)
{
    clh_buffer *buffers[] = {&g->means,     &g->log_scales,   &g->quats,  &g->opacity_logits,
                             &g->sh,        &g->grad_norm,    &g->absgrad_norm, &g->visible};
    for (int i = 0; i < CLS__ARRAY_COUNT(buffers); i++)
        clh_buffer_release(buffers[i]);
}

cls_status cls_grads_create(cls_context *ctx, cls_grads **out)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, out != NULL);
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory creating gradient buffers");
    (*out)->ctx = ctx;
    ctx->live_objects++;
    return CLS_OK;
}

void cls_grads_destroy(cls_grads *grads)
{
    if (grads == NULL)
        return;
    grads->ctx->live_objects--;
    grads_release_buffers(grads);
    free(grads);
}

/* Gaussians per batch of the backward rasterizer: as many as the partial sums of all
 * work-items fit in the local-memory budget, at most 32. */
static int backward_batch(const cls_context *ctx)
{
    const cls_params *p = &ctx->params;
    if (p->backward_batch > 0) /* chosen by the tuner (engine/params.c checks it fits) */
        return p->backward_batch;
    const size_t per_gaussian = cls__backward_local_per_gaussian(p);
    size_t budget = CLS_BWD_LOCAL_BUDGET;
    if (ctx->rt.info.local_mem > 0 && ctx->rt.info.local_mem / 2 < budget)
        budget = (size_t)ctx->rt.info.local_mem / 2;
    size_t batch = budget / per_gaussian;
    return batch < 1 ? 1 : (batch > 32 ? 32 : (int)batch);
}

static cls_status create_backward_kernels(cls_context *ctx, cls__backward_kernels *k)
{
    char bwd_options[64];
    snprintf(bwd_options, sizeof bwd_options, "-DCLS_BWD_BATCH=%d -DCLS_BWD_ROWS=%d", backward_batch(ctx),
             cls__backward_rows(&ctx->params));
    struct {
        cl_kernel *out;
        const char *source, *options, *name;
    } table[] = {
        {&k->depth_rank, "rasterize_backward", bwd_options, "depth_rank"},
        {&k->rasterize_backward, "rasterize_backward", bwd_options, "rasterize_backward"},
        {&k->project_backward[0], "project_backward", "-DCLS_ANTIALIASED=0", "project_backward"},
        {&k->project_backward[1], "project_backward", "-DCLS_ANTIALIASED=1", "project_backward"},
        {&k->project_backward_adam[0], "project_backward", "-DCLS_ANTIALIASED=0", "project_backward_adam"},
        {&k->project_backward_adam[1], "project_backward", "-DCLS_ANTIALIASED=1", "project_backward_adam"},
    };
    for (int i = 0; i < CLS__ARRAY_COUNT(table); i++) {
        if (*table[i].out != NULL)
            continue;
        cls_status st = cls__kernel(ctx, table[i].source, table[i].options, table[i].name, table[i].out);
        if (st != CLS_OK)
            return st;
    }
    return CLS_OK;
}

/* Host images → the frame's tile-padded planar device buffers (padding is zero). */
static cls_status upload_image_grads(cls_frame *f, const cls_backward_desc *in)
{
    cls_context *ctx = f->ctx;
    const size_t tile = (size_t)ctx->params.tile_size;
    const size_t pitch = f->tiles_x * tile, plane = pitch * f->tiles_y * tile;
    const size_t w = f->camera.width, h = f->camera.height;
    float *padded = calloc(plane * 3, sizeof(float));
    if (padded == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for the image gradients");
    struct {
        clh_buffer *buf;
        const float *data;
        size_t planes;
        const char *what;
    } uploads[] = {
        {&f->d_image, in->d_rgb, 3, "d_rgb"},
        {&f->d_alpha, in->d_alpha, 1, "d_alpha"},
        {&f->d_depth, in->d_depth, 1, "d_depth"},
    };
    clh_error herr;
    clh_result rc = CLH_OK;
    for (int i = 0; i < CLS__ARRAY_COUNT(uploads) && rc == CLH_OK; i++) {
        const size_t planes = uploads[i].planes;
        /* Absent optional images still get a (tiny) buffer: kernels need a valid argument. */
        const size_t bytes = uploads[i].data ? plane * planes * sizeof(float) : sizeof(float);
        rc = clh_buffer_reserve(&ctx->rt, uploads[i].buf, bytes, uploads[i].what, &herr);
        if (rc != CLH_OK || uploads[i].data == NULL)
            continue;
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++)
                for (size_t c = 0; c < planes; c++)
                    padded[c * plane + y * pitch + x] = uploads[i].data[(y * w + x) * planes + c];
        rc = clh_buffer_write(&ctx->rt, uploads[i].buf, 0, padded, bytes, uploads[i].what, &herr);
    }
    free(padded);
    return cls__from_host(ctx, rc, &herr);
}

static cls_status reserve_grads(cls_context *ctx, cls_grads *g, const cls_scene *s)
{
    const size_t n = s->count, k = (size_t)cls_sh_coeff_count(s->sh_degree);
    struct {
        clh_buffer *buf;
        size_t bytes;
        const char *what;
    } needs[] = {
        {&g->means, n * 3 * sizeof(float), "d_means"},
        {&g->log_scales, n * 3 * sizeof(float), "d_log_scales"},
        {&g->quats, n * 4 * sizeof(float), "d_quats"},
        {&g->opacity_logits, n * sizeof(float), "d_opacity_logits"},
        {&g->sh, n * k * 3 * sizeof(float), "d_sh"},
        {&g->grad_norm, n * sizeof(float), "grad_norm"},
        {&g->absgrad_norm, n * sizeof(float), "absgrad_norm"},
        {&g->visible, n * sizeof(cl_uint), "visible"},
    };
    clh_error herr;
    for (int i = 0; i < CLS__ARRAY_COUNT(needs); i++) {
        clh_result rc = clh_buffer_fit(&ctx->rt, needs[i].buf, needs[i].bytes, needs[i].what, &herr);
        if (rc != CLH_OK)
            return cls__from_host(ctx, rc, &herr);
    }
    g->count = s->count;
    g->sh_degree = s->sh_degree;
    return CLS_OK;
}

static cls_status check_backward_args(cls_frame *f, cls_scene *scene, const cls_backward_desc *in, cls_grads *grads)
{
    cls_context *ctx = f->ctx;
    CLS__CHECK_ARG(ctx, scene != NULL && in != NULL && grads != NULL);
    if (in->d_rgb == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_render_backward: d_rgb is required");
    if (scene->ctx != ctx || grads->ctx != ctx)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "cls_render_backward: frame, scene and gradients belong to different contexts");
    if (!f->rendered || f->scene != scene || f->scene_count != scene->count)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "cls_render_backward: the frame holds no forward pass of this scene (render it first)");
    if (in->d_depth != NULL && !f->desc.with_depth)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "cls_render_backward: d_depth needs a forward pass rendered with with_depth");
    return CLS_OK;
}

cls_status cls_render_backward(cls_frame *frame, cls_scene *scene, const cls_backward_desc *in, cls_grads *grads)
{
    if (frame == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_context *ctx = frame->ctx;
    cls__ctx_clear(ctx);
    cls_status st = check_backward_args(frame, scene, in, grads);
    if (st == CLS_OK)
        st = upload_image_grads(frame, in);
    if (st != CLS_OK)
        return st;
    return cls__backward_device(frame, scene, grads, in->d_alpha != NULL, in->d_depth != NULL);
}

cls_status cls__frame_reserve_image_grads(cls_frame *f)
{
    cls_context *ctx = f->ctx;
    const size_t tile = (size_t)ctx->params.tile_size;
    const size_t plane = f->tiles_x * tile * f->tiles_y * tile;
    clh_error herr;
    clh_result rc = clh_buffer_reserve(&ctx->rt, &f->d_image, plane * 3 * sizeof(float), "d_rgb", &herr);
    if (rc == CLH_OK)
        rc = clh_buffer_reserve(&ctx->rt, &f->d_alpha, sizeof(float), "d_alpha", &herr);
    if (rc == CLH_OK)
        rc = clh_buffer_reserve(&ctx->rt, &f->d_depth, sizeof(float), "d_depth", &herr);
    return cls__from_host(ctx, rc, &herr);
}

/* Depth ranks and the backward rasterizer: every intersection's gradient into f->isect_grads. */
static cls_status backward_rasterize(cls_frame *f, size_t n, int has_alpha, int has_depth)
{
    cls_context *ctx = f->ctx;
    cls_status st = create_backward_kernels(ctx, &f->kb);
    if (st != CLS_OK)
        return st;
    clh_error herr;
    clh_result rc = clh_buffer_reserve(&ctx->rt, &f->rank, n * sizeof(cl_uint), "rank", &herr);
    if (rc == CLH_OK)
        rc = clh_buffer_reserve(&ctx->rt, &f->isect_grads,
                                (size_t)f->stats.intersections * CLS_GRAD_VALUES * sizeof(float), "isect_grads", &herr);
    if (rc != CLH_OK)
        return cls__from_host(ctx, rc, &herr);

    const cls_params *p = &ctx->params;
    cl_uint visible = f->stats.visible;
    const clh_arg rank_args[] = {CLH_ARG(visible), CLH_MEM(f->sorted_ids), CLH_MEM(f->rank)};
    st = cls__launch_1d(ctx, f->kb.depth_rank, "depth_rank", visible, rank_args, CLS__ARRAY_COUNT(rank_args), &f->prof,
                        CLS_PASS_RASTERIZE_BACKWARD);

    cl_uint w = f->camera.width, h = f->camera.height, tx = f->tiles_x, ty = f->tiles_y;
    cl_uint flags = (has_alpha ? 1u : 0u) | (has_depth ? 2u : 0u);
    cl_float4 bg = {{f->desc.background[0], f->desc.background[1], f->desc.background[2], 0.0f}};
    cl_uint isect = f->stats.intersections;
    const clh_arg raster_args[] = {
        CLH_MEM(f->ranges),   CLH_MEM(f->isect_ids), CLH_MEM(f->isect_gauss), CLH_MEM(f->xy),
        CLH_MEM(f->conic_opacity), CLH_MEM(f->sigma_max), CLH_MEM(f->rgb), CLH_MEM(f->depth),
        CLH_ARG(isect),       CLH_ARG(w),            CLH_ARG(h),           CLH_ARG(tx),
        CLH_ARG(ty),          CLH_ARG(bg),           CLH_MEM(f->final_t),  CLH_MEM(f->last),
        CLH_MEM(f->exp_depth), CLH_MEM(f->d_image),  CLH_MEM(f->d_alpha),  CLH_MEM(f->d_depth),
        CLH_ARG(flags),       CLH_MEM(f->isect_grads)};
    const size_t items_x = (size_t)(p->tile_size / p->pixels_per_item);
    clh_launch_desc raster_desc = {.name = "rasterize_backward",
                                   .dims = 2,
                                   .items = {f->tiles_x * items_x,
                                             (size_t)f->tiles_y * (size_t)(p->tile_size / cls__backward_rows(p))},
                                   .local = {items_x, (size_t)(p->tile_size / cls__backward_rows(p))},
                                   .exact_local = 1};
    if (st == CLS_OK && visible > 0)
        st = cls__launch(ctx, f->kb.rasterize_backward, &raster_desc, raster_args, CLS__ARRAY_COUNT(raster_args),
                         &f->prof, CLS_PASS_RASTERIZE_BACKWARD);
    return st;
}

/* The arguments both projection-backward kernels start with (CLS_PB_INPUTS in
 * cl/project_backward.cl), and the values they point to. */
#define PROJECT_INPUT_COUNT 15
#define PROJECT_EXTRA_MAX 20
typedef struct project_inputs {
    cl_uint n, sh_stride, degree;
    cl_float16 pose;
    cl_float8 intr;
    clh_arg args[PROJECT_INPUT_COUNT];
} project_inputs;

static void project_inputs_init(project_inputs *in, cls_frame *f, cls_scene *scene)
{
    in->n = scene->count;
    in->sh_stride = (cl_uint)cls_sh_coeff_count(scene->sh_degree);
    in->degree = cls__active_sh_degree(scene, &f->desc);
    cls__camera_args(&f->camera, &f->desc, &in->pose, &in->intr);
    const clh_arg args[PROJECT_INPUT_COUNT] = {
        CLH_ARG(in->n),           CLH_MEM(scene->means),  CLH_MEM(scene->log_scales), CLH_MEM(scene->quats),
        CLH_MEM(scene->opacity_logits), CLH_MEM(scene->sh), CLH_ARG(in->sh_stride), CLH_ARG(in->degree),
        CLH_ARG(in->pose),        CLH_ARG(in->intr),      CLH_MEM(f->tiles),      CLH_MEM(f->rank),
        CLH_MEM(f->offsets),      CLH_MEM(f->clamped),    CLH_MEM(f->isect_grads)};
    memcpy(in->args, args, sizeof args);
}

/* Launches one projection-backward kernel with the common inputs followed by `extra`. */
static cls_status launch_project_backward(cls_frame *f, cls_scene *scene, cl_kernel kernel, const char *name,
                                          const clh_arg *extra, int extra_count)
{
    project_inputs in;
    project_inputs_init(&in, f, scene);
    clh_arg args[PROJECT_INPUT_COUNT + PROJECT_EXTRA_MAX];
    if (extra_count > PROJECT_EXTRA_MAX)
        return cls__ctx_fail(f->ctx, CLS_ERROR_LIMIT, "%s: too many arguments", name);
    memcpy(args, in.args, sizeof in.args);
    memcpy(args + PROJECT_INPUT_COUNT, extra, (size_t)extra_count * sizeof *extra);
    return cls__launch_1d(f->ctx, kernel, name, in.n, args, PROJECT_INPUT_COUNT + extra_count, &f->prof,
                          CLS_PASS_PROJECT_BACKWARD);
}

static cls_status finish_profiled(cls_frame *f)
{
    cls_context *ctx = f->ctx;
    if (!ctx->rt.profiling)
        return CLS_OK;
    clh_error herr;
    cl_int code = clFinish(ctx->rt.queue);
    if (code != CL_SUCCESS)
        return cls__from_host(ctx, clh_fail_cl(&herr, code, "clFinish", "backward pass"), &herr);
    cls__profile_sum(&f->prof, f->pass_ms);
    return CLS_OK;
}

cls_status cls__backward_device(cls_frame *frame, cls_scene *scene, cls_grads *grads, int has_alpha, int has_depth)
{
    cls_frame *f = frame;
    cls_status st = backward_rasterize(f, scene->count, has_alpha, has_depth);
    if (st == CLS_OK)
        st = reserve_grads(f->ctx, grads, scene);
    if (st != CLS_OK)
        return st;
    const clh_arg outputs[] = {CLH_MEM(grads->means),          CLH_MEM(grads->log_scales), CLH_MEM(grads->quats),
                               CLH_MEM(grads->opacity_logits), CLH_MEM(grads->sh),         CLH_MEM(grads->grad_norm),
                               CLH_MEM(grads->absgrad_norm),   CLH_MEM(grads->visible)};
    st = launch_project_backward(f, scene, f->kb.project_backward[f->desc.antialiased ? 1 : 0], "project_backward",
                                 outputs, CLS__ARRAY_COUNT(outputs));
    if (st == CLS_OK)
        st = finish_profiled(f);
    if (st == CLS_OK)
        grads->filled = 1;
    return st;
}

cls_status cls__backward_adam(cls_frame *frame, cls_scene *scene, const cls__adam_fusion *fusion)
{
    cls_frame *f = frame;
    cls_status st = backward_rasterize(f, scene->count, 0, 0);
    if (st != CLS_OK)
        return st;
    cl_float8 lr = {{0}};
    for (int i = 0; i < 6; i++)
        lr.s[i] = fusion->lr[i];
    cl_float4 adam = {{fusion->hparams.beta1, fusion->hparams.beta2, fusion->hparams.eps, 0.0f}};
    cl_float2 bias;
    cls__adam_bias(&fusion->hparams, fusion->step, &bias.s[0], &bias.s[1]);
    cl_uint flags = (fusion->apply ? 1u : 0u) | (fusion->grad_accum != NULL ? 2u : 0u);
    clh_arg extra[2 * CLS__ADAM_GROUPS + 6];
    int count = 0;
    for (int grp = 0; grp < CLS__ADAM_GROUPS; grp++)
        for (int mv = 0; mv < 2; mv++)
            extra[count++] = CLH_ARG(fusion->moments[grp][mv]);
    extra[count++] = CLH_ARG(lr);
    extra[count++] = CLH_ARG(adam);
    extra[count++] = CLH_ARG(bias);
    extra[count++] = CLH_ARG(flags);
    extra[count++] = CLH_ARG(fusion->grad_accum);
    extra[count++] = CLH_ARG(fusion->denom);
    st = launch_project_backward(f, scene, f->kb.project_backward_adam[f->desc.antialiased ? 1 : 0],
                                 "project_backward_adam", extra, count);
    return st == CLS_OK ? finish_profiled(f) : st;
}

cls_status cls_grads_read(cls_grads *grads, cls_gaussians *out, float *grad_norm, float *absgrad_norm,
                          uint32_t *visible)
{
    if (grads == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_context *ctx = grads->ctx;
    cls__ctx_clear(ctx);
    if (!grads->filled)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_grads_read: no backward pass has filled them yet");
    const size_t n = grads->count, k = (size_t)cls_sh_coeff_count(grads->sh_degree);
    cls_error err = {0};
    if (out != NULL) {
        cls_status st = cls_gaussians_alloc(out, n, grads->sh_degree, &err);
        if (st != CLS_OK)
            return cls__ctx_fail(ctx, st, "%s", err.message);
    }
    struct {
        const clh_buffer *buf;
        void *data;
        size_t bytes;
        const char *what;
    } reads[] = {
        {&grads->means, out ? out->means : NULL, n * 3 * sizeof(float), "d_means"},
        {&grads->log_scales, out ? out->log_scales : NULL, n * 3 * sizeof(float), "d_log_scales"},
        {&grads->quats, out ? out->quats : NULL, n * 4 * sizeof(float), "d_quats"},
        {&grads->opacity_logits, out ? out->opacity_logits : NULL, n * sizeof(float), "d_opacity_logits"},
        {&grads->sh, out ? out->sh : NULL, n * k * 3 * sizeof(float), "d_sh"},
        {&grads->grad_norm, grad_norm, n * sizeof(float), "grad_norm"},
        {&grads->absgrad_norm, absgrad_norm, n * sizeof(float), "absgrad_norm"},
        {&grads->visible, visible, n * sizeof(cl_uint), "visible"},
    };
    clh_error herr;
    for (int i = 0; i < CLS__ARRAY_COUNT(reads); i++) {
        if (reads[i].data == NULL)
            continue;
        clh_result rc = clh_buffer_read(&ctx->rt, reads[i].buf, 0, reads[i].data, reads[i].bytes, reads[i].what, &herr);
        if (rc != CLH_OK) {
            if (out != NULL)
                cls_gaussians_free(out);
            return cls__from_host(ctx, rc, &herr);
        }
    }
    return CLS_OK;
}
