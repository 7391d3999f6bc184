/* The forward pipeline (brief section 3): project → compact + depth sort → emit (tile,
 * Gaussian) pairs in depth order → stable tile sort → tile ranges → rasterize. One host
 * synchronisation per frame: reading the visible and intersection counts to size buffers. */
#include "frame.h"

#include <math.h>
#include <string.h>

#define CLS_DEFAULT_NEAR 0.01f
#define CLS_DEFAULT_FAR 1e10f
#define CLS_MAX_IMAGE_SIDE 32768u

cls_render_desc cls_render_desc_defaults(const cls_render_desc *desc)
{
    cls_render_desc d = desc != NULL ? *desc : (cls_render_desc){0};
    if (d.near_plane == 0.0f)
        d.near_plane = CLS_DEFAULT_NEAR;
    if (d.far_plane == 0.0f)
        d.far_plane = CLS_DEFAULT_FAR;
    return d;
}

static int finite_all(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static cls_status check_camera(cls_context *ctx, const cls_camera *cam)
{
    if (cam->width == 0 || cam->height == 0 || cam->width > CLS_MAX_IMAGE_SIDE || cam->height > CLS_MAX_IMAGE_SIDE)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "camera: image size %ux%u is outside 1..%u",
                             cam->width, cam->height, CLS_MAX_IMAGE_SIDE);
    const float intr[4] = {cam->fx, cam->fy, cam->cx, cam->cy};
    if (!finite_all(intr, 4) || !(cam->fx > 0.0f) || !(cam->fy > 0.0f))
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "camera: focal lengths must be positive and intrinsics finite (fx %g, fy %g, cx %g, cy %g)",
                             (double)cam->fx, (double)cam->fy, (double)cam->cx, (double)cam->cy);
    if (!finite_all(cam->rotation, 9) || !finite_all(cam->translation, 3))
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "camera: the pose is not finite");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            const float *r = cam->rotation;
            double dot = (double)r[3 * i] * r[3 * j] + (double)r[3 * i + 1] * r[3 * j + 1] +
                         (double)r[3 * i + 2] * r[3 * j + 2];
            if (fabs(dot - (i == j ? 1.0 : 0.0)) > 1e-3)
                return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                                     "camera: the rotation is not orthonormal (row %d . row %d = %g)", i, j, dot);
        }
    return CLS_OK;
}

static cls_status check_desc(cls_context *ctx, const cls_render_desc *d)
{
    if (!finite_all(d->background, 3))
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "render: the background colour is not finite");
    if (d->sh_degree < 0 || d->sh_degree > CLS_MAX_SH_DEGREE + 1)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "render: sh_degree field %d is outside 0..%d",
                             d->sh_degree, CLS_MAX_SH_DEGREE + 1);
    if (!(d->near_plane > 0.0f) || !(d->far_plane > d->near_plane))
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "render: need 0 < near (%g) < far (%g)",
                             (double)d->near_plane, (double)d->far_plane);
    return CLS_OK;
}

/* Reserves a table of buffers, each `count` elements of `elem` bytes. */
typedef struct buffer_need {
    clh_buffer *buf;
    size_t bytes;
    const char *what;
} buffer_need;

/* Per-Gaussian buffers (`fit`) are sized exactly; the others, whose sizes vary from view to
 * view, grow geometrically. */
static cls_status reserve_all(cls_context *ctx, const buffer_need *needs, int count, int fit)
{
    clh_error herr;
    for (int i = 0; i < count; i++) {
        clh_result rc = fit ? clh_buffer_fit(&ctx->rt, needs[i].buf, needs[i].bytes, needs[i].what, &herr)
                            : clh_buffer_reserve(&ctx->rt, needs[i].buf, needs[i].bytes, needs[i].what, &herr);
        if (rc != CLH_OK)
            return cls__from_host(ctx, rc, &herr);
    }
    return CLS_OK;
}

static cls_status launch_1d(cls_frame *f, cl_kernel kernel, const char *name, uint32_t items, const clh_arg *args,
                            int arg_count, cls_pass pass)
{
    return cls__launch_1d(f->ctx, kernel, name, items, args, arg_count, &f->prof, pass);
}

void cls__camera_args(const cls_camera *cam, const cls_render_desc *d, cl_float16 *pose, cl_float8 *intr)
{
    const float *R = cam->rotation, *t = cam->translation;
    /* Camera centre: -R^T t. */
    float centre[3];
    for (int j = 0; j < 3; j++)
        centre[j] = -(R[j] * t[0] + R[3 + j] * t[1] + R[6 + j] * t[2]);
    *pose = (cl_float16){{R[0], R[1], R[2], R[3], R[4], R[5], R[6], R[7], R[8], t[0], t[1], t[2], centre[0],
                          centre[1], centre[2], 0.0f}};
    *intr = (cl_float8){{cam->fx, cam->fy, cam->cx, cam->cy, d->near_plane, d->far_plane, (float)cam->width,
                         (float)cam->height}};
}

cl_uint cls__active_sh_degree(const cls_scene *s, const cls_render_desc *d)
{
    if (d->sh_degree == 0 || d->sh_degree - 1 > s->sh_degree)
        return (cl_uint)s->sh_degree;
    return (cl_uint)(d->sh_degree - 1);
}

static cls_status project(cls_frame *f, cls_scene *s, const cls_camera *cam, const cls_render_desc *d)
{
    cl_float16 pose;
    cl_float8 intr;
    cls__camera_args(cam, d, &pose, &intr);
    cl_uint n = s->count;
    cl_uint sh_stride = (cl_uint)cls_sh_coeff_count(s->sh_degree);
    cl_uint degree = cls__active_sh_degree(s, d);
    cl_uint tx = f->tiles_x, ty = f->tiles_y;
    const clh_arg args[] = {
        CLH_ARG(n),          CLH_MEM(s->means),   CLH_MEM(s->log_scales), CLH_MEM(s->quats),
        CLH_MEM(s->opacity_logits), CLH_MEM(s->sh), CLH_ARG(sh_stride), CLH_ARG(degree),
        CLH_ARG(pose),       CLH_ARG(intr),       CLH_ARG(tx),            CLH_ARG(ty),
        CLH_MEM(f->xy),      CLH_MEM(f->conic_opacity), CLH_MEM(f->rgb),  CLH_MEM(f->depth),
        CLH_MEM(f->radius),  CLH_MEM(f->sigma_max), CLH_MEM(f->tiles),  CLH_MEM(f->visible),
        CLH_MEM(f->clamped),
    };
    return launch_1d(f, f->k.project[d->antialiased ? 1 : 0], "project", n, args, CLS__ARRAY_COUNT(args),
                     CLS_PASS_PROJECT);
}

/* Counts visible Gaussians and intersections; the one read-back of the frame. */
static cls_status count_visible(cls_frame *f, uint32_t n, uint32_t *visible, uint32_t *intersections)
{
    cls_context *ctx = f->ctx;
    cls_status st = cls__scan_exclusive(ctx, &f->scan, f->visible.mem, f->slot.mem, n, f->total_visible.mem, &f->prof,
                                        CLS_PASS_SCAN);
    if (st == CLS_OK)
        st = cls__scan_exclusive(ctx, &f->scan, f->tiles.mem, f->scratch.mem, n, f->total_isect.mem, &f->prof,
                                 CLS_PASS_SCAN);
    if (st != CLS_OK)
        return st;
    cl_uint counts[2] = {0, 0};
    /* The first read is non-blocking; the second, blocking on the in-order queue, waits for both. */
    cl_int code = clEnqueueReadBuffer(ctx->rt.queue, f->total_visible.mem, CL_FALSE, 0, sizeof(cl_uint), &counts[0],
                                      0, NULL, NULL);
    if (code == CL_SUCCESS)
        code = clEnqueueReadBuffer(ctx->rt.queue, f->total_isect.mem, CL_TRUE, 0, sizeof(cl_uint), &counts[1], 0, NULL,
                                   NULL);
    if (code != CL_SUCCESS) {
        clh_error herr;
        return cls__from_host(ctx, clh_fail_cl(&herr, code, "clEnqueueReadBuffer", "visible and intersection counts"),
                              &herr);
    }
    *visible = counts[0];
    *intersections = counts[1];
    return CLS_OK;
}

static cls_status bin_and_sort(cls_frame *f, uint32_t n, uint32_t visible, uint32_t intersections)
{
    cls_context *ctx = f->ctx;
    cl_uint nn = n, v = visible, tx = f->tiles_x, ty = f->tiles_y;
    const clh_arg compact_args[] = {CLH_ARG(nn), CLH_MEM(f->visible), CLH_MEM(f->slot), CLH_MEM(f->depth),
                                    CLH_MEM(f->depth_keys), CLH_MEM(f->sorted_ids)};
    cls_status st = launch_1d(f, f->k.compact_visible, "compact_visible", n, compact_args,
                              CLS__ARRAY_COUNT(compact_args), CLS_PASS_DEPTH_SORT);
    /* Depths are > near > 0: the sign bit is always clear, 31 key bits suffice. */
    if (st == CLS_OK)
        st = cls__sort_pairs(ctx, &f->sort, &f->depth_keys, &f->sorted_ids, visible, 31, &f->prof, CLS_PASS_DEPTH_SORT);
    const clh_arg gather_args[] = {CLH_ARG(v), CLH_MEM(f->sorted_ids), CLH_MEM(f->tiles), CLH_MEM(f->tile_counts)};
    if (st == CLS_OK)
        st = launch_1d(f, f->k.gather_tile_counts, "gather_tile_counts", visible, gather_args,
                       CLS__ARRAY_COUNT(gather_args), CLS_PASS_EMIT);
    if (st == CLS_OK)
        st = cls__scan_exclusive(ctx, &f->scan, f->tile_counts.mem, f->offsets.mem, visible, NULL, &f->prof,
                                 CLS_PASS_EMIT);
    const clh_arg emit_args[] = {CLH_ARG(v),           CLH_MEM(f->sorted_ids),    CLH_MEM(f->offsets),
                                 CLH_MEM(f->xy),       CLH_MEM(f->conic_opacity), CLH_MEM(f->sigma_max),
                                 CLH_MEM(f->radius),   CLH_MEM(f->tiles),         CLH_ARG(tx),
                                 CLH_ARG(ty),          CLH_MEM(f->isect_tiles),   CLH_MEM(f->isect_ids),
                                 CLH_MEM(f->isect_gauss)};
    if (st == CLS_OK)
        st = launch_1d(f, f->k.emit_intersections, "emit_intersections", visible, emit_args,
                       CLS__ARRAY_COUNT(emit_args), CLS_PASS_EMIT);
    /* Keys up to tiles_x * tiles_y inclusive: see emit_intersections. */
    if (st == CLS_OK)
        st = cls__sort_pairs(ctx, &f->sort, &f->isect_tiles, &f->isect_ids, intersections,
                             cls__bits_for(f->tiles_x * f->tiles_y + 1), &f->prof, CLS_PASS_TILE_SORT);
    return st;
}

static cls_status rasterize(cls_frame *f, const cls_render_desc *d)
{
    cls_context *ctx = f->ctx;
    const cls_params *p = &ctx->params;
    cl_uint w = f->camera.width, h = f->camera.height, tx = f->tiles_x;
    cl_float4 bg = {{d->background[0], d->background[1], d->background[2], 0.0f}};
    const clh_arg args[] = {CLH_MEM(f->ranges), CLH_MEM(f->isect_ids), CLH_MEM(f->isect_gauss), CLH_MEM(f->xy),
                            CLH_MEM(f->conic_opacity), CLH_MEM(f->sigma_max), CLH_MEM(f->rgb), CLH_MEM(f->depth),
                            CLH_ARG(w),         CLH_ARG(h),
                            CLH_ARG(tx),        CLH_ARG(bg),           CLH_MEM(f->image),   CLH_MEM(f->final_t),
                            CLH_MEM(f->last),   CLH_MEM(f->exp_depth)};
    const size_t items_x = (size_t)(p->tile_size / p->pixels_per_item);
    const int rows = p->raster_rows == 0 ? p->tile_size : 1; /* 0: a work-item per tile */
    clh_launch_desc desc = {.name = "rasterize",
                            .dims = 2,
                            .items = {f->tiles_x * items_x, (size_t)f->tiles_y * (size_t)(p->tile_size / rows)},
                            .local = {items_x, (size_t)(p->tile_size / rows)},
                            .exact_local = 1};
    return cls__launch(ctx, f->k.rasterize[d->with_depth ? 1 : 0], &desc, args, CLS__ARRAY_COUNT(args), &f->prof,
                       CLS_PASS_RASTERIZE);
}

cls_status cls_render_forward(cls_frame *frame, cls_scene *scene, const cls_camera *cam, const cls_render_desc *desc)
{
    if (frame == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_context *ctx = frame->ctx;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, scene != NULL && cam != NULL);
    if (scene->ctx != ctx)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_render_forward: scene and frame belong to different contexts");
    cls_render_desc d = cls_render_desc_defaults(desc);
    cls_status st = check_camera(ctx, cam);
    if (st == CLS_OK)
        st = check_desc(ctx, &d);
    if (st != CLS_OK)
        return st;

    cls_frame *f = frame;
    f->rendered = 0;
    f->scene = scene;
    f->scene_count = scene->count;
    f->camera = *cam;
    f->desc = d;
    const uint32_t tile = (uint32_t)ctx->params.tile_size;
    f->tiles_x = (cam->width + tile - 1) / tile;
    f->tiles_y = (cam->height + tile - 1) / tile;
    const size_t n = scene->count;
    const size_t tiles = (size_t)f->tiles_x * f->tiles_y;
    /* Per-pixel buffers cover whole tiles (row pitch tiles_x * tile): kernels move full vectors. */
    const size_t pixels = (size_t)f->tiles_x * tile * f->tiles_y * tile;
    cls__profile_reset(&f->prof);

    const buffer_need per_gaussian[] = {
        {&f->xy, n * 2 * sizeof(float), "xy"},
        {&f->conic_opacity, n * 4 * sizeof(float), "conic_opacity"},
        {&f->rgb, n * 3 * sizeof(float), "rgb"},
        {&f->depth, n * sizeof(float), "depth"},
        {&f->radius, n * 2 * sizeof(cl_int), "radius"},
        {&f->sigma_max, n * sizeof(float), "sigma_max"},
        {&f->tiles, n * sizeof(cl_uint), "tiles"},
        {&f->visible, n * sizeof(cl_uint), "visible"},
        {&f->clamped, n, "clamped"},
        {&f->slot, n * sizeof(cl_uint), "slot"},
        {&f->scratch, n * sizeof(cl_uint), "scratch"},
    };
    const buffer_need per_view[] = {
        {&f->total_visible, sizeof(cl_uint), "total_visible"},
        {&f->total_isect, sizeof(cl_uint), "total_isect"},
        {&f->ranges, tiles * 2 * sizeof(cl_uint), "ranges"},
        {&f->image, pixels * 3 * sizeof(float), "image"},
        {&f->final_t, pixels * sizeof(float), "final_t"},
        {&f->last, pixels * sizeof(cl_int), "last"},
        {&f->exp_depth, pixels * sizeof(float), "exp_depth"},
    };
    st = reserve_all(ctx, per_gaussian, CLS__ARRAY_COUNT(per_gaussian), 1);
    if (st == CLS_OK)
        st = reserve_all(ctx, per_view, CLS__ARRAY_COUNT(per_view), 0);
    if (st == CLS_OK)
        st = project(f, scene, cam, &d);
    uint32_t visible = 0, intersections = 0;
    if (st == CLS_OK)
        st = count_visible(f, scene->count, &visible, &intersections);
    if (st != CLS_OK)
        return st;

    const buffer_need per_visible[] = {
        {&f->depth_keys, (size_t)visible * sizeof(cl_uint), "depth_keys"},
        {&f->sorted_ids, (size_t)visible * sizeof(cl_uint), "sorted_ids"},
        {&f->tile_counts, (size_t)visible * sizeof(cl_uint), "tile_counts"},
        {&f->offsets, (size_t)visible * sizeof(cl_uint), "offsets"},
        {&f->isect_tiles, (size_t)intersections * sizeof(cl_uint), "isect_tiles"},
        {&f->isect_ids, (size_t)intersections * sizeof(cl_uint), "isect_ids"},
        {&f->isect_gauss, (size_t)intersections * sizeof(cl_uint), "isect_gauss"},
    };
    st = reserve_all(ctx, per_visible, CLS__ARRAY_COUNT(per_visible), 0);
    if (st != CLS_OK)
        return st;
    if (visible > 0)
        st = bin_and_sort(f, (uint32_t)n, visible, intersections);
    cl_uint tile_count = (cl_uint)tiles, m = intersections;
    const clh_arg range_args[] = {CLH_ARG(tile_count), CLH_ARG(m), CLH_MEM(f->isect_tiles), CLH_MEM(f->ranges)};
    if (st == CLS_OK)
        st = launch_1d(f, f->k.tile_ranges, "tile_ranges", tile_count, range_args, CLS__ARRAY_COUNT(range_args),
                       CLS_PASS_RANGES);
    if (st == CLS_OK)
        st = rasterize(f, &d);
    if (st != CLS_OK)
        return st;

    if (ctx->rt.profiling) {
        cl_int code = clFinish(ctx->rt.queue);
        if (code != CL_SUCCESS) {
            clh_error herr;
            return cls__from_host(ctx, clh_fail_cl(&herr, code, "clFinish", "forward pass"), &herr);
        }
        cls__profile_sum(&f->prof, f->pass_ms);
    }
    f->stats = (cls_frame_stats){.width = cam->width,
                                 .height = cam->height,
                                 .gaussians = scene->count,
                                 .visible = visible,
                                 .intersections = intersections,
                                 .tiles = (uint32_t)tiles};
    f->rendered = 1;
    return CLS_OK;
}

cls_status cls_render(cls_scene *scene, const cls_camera *cam, const cls_render_desc *desc, const cls_render_output *out)
{
    if (scene == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_frame *frame = NULL;
    cls_status st = cls_frame_create(scene->ctx, &frame);
    if (st == CLS_OK)
        st = cls_render_forward(frame, scene, cam, desc);
    if (st == CLS_OK && out != NULL)
        st = cls_frame_read(frame, out);
    cls_frame_destroy(frame);
    return st;
}
