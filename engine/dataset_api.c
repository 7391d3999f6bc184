/* The public face of the training data and the trainer: thin wrappers over the internal
 * objects (cls_dataset is the internal cls__dataset). */
#include "dataset.h"
#include "trainer.h"

cls_status cls_dataset_load(const char *path, const cls_dataset_desc *desc, cls_dataset **out, cls_error *err)
{
    return cls__dataset_load(path, desc, (cls__dataset **)out, err);
}

void cls_dataset_destroy(cls_dataset *ds) { cls__dataset_destroy((cls__dataset *)ds); }

size_t cls_dataset_count(const cls_dataset *ds, cls_split split)
{
    return ds != NULL ? cls__dataset_count((const cls__dataset *)ds, split) : 0;
}

cls_status cls_dataset_view(const cls_dataset *ds, cls_split split, size_t i, cls_camera *cam, const uint8_t **rgb,
                            const char **name, cls_error *err)
{
    if (ds == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_dataset_view: the dataset is NULL");
    return cls__dataset_view((const cls__dataset *)ds, split, i, cam, rgb, name, err);
}

size_t cls_dataset_image_bytes(const cls_dataset *ds)
{
    return ds != NULL ? cls__dataset_image_bytes((const cls__dataset *)ds) : 0;
}

cls_status cls_trainer_create(cls_context *ctx, const cls_dataset *ds, const cls_trainer_desc *desc, cls_trainer **out)
{
    if (ctx == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    return cls__trainer_create(ctx, (const cls__dataset *)ds, desc, out);
}

cls_status cls_trainer_step(cls_trainer *t, cls_train_stats *stats)
{
    if (t == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    return cls__trainer_step(t, stats);
}

cls_status cls_trainer_evaluate(cls_trainer *t, cls_split split, size_t i, float *psnr, float *ssim, float *rgb)
{
    if (t == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    return cls__trainer_evaluate_view(t, split, i, psnr, ssim, rgb);
}

cls_status cls_trainer_save_checkpoint(cls_trainer *t, const char *path)
{
    if (t == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(t->ctx);
    CLS__CHECK_ARG(t->ctx, path != NULL);
    return cls__trainer_save_checkpoint(t, path);
}

cls_status cls_trainer_load_checkpoint(cls_trainer *t, const char *path)
{
    if (t == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    cls__ctx_clear(t->ctx);
    CLS__CHECK_ARG(t->ctx, path != NULL);
    return cls__trainer_load_checkpoint(t, path);
}
