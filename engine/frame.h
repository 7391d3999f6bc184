/* Internal layout of scenes and frames: the device buffers of the forward pipeline. */
#ifndef CLS_FRAME_H
#define CLS_FRAME_H

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

struct cls_frame {
    cls_context *ctx;
    cls__forward_kernels k;
    cls__scan scan;
    cls__sort sort;

    /* what the last forward call rendered */
    int rendered;
    cls_camera camera;
    cls_render_desc desc;
    uint32_t tiles_x, tiles_y;
    cls_frame_stats stats;

    /* per Gaussian */
    clh_buffer xy, conic_opacity, rgb, depth, radius, tiles, visible, clamped, slot, scratch;
    /* per visible Gaussian, depth order */
    clh_buffer depth_keys, sorted_ids, tile_counts, offsets;
    /* per (tile, Gaussian) intersection, sorted by tile */
    clh_buffer isect_tiles, isect_ids;
    clh_buffer ranges; /* uint[2 * tiles] */
    clh_buffer total_visible, total_isect; /* uint[1] each */
    /* per pixel */
    clh_buffer image;   /* float[3 * w * h], planar */
    clh_buffer final_t; /* float[w * h] */
    clh_buffer last;    /* int[w * h] */
    clh_buffer exp_depth; /* float[w * h] */

    cls__profile prof;
    double pass_ms[CLS_PASS_COUNT];
};

/* Number of bits that hold the values 0 .. n-1 (0 for n <= 1). */
uint32_t cls__bits_for(uint32_t n);

#endif
