#include "frame.h"

#include <stdlib.h>
#include <string.h>

static const char *const pass_names[CLS_PASS_COUNT] = {
    [CLS_PASS_PROJECT] = "project",       [CLS_PASS_SCAN] = "scan",
    [CLS_PASS_DEPTH_SORT] = "depth_sort", [CLS_PASS_EMIT] = "emit",
    [CLS_PASS_TILE_SORT] = "tile_sort",   [CLS_PASS_RANGES] = "ranges",
    [CLS_PASS_RASTERIZE] = "rasterize",   [CLS_PASS_RASTERIZE_BACKWARD] = "rasterize_bwd",
    [CLS_PASS_PROJECT_BACKWARD] = "project_bwd", [CLS_PASS_LOSS] = "loss",
    [CLS_PASS_OPTIMIZE] = "optimize",
};

const char *cls_pass_name(cls_pass pass)
{
    return (pass >= 0 && pass < CLS_PASS_COUNT) ? pass_names[pass] : "unknown";
}

uint32_t cls__bits_for(uint32_t n)
{
    uint32_t bits = 0;
    while (n > 1 && bits < 32 && ((n - 1) >> bits) != 0)
        bits++;
    return bits;
}

/* Every kernel of the forward pipeline, as a table: variants differ in their -D switches. */
static cls_status create_kernels(cls_context *ctx, cls__forward_kernels *k)
{
    struct {
        cl_kernel *out;
        const char *source, *options, *name;
    } table[] = {
        {&k->project[0], "project", "-DCLS_ANTIALIASED=0", "project"},
        {&k->project[1], "project", "-DCLS_ANTIALIASED=1", "project"},
        {&k->compact_visible, "tiles", NULL, "compact_visible"},
        {&k->gather_tile_counts, "tiles", NULL, "gather_tile_counts"},
        {&k->emit_intersections, "tiles", NULL, "emit_intersections"},
        {&k->tile_ranges, "tiles", NULL, "tile_ranges"},
        {&k->rasterize[0], "rasterize", "-DCLS_WITH_DEPTH=0", "rasterize"},
        {&k->rasterize[1], "rasterize", "-DCLS_WITH_DEPTH=1", "rasterize"},
    };
    for (int i = 0; i < CLS__ARRAY_COUNT(table); i++) {
        cls_status st = cls__kernel(ctx, table[i].source, table[i].options, table[i].name, table[i].out);
        if (st != CLS_OK)
            return st;
    }
    return CLS_OK;
}

/* Releases a struct made only of cl_kernel members. */
#define release_kernels(k) release_kernel_array((cl_kernel *)(k), sizeof *(k) / sizeof(cl_kernel))
static void release_kernel_array(cl_kernel *all, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (all[i] != NULL)
            clReleaseKernel(all[i]);
        all[i] = NULL;
    }
}

static void release_buffers(cls_frame *f)
{
    clh_buffer *buffers[] = {&f->xy,         &f->conic_opacity, &f->rgb,         &f->depth,      &f->radius,
                             &f->tiles,      &f->visible,       &f->clamped,     &f->slot,       &f->scratch,
                             &f->depth_keys, &f->sorted_ids,    &f->tile_counts, &f->offsets,    &f->isect_tiles,
                             &f->isect_ids,  &f->isect_gauss, &f->sigma_max, &f->ranges,        &f->total_visible, &f->total_isect, &f->image,      &f->final_t,
                             &f->last,       &f->exp_depth, &f->rank,       &f->isect_grads, &f->d_image,
                             &f->d_alpha,    &f->d_depth};
    for (int i = 0; i < CLS__ARRAY_COUNT(buffers); i++)
        clh_buffer_release(buffers[i]);
}

void cls__frame_trim(cls_frame *f)
{
    clFinish(f->ctx->rt.queue); /* nothing may still use what is released */
    release_buffers(f);
    cls__sort_trim(&f->sort);
    f->rendered = 0;
}

cls_status cls_frame_create(cls_context *ctx, cls_frame **out)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, out != NULL);
    *out = NULL;
    cls_frame *f = calloc(1, sizeof *f);
    if (f == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory creating a frame");
    f->ctx = ctx;
    cls_status st = create_kernels(ctx, &f->k);
    if (st == CLS_OK)
        st = cls__scan_init(ctx, &f->scan);
    if (st == CLS_OK)
        st = cls__sort_init(ctx, &f->sort);
    if (st != CLS_OK) {
        cls__sort_release(&f->sort);
        cls__scan_release(&f->scan);
        release_kernels(&f->k);
        free(f);
        return st;
    }
    ctx->live_objects++;
    *out = f;
    return CLS_OK;
}

void cls_frame_destroy(cls_frame *frame)
{
    if (frame == NULL)
        return;
    if (frame->ctx->rt.queue != NULL)
        clFinish(frame->ctx->rt.queue);
    cls__profile_reset(&frame->prof);
    cls__sort_release(&frame->sort);
    cls__scan_release(&frame->scan);
    release_kernels(&frame->k);
    release_kernels(&frame->kb);
    release_buffers(frame);
    frame->ctx->live_objects--;
    free(frame);
}

/* Reads `planes` planes of the frame's tile-padded layout (row pitch tiles_x * tile) into
 * host pixels of the image's size, interleaved when there are several planes. */
static clh_result read_padded(cls_frame *f, const clh_buffer *buf, int planes, float *out, const char *what,
                              clh_error *err)
{
    cls_context *ctx = f->ctx;
    const size_t tile = (size_t)ctx->params.tile_size;
    const size_t pitch = f->tiles_x * tile, plane = pitch * f->tiles_y * tile;
    const size_t w = f->camera.width, h = f->camera.height;
    float *tmp = malloc(plane * (size_t)planes * sizeof(float));
    if (tmp == NULL)
        return clh_fail(err, CLH_ERR_HOST_MEMORY, "out of memory reading %s", what);
    clh_result rc = clh_buffer_read(&ctx->rt, buf, 0, tmp, plane * (size_t)planes * sizeof(float), what, err);
    if (rc == CLH_OK)
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++)
                for (size_t c = 0; c < (size_t)planes; c++)
                    out[(y * w + x) * (size_t)planes + c] = tmp[c * plane + y * pitch + x];
    free(tmp);
    return rc;
}

cls_status cls_frame_read(cls_frame *frame, const cls_render_output *out)
{
    if (frame == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_context *ctx = frame->ctx;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, out != NULL);
    if (!frame->rendered)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_frame_read: nothing was rendered into the frame yet");
    if (out->depth != NULL && !frame->desc.with_depth)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "cls_frame_read: depth requested but the frame was rendered without with_depth");
    clh_error herr;
    clh_result rc = CLH_OK;
    if (out->rgb != NULL)
        rc = read_padded(frame, &frame->image, 3, out->rgb, "image", &herr);
    if (rc == CLH_OK && out->alpha != NULL) {
        rc = read_padded(frame, &frame->final_t, 1, out->alpha, "final_t", &herr);
        const size_t pixels = (size_t)frame->camera.width * frame->camera.height;
        if (rc == CLH_OK)
            for (size_t i = 0; i < pixels; i++)
                out->alpha[i] = 1.0f - out->alpha[i];
    }
    if (rc == CLH_OK && out->depth != NULL)
        rc = read_padded(frame, &frame->exp_depth, 1, out->depth, "depth", &herr);
    return cls__from_host(ctx, rc, &herr);
}

cls_status cls_frame_stats_get(const cls_frame *frame, cls_frame_stats *out)
{
    if (frame == NULL || out == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    if (!frame->rendered)
        return cls__ctx_fail(frame->ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_frame_stats_get: nothing rendered yet");
    *out = frame->stats;
    return CLS_OK;
}

cls_status cls_frame_timings(const cls_frame *frame, double ms[CLS_PASS_COUNT])
{
    if (frame == NULL || ms == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    if (!frame->ctx->rt.profiling)
        return cls__ctx_fail(frame->ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "cls_frame_timings: the context was created without enable_profiling");
    if (!frame->rendered)
        return cls__ctx_fail(frame->ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_frame_timings: nothing rendered yet");
    memcpy(ms, frame->pass_ms, sizeof frame->pass_ms);
    return CLS_OK;
}
