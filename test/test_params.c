/* Every kernel-parameter configuration of the forward pipeline (pixels per work-item, batch
 * size, tile size, sort and scan shapes) must render what the default configuration renders.
 * The per-pixel arithmetic is the same whatever the shape; only the vector or scalar exp
 * implementation may differ in the last bits, hence the tolerance. This is what keeps the
 * GPU-shaped variant (one pixel per work-item, 256-wide groups) tested on a CPU. */
#include <check.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "test_util.h"

/* Gaussians in front of an identity camera, some straddling the image borders. */
static void random_scene(cls_gaussians *g, size_t n, uint32_t seed, float max_logit)
{
    cls_error err = {0};
    ck_assert_int_eq(cls_gaussians_alloc(g, n, 2, &err), CLS_OK);
    const size_t k = (size_t)cls_sh_coeff_count(2);
    for (size_t i = 0; i < n; i++) {
        float z = test_uniform(&seed, 1.5f, 6.0f);
        g->means[i * 3] = test_uniform(&seed, -0.8f, 0.8f) * z;
        g->means[i * 3 + 1] = test_uniform(&seed, -0.6f, 0.6f) * z;
        g->means[i * 3 + 2] = z;
        for (int a = 0; a < 3; a++)
            g->log_scales[i * 3 + (size_t)a] = test_uniform(&seed, -4.5f, -1.5f);
        for (int a = 0; a < 4; a++)
            g->quats[i * 4 + (size_t)a] = test_uniform(&seed, -1.0f, 1.0f);
        g->opacity_logits[i] = test_uniform(&seed, max_logit - 8.0f, max_logit);
        for (size_t c = 0; c < k * 3; c++)
            g->sh[i * k * 3 + c] = test_uniform(&seed, -1.0f, 1.0f) * (c < 3 ? 1.0f : 0.3f);
    }
}

/* Renders with the given parameters; returns 0 when the device cannot run them
 * (CLS_ERROR_LIMIT: too much local memory or too large a work-group), which the autotuner
 * would prune, and fails the test on any other error. */
static int render_with(const cls_params *params, const cls_gaussians *g, const cls_camera *cam, float *rgb,
                       float *alpha, uint32_t *intersections)
{
    cls_context *ctx = NULL;
    ck_assert_msg(cls_context_create(&(cls_context_desc){0}, &ctx) == CLS_OK, "%s", cls_context_errmsg(ctx));
    if (params != NULL)
        ctx->params = *params;
    cls_scene *scene = NULL;
    cls_frame *frame = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, g, &scene), CLS_OK);
    cls_status st = cls_frame_create(ctx, &frame);
    if (st == CLS_ERROR_LIMIT) {
        printf("configuration not runnable on this device, skipped: %s\n", cls_context_errmsg(ctx));
        cls_scene_destroy(scene);
        cls_context_destroy(ctx);
        return 0;
    }
    ck_assert_msg(st == CLS_OK, "%s", cls_context_errmsg(ctx));
    st = cls_render_forward(frame, scene, cam, &(cls_render_desc){.background = {0.2f, 0.4f, 0.6f}});
    ck_assert_msg(st == CLS_OK, "%s", cls_context_errmsg(ctx));
    ck_assert_int_eq(cls_frame_read(frame, &(cls_render_output){.rgb = rgb, .alpha = alpha}), CLS_OK);
    cls_frame_stats stats;
    ck_assert_int_eq(cls_frame_stats_get(frame, &stats), CLS_OK);
    *intersections = stats.intersections;
    cls_frame_destroy(frame);
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    return 1;
}

typedef struct config {
    int tile, pixels, batch, radix_bits, sort_wg, sort_items, scan_wg, scan_items, sort_reorder;
} config;

START_TEST(test_configurations_agree)
{
    const int small = test_small_mode();
    const uint32_t w = small ? 37 : 211, h = small ? 29 : 133;
    /* Small (Oclgrind) runs still need more Gaussians per tile than one local-memory batch holds,
     * so the batch loop and its barriers run more than once. */
    const size_t n = small ? 300 : 3000;
    cls_gaussians g = {0};
    /* Small runs use faint Gaussians so pixels stay unsaturated across batch boundaries:
     * otherwise the work-items stop reading before the next batch is loaded and a missing
     * barrier there would go unnoticed. */
    random_scene(&g, n, 12345u, small ? -1.0f : 5.0f);
    cls_camera cam = {.width = w, .height = h, .fx = 0.9f * (float)w, .fy = 0.9f * (float)w, .cx = 0.5f * (float)w + 3.0f,
                      .cy = 0.5f * (float)h - 2.0f, .rotation = {1, 0, 0, 0, 1, 0, 0, 0, 1}};
    const size_t pixels = (size_t)w * h;
    float *ref_rgb = malloc(pixels * 3 * sizeof(float)), *ref_alpha = malloc(pixels * sizeof(float));
    float *rgb = malloc(pixels * 3 * sizeof(float)), *alpha = malloc(pixels * sizeof(float));
    ck_assert(ref_rgb && ref_alpha && rgb && alpha);
    uint32_t ref_isect = 0, isect = 0;
    ck_assert(render_with(NULL, &g, &cam, ref_rgb, ref_alpha, &ref_isect));

    static const config all[] = {
        {16, 1, 256, 4, 256, 4, 256, 4, 1},  /* the GPU defaults; the small (Oclgrind) run takes the first 3 */
        {16, 4, 128, 5, 32, 16, 16, 64, 1},  {16, 8, 16, 3, 16, 64, 128, 2, 0},
        {16, 16, 64, 4, 1, 4096, 1, 4096, 0}, /* the CPU defaults */
        {16, 1, 64, 8, 128, 2, 64, 8, 1},    {16, 2, 32, 4, 64, 8, 32, 16, 0},
        {16, 16, 256, 4, 16, 64, 16, 64, 1}, {8, 8, 64, 6, 8, 32, 8, 32, 0},
        {8, 1, 32, 4, 64, 4, 64, 4, 1},      {32, 16, 64, 4, 16, 64, 16, 64, 0}, {32, 4, 128, 7, 256, 1, 256, 1, 1},
    };
    const int count = small ? 3 : (int)(sizeof all / sizeof all[0]);
    for (int c = 0; c < count; c++) {
        cls_context *probe = NULL;
        ck_assert_int_eq(cls_context_create(&(cls_context_desc){0}, &probe), CLS_OK);
        cls_params p = probe->params;
        cls_context_destroy(probe);
        p.tile_size = all[c].tile;
        p.pixels_per_item = all[c].pixels;
        p.raster_batch = all[c].batch;
        p.sort_radix_bits = all[c].radix_bits;
        p.sort_group_size = all[c].sort_wg;
        p.sort_items = all[c].sort_items;
        p.scan_group_size = all[c].scan_wg;
        p.scan_items = all[c].scan_items;
        p.sort_reorder = all[c].sort_reorder;
        if (!render_with(&p, &g, &cam, rgb, alpha, &isect)) {
            ck_assert_msg(c != 0, "the GPU default configuration must run on every device");
            continue;
        }
        /* Same tile size ⇒ same intersections exactly. */
        if (all[c].tile == 16)
            ck_assert_uint_eq(isect, ref_isect);
        double max_err = 0.0;
        for (size_t i = 0; i < pixels * 3; i++)
            max_err = fmax(max_err, fabs((double)rgb[i] - ref_rgb[i]));
        for (size_t i = 0; i < pixels; i++)
            max_err = fmax(max_err, fabs((double)alpha[i] - ref_alpha[i]));
        /* Tolerance: the blending order and arithmetic are identical; only exp() of a vector
         * and of a scalar may differ by an ulp, which can flip an alpha across 1/255 or the
         * T < 1e-4 stop for a pixel. 2e-3 is far below what a wrong order or a lost
         * Gaussian causes (> 1e-2). */
        ck_assert_msg(max_err <= 2e-3, "configuration %d (tile %d, %d px/item, batch %d, radix %d): max error %g",
                      c, all[c].tile, all[c].pixels, all[c].batch, all[c].radix_bits, max_err);
    }
    free(ref_rgb);
    free(ref_alpha);
    free(rgb);
    free(alpha);
    cls_gaussians_free(&g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("params");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_configurations_agree);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
