/*
 * dataset.h - the training dataset: photos and their cameras, decoded once and kept on the
 * host as 8-bit RGB, with the SfM points and the scene extent the trainer starts from. Pure C,
 * no OpenCL. Internal: the public wrappers below are proposed for clsplat.h.
 *
 * ---- Proposed public declarations (for clsplat.h, "Training data" section) ----------------
 *
 *     typedef struct cls_dataset cls_dataset;
 *
 *     // Zero means default everywhere.
 *     typedef struct cls_dataset_desc {
 *         uint32_t downscale;   // 0 or 1: full size; d > 1: each axis n -> max(1, floor((n + d/2) / d))
 *         uint32_t max_width;   // 0: none; else images wider (after downscale) are resampled
 *                               // to this width, height round(h * max_width / w)
 *         float background[3];  // RGBA images are composited onto it; undistortion fills with it
 *         int eval;             // hold out a test split: every 8th view (index % 8 == 0, sorted
 *                               // by name), or a Blender scene's transforms_test.json
 *         const char *images;   // the image folder of a COLMAP model; NULL: <scene>/images, else
 *                               // <model>/../images, else <model>/../../images
 *         int threads;          // decoding threads; 0: one per CPU, at most 16
 *     } cls_dataset_desc;
 *
 *     typedef enum cls_split { CLS_SPLIT_ALL = 0, CLS_SPLIT_TRAIN = 1, CLS_SPLIT_TEST = 2 } cls_split;
 *
 *     // Loads photos and cameras: a scene folder with images/ and sparse/0 (or sparse), a
 *     // COLMAP model folder (binary or text), or a folder or file with transforms_train.json /
 *     // transforms.json (Blender, instant-ngp, nerfstudio), found as cls_cameras_load finds
 *     // cameras. Distorted cameras (COLMAP SIMPLE_RADIAL, RADIAL, OPENCV; transforms.json
 *     // k1 k2 k3 p1 p2) are undistorted to their pinhole part on load; fisheye models are
 *     // CLS_ERROR_UNSUPPORTED. Every image must have its camera's size. On failure *out is NULL.
 *     CLS_API cls_status cls_dataset_load(const char *path, const cls_dataset_desc *desc,
 *                                         cls_dataset **out, cls_error *err);
 *     // NULL is a no-op.
 *     CLS_API void cls_dataset_destroy(cls_dataset *ds);
 *     // Views in a split. Without eval, TRAIN is every view and TEST is empty.
 *     CLS_API size_t cls_dataset_count(const cls_dataset *ds, cls_split split);
 *     // View i of a split: its pinhole camera (after undistortion and resizing), its image
 *     // (8-bit RGB interleaved, width*height*3, rows from the top, owned by the dataset) and
 *     // its image name. Each output may be NULL. CLS_ERROR_INVALID_ARGUMENT out of range.
 *     CLS_API cls_status cls_dataset_view(const cls_dataset *ds, cls_split split, size_t i,
 *                                         cls_camera *cam, const uint8_t **rgb, const char **name,
 *                                         cls_error *err);
 *     // The SfM points (COLMAP points3D): xyz[3n] and rgb[3n], owned by the dataset; count 0
 *     // when there are none (transforms.json, or a model without points3D).
 *     CLS_API void cls_dataset_points(const cls_dataset *ds, const float **xyz, const uint8_t **rgb,
 *                                     size_t *count);
 *     // The reference trainer's scene extent (INRIA getNerfppNorm): the mean of the training
 *     // cameras' centres, and 1.1 times the largest distance of one from it.
 *     CLS_API void cls_dataset_extent(const cls_dataset *ds, float centre[3], float *radius);
 *     // Bytes held by the decoded images (sum of width*height*3).
 *     CLS_API size_t cls_dataset_image_bytes(const cls_dataset *ds);
 *
 * ------------------------------------------------------------------------------------------
 */
#ifndef CLS_DATASET_H
#define CLS_DATASET_H

#include "clsplat.h"

#include <stddef.h>
#include <stdint.h>

/* The two value types are the public ones proposed above; when they move to clsplat.h, delete
 * them here (CLS_DATASET_PUBLIC_TYPES marks that they are already defined). */
#ifndef CLS_DATASET_PUBLIC_TYPES
typedef struct cls_dataset_desc {
    uint32_t downscale;
    uint32_t max_width;
    float background[3];
    int eval;
    const char *images;
    int threads;
} cls_dataset_desc;

typedef enum cls_split { CLS_SPLIT_ALL = 0, CLS_SPLIT_TRAIN = 1, CLS_SPLIT_TEST = 2 } cls_split;
#endif

/* Held-out views with eval and no test file: every CLS__DATASET_HOLD-th. */
#define CLS__DATASET_HOLD 8
/* The scene radius is this times the largest camera distance from the cameras' mean. */
#define CLS__DATASET_EXTENT_MARGIN 1.1f

typedef struct cls__dataset cls__dataset;

/* See the proposed public declarations above for each function. desc may be NULL (all
 * defaults). */
cls_status cls__dataset_load(const char *path, const cls_dataset_desc *desc, cls__dataset **out, cls_error *err);
void cls__dataset_destroy(cls__dataset *d);
size_t cls__dataset_count(const cls__dataset *d, cls_split split);
cls_status cls__dataset_view(const cls__dataset *d, cls_split split, size_t i, cls_camera *cam, const uint8_t **rgb,
                             const char **name, cls_error *err);
void cls__dataset_points(const cls__dataset *d, const float **xyz, const uint8_t **rgb, size_t *count);
void cls__dataset_extent(const cls__dataset *d, float centre[3], float *radius);
size_t cls__dataset_image_bytes(const cls__dataset *d);

/* The output size rule of downscale and max_width for an image of width x height. */
void cls__dataset_output_size(uint32_t width, uint32_t height, uint32_t downscale, uint32_t max_width,
                              uint32_t *out_width, uint32_t *out_height);

#endif
