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
 * at path is untouched; abort (or a failed commit) removes the temporary file. */
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
/* A camera set under construction: set.count entries of capacity cap. */
typedef struct cls__camera_list {
    cls_camera_set set;
    size_t cap;
} cls__camera_list;

/* Appends a copy of cam and of name. CLS_ERROR_OUT_OF_HOST_MEMORY on failure. */
cls_status cls__camera_list_push(cls__camera_list *list, const cls_camera *cam, const char *name,
                                 cls_error *err);
/* Stable sort of the set by image name (strcmp). CLS_ERROR_OUT_OF_HOST_MEMORY on failure. */
cls_status cls__cameras_sort_by_name(cls_camera_set *set, cls_error *err);
/* The largest deviation of a row-major 3x3 matrix from a proper rotation: max over
 * |R^T R - I| entries and |det R - 1|. */
double cls__rotation_error(const double r[9]);
/* The tolerance on cls__rotation_error for matrices read from files. */
#define CLS__ROTATION_TOLERANCE 1e-3

cls_status cls__colmap_read(const char *model_dir, cls_camera_set *out, cls_error *err);
/* 1 when dir holds a COLMAP model (cameras + images, .bin or .txt). */
int cls__colmap_is_model(const char *dir);
struct cJSON;
/* Readers of an already parsed JSON document (cameras.c parses and dispatches). */
cls_status cls__nerf_read(const char *path, const struct cJSON *root, cls_camera_set *out, cls_error *err);
cls_status cls__camjson_read(const char *path, const struct cJSON *root, cls_camera_set *out,
                             cls_error *err);
cls_status cls__camjson_write(const char *path, const cls_camera_set *set, cls_error *err);

/* ---- images (engine/io/image.c) -------------------------------------------------------- */
/* The size of a PNG or JPEG image from its header (the pixels are not decoded). */
cls_status cls__image_size(const char *path, uint32_t *width, uint32_t *height, cls_error *err);
/* Decodes a PNG (8 or 16 bit, gray, palette, with or without alpha) or a JPEG into 8-bit
 * interleaved rows from the top: RGB (channels 3) or RGBA (channels 4, when the PNG has an
 * alpha channel or a tRNS chunk). *pixels is malloc'd; free it with free(). */
cls_status cls__image_read(const char *path, uint8_t **pixels, uint32_t *width, uint32_t *height,
                           int *channels, cls_error *err);

#endif
