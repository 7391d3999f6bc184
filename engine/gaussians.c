/* gaussians.c - host Gaussian arrays: allocation, and loading/saving by file type. */
#include "io/io_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int cls_sh_coeff_count(int sh_degree)
{
    if (sh_degree < 0 || sh_degree > CLS_MAX_SH_DEGREE)
        return 0;
    return (sh_degree + 1) * (sh_degree + 1);
}

cls_status cls_gaussians_alloc(cls_gaussians *g, size_t count, int sh_degree, cls_error *err)
{
    size_t k = (size_t)cls_sh_coeff_count(sh_degree);
    if (g == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_gaussians_alloc: g is NULL");
    memset(g, 0, sizeof *g);
    if (k == 0)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                         "cls_gaussians_alloc: SH degree %d is outside 0..%d", sh_degree,
                         CLS_MAX_SH_DEGREE);
    /* The largest array is sh: count * k * 3 floats. */
    if (count > SIZE_MAX / (k * 3 * sizeof(float)))
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY,
                         "cls_gaussians_alloc: %zu Gaussians of SH degree %d do not fit in memory",
                         count, sh_degree);
    g->sh_degree = sh_degree;
    if (count == 0)
        goto done;
    g->means = malloc(count * 3 * sizeof(float));
    g->log_scales = malloc(count * 3 * sizeof(float));
    g->quats = malloc(count * 4 * sizeof(float));
    g->opacity_logits = malloc(count * sizeof(float));
    g->sh = malloc(count * k * 3 * sizeof(float));
    if (g->means == NULL || g->log_scales == NULL || g->quats == NULL || g->opacity_logits == NULL ||
        g->sh == NULL) {
        cls_gaussians_free(g);
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY,
                         "cls_gaussians_alloc: cannot allocate %zu Gaussians of SH degree %d", count,
                         sh_degree);
    }
    memset(g->means, 0, count * 3 * sizeof(float));
    memset(g->log_scales, 0, count * 3 * sizeof(float));
    memset(g->quats, 0, count * 4 * sizeof(float));
    memset(g->opacity_logits, 0, count * sizeof(float));
    memset(g->sh, 0, count * k * 3 * sizeof(float));
    g->count = count;
done:
    cls__error_clear(err);
    return CLS_OK;
}

void cls_gaussians_free(cls_gaussians *g)
{
    if (g == NULL)
        return;
    free(g->means);
    free(g->log_scales);
    free(g->quats);
    free(g->opacity_logits);
    free(g->sh);
    memset(g, 0, sizeof *g);
}

/* "ply" followed by an end of line: the PLY magic. */
static int has_ply_magic(const char *path)
{
    char head[4] = {0};
    FILE *fp = fopen(path, "rb");
    size_t n;
    if (fp == NULL)
        return 0;
    n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    return n >= 4 && memcmp(head, "ply", 3) == 0 && (head[3] == '\n' || head[3] == '\r');
}

cls_status cls_gaussians_load(const char *path, cls_gaussians *out, cls_error *err)
{
    const char *ext;
    cls_status st;
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (path == NULL || out == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_gaussians_load: %s is NULL",
                         path == NULL ? "path" : "out");
    ext = cls__path_extension(path);
    if (has_ply_magic(path) || cls__str_ieq(ext, ".ply"))
        st = cls__ply_read(path, out, err);
    else if (cls__str_ieq(ext, ".splat"))
        st = cls__splat_read(path, out, err);
    else if (!cls__is_file(path))
        st = cls__ply_read(path, out, err); /* reports why the file cannot be opened */
    else
        st = cls__fail(err, CLS_ERROR_FORMAT,
                       "%s: not a Gaussian file: a .ply must start with 'ply', a .splat must be named *.splat",
                       path);
    if (st == CLS_OK)
        cls__error_clear(err);
    return st;
}

/* A value the readers would reject, so writing it would produce an unreadable file. */
static cls_status bad_value(cls_error *err, size_t i, const char *array, size_t comp, float v)
{
    return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "Gaussian %zu: %s[%zu] is %s", i, array, comp,
                     isnan(v) ? "NaN" : "infinite");
}

static cls_status check_finite(const float *a, size_t count, size_t n, const char *array, int allow_inf,
                               cls_error *err)
{
    for (size_t i = 0; i < count; i++)
        for (size_t c = 0; c < n; c++) {
            float v = a[i * n + c];
            if (isnan(v) || (!allow_inf && isinf(v)))
                return bad_value(err, i, array, c, v);
        }
    return CLS_OK;
}

/* Arrays present and finite (infinite opacity logits allowed). */
static cls_status validate_arrays(const cls_gaussians *g, cls_error *err)
{
    size_t k;
    cls_status st;
    if (g->sh_degree < 0 || g->sh_degree > CLS_MAX_SH_DEGREE)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "SH degree %d is outside 0..%d", g->sh_degree,
                         CLS_MAX_SH_DEGREE);
    if (g->count == 0)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "there are no Gaussians to write");
    if (g->means == NULL || g->log_scales == NULL || g->quats == NULL || g->opacity_logits == NULL ||
        g->sh == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "an array of the Gaussians is NULL");
    k = (size_t)cls_sh_coeff_count(g->sh_degree);
    if ((st = check_finite(g->means, g->count, 3, "means", 0, err)) != CLS_OK ||
        (st = check_finite(g->log_scales, g->count, 3, "log_scales", 0, err)) != CLS_OK ||
        (st = check_finite(g->quats, g->count, 4, "quats", 0, err)) != CLS_OK ||
        (st = check_finite(g->opacity_logits, g->count, 1, "opacity_logits", 1, err)) != CLS_OK ||
        (st = check_finite(g->sh, g->count, k * 3, "sh", 0, err)) != CLS_OK)
        return st;
    return CLS_OK;
}

cls_status cls__gaussians_validate(const cls_gaussians *g, cls_error *err)
{
    cls_status st = validate_arrays(g, err);
    if (st != CLS_OK)
        return st;
    for (size_t i = 0; i < g->count; i++) {
        const float *q = g->quats + i * 4;
        if (q[0] == 0.0f && q[1] == 0.0f && q[2] == 0.0f && q[3] == 0.0f)
            return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "Gaussian %zu: the quaternion is zero", i);
    }
    return CLS_OK;
}

cls_status cls_gaussians_save(const char *path, const cls_gaussians *g, cls_error *err)
{
    const char *ext;
    cls_status st;
    if (path == NULL || g == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_gaussians_save: %s is NULL",
                         path == NULL ? "path" : "g");
    ext = cls__path_extension(path);
    if (!cls__str_ieq(ext, ".ply") && !cls__str_ieq(ext, ".splat"))
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                         "%s: unknown extension '%s': Gaussians are saved as .ply or .splat", path, ext);
    st = cls__gaussians_validate(g, err);
    if (st != CLS_OK) {
        /* Prefix the path to the message the validator wrote. */
        if (err != NULL) {
            char msg[sizeof err->message];
            memcpy(msg, err->message, sizeof msg);
            cls__fail(err, st, "%s: not saved: %s", path, msg);
        }
        return st;
    }
    st = cls__str_ieq(ext, ".ply") ? cls__ply_write(path, g, err) : cls__splat_write(path, g, err);
    if (st == CLS_OK)
        cls__error_clear(err);
    return st;
}

cls_status cls_gradients_save(const char *path, const cls_gaussians *grads, cls_error *err)
{
    if (path == NULL || grads == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_gradients_save: %s is NULL",
                         path == NULL ? "path" : "grads");
    if (!cls__str_ieq(cls__path_extension(path), ".ply"))
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "%s: gradients are saved as .ply", path);
    /* Gradients only need to be finite: a zero quaternion gradient is an ordinary value. */
    cls_status st = validate_arrays(grads, err);
    if (st != CLS_OK) {
        if (err != NULL) {
            char msg[sizeof err->message];
            memcpy(msg, err->message, sizeof msg);
            cls__fail(err, st, "%s: not saved: %s", path, msg);
        }
        return st;
    }
    st = cls__ply_write(path, grads, err);
    if (st == CLS_OK)
        cls__error_clear(err);
    return st;
}

cls_status cls_image_read(const char *path, float **pixels, uint32_t *width, uint32_t *height, int *channels,
                          cls_error *err)
{
    if (path == NULL || pixels == NULL || width == NULL || height == NULL || channels == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_image_read: an argument is NULL");
    *pixels = NULL;
    uint8_t *bytes = NULL;
    cls_status st = cls__image_read(path, &bytes, width, height, channels, err);
    if (st != CLS_OK)
        return st;
    const size_t n = (size_t)*width * *height * (size_t)*channels;
    float *out = malloc(n * sizeof *out);
    if (out == NULL) {
        free(bytes);
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory for %zu pixels", path, n);
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (float)bytes[i] / 255.0f;
    free(bytes);
    *pixels = out;
    cls__error_clear(err);
    return CLS_OK;
}
