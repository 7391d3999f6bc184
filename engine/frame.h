/* Internal layout of scenes and frames: the device buffers of the forward pipeline. */
#ifndef CLS_FRAME_H
#define CLS_FRAME_H

#include "adam.h"
#include "internal.h"
#include "scan.h"
#include "sort.h"

struct cls_scene {
    cls_context *ctx;
    uint32_t count;
    int sh_degree;
    clh_buffer means;          /* float[3n] */
    clh_buffer log_scales;     /* float[3n] */
    clh_buffer quats;          /* float4[n] (w, x, y, z) */
    clh_buffer opacity_logits; /* float[n] */
    clh_buffer sh;             /* float[n * (deg+1)^2 * 3] */
};

/* The kernels of the forward pipeline. Variants that differ in a compile-time switch are
 * indexed by it. */
typedef struct cls__forward_kernels {
    cl_kernel project[2]; /* [antialiased] */
    cl_kernel compact_visible;
    cl_kernel gather_tile_counts;
    cl_kernel emit_intersections;
    cl_kernel tile_ranges;
    cl_kernel rasterize[2]; /* [with_depth] */
} cls__forward_kernels;

/* The kernels of the backward pass, created at the first backward call. */
typedef struct cls__backward_kernels {
    cl_kernel depth_rank;
    cl_kernel rasterize_backward;
    cl_kernel project_backward[2];      /* [antialiased] */
    cl_kernel project_backward_adam[2]; /* [antialiased] */
} cls__backward_kernels;

struct cls_grads {
    cls_context *ctx;
    uint32_t count;
    int sh_degree;
    clh_buffer means, log_scales, quats, opacity_logits, sh; /* dL/d(stored parameters), dense */
    clh_buffer grad_norm, absgrad_norm, visible;            /* densification statistics of the view */
    int filled;
};

struct cls_frame {
    cls_context *ctx;
    cls__forward_kernels k;
    cls__backward_kernels kb;
    cls__scan scan;
    cls__sort sort;

    /* what the last forward call rendered */
    int rendered;
    const cls_scene *scene; /* rendered by the last forward call (identity only) */
    uint32_t scene_count;
    cls_camera camera;
    cls_render_desc desc;
    uint32_t tiles_x, tiles_y;
    cls_frame_stats stats;

    /* per Gaussian */
    clh_buffer xy, conic_opacity, rgb, depth, radius, sigma_max, tiles, visible, clamped, slot, scratch;
    /* per visible Gaussian, depth order */
    clh_buffer depth_keys, sorted_ids, tile_counts, offsets;
    /* per (tile, Gaussian) intersection, sorted by tile */
    clh_buffer isect_tiles, isect_ids; /* tile keys and the pairs' emission slots */
    clh_buffer isect_gauss;            /* uint[intersections]: the Gaussian of each slot */
    clh_buffer ranges; /* uint[2 * tiles] */
    clh_buffer total_visible, total_isect; /* uint[1] each */
    /* per pixel */
    clh_buffer image;   /* float[3 * w * h], planar */
    clh_buffer final_t; /* float[w * h] */
    clh_buffer last;    /* int[w * h] */
    clh_buffer exp_depth; /* float[w * h] */
    /* backward */
    clh_buffer rank;        /* uint[n]: depth rank of each visible Gaussian */
    clh_buffer isect_grads; /* float[12 * intersections], by emission slot */
    clh_buffer d_image;     /* float[3 * w * h], planar dL/dRGB */
    clh_buffer d_alpha, d_depth; /* float[w * h] */

    cls__profile prof;
    double pass_ms[CLS_PASS_COUNT];
};

/* The camera as kernel arguments: pose (R, t, camera centre) and intrinsics (fx, fy, cx, cy,
 * near, far, width, height), as project.cl and project_backward.cl take them. */
void cls__camera_args(const cls_camera *cam, const cls_render_desc *d, cl_float16 *pose, cl_float8 *intr);
/* The SH degree the render evaluates: the desc's (plus-one encoded) capped by the scene's. */
cl_uint cls__active_sh_degree(const cls_scene *s, const cls_render_desc *d);

/* The backward pass from image gradients already on the device: frame->d_image (tile-padded
 * planar dL/dRGB, see cls__frame_reserve_image_grads) and, when flagged, d_alpha, d_depth. */
cls_status cls__backward_device(cls_frame *frame, cls_scene *scene, cls_grads *grads, int has_alpha, int has_depth);
/* Frees every buffer of the frame (after the queue finished with them), leaving it as if
 * nothing had been rendered; the next render allocates them anew. The trainer calls it before
 * densification, when all of them would be reallocated anyway, so that the moment the scene
 * and its moments are copied is not also holding the frame's per-Gaussian and per-intersection
 * arrays. */
void cls__frame_trim(cls_frame *f);
/* The trainer's backward pass: as cls__backward_device (RGB gradients only), but the
 * gradients of the stored parameters go straight into Adam and the densification statistics
 * (cls__adam_fusion) instead of to memory. */
cls_status cls__backward_adam(cls_frame *frame, cls_scene *scene, const cls__adam_fusion *fusion);
/* Makes frame->d_image hold the tile-padded planar dL/dRGB of the frame's last render. */
cls_status cls__frame_reserve_image_grads(cls_frame *f);

/* Number of bits that hold the values 0 .. n-1 (0 for n <= 1). */
uint32_t cls__bits_for(uint32_t n);

#endif
