#include "frame.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void scene_release_buffers(cls_scene *s)
{
    clh_buffer *buffers[] = {&s->means, &s->log_scales, &s->quats, &s->opacity_logits, &s->sh};
    for (int i = 0; i < CLS__ARRAY_COUNT(buffers); i++)
        clh_buffer_release(buffers[i]);
}

cls_status cls_scene_create(cls_context *ctx, const cls_gaussians *g, cls_scene **out)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, g != NULL && out != NULL);
    *out = NULL;
    CLS__CHECK_ARG(ctx, g->sh_degree >= 0 && g->sh_degree <= CLS_MAX_SH_DEGREE);
    CLS__CHECK_ARG(ctx, g->count == 0 || (g->means && g->log_scales && g->quats && g->opacity_logits && g->sh));
    if (g->count == 0)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls_scene_create: the scene has no Gaussians");
    if (g->count > UINT32_MAX / 64)
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "cls_scene_create: %zu Gaussians exceed the limit of %u",
                             g->count, UINT32_MAX / 64);

    cls_scene *s = calloc(1, sizeof *s);
    if (s == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory creating a scene");
    s->ctx = ctx;
    s->count = (uint32_t)g->count;
    s->sh_degree = g->sh_degree;
    const size_t n = g->count;
    const size_t k = (size_t)cls_sh_coeff_count(g->sh_degree);
    struct {
        clh_buffer *buf;
        const void *data;
        size_t bytes;
        const char *what;
    } uploads[] = {
        {&s->means, g->means, n * 3 * sizeof(float), "means"},
        {&s->log_scales, g->log_scales, n * 3 * sizeof(float), "log_scales"},
        {&s->quats, g->quats, n * 4 * sizeof(float), "quats"},
        {&s->opacity_logits, g->opacity_logits, n * sizeof(float), "opacity_logits"},
        {&s->sh, g->sh, n * k * 3 * sizeof(float), "sh"},
    };
    clh_error herr;
    clh_result rc = CLH_OK;
    for (int i = 0; i < CLS__ARRAY_COUNT(uploads) && rc == CLH_OK; i++) {
        rc = clh_buffer_reserve(&ctx->rt, uploads[i].buf, uploads[i].bytes, uploads[i].what, &herr);
        if (rc == CLH_OK)
            rc = clh_buffer_write(&ctx->rt, uploads[i].buf, 0, uploads[i].data, uploads[i].bytes, uploads[i].what,
                                  &herr);
    }
    if (rc != CLH_OK) {
        scene_release_buffers(s);
        free(s);
        return cls__from_host(ctx, rc, &herr);
    }
    ctx->live_objects++;
    *out = s;
    return CLS_OK;
}

cls_status cls_scene_load(cls_context *ctx, const char *path, cls_scene **out)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, path != NULL && out != NULL);
    cls_gaussians g = {0};
    cls_error err = {0};
    cls_status st = cls_gaussians_load(path, &g, &err);
    if (st != CLS_OK)
        return cls__ctx_fail(ctx, st, "%s", err.message);
    st = cls_scene_create(ctx, &g, out);
    cls_gaussians_free(&g);
    return st;
}

cls_status cls_scene_download(cls_scene *scene, cls_gaussians *out)
{
    if (scene == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_context *ctx = scene->ctx;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, out != NULL);
    cls_error err = {0};
    cls_status st = cls_gaussians_alloc(out, scene->count, scene->sh_degree, &err);
    if (st != CLS_OK)
        return cls__ctx_fail(ctx, st, "%s", err.message);
    const size_t n = scene->count;
    const size_t k = (size_t)cls_sh_coeff_count(scene->sh_degree);
    struct {
        const clh_buffer *buf;
        void *data;
        size_t bytes;
        const char *what;
    } reads[] = {
        {&scene->means, out->means, n * 3 * sizeof(float), "means"},
        {&scene->log_scales, out->log_scales, n * 3 * sizeof(float), "log_scales"},
        {&scene->quats, out->quats, n * 4 * sizeof(float), "quats"},
        {&scene->opacity_logits, out->opacity_logits, n * sizeof(float), "opacity_logits"},
        {&scene->sh, out->sh, n * k * 3 * sizeof(float), "sh"},
    };
    clh_error herr;
    for (int i = 0; i < CLS__ARRAY_COUNT(reads); i++) {
        clh_result rc = clh_buffer_read(&ctx->rt, reads[i].buf, 0, reads[i].data, reads[i].bytes, reads[i].what, &herr);
        if (rc != CLH_OK) {
            cls_gaussians_free(out);
            return cls__from_host(ctx, rc, &herr);
        }
    }
    return CLS_OK;
}

cls_status cls_scene_save(cls_scene *scene, const char *path)
{
    if (scene == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_context *ctx = scene->ctx;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, path != NULL);
    cls_gaussians g = {0};
    cls_status st = cls_scene_download(scene, &g);
    if (st != CLS_OK)
        return st;
    cls_error err = {0};
    st = cls_gaussians_save(path, &g, &err);
    cls_gaussians_free(&g);
    if (st != CLS_OK)
        return cls__ctx_fail(ctx, st, "%s", err.message);
    return CLS_OK;
}

size_t cls_scene_count(const cls_scene *scene) { return scene != NULL ? scene->count : 0; }

int cls_scene_sh_degree(const cls_scene *scene) { return scene != NULL ? scene->sh_degree : 0; }

void cls_scene_destroy(cls_scene *scene)
{
    if (scene == NULL)
        return;
    scene->ctx->live_objects--;
    scene_release_buffers(scene);
    free(scene);
}
