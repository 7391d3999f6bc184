/*
 * undistort.c - turns a decoded photo into a training image: composite RGBA onto the
 * background, undistort to a pinhole camera, area-resample, round to 8 bits once.
 *
 * The work streams row by row, so besides the decoded input and the 8-bit output it needs
 * only a few float rows: an input row (composited and undistorted), the same row filtered
 * horizontally, and one output row being accumulated. Values stay in [0, 255] floats. The
 * sampling positions of the undistortion come from a map (cls__undistort_map) that the views
 * of one camera share, or are computed row by row.
 *
 * The area filter is separable. Output pixel j of an axis covers the input interval
 * [j s, (j + 1) s), s = in / out >= 1; its taps are the input pixels that interval overlaps,
 * weighted by the overlap over s. Identical sizes give one tap of weight 1 (a copy).
 */
#include "io/io_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The taps of one axis: output j uses inputs first[j] .. first[j] + count[j] - 1 with weights
 * weight[offset[j] ..]. */
typedef struct axis_taps {
    uint32_t *first, *count;
    size_t *offset;
    float *weight;
} axis_taps;

static void taps_free(axis_taps *t)
{
    free(t->first);
    free(t->count);
    free(t->offset);
    free(t->weight);
}

static int taps_build(uint32_t in, uint32_t out, axis_taps *t)
{
    double s = (double)in / out;
    size_t n = 0, max = (size_t)in + 2 * (size_t)out + 1;
    t->first = malloc(out * sizeof *t->first);
    t->count = malloc(out * sizeof *t->count);
    t->offset = malloc(out * sizeof *t->offset);
    t->weight = malloc(max * sizeof *t->weight);
    if (t->first == NULL || t->count == NULL || t->offset == NULL || t->weight == NULL)
        return 0;
    for (uint32_t j = 0; j < out; j++) {
        double a = j * s, b = j + 1 == out ? (double)in : (j + 1) * s;
        uint32_t k0 = (uint32_t)floor(a), k1 = (uint32_t)ceil(b);
        if (k1 > in)
            k1 = in;
        if (k0 >= k1)
            k0 = k1 - 1;
        t->first[j] = k0;
        t->count[j] = 0;
        t->offset[j] = n;
        for (uint32_t k = k0; k < k1 && n < max; k++) {
            double lo = a > k ? a : (double)k, hi = b < k + 1.0 ? b : k + 1.0;
            t->weight[n++] = (float)(hi > lo ? (hi - lo) / (b - a) : 0.0);
            t->count[j]++;
        }
    }
    return 1;
}

/* What the row producer needs. */
typedef struct prep {
    const uint8_t *src;
    uint32_t w, h;
    int channels;
    float bg[3]; /* in [0, 255] */
    int undistort;
    const cls__lens *lens;
    double fx, fy, cx, cy;
    double r2_limit; /* beyond this squared radius the distortion folds back: background */
} prep;

/* The composited colour of input pixel (x, y), in [0, 255]. */
static inline void pixel(const prep *p, uint32_t x, uint32_t y, float out[3])
{
    const uint8_t *s = p->src + ((size_t)y * p->w + x) * (size_t)p->channels;
    if (p->channels == 4) {
        float a = s[3], na = 255.0f - a;
        for (int c = 0; c < 3; c++)
            out[c] = ((float)s[c] * a + p->bg[c] * na) / 255.0f;
    } else {
        for (int c = 0; c < 3; c++)
            out[c] = s[c];
    }
}

/* Bilinear sample of the composited input at continuous coordinates (u, v) (pixel centres at
 * +0.5); outside [0, w] x [0, h] is the background; inside, edge pixels are clamped. */
static inline void sample(const prep *p, float u, float v, float out[3])
{
    float px, py, fx, fy;
    int x0, y0;
    uint32_t xa, xb, ya, yb;
    if (!(u >= 0.0f && u <= (float)p->w && v >= 0.0f && v <= (float)p->h)) {
        memcpy(out, p->bg, sizeof p->bg);
        return;
    }
    px = u - 0.5f;
    py = v - 0.5f;
    x0 = (int)(px + 1.0f) - 1; /* floor, as px >= -0.5 */
    y0 = (int)(py + 1.0f) - 1;
    fx = px - (float)x0;
    fy = py - (float)y0;
    xa = x0 < 0 ? 0 : (uint32_t)x0;
    ya = y0 < 0 ? 0 : (uint32_t)y0;
    xb = (uint32_t)(x0 + 1) >= p->w ? p->w - 1 : (uint32_t)(x0 + 1);
    yb = (uint32_t)(y0 + 1) >= p->h ? p->h - 1 : (uint32_t)(y0 + 1);
    if (p->channels == 3) {
        const uint8_t *r0 = p->src + (size_t)ya * p->w * 3, *r1 = p->src + (size_t)yb * p->w * 3;
        for (int c = 0; c < 3; c++) {
            float a = r0[3 * xa + (uint32_t)c], b = r0[3 * xb + (uint32_t)c];
            float d = r1[3 * xa + (uint32_t)c], e = r1[3 * xb + (uint32_t)c];
            float top = a + fx * (b - a), bottom = d + fx * (e - d);
            out[c] = top + fy * (bottom - top);
        }
    } else {
        float c00[3], c01[3], c10[3], c11[3];
        pixel(p, xa, ya, c00);
        pixel(p, xb, ya, c01);
        pixel(p, xa, yb, c10);
        pixel(p, xb, yb, c11);
        for (int c = 0; c < 3; c++) {
            float top = c00[c] + fx * (c01[c] - c00[c]);
            float bottom = c10[c] + fx * (c11[c] - c10[c]);
            out[c] = top + fy * (bottom - top);
        }
    }
}

/* Where the pixels of row y of the pinhole image are in the distorted photo: w (u, v) pairs,
 * (-1, -1) for the background. */
static void map_row(const prep *p, uint32_t y, float *uv)
{
    double yn = (y + 0.5 - p->cy) / p->fy, ifx = 1.0 / p->fx;
    for (uint32_t x = 0; x < p->w; x++) {
        double xn = (x + 0.5 - p->cx) * ifx, xd, yd;
        if (xn * xn + yn * yn > p->r2_limit) {
            uv[2 * (size_t)x] = uv[2 * (size_t)x + 1] = -1.0f;
            continue;
        }
        cls__lens_distort(p->lens, xn, yn, &xd, &yd);
        uv[2 * (size_t)x] = (float)(p->fx * xd + p->cx);
        uv[2 * (size_t)x + 1] = (float)(p->fy * yd + p->cy);
    }
}

/* Input-resolution row y of the composited, undistorted image; uv is the map row (or scratch
 * for one when the caller has no map). */
static void produce_row(const prep *p, uint32_t y, const float *map, float *uv, float *row)
{
    if (!p->undistort) {
        for (uint32_t x = 0; x < p->w; x++)
            pixel(p, x, y, row + 3 * (size_t)x);
        return;
    }
    if (map != NULL) {
        map += 2 * (size_t)y * p->w;
    } else {
        map_row(p, y, uv);
        map = uv;
    }
    for (uint32_t x = 0; x < p->w; x++)
        sample(p, map[2 * (size_t)x], map[2 * (size_t)x + 1], row + 3 * (size_t)x);
}

/* The largest squared radius up to which r (1 + k1 r^2 + k2 r^4 + k3 r^6) still increases,
 * searched up to the image's corners (infinity when it increases all the way). */
static double monotonic_r2(const prep *p)
{
    double r2_max = 0.0;
    const int steps = 4096;
    for (int corner = 0; corner < 4; corner++) {
        double xn = ((corner & 1) ? p->w : 0.0) - p->cx, yn = ((corner & 2) ? p->h : 0.0) - p->cy;
        double r2;
        xn /= p->fx;
        yn /= p->fy;
        r2 = xn * xn + yn * yn;
        if (r2 > r2_max)
            r2_max = r2;
    }
    for (int i = 1; i <= steps; i++) {
        double r2 = r2_max * i / steps;
        double d = 1.0 + r2 * (3.0 * p->lens->k1 + r2 * (5.0 * p->lens->k2 + r2 * 7.0 * p->lens->k3));
        if (!(d > 0.0))
            return r2_max * (i - 1) / steps;
    }
    return HUGE_VAL;
}

/* The pinhole intrinsics and lens of p. */
static void prep_lens(prep *p, const double k[4], const cls__lens *lens)
{
    p->undistort = cls__lens_distorts(lens);
    p->lens = lens;
    p->fx = k[0];
    p->fy = k[1];
    p->cx = k[2];
    p->cy = k[3];
    p->r2_limit = p->undistort ? monotonic_r2(p) : HUGE_VAL;
}

float *cls__undistort_map(uint32_t width, uint32_t height, const double k[4], const cls__lens *lens)
{
    prep p;
    float *map;
    if (width == 0 || height == 0 || (uint64_t)width * height > SIZE_MAX / (2 * sizeof *map))
        return NULL;
    map = malloc((size_t)width * height * 2 * sizeof *map);
    if (map == NULL)
        return NULL;
    memset(&p, 0, sizeof p);
    p.w = width;
    p.h = height;
    prep_lens(&p, k, lens);
    for (uint32_t y = 0; y < height; y++)
        map_row(&p, y, map + 2 * (size_t)y * width);
    return map;
}

/* One row through the horizontal taps. */
static void filter_row(const axis_taps *tx, const float *row, uint32_t out_width, float *out)
{
    for (uint32_t j = 0; j < out_width; j++) {
        const float *wx = tx->weight + tx->offset[j];
        const float *in = row + 3 * (size_t)tx->first[j];
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
        for (uint32_t q = 0; q < tx->count[j]; q++, in += 3) {
            s0 += wx[q] * in[0];
            s1 += wx[q] * in[1];
            s2 += wx[q] * in[2];
        }
        out[3 * (size_t)j] = s0;
        out[3 * (size_t)j + 1] = s1;
        out[3 * (size_t)j + 2] = s2;
    }
}

static inline uint8_t to_u8(float v)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 255.0f)
        return 255;
    return (uint8_t)(v + 0.5f);
}

cls_status cls__image_prepare(const uint8_t *src, uint32_t width, uint32_t height, int channels, const double k[4],
                              const cls__lens *lens, const float *map, const float background[3], uint8_t *dst,
                              uint32_t out_width, uint32_t out_height, cls_error *err)
{
    axis_taps tx, ty;
    prep p;
    float *row = NULL, *hrow = NULL, *acc = NULL, *uv = NULL;
    int64_t cached = -1;
    cls_status st = CLS_OK;
    if (width == 0 || height == 0 || out_width == 0 || out_height == 0 || out_width > width || out_height > height ||
        (channels != 3 && channels != 4))
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                         "cls__image_prepare: %ux%u (%d channels) to %ux%u is not a reduction", width, height,
                         channels, out_width, out_height);
    memset(&p, 0, sizeof p);
    memset(&tx, 0, sizeof tx);
    memset(&ty, 0, sizeof ty);
    p.src = src;
    p.w = width;
    p.h = height;
    p.channels = channels;
    for (int c = 0; c < 3; c++) {
        float b = background != NULL ? background[c] : 0.0f;
        p.bg[c] = (b > 0.0f ? (b < 1.0f ? b : 1.0f) : 0.0f) * 255.0f;
    }
    prep_lens(&p, k, lens);
    if (!taps_build(width, out_width, &tx) || !taps_build(height, out_height, &ty)) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for the resampling filter");
        goto done;
    }
    row = malloc((size_t)width * 3 * sizeof *row);
    hrow = malloc((size_t)out_width * 3 * sizeof *hrow);
    acc = malloc((size_t)out_width * 3 * sizeof *acc);
    uv = p.undistort && map == NULL ? malloc((size_t)width * 2 * sizeof *uv) : NULL;
    if (row == NULL || hrow == NULL || acc == NULL || (p.undistort && map == NULL && uv == NULL)) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for %u image rows", width);
        goto done;
    }
    for (uint32_t i = 0; i < out_height; i++) {
        uint8_t *out = dst + (size_t)i * out_width * 3;
        const float *filtered = hrow;
        for (uint32_t t = 0; t < ty.count[i]; t++) {
            uint32_t y = ty.first[i] + t;
            float wy = ty.weight[ty.offset[i] + t];
            if ((int64_t)y != cached) {
                produce_row(&p, y, map, uv, row);
                if (out_width != width)
                    filter_row(&tx, row, out_width, hrow);
                cached = y;
            }
            filtered = out_width != width ? hrow : row;
            if (out_height == height)
                break; /* one tap of weight 1 */
            if (t == 0)
                memset(acc, 0, (size_t)out_width * 3 * sizeof *acc);
            for (size_t q = 0; q < (size_t)out_width * 3; q++)
                acc[q] += wy * filtered[q];
            filtered = acc;
        }
        for (size_t q = 0; q < (size_t)out_width * 3; q++)
            out[q] = to_u8(filtered[q]);
    }
done:
    taps_free(&tx);
    taps_free(&ty);
    free(row);
    free(hrow);
    free(acc);
    free(uv);
    return st;
}
