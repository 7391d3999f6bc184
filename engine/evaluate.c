/* Image-quality metrics of any scene against a dataset's photos (for `clsplat eval` and the
 * trainer's --eval): PSNR from the MSE over all pixels and channels, and the mean SSIM of the
 * loss (11x11 Gaussian window, sigma 1.5), both on the device. */
#include <math.h>
#include <string.h>

#include "trainer.h"

cls_status cls__evaluate_view_with(cls_frame *frame, cls__loss *loss, clh_buffer *target, cls_scene *scene,
                                   const cls__dataset *ds, cls_split split, size_t i, const cls_render_desc *desc,
                                   float *psnr, float *ssim, float *rgb)
{
    cls_context *ctx = frame->ctx;
    cls_camera cam;
    const uint8_t *photo = NULL;
    cls_error err = {0};
    cls_status st = cls__dataset_view(ds, split, i, &cam, &photo, NULL, &err);
    if (st != CLS_OK)
        return cls__ctx_fail(ctx, st, "%s", err.message);
    const size_t bytes = (size_t)cam.width * cam.height * 3;
    clh_error herr;
    clh_result rc = clh_buffer_reserve(&ctx->rt, target, bytes, "photo", &herr);
    if (rc == CLH_OK)
        rc = clh_buffer_write(&ctx->rt, target, 0, photo, bytes, "photo", &herr);
    if (rc != CLH_OK)
        return cls__from_host(ctx, rc, &herr);
    st = cls_render_forward(frame, scene, &cam, desc);
    float mse = 0.0f, s = 0.0f;
    const uint32_t tile = (uint32_t)ctx->params.tile_size;
    if (st == CLS_OK)
        st = cls__loss_metrics(ctx, loss, frame->image.mem, target->mem, cam.width, cam.height, frame->tiles_x * tile,
                               frame->tiles_y * tile, &s, &mse, NULL);
    if (st == CLS_OK && rgb != NULL)
        st = cls_frame_read(frame, &(cls_render_output){.rgb = rgb});
    if (st != CLS_OK)
        return st;
    if (psnr != NULL)
        *psnr = mse > 0.0f ? -10.0f * log10f(mse) : 99.0f;
    if (ssim != NULL)
        *ssim = s;
    return CLS_OK;
}

cls_status cls_evaluate_view(cls_scene *scene, const cls_dataset *ds, cls_split split, size_t i,
                             const cls_render_desc *desc, float *psnr, float *ssim, float *rgb)
{
    if (scene == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls_context *ctx = scene->ctx;
    cls__ctx_clear(ctx);
    CLS__CHECK_ARG(ctx, ds != NULL);
    cls_frame *frame = NULL;
    cls__loss loss = {0};
    clh_buffer target = {0};
    cls_status st = cls_frame_create(ctx, &frame);
    if (st == CLS_OK)
        st = cls__loss_init(ctx, &loss);
    if (st == CLS_OK)
        st = cls__evaluate_view_with(frame, &loss, &target, scene, (const cls__dataset *)ds, split, i, desc, psnr, ssim,
                                     rgb);
    clh_buffer_release(&target);
    cls__loss_release(&loss);
    cls_frame_destroy(frame);
    return st;
}
