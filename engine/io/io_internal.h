/*
 * io_internal.h - helpers shared by the file readers and writers in engine/io/ and
 * engine/gaussians.c. Nothing here is part of the public API.
 *
 * Conventions: every function that can fail returns a cls_status and fills err through
 * cls__fail with a message that starts with the file's path. Byte-order helpers assemble
 * values byte by byte, so they work on hosts of either endianness.
 */
#ifndef CLS_IO_INTERNAL_H
#define CLS_IO_INTERNAL_H

#include "error.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- byte order ------------------------------------------------------------------------ */
static inline uint16_t cls__ld_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint16_t cls__ld_u16be(const uint8_t *p) { return (uint16_t)(p[1] | (p[0] << 8)); }
static inline uint32_t cls__ld_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint32_t cls__ld_u32be(const uint8_t *p)
{
    return (uint32_t)p[3] | ((uint32_t)p[2] << 8) | ((uint32_t)p[1] << 16) | ((uint32_t)p[0] << 24);
}
static inline uint64_t cls__ld_u64le(const uint8_t *p)
{
    return (uint64_t)cls__ld_u32le(p) | ((uint64_t)cls__ld_u32le(p + 4) << 32);
}
static inline uint64_t cls__ld_u64be(const uint8_t *p)
{
    return (uint64_t)cls__ld_u32be(p + 4) | ((uint64_t)cls__ld_u32be(p) << 32);
}
static inline float cls__ld_f32le(const uint8_t *p)
{
    uint32_t u = cls__ld_u32le(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline double cls__ld_f64le(const uint8_t *p)
{
    uint64_t u = cls__ld_u64le(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
static inline void cls__st_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void cls__st_f32le(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    cls__st_u32le(p, u);
}

/* ---- reading --------------------------------------------------------------------------- */
/* A regular file opened for sequential binary reading, with its size and the current offset
 * so that a short read can say how many bytes were expected and found. */
typedef struct cls__reader {
    FILE *fp;
    const char *path; /* borrowed: the caller's string */
    uint64_t size;
    uint64_t pos;
} cls__reader;

/* CLS_ERROR_IO (with strerror) when path cannot be opened or is not a regular file. */
cls_status cls__reader_open(cls__reader *r, const char *path, cls_error *err);
/* Safe on a zeroed or already closed reader. */
void cls__reader_close(cls__reader *r);
uint64_t cls__reader_remaining(const cls__reader *r);
/* Reads exactly n bytes. A short file is CLS_ERROR_FORMAT: "<path>: truncated: <what> needs N
 * bytes at offset O, only M left". */
cls_status cls__reader_read(cls__reader *r, void *dst, size_t n, const char *what, cls_error *err);
/* Skips n bytes, with the same truncation check. */
cls_status cls__reader_skip(cls__reader *r, uint64_t n, const char *what, cls_error *err);
/* CLS_ERROR_FORMAT "<path>: the header says N <what>, but the file has room for at most M"
 * when `count` records of at least `min_record` bytes cannot fit in what is left to read:
 * the guard against allocating for a corrupt count. */
cls_status cls__reader_check_count(const cls__reader *r, uint64_t count, uint64_t min_record, const char *path,
                                   const char *what, cls_error *err);
/* The next byte, or EOF. */
int cls__reader_getc(cls__reader *r);

/* Reads a whole regular file into a NUL-terminated malloc'd buffer (*size excludes the NUL).
 * Files larger than max_size are CLS_ERROR_LIMIT. */
cls_status cls__read_file(const char *path, size_t max_size, char **data, size_t *size, cls_error *err);

/* 1 when path names an existing directory / regular file. */
int cls__is_dir(const char *path);
int cls__is_file(const char *path);
/* malloc'd "a/b" (a may be "" or end in '/'); NULL when out of memory. */
char *cls__path_join(const char *a, const char *b);
/* The file-name part of path (after the last '/' or '\\'). */
const char *cls__path_basename(const char *path);
/* The extension of path including the dot ("" when none), case as written. */
const char *cls__path_extension(const char *path);
/* Case-insensitive ASCII comparison of two strings; 1 when equal. */
int cls__str_ieq(const char *a, const char *b);
/* strdup, which C11 lacks. NULL when out of memory. */
char *cls__strdup(const char *s);

/* ---- text parsing ---------------------------------------------------------------------- */
/* Splits a line in place: returns the next whitespace-separated token and advances *cursor,
 * or NULL at the end of the line. */
char *cls__next_token(char **cursor);
/* Full-token parses, independent of the C locale's decimal point. 1 on success. */
int cls__parse_double(const char *tok, double *out);
int cls__parse_u64(const char *tok, uint64_t *out);
int cls__parse_i64(const char *tok, int64_t *out);

/* ---- atomic writing -------------------------------------------------------------------- */
/* Output goes to "<path>.tmp.<pid>", renamed over path by commit. Until then an existing file
 * at path is untouched; cls__atomic_write_abort, like a failed commit, removes the temporary file. */
typedef struct cls__atomic_file {
    FILE *fp;
    char *path;
    char *tmp_path;
} cls__atomic_file;

cls_status cls__atomic_write_begin(cls__atomic_file *f, const char *path, cls_error *err);
/* CLS_ERROR_IO "<path>: write failed: <strerror>" on a short write. */
cls_status cls__atomic_write(cls__atomic_file *f, const void *data, size_t n, cls_error *err);
/* Flushes, closes and renames. Always releases f; on failure the temporary file is removed. */
cls_status cls__atomic_write_commit(cls__atomic_file *f, cls_error *err);
/* Closes and removes the temporary file and releases f. Safe on a released or zeroed f. */
void cls__atomic_write_abort(cls__atomic_file *f);

/* ---- Gaussians (engine/io/ply.c, engine/io/splat.c, engine/gaussians.c) ---------------- */
cls_status cls__ply_read(const char *path, cls_gaussians *out, cls_error *err);
cls_status cls__ply_write(const char *path, const cls_gaussians *g, cls_error *err);
cls_status cls__splat_read(const char *path, cls_gaussians *out, cls_error *err);
cls_status cls__splat_write(const char *path, const cls_gaussians *g, cls_error *err);
/* Infinite opacity logits (some exporters write them for fully opaque splats) are replaced by
 * +-this on read; finite values are kept as they are. */
#define CLS__OPACITY_LOGIT_LIMIT 20.0f
/* Checks what a writer needs: degree 0..3, count > 0, no NULL array, no NaN or Inf (opacity
 * may be infinite), no zero quaternion. CLS_ERROR_INVALID_ARGUMENT naming the Gaussian. */
cls_status cls__gaussians_validate(const cls_gaussians *g, cls_error *err);

/* ---- cameras (engine/io/cameras.c and the format readers) ------------------------------ */
/* The lens of one camera as its source describes it. cls_camera holds the pinhole part (fx,
 * fy, cx, cy); this holds the distortion, in OpenCV's model for normalised coordinates
 * (x, y) = ((u - cx) / fx, (v - cy) / fy), r2 = x^2 + y^2:
 *     x_d = x (1 + k1 r2 + k2 r2^2 + k3 r2^3) + 2 p1 x y + p2 (r2 + 2 x^2)
 *     y_d = y (1 + k1 r2 + k2 r2^2 + k3 r2^3) + p1 (r2 + 2 y^2) + 2 p2 x y
 * COLMAP's SIMPLE_RADIAL (k), RADIAL (k1, k2) and OPENCV (k1, k2, p1, p2) are special cases,
 * as are transforms.json's k1 k2 k3 p1 p2. All zero: a pinhole camera. Only the training
 * dataset asks for lenses (engine/dataset.c undistorts the images to the pinhole part). */
typedef struct cls__lens {
    const char *model;         /* static: "PINHOLE", "SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV" */
    double k1, k2, k3, p1, p2;
    int64_t source_id;         /* COLMAP: the camera id; transforms.json: the frame's index in "frames" */
} cls__lens;

/* 1 when the lens has a non-zero distortion coefficient. */
int cls__lens_distorts(const cls__lens *lens);
/* Applies the distortion to normalised coordinates (x, y). */
static inline void cls__lens_distort(const cls__lens *l, double x, double y, double *xd, double *yd)
{
    double r2 = x * x + y * y;
    double radial = 1.0 + r2 * (l->k1 + r2 * (l->k2 + r2 * l->k3));
    *xd = x * radial + 2.0 * l->p1 * x * y + l->p2 * (r2 + 2.0 * x * x);
    *yd = y * radial + l->p1 * (r2 + 2.0 * y * y) + 2.0 * l->p2 * x * y;
}

/* A camera set under construction: set.count entries of capacity cap; with_lens set before
 * the first push also keeps a lens per camera in `lens` (cap entries, freed by the owner). */
typedef struct cls__camera_list {
    cls_camera_set set;
    size_t cap;
    int with_lens;
    cls__lens *lens;
} cls__camera_list;

/* Appends a copy of cam and of name (and of lens when the list keeps lenses; NULL: a
 * pinhole). CLS_ERROR_OUT_OF_HOST_MEMORY on failure. */
cls_status cls__camera_list_push(cls__camera_list *list, const cls_camera *cam, const char *name,
                                 cls_error *err);
cls_status cls__camera_list_push_lens(cls__camera_list *list, const cls_camera *cam, const char *name,
                                      const cls__lens *lens, cls_error *err);
/* Frees the set and the lenses of a list and zeroes it. */
void cls__camera_list_free(cls__camera_list *list);
/* Stable sort of the set by image name (strcmp); lens (set->count entries, or NULL) is
 * permuted with it. CLS_ERROR_OUT_OF_HOST_MEMORY on failure. */
cls_status cls__cameras_sort_by_name(cls_camera_set *set, cls__lens *lens, cls_error *err);
/* The largest deviation of a row-major 3x3 matrix from a proper rotation: max over
 * |R^T R - I| entries and |det R - 1|. */
double cls__rotation_error(const double r[9]);
/* The tolerance on cls__rotation_error for matrices read from files. */
#define CLS__ROTATION_TOLERANCE 1e-3

/* Reads a COLMAP model. lens NULL: only PINHOLE and SIMPLE_PINHOLE are accepted (what the
 * renderer can use). lens not NULL: SIMPLE_RADIAL, RADIAL and OPENCV are accepted too, and
 * *lens receives a malloc'd array of out->count lenses; the other models (fisheye, FOV,
 * FULL_OPENCV, THIN_PRISM...) are CLS_ERROR_UNSUPPORTED naming the model. */
cls_status cls__colmap_read(const char *model_dir, cls_camera_set *out, cls__lens **lens, cls_error *err);
/* 1 when dir holds a COLMAP model (cameras + images, .bin or .txt); 2 when it is binary. */
int cls__colmap_is_model(const char *dir);
/* COLMAP's points3D (.bin when the model's cameras/images are .bin, else .txt) of a model
 * folder: *xyz (3 * count floats) and *rgb (3 * count bytes), malloc'd. A model without a
 * points3D file gives count 0 and NULL arrays; a malformed one fails (CLS_ERROR_FORMAT
 * naming the point). */
cls_status cls__colmap_points_read(const char *model_dir, float **xyz, uint8_t **rgb, size_t *count,
                                   cls_error *err);
struct cJSON;
/* Readers of an already parsed JSON document (cameras.c parses and dispatches). lens as for
 * cls__colmap_read: NULL ignores the distortion keys (k1 k2 k3 k4 p1 p2); otherwise they are
 * read (a non-zero k4, a fisheye coefficient, is CLS_ERROR_UNSUPPORTED). */
cls_status cls__nerf_read(const char *path, const struct cJSON *root, cls_camera_set *out, cls__lens **lens,
                          cls_error *err);
cls_status cls__camjson_read(const char *path, const struct cJSON *root, cls_camera_set *out,
                             cls_error *err);
cls_status cls__camjson_write(const char *path, const cls_camera_set *set, cls_error *err);

/* Where cameras came from, for the training dataset: cls_cameras_load's search, plus the
 * lens of each camera and the file or folder that was read. */
typedef enum cls__camera_source_kind {
    CLS__SOURCE_COLMAP = 1,  /* path: the model folder */
    CLS__SOURCE_NERF = 2,    /* path: the transforms JSON file */
    CLS__SOURCE_CAMJSON = 3  /* path: the cameras.json file */
} cls__camera_source_kind;

typedef struct cls__camera_source {
    cls_camera_set set;      /* sorted by name, like cls_cameras_load (cameras.json: file order) */
    cls__lens *lens;         /* set.count entries */
    cls__camera_source_kind kind;
    char *path;
} cls__camera_source;

/* cls_cameras_load with lenses (see cls__colmap_read): the same search and validation, but
 * distorted COLMAP models are accepted. On failure *out is zeroed. */
cls_status cls__camera_source_load(const char *path, cls__camera_source *out, cls_error *err);
/* NULL and zeroed sources are no-ops. */
void cls__camera_source_free(cls__camera_source *src);

/* ---- images (engine/io/image.c) -------------------------------------------------------- */
/* The size of a PNG or JPEG image from its header (the pixels are not decoded). */
cls_status cls__image_size(const char *path, uint32_t *width, uint32_t *height, cls_error *err);
/* Decodes a PNG (8 or 16 bit, gray, palette, with or without alpha) or a JPEG into 8-bit
 * interleaved rows from the top: RGB (channels 3) or RGBA (channels 4, when the PNG has an
 * alpha channel or a tRNS chunk). *pixels is malloc'd; free it with free(). */
cls_status cls__image_read(const char *path, uint8_t **pixels, uint32_t *width, uint32_t *height,
                           int *channels, cls_error *err);

/* ---- training images (engine/io/undistort.c) ------------------------------------------- */
/* Makes a training image from a decoded one (width x height, 3 or 4 channels, 8-bit) in one
 * streaming pass, then rounds once to 8 bits:
 *   1. RGBA is composited onto background (RGB in [0, 1]): c = rgb a + bg (1 - a);
 *   2. when lens distorts, the image is undistorted to the pinhole camera of the same size and
 *      the same fx fy cx cy (k = {fx, fy, cx, cy}): each output pixel centre is mapped through
 *      the distortion and the input is sampled there bilinearly; a sample outside the input
 *      (or beyond the radius where the distortion stops being monotonic) is the background;
 *   3. the result is resampled to out_width x out_height (no larger than the input) with an
 *      area (box) filter: each output pixel is the exact area-weighted mean of the input
 *      pixels its footprint covers.
 * map: NULL, or cls__undistort_map of the same camera (views that share a camera share it).
 * dst receives out_width * out_height * 3 bytes. Fails only when out of memory. */
cls_status cls__image_prepare(const uint8_t *src, uint32_t width, uint32_t height, int channels, const double k[4],
                              const cls__lens *lens, const float *map, const float background[3], uint8_t *dst,
                              uint32_t out_width, uint32_t out_height, cls_error *err);
/* Step 2's sampling positions for a width x height camera: per pixel the (u, v) to sample in
 * the distorted photo, (-1, -1) for the background; width * height * 2 floats, malloc'd. NULL
 * when out of memory. */
float *cls__undistort_map(uint32_t width, uint32_t height, const double k[4], const cls__lens *lens);

#endif
