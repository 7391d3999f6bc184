/*
 * splat.c - the antimatter15 .splat format: 32 bytes per Gaussian, no header.
 *   0  float32 x, y, z                     position
 *  12  float32 sx, sy, sz                  LINEAR scales (exp of the log-scales)
 *  24  uint8   r, g, b, a                  (0.5 + C0 * f_dc) * 255 and sigmoid(opacity) * 255
 *  28  uint8   qw, qx, qy, qz              normalised quaternion * 128 + 128
 * All little endian. SH degree 0 only: higher coefficients are dropped on write.
 */
#include "io/io_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPLAT_RECORD 32
#define SPLAT_CHUNK 32768 /* records per read or write */
#define SH_C0 0.28209479177387814

static uint8_t to_byte(double v)
{
    v = floor(v + 0.5);
    return (uint8_t)(v < 0.0 ? 0.0 : v > 255.0 ? 255.0 : v);
}

static void encode(const cls_gaussians *g, size_t i, size_t k, uint8_t *rec)
{
    const float *q = g->quats + i * 4;
    double norm = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
    double opacity = 1.0 / (1.0 + exp(-(double)g->opacity_logits[i]));
    for (int c = 0; c < 3; c++) {
        cls__st_f32le(rec + 4 * c, g->means[i * 3 + (size_t)c]);
        cls__st_f32le(rec + 12 + 4 * c, (float)exp((double)g->log_scales[i * 3 + (size_t)c]));
        rec[24 + c] = to_byte((0.5 + SH_C0 * g->sh[i * k * 3 + (size_t)c]) * 255.0);
    }
    rec[27] = to_byte(opacity * 255.0);
    for (int c = 0; c < 4; c++)
        rec[28 + c] = to_byte(q[c] / norm * 128.0 + 128.0);
}

cls_status cls__splat_write(const char *path, const cls_gaussians *g, cls_error *err)
{
    size_t k = (size_t)cls_sh_coeff_count(g->sh_degree);
    uint8_t *buf = malloc((size_t)SPLAT_CHUNK * SPLAT_RECORD);
    cls__atomic_file f;
    cls_status st;
    if (buf == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    if ((st = cls__atomic_write_begin(&f, path, err)) != CLS_OK) {
        free(buf);
        return st;
    }
    for (size_t first = 0; first < g->count; first += SPLAT_CHUNK) {
        size_t n = g->count - first < SPLAT_CHUNK ? g->count - first : SPLAT_CHUNK;
        for (size_t j = 0; j < n; j++)
            encode(g, first + j, k, buf + j * SPLAT_RECORD);
        if ((st = cls__atomic_write(&f, buf, n * SPLAT_RECORD, err)) != CLS_OK)
            goto fail;
    }
    free(buf);
    return cls__atomic_write_commit(&f, err);
fail:
    free(buf);
    cls__atomic_write_abort(&f);
    return st;
}

static cls_status decode(const char *path, size_t i, const uint8_t *rec, cls_gaussians *g, cls_error *err)
{
    /* Alpha is kept inside (0, 1) so that the logit stays finite: 0 and 255 map half a step in. */
    double a = rec[27] / 255.0;
    double lo = 0.5 / 255.0, hi = 1.0 - 0.5 / 255.0;
    static const char *const axis = "xyz";
    a = a < lo ? lo : a > hi ? hi : a;
    for (int c = 0; c < 3; c++) {
        float p = cls__ld_f32le(rec + 4 * c);
        float s = cls__ld_f32le(rec + 12 + 4 * c);
        if (!isfinite(p))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: splat %zu: position %c is %s", path, i, axis[c],
                             isnan(p) ? "NaN" : "infinite");
        if (!(s > 0.0f) || !isfinite(s))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: splat %zu: scale %c is %g; scales must be positive and finite",
                             path, i, axis[c], (double)s);
        g->means[i * 3 + (size_t)c] = p;
        g->log_scales[i * 3 + (size_t)c] = (float)log((double)s);
        g->sh[i * 3 + (size_t)c] = (float)((rec[24 + c] / 255.0 - 0.5) / SH_C0);
    }
    g->opacity_logits[i] = (float)log(a / (1.0 - a));
    for (int c = 0; c < 4; c++)
        g->quats[i * 4 + (size_t)c] = (float)((rec[28 + c] - 128) / 128.0);
    if (rec[28] == 128 && rec[29] == 128 && rec[30] == 128 && rec[31] == 128)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: splat %zu: the rotation quaternion is zero", path, i);
    return CLS_OK;
}

cls_status cls__splat_read(const char *path, cls_gaussians *out, cls_error *err)
{
    cls__reader r;
    uint8_t *buf = NULL;
    cls_status st;
    memset(out, 0, sizeof *out);
    if ((st = cls__reader_open(&r, path, err)) != CLS_OK)
        return st;
    if (r.size == 0) {
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: empty file: no splats", path);
        goto fail;
    }
    if (r.size % SPLAT_RECORD != 0 || (uint64_t)(size_t)(r.size / SPLAT_RECORD) != r.size / SPLAT_RECORD) {
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: %llu bytes is not a multiple of the %d-byte .splat record",
                       path, (unsigned long long)r.size, SPLAT_RECORD);
        goto fail;
    }
    buf = malloc((size_t)SPLAT_CHUNK * SPLAT_RECORD);
    if (buf == NULL) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
        goto fail;
    }
    if ((st = cls_gaussians_alloc(out, (size_t)(r.size / SPLAT_RECORD), 0, err)) != CLS_OK)
        goto fail;
    for (size_t first = 0; first < out->count; first += SPLAT_CHUNK) {
        size_t n = out->count - first < SPLAT_CHUNK ? out->count - first : SPLAT_CHUNK;
        if ((st = cls__reader_read(&r, buf, n * SPLAT_RECORD, "splat data", err)) != CLS_OK)
            goto fail;
        for (size_t j = 0; j < n; j++)
            if ((st = decode(path, first + j, buf + j * SPLAT_RECORD, out, err)) != CLS_OK)
                goto fail;
    }
    free(buf);
    cls__reader_close(&r);
    return CLS_OK;
fail:
    free(buf);
    cls_gaussians_free(out);
    cls__reader_close(&r);
    return st;
}
