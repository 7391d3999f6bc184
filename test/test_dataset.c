/* test_dataset.c - the training dataset: COLMAP (binary, text, distorted) and transforms.json
 * scenes from ../shared/data, undistortion checked against COLMAP's own, resizing, RGBA
 * compositing, splits, SfM points, extent, memory, and malformed inputs on small fixtures. */
#include "clsplat.h"
#include "dataset.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers --------------------------------------------------------------------------- */

#define EXPECT(call, err, want, substring)                                                               \
    do {                                                                                                 \
        cls_status st_ = (call);                                                                         \
        ck_assert_msg(st_ == (want), "%s: got %s (%s), expected %s", #call, cls_status_name(st_),         \
                      (err).message, cls_status_name(want));                                             \
        ck_assert_msg(strstr((err).message, (substring)) != NULL, "message \"%s\" lacks \"%s\"",          \
                      (err).message, (substring));                                                       \
    } while (0)

#define OK(call, err)                                                                                    \
    do {                                                                                                 \
        cls_status st_ = (call);                                                                         \
        ck_assert_msg(st_ == CLS_OK, "%s: %s: %s", #call, cls_status_name(st_), (err).message);           \
    } while (0)

/* 1 when ../shared/data exists; otherwise prints one SKIP line (per process) and returns 0. */
static int have_data(void)
{
    static int reported = 0;
    struct stat sb;
    if (stat(CLS_SHARED_DATA_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
        return 1;
    if (!reported) {
        printf("SKIP: %s not present: the dataset tests on real scenes do not run\n", CLS_SHARED_DATA_DIR);
        fflush(stdout);
        reported = 1;
    }
    return 0;
}

/* A path in a static buffer: "<a>/<b>". */
static const char *path2(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    ck_assert(n > 0 && (size_t)n < size);
    return buf;
}

static void mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    ck_assert_uint_lt(n, sizeof buf);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++)
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                ck_abort_msg("mkdir %s: %s", buf, strerror(errno));
            buf[i] = c;
        }
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_msg(fp != NULL, "cannot create %s: %s", path, strerror(errno));
    fputs(text, fp);
    ck_assert_int_eq(fclose(fp), 0);
}

/* A fresh fixture folder under the test temporary folder. */
static void fixture_dir(char *buf, size_t size, const char *name)
{
    char cmd[4200];
    path2(buf, size, CLS_TEST_TMP_DIR, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    ck_assert_int_eq(system(cmd), 0);
    mkdir_p(buf);
}

/* Writes an 8-bit PNG from bytes (channels 3 or 4). */
static void write_png(const char *path, const uint8_t *px, uint32_t w, uint32_t h, int channels)
{
    size_t n = (size_t)w * h * (size_t)channels;
    float *f = malloc(n * sizeof *f);
    cls_error err;
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        f[i] = px[i] / 255.0f;
    OK(cls_image_write_png(path, f, w, h, channels, 8, &err), err);
    free(f);
}

/* A w x h RGB PNG of a simple gradient. */
static void write_gradient_png(const char *path, uint32_t w, uint32_t h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    ck_assert_ptr_nonnull(px);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            p[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
            p[2] = 77;
        }
    write_png(path, px, w, h, 3);
    free(px);
}

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* glibc reports the heap in use (all arenas); not under AddressSanitizer, which replaces malloc. */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#include <malloc.h>
#define HEAP_MEASURABLE 1
static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
#else
#define HEAP_MEASURABLE 0
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static cls__dataset *load_timed(const char *path, const cls_dataset_desc *desc, const char *what)
{
    cls__dataset *d = NULL;
    cls_error err;
    double t0 = now_s();
    OK(cls__dataset_load(path, desc, &d, &err), err);
    printf("%s: %zu views loaded in %.2f s, %.1f MB of images\n", what, cls__dataset_count(d, CLS_SPLIT_ALL),
           now_s() - t0, cls__dataset_image_bytes(d) / 1e6);
    fflush(stdout);
    return d;
}

static void view(const cls__dataset *d, cls_split split, size_t i, cls_camera *cam, const uint8_t **rgb,
                 const char **name)
{
    cls_error err;
    OK(cls__dataset_view(d, split, i, cam, rgb, name, &err), err);
}

/* Bilinear sample of an 8-bit RGB image (channel c) at continuous coordinates (pixel centres
 * at +0.5); the caller keeps (u, v) inside [0.5, w - 0.5] x [0.5, h - 0.5]. */
static double bilinear_u8(const uint8_t *img, uint32_t w, uint32_t h, double u, double v, int c)
{
    double px = u - 0.5, py = v - 0.5;
    uint32_t x0 = (uint32_t)floor(px), y0 = (uint32_t)floor(py);
    uint32_t x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    double fx = px - x0, fy = py - y0;
    double a = img[((size_t)y0 * w + x0) * 3 + (size_t)c], b = img[((size_t)y0 * w + x1) * 3 + (size_t)c];
    double e = img[((size_t)y1 * w + x0) * 3 + (size_t)c], f = img[((size_t)y1 * w + x1) * 3 + (size_t)c];
    double top = a + fx * (b - a), bottom = e + fx * (f - e);
    return top + fy * (bottom - top);
}

/* PSNR between a reference pinhole image (ref, camera rc) and another image of the same pose
 * (img, camera ic): each reference pixel's ray is projected with ic, shifted by (du, dv) pixels,
 * and img is sampled there. Pixels whose sample falls within `margin` pixels of img's border
 * are skipped; `step` subsamples the reference pixels. */
static double reprojected_psnr(const uint8_t *ref, const cls_camera *rc, const uint8_t *img, const cls_camera *ic,
                               double du, double dv, double margin, uint32_t step, double *covered)
{
    double se = 0.0;
    size_t n = 0;
    for (uint32_t y = 0; y < rc->height; y += step)
        for (uint32_t x = 0; x < rc->width; x += step) {
            double xn = (x + 0.5 - rc->cx) / rc->fx, yn = (y + 0.5 - rc->cy) / rc->fy;
            double u = ic->fx * xn + ic->cx + du, v = ic->fy * yn + ic->cy + dv;
            if (u < 0.5 + margin || u > ic->width - 0.5 - margin || v < 0.5 + margin || v > ic->height - 0.5 - margin)
                continue;
            for (int c = 0; c < 3; c++) {
                double d = bilinear_u8(img, ic->width, ic->height, u, v, c) - ref[((size_t)y * rc->width + x) * 3 + (size_t)c];
                se += d * d;
            }
            n++;
        }
    if (covered != NULL)
        *covered = (double)n * step * step / ((double)rc->width * rc->height);
    ck_assert_uint_gt(n, 0);
    return 10.0 * log10(255.0 * 255.0 / (se / (3.0 * (double)n)));
}

/* The best PSNR over image shifts (du, dv) within +-range pixels (coarse to fine), for two
 * calibrations of one lens whose camera frames differ by a small rotation: to first order a
 * shift of the image. */
static double shifted_psnr(const uint8_t *ref, const cls_camera *rc, const uint8_t *img, const cls_camera *ic,
                           double range, double margin, double *du, double *dv)
{
    double best = -1e9, bu = 0.0, bv = 0.0;
    for (double step = 2.0; step >= 0.124; step /= 4.0) {
        double cu = bu, cv = bv, lim = step == 2.0 ? range : 2.0 * step * 2.0;
        for (double v = cv - lim; v <= cv + lim + 1e-9; v += step)
            for (double u = cu - lim; u <= cu + lim + 1e-9; u += step) {
                double q = reprojected_psnr(ref, rc, img, ic, u, v, margin + range, 4, NULL);
                if (q > best) {
                    best = q;
                    bu = u;
                    bv = v;
                }
            }
    }
    *du = bu;
    *dv = bv;
    return reprojected_psnr(ref, rc, img, ic, bu, bv, margin + range, 1, NULL);
}

static void camera_centre(const cls_camera *c, double out[3])
{
    for (int i = 0; i < 3; i++) {
        out[i] = 0.0;
        for (int k = 0; k < 3; k++)
            out[i] -= (double)c->rotation[k * 3 + i] * c->translation[k];
    }
}

/* ---- fox_undistorted: PINHOLE COLMAP at downscale 2 ------------------------------------ */

START_TEST(test_fox_undistorted)
{
    char path[4096];
    cls__dataset *d;
    cls_camera cam, all_cam;
    const uint8_t *rgb;
    const char *name, *all_name;
    const float *xyz;
    const uint8_t *prgb;
    size_t npoints, colourful = 0;
    float centre[3], radius;
    double far = 0.0;
    uint8_t *ref8;
    float *ref = NULL;
    uint32_t rw, rh;
    int rc;
    cls_error err;
#if HEAP_MEASURABLE
    size_t heap_before, heap_after;
#endif
    if (!have_data())
        return;
#if HEAP_MEASURABLE
    heap_before = heap_in_use();
#endif
    d = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "fox_undistorted"),
                   &(cls_dataset_desc){.downscale = 2, .eval = 1}, "fox_undistorted/2");
#if HEAP_MEASURABLE
    heap_after = heap_in_use();
#endif
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_ALL), 67);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TEST), 9);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TRAIN), 58);
    /* 8-bit storage: exactly the pixels, nothing else kept per image. */
    ck_assert_uint_eq(cls__dataset_image_bytes(d), (size_t)67 * 269 * 480 * 3);
#if HEAP_MEASURABLE
    /* And the heap agrees: what the dataset holds is the images plus a little (points, names). */
    ck_assert_msg(heap_after - heap_before < (size_t)67 * 269 * 480 * 3 + ((size_t)1 << 20),
                  "the dataset holds %zu heap bytes for %zu bytes of images", heap_after - heap_before,
                  (size_t)67 * 269 * 480 * 3);
    printf("fox_undistorted/2: %zu heap bytes held, %zu of them image pixels\n", heap_after - heap_before,
           (size_t)67 * 269 * 480 * 3);
#endif
    for (size_t i = 0; i < 67; i++) {
        view(d, CLS_SPLIT_ALL, i, &cam, &rgb, &name);
        ck_assert_uint_eq(cam.width, 269);
        ck_assert_uint_eq(cam.height, 480);
        ck_assert_double_eq_tol(cam.fx, 697.256 * 269.0 / 538.0, 1e-3);
        ck_assert_double_eq_tol(cam.fy, 697.127 * 480.0 / 960.0, 1e-3);
        ck_assert_double_eq_tol(cam.cx, 269.0 * 0.5, 1e-4);
        ck_assert_double_eq_tol(cam.cy, 240.0, 1e-4);
        ck_assert_ptr_nonnull(rgb);
        if (i > 0) {
            const char *prev;
            view(d, CLS_SPLIT_ALL, i - 1, NULL, NULL, &prev);
            ck_assert_int_lt(strcmp(prev, name), 0);
        }
    }
    /* The test split is every 8th view of the sorted list; the train split the rest. */
    for (size_t i = 0; i < 9; i++) {
        view(d, CLS_SPLIT_TEST, i, &cam, NULL, &name);
        view(d, CLS_SPLIT_ALL, 8 * i, &all_cam, NULL, &all_name);
        ck_assert_str_eq(name, all_name);
        ck_assert_mem_eq(&cam, &all_cam, sizeof cam);
    }
    view(d, CLS_SPLIT_TRAIN, 0, NULL, NULL, &name);
    view(d, CLS_SPLIT_ALL, 1, NULL, NULL, &all_name);
    ck_assert_str_eq(name, all_name);
    view(d, CLS_SPLIT_TRAIN, 57, NULL, NULL, &name);
    view(d, CLS_SPLIT_ALL, 66, NULL, NULL, &all_name);
    ck_assert_str_eq(name, all_name);
    EXPECT(cls__dataset_view(d, CLS_SPLIT_TEST, 9, &cam, NULL, NULL, &err), err, CLS_ERROR_INVALID_ARGUMENT,
           "test split");

    /* SfM points with colours. */
    cls__dataset_points(d, &xyz, &prgb, &npoints);
    ck_assert_uint_eq(npoints, 18053);
    for (size_t i = 0; i < npoints; i++) {
        for (int k = 0; k < 3; k++)
            ck_assert(isfinite(xyz[3 * i + (size_t)k]) && fabsf(xyz[3 * i + (size_t)k]) < 1e3f);
        colourful += prgb[3 * i] != prgb[3 * i + 1] || prgb[3 * i + 1] != prgb[3 * i + 2];
    }
    ck_assert_uint_gt(colourful, npoints / 2);

    /* Extent: 1.1 x the largest distance of a training camera from their mean. */
    cls__dataset_extent(d, centre, &radius);
    for (size_t i = 0; i < 58; i++) {
        double c[3], d2 = 0.0;
        view(d, CLS_SPLIT_TRAIN, i, &cam, NULL, NULL);
        camera_centre(&cam, c);
        for (int k = 0; k < 3; k++)
            d2 += (c[k] - centre[k]) * (c[k] - centre[k]);
        far = fmax(far, sqrt(d2));
    }
    printf("fox_undistorted extent: centre (%.3f, %.3f, %.3f), radius %.3f\n", centre[0], centre[1], centre[2],
           radius);
    ck_assert(radius > 0.0f && isfinite(radius));
    ck_assert_double_eq_tol(radius, 1.1 * far, 1e-4 * far);

    /* Downscale 2 of an even size is an exact 2x2 box: compare view 0 with one made here. */
    view(d, CLS_SPLIT_ALL, 0, &cam, &rgb, &name);
    OK(cls_image_read(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "fox_undistorted/images/0001.jpg"), &ref, &rw,
                      &rh, &rc, &err),
       err);
    ck_assert_str_eq(name, "0001.jpg");
    ck_assert_uint_eq(rw, 538);
    ck_assert_uint_eq(rh, 960);
    ref8 = malloc((size_t)269 * 480 * 3);
    ck_assert_ptr_nonnull(ref8);
    for (uint32_t y = 0; y < 480; y++)
        for (uint32_t x = 0; x < 269; x++)
            for (int c = 0; c < 3; c++) {
                long sum = 0;
                for (int q = 0; q < 4; q++)
                    sum += lround(255.0 * ref[(((size_t)(2 * y + (uint32_t)(q >> 1))) * rw + 2 * x + (uint32_t)(q & 1)) * 3 + (size_t)c]);
                ref8[((size_t)y * 269 + x) * 3 + (size_t)c] = (uint8_t)((sum + 2) / 4);
            }
    ck_assert_mem_eq(rgb, ref8, (size_t)269 * 480 * 3);
    free(ref8);
    free(ref);
    cls__dataset_destroy(d);
}
END_TEST

/* A binary model elsewhere, its images given by desc.images, and malformed points3D.bin files. */
START_TEST(test_points_bin)
{
    char dir[4096], p[4096], src[4096], images[4096];
    uint8_t *data, *cut;
    size_t size;
    FILE *fp;
    cls__dataset *d = NULL;
    cls_error err;
    const float *xyz;
    size_t n;
    if (!have_data())
        return;
    fixture_dir(dir, sizeof dir, "ds_points_bin");
    path2(images, sizeof images, CLS_SHARED_DATA_DIR, "maupertuis/images");
    for (int i = 0; i < 3; i++) {
        static const char *const files[] = {"cameras.bin", "images.bin", "points3D.bin"};
        char rel[128];
        snprintf(rel, sizeof rel, "maupertuis/sparse_bin/0/%s", files[i]);
        path2(src, sizeof src, CLS_SHARED_DATA_DIR, rel);
        fp = fopen(src, "rb");
        ck_assert_ptr_nonnull(fp);
        ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
        size = (size_t)ftell(fp);
        rewind(fp);
        data = malloc(size);
        ck_assert_ptr_nonnull(data);
        ck_assert_uint_eq(fread(data, 1, size, fp), size);
        fclose(fp);
        path2(p, sizeof p, dir, files[i]);
        if (i < 2) {
            fp = fopen(p, "wb");
            ck_assert_uint_eq(fwrite(data, 1, size, fp), size);
            fclose(fp);
            free(data);
            continue;
        }
        /* Truncated in the last track. */
        fp = fopen(p, "wb");
        ck_assert_uint_eq(fwrite(data, 1, size - 5, fp), size - 5);
        fclose(fp);
        EXPECT(cls__dataset_load(dir, &(cls_dataset_desc){.images = images}, &d, &err), err, CLS_ERROR_FORMAT,
               "points3D.bin: truncated");
        /* A count the file cannot hold. */
        cut = malloc(size);
        ck_assert_ptr_nonnull(cut);
        memcpy(cut, data, size);
        cut[7] = 0x7f;
        fp = fopen(p, "wb");
        ck_assert_uint_eq(fwrite(cut, 1, size, fp), size);
        fclose(fp);
        free(cut);
        EXPECT(cls__dataset_load(dir, &(cls_dataset_desc){.images = images}, &d, &err), err, CLS_ERROR_FORMAT,
               "has room for at most");
        /* The images folder cannot be guessed here. */
        EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_IO, "no images folder");
        /* Intact, and then without a points3D file: no points. */
        fp = fopen(p, "wb");
        ck_assert_uint_eq(fwrite(data, 1, size, fp), size);
        fclose(fp);
        free(data);
        OK(cls__dataset_load(dir, &(cls_dataset_desc){.images = images, .downscale = 8}, &d, &err), err);
        cls__dataset_points(d, &xyz, NULL, &n);
        ck_assert_uint_eq(n, 1039);
        cls__dataset_destroy(d);
        ck_assert_int_eq(remove(p), 0);
        OK(cls__dataset_load(dir, &(cls_dataset_desc){.images = images, .downscale = 8}, &d, &err), err);
        cls__dataset_points(d, &xyz, NULL, &n);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(xyz);
        ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_ALL), 4);
        cls__dataset_destroy(d);
    }
}
END_TEST

START_TEST(test_max_width)
{
    char path[4096];
    cls__dataset *d;
    cls_camera cam;
    if (!have_data())
        return;
    d = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "fox_undistorted"),
                   &(cls_dataset_desc){.max_width = 200}, "fox_undistorted max_width 200");
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_ALL), 67);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TRAIN), 67); /* no eval: every view trains */
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TEST), 0);
    view(d, CLS_SPLIT_ALL, 5, &cam, NULL, NULL);
    ck_assert_uint_eq(cam.width, 200);
    ck_assert_uint_eq(cam.height, 357); /* round(960 * 200 / 538) = round(356.88) */
    ck_assert_double_eq_tol(cam.fx, 697.256 * 200.0 / 538.0, 1e-3);
    ck_assert_double_eq_tol(cam.fy, 697.127 * 357.0 / 960.0, 1e-3);
    ck_assert_double_eq_tol(cam.cx, 269.0 * 200.0 / 538.0, 1e-4);
    ck_assert_double_eq_tol(cam.cy, 480.0 * 357.0 / 960.0, 1e-4);
    ck_assert_uint_eq(cls__dataset_image_bytes(d), (size_t)67 * 200 * 357 * 3);
    cls__dataset_destroy(d);
}
END_TEST

/* ---- fox: OPENCV, undistorted on load, against COLMAP's undistortion ------------------- */

/* A 2x2 box of a float image read with cls_image_read, to 8 bits: the raw photo at half size. */
static uint8_t *raw_half(const char *file, uint32_t *w, uint32_t *h)
{
    float *px = NULL;
    uint32_t fw, fh;
    int ch;
    cls_error err;
    uint8_t *out;
    OK(cls_image_read(file, &px, &fw, &fh, &ch, &err), err);
    *w = fw / 2;
    *h = fh / 2;
    out = malloc((size_t)*w * *h * 3);
    ck_assert_ptr_nonnull(out);
    for (uint32_t y = 0; y < *h; y++)
        for (uint32_t x = 0; x < *w; x++)
            for (int c = 0; c < 3; c++) {
                double s = 0.0;
                for (int q = 0; q < 4; q++)
                    s += px[(((size_t)(2 * y + (uint32_t)(q >> 1))) * fw + 2 * x + (uint32_t)(q & 1)) * (size_t)ch + (size_t)c];
                out[((size_t)y * *w + x) * 3 + (size_t)c] = (uint8_t)lround(s / 4.0 * 255.0);
            }
    free(px);
    return out;
}

/* Compares views of `d` (fox, undistorted by us) with COLMAP's undistortion `ref` (fox_undistorted
 * at full size), by view index, and with the raw photos sampled as if they were pinhole. With
 * `shift`, each comparison takes the best image shift (another calibration of the lens). */
static void compare_with_colmap(const cls__dataset *d, const cls__dataset *ref, const char *what, int shift,
                                double min_psnr, double min_gain)
{
    static const size_t picks[] = {0, 17, 33, 50, 66};
    double worst = 1e9, worst_gain = 1e9;
    for (size_t k = 0; k < sizeof picks / sizeof picks[0]; k++) {
        char file[4096], rel[256];
        cls_camera cam, rcam;
        const uint8_t *img, *rimg;
        const char *name, *rname;
        uint8_t *raw;
        uint32_t w, h;
        double psnr, raw_psnr, covered, du = 0.0, dv = 0.0, rdu = 0.0, rdv = 0.0;
        view(d, CLS_SPLIT_ALL, picks[k], &cam, &img, &name);
        view(ref, CLS_SPLIT_ALL, picks[k], &rcam, &rimg, &rname);
        ck_assert_str_eq(basename_of(name), rname);
        snprintf(rel, sizeof rel, "fox/images/%s", rname);
        raw = raw_half(path2(file, sizeof file, CLS_SHARED_DATA_DIR, rel), &w, &h);
        ck_assert_uint_eq(w, cam.width);
        ck_assert_uint_eq(h, cam.height);
        if (shift) {
            psnr = shifted_psnr(rimg, &rcam, img, &cam, 12.0, 1.0, &du, &dv);
            raw_psnr = shifted_psnr(rimg, &rcam, raw, &cam, 12.0, 1.0, &rdu, &rdv);
            reprojected_psnr(rimg, &rcam, img, &cam, du, dv, 13.0, 1, &covered);
        } else {
            psnr = reprojected_psnr(rimg, &rcam, img, &cam, 0.0, 0.0, 1.0, 1, &covered);
            raw_psnr = reprojected_psnr(rimg, &rcam, raw, &cam, 0.0, 0.0, 1.0, 1, NULL);
        }
        free(raw);
        printf("%s view %s: PSNR vs COLMAP's undistortion %.2f dB (shift %.3f, %.3f px; %.1f%% of its pixels), "
               "raw photo as pinhole %.2f dB (shift %.3f, %.3f px)\n",
               what, rname, psnr, du, dv, 100.0 * covered, raw_psnr, rdu, rdv);
        worst = fmin(worst, psnr);
        worst_gain = fmin(worst_gain, psnr - raw_psnr);
    }
    printf("%s: worst PSNR %.2f dB (bound %.1f), worst gain over no undistortion %.2f dB (bound %.1f)\n", what, worst,
           min_psnr, worst_gain, min_gain);
    fflush(stdout);
    ck_assert_double_ge(worst, min_psnr);
    ck_assert_double_ge(worst_gain, min_gain);
}

START_TEST(test_fox_opencv)
{
    char path[4096];
    cls__dataset *d, *ref;
    cls_camera cam;
    const float *xyz;
    size_t npoints;
    if (!have_data())
        return;
    d = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "fox"), &(cls_dataset_desc){.downscale = 2},
                   "fox (OPENCV)/2");
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_ALL), 67);
    view(d, CLS_SPLIT_ALL, 0, &cam, NULL, NULL);
    ck_assert_uint_eq(cam.width, 540);
    ck_assert_uint_eq(cam.height, 960);
    ck_assert_double_eq_tol(cam.fx, 1375.07 / 2, 0.01);
    ck_assert_double_eq_tol(cam.fy, 1374.65 / 2, 0.01);
    ck_assert_double_eq_tol(cam.cx, 270.0, 1e-3);
    ck_assert_double_eq_tol(cam.cy, 480.0, 1e-3);
    cls__dataset_points(d, &xyz, NULL, &npoints);
    ck_assert_uint_eq(npoints, 18053);
    ref = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "fox_undistorted"), NULL, "fox_undistorted/1");
    /* Bound: the same photos through the same calibration, so what differs is COLMAP's JPEG
     * re-encoding, its resampling (another focal length and size: 538 vs 540 wide, then our
     * bilinear reprojection) and 8-bit rounding; measured 44.6-45.8 dB, bound 40 dB. The raw
     * photos sampled as if pinhole are off by up to ~5 px at the borders: measured 26.7-30.0
     * dB, at least 15.8 dB lower; bound 10 dB. */
    compare_with_colmap(d, ref, "fox/2 (COLMAP OPENCV)", 0, 40.0, 10.0);
    cls__dataset_destroy(ref);
    cls__dataset_destroy(d);
}
END_TEST

START_TEST(test_fox_transforms)
{
    char path[4096];
    cls__dataset *d, *ref;
    cls_camera cam;
    size_t npoints;
    const char *name;
    if (!have_data())
        return;
    d = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "fox/transforms.json"),
                   &(cls_dataset_desc){.downscale = 2}, "fox transforms.json/2");
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_ALL), 67);
    view(d, CLS_SPLIT_ALL, 0, &cam, NULL, &name);
    ck_assert_str_eq(name, "images/0001.jpg");
    ck_assert_uint_eq(cam.width, 540);
    ck_assert_uint_eq(cam.height, 960);
    ck_assert_double_eq_tol(cam.fx, 1375.52 / 2, 0.01);
    ck_assert_double_eq_tol(cam.cx, 554.558 / 2, 1e-3);
    cls__dataset_points(d, NULL, NULL, &npoints);
    ck_assert_uint_eq(npoints, 0);
    ref = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "fox_undistorted"), NULL, "fox_undistorted/1");
    /* instant-ngp's own calibration of the same lens: its principal point is (14.6, 5.3) px
     * from COLMAP's, which turns the camera frame by ~0.6 degrees, to first order an image
     * shift, so each comparison takes the best shift (found: about (-7.6, -2.8) px at half size,
     * the principal-point difference). Measured 38.5-39.9 dB, bound 34 dB (k1 k2 p1 p2 differ
     * a little from COLMAP's); the raw photos, also at their best shift: 26.7-30.2 dB, at
     * least 9.6 dB lower; bound 6 dB. */
    compare_with_colmap(d, ref, "fox/2 (transforms.json)", 1, 34.0, 6.0);
    cls__dataset_destroy(ref);
    cls__dataset_destroy(d);
}
END_TEST

/* ---- lego: Blender, RGBA on white ------------------------------------------------------ */

START_TEST(test_lego)
{
    char path[4096];
    cls__dataset *d;
    cls_camera cam;
    const uint8_t *rgb;
    const char *name;
    size_t npoints = 1;
    const float *xyz = (const float *)1;
    size_t grey = 0;
    if (!have_data())
        return;
    d = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "lego"),
                   &(cls_dataset_desc){.downscale = 4, .background = {1.0f, 1.0f, 1.0f}}, "lego/4");
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_ALL), 100);
    ck_assert_uint_eq(cls__dataset_image_bytes(d), (size_t)100 * 200 * 200 * 3);
    for (size_t i = 0; i < 100; i++) {
        view(d, CLS_SPLIT_ALL, i, &cam, &rgb, &name);
        ck_assert_uint_eq(cam.width, 200);
        ck_assert_uint_eq(cam.height, 200);
        ck_assert_double_eq_tol(cam.fx, 0.5 * 800 / tan(0.5 * 0.6911112070083618) / 4, 1e-3);
        ck_assert_double_eq_tol(cam.cx, 100.0, 1e-4);
        /* Corners are transparent in every Blender render: exactly the white background. */
        ck_assert_uint_eq(rgb[0], 255);
        ck_assert_uint_eq(rgb[1], 255);
        ck_assert_uint_eq(rgb[2], 255);
        ck_assert_uint_eq(rgb[(200 * 200 - 1) * 3], 255);
        /* The centre holds the model: not all white. */
        grey += rgb[(100 * 200 + 100) * 3] != 255 || rgb[(100 * 200 + 100) * 3 + 1] != 255;
    }
    ck_assert_uint_gt(grey, 50);
    view(d, CLS_SPLIT_ALL, 0, NULL, NULL, &name);
    ck_assert_str_eq(name, "./train/r_0.png");
    cls__dataset_points(d, &xyz, NULL, &npoints);
    ck_assert_uint_eq(npoints, 0);
    ck_assert_ptr_null(xyz);
    cls__dataset_destroy(d);
}
END_TEST

/* ---- maupertuis: text and binary models agree ------------------------------------------ */

START_TEST(test_maupertuis)
{
    char path[4096];
    cls__dataset *txt, *bin, *one;
    const float *xyz_t, *xyz_b;
    const uint8_t *rgb_t, *rgb_b;
    size_t n_t, n_b;
    float ct[3], cb[3], rt, rb;
    if (!have_data())
        return;
    txt = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "maupertuis"), NULL, "maupertuis (text)");
    bin = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "maupertuis/sparse_bin/0"), NULL,
                     "maupertuis (binary)");
    one = load_timed(path2(path, sizeof path, CLS_SHARED_DATA_DIR, "maupertuis/sparse_bin/0"),
                     &(cls_dataset_desc){.threads = 1}, "maupertuis (binary, 1 thread)");
    ck_assert_uint_eq(cls__dataset_count(txt, CLS_SPLIT_ALL), 4);
    ck_assert_uint_eq(cls__dataset_count(bin, CLS_SPLIT_ALL), 4);
    for (size_t i = 0; i < 4; i++) {
        cls_camera a, b, c;
        const uint8_t *ia, *ib, *ic;
        const char *na, *nb;
        view(txt, CLS_SPLIT_ALL, i, &a, &ia, &na);
        view(bin, CLS_SPLIT_ALL, i, &b, &ib, &nb);
        view(one, CLS_SPLIT_ALL, i, &c, &ic, NULL);
        ck_assert_str_eq(na, nb);
        ck_assert_uint_eq(a.width, 1919);
        ck_assert_uint_eq(a.height, 1079);
        ck_assert_uint_eq(b.width, a.width);
        ck_assert_uint_eq(b.height, a.height);
        ck_assert_double_eq_tol(a.fx, 1847.53, 0.01);
        ck_assert_double_eq_tol(a.fx, b.fx, 1e-3);
        ck_assert_double_eq_tol(a.cx, b.cx, 1e-4);
        for (int k = 0; k < 9; k++)
            ck_assert_double_eq_tol(a.rotation[k], b.rotation[k], 1e-6);
        for (int k = 0; k < 3; k++)
            ck_assert_double_eq_tol(a.translation[k], b.translation[k], 1e-5);
        ck_assert_mem_eq(ia, ib, (size_t)a.width * a.height * 3);
        ck_assert_mem_eq(ib, ic, (size_t)a.width * a.height * 3); /* threads do not change a byte */
    }
    cls__dataset_points(txt, &xyz_t, &rgb_t, &n_t);
    cls__dataset_points(bin, &xyz_b, &rgb_b, &n_b);
    ck_assert_uint_eq(n_t, 1039);
    ck_assert_uint_eq(n_b, 1039);
    for (size_t i = 0; i < 3 * n_t; i++)
        ck_assert_double_eq_tol(xyz_t[i], xyz_b[i], 1e-4 * fmax(1.0, fabs(xyz_t[i])));
    ck_assert_mem_eq(rgb_t, rgb_b, 3 * n_t);
    cls__dataset_extent(txt, ct, &rt);
    cls__dataset_extent(bin, cb, &rb);
    ck_assert_double_eq_tol(rt, rb, 1e-4);
    ck_assert(rt > 1.0f && rt < 20.0f); /* centres within ~[-3.5, 9.6] x [-2.7, 2.3] x [-0.3, 2.7] */
    cls__dataset_destroy(one);
    cls__dataset_destroy(bin);
    cls__dataset_destroy(txt);
}
END_TEST

/* ---- small fixtures -------------------------------------------------------------------- */

/* A scene folder with images/ and a text COLMAP model in sparse/0. */
static void colmap_fixture(char *dir, size_t size, const char *name, const char *cameras_txt, const char *images_txt)
{
    char p[4096];
    fixture_dir(dir, size, name);
    mkdir_p(path2(p, sizeof p, dir, "images"));
    mkdir_p(path2(p, sizeof p, dir, "sparse/0"));
    write_text(path2(p, sizeof p, dir, "sparse/0/cameras.txt"), cameras_txt);
    write_text(path2(p, sizeof p, dir, "sparse/0/images.txt"), images_txt);
}

static const char *const two_images = "# two images\n"
                                      "1 1 0 0 0 0 0 0 1 a.png\n\n"
                                      "2 1 0 0 0 1 0 0 1 b.png\n\n";

START_TEST(test_malformed)
{
    char dir[4096], p[4096];
    cls__dataset *d = (cls__dataset *)&d;
    cls_error err;
    cls_camera_set set;

    /* A missing image: named, with its camera. */
    colmap_fixture(dir, sizeof dir, "ds_missing", "1 PINHOLE 8 6 10 10 4 3\n", two_images);
    write_gradient_png(path2(p, sizeof p, dir, "images/a.png"), 8, 6);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_IO, "images/b.png");
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err.message, "camera 1 of"));
    ck_assert_ptr_nonnull(strstr(err.message, "view 'b.png'"));

    /* An image whose size is not its camera's. */
    write_gradient_png(path2(p, sizeof p, dir, "images/b.png"), 10, 6);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_FORMAT, "the image is 10x6");
    ck_assert_ptr_nonnull(strstr(err.message, "is 8x6"));
    ck_assert_ptr_nonnull(strstr(err.message, "b.png"));

    /* An unreadable image. */
    write_text(path2(p, sizeof p, dir, "images/b.png"), "not an image at all");
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_FORMAT, "not a PNG or JPEG");
    ck_assert_ptr_nonnull(strstr(err.message, "view 'b.png'"));

    /* Now valid: loads; with eval, view 0 is held out. */
    write_gradient_png(path2(p, sizeof p, dir, "images/b.png"), 8, 6);
    OK(cls__dataset_load(dir, &(cls_dataset_desc){.eval = 1}, &d, &err), err);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TEST), 1);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TRAIN), 1);
    cls__dataset_destroy(d);

    /* An empty images folder: the first missing image is named. */
    colmap_fixture(dir, sizeof dir, "ds_empty_images", "1 PINHOLE 8 6 10 10 4 3\n", two_images);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_IO, "images/a.png");
    ck_assert_ptr_nonnull(strstr(err.message, "No such file"));

    /* No images folder at all. */
    path2(p, sizeof p, dir, "images");
    ck_assert_int_eq(rmdir(p), 0);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_IO, "no images folder");

    /* A model without images. */
    colmap_fixture(dir, sizeof dir, "ds_no_views", "1 PINHOLE 8 6 10 10 4 3\n", "# nothing\n");
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_FORMAT, "no images");

    /* Fisheye models: UNSUPPORTED naming the model. */
    colmap_fixture(dir, sizeof dir, "ds_fisheye", "1 OPENCV_FISHEYE 8 6 10 10 4 3 0.1 0.01 0 0\n", two_images);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_UNSUPPORTED, "OPENCV_FISHEYE");
    colmap_fixture(dir, sizeof dir, "ds_fov", "1 FOV 8 6 10 10 4 3 0.9\n", two_images);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_UNSUPPORTED, "FOV model");
    colmap_fixture(dir, sizeof dir, "ds_full", "1 FULL_OPENCV 8 6 10 10 4 3 0 0 0 0 0 0 0 0\n", two_images);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_UNSUPPORTED, "FULL_OPENCV");

    /* cls_cameras_load still refuses distorted models (the renderer is pinhole). */
    colmap_fixture(dir, sizeof dir, "ds_radial", "1 SIMPLE_RADIAL 8 6 10 4 3 0.1\n", two_images);
    EXPECT(cls_cameras_load(dir, &set, &err), err, CLS_ERROR_UNSUPPORTED, "SIMPLE_RADIAL model");

    /* Eval with a single view leaves nothing to train on. */
    colmap_fixture(dir, sizeof dir, "ds_single", "1 PINHOLE 8 6 10 10 4 3\n", "1 1 0 0 0 0 0 0 1 a.png\n\n");
    write_gradient_png(path2(p, sizeof p, dir, "images/a.png"), 8, 6);
    EXPECT(cls__dataset_load(dir, &(cls_dataset_desc){.eval = 1}, &d, &err), err, CLS_ERROR_INVALID_ARGUMENT,
           "nothing is left to train on");
    /* Without eval: one camera, extent radius from the fallback distance 1. */
    OK(cls__dataset_load(dir, NULL, &d, &err), err);
    {
        float c[3], r;
        cls__dataset_extent(d, c, &r);
        ck_assert_float_eq_tol(r, 1.1f, 1e-6f);
    }
    cls__dataset_destroy(d);

    /* A bad description. */
    EXPECT(cls__dataset_load(dir, &(cls_dataset_desc){.background = {2.0f, 0, 0}}, &d, &err), err,
           CLS_ERROR_INVALID_ARGUMENT, "background[0]");
    EXPECT(cls__dataset_load(NULL, NULL, &d, &err), err, CLS_ERROR_INVALID_ARGUMENT, "path is NULL");

    /* A bad points3D.txt. */
    write_text(path2(p, sizeof p, dir, "sparse/0/points3D.txt"), "# points\n1 0 0 1 10 20 30 0.5 1 0\n2 0 nan 1 1 2 3 0\n");
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_FORMAT, "points3D.txt:3: point 2");
    write_text(path2(p, sizeof p, dir, "sparse/0/points3D.txt"), "1 0 0 1 10 20 300 0.5\n");
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_FORMAT, "colour '300'");
    write_text(path2(p, sizeof p, dir, "sparse/0/points3D.txt"), "1 0.5 -2 1 10 20 30 0.5 1 0 1 1\n7 1 2 3 4 5 6 0\n");
    OK(cls__dataset_load(dir, NULL, &d, &err), err);
    {
        const float *xyz;
        const uint8_t *rgb;
        size_t n;
        cls__dataset_points(d, &xyz, &rgb, &n);
        ck_assert_uint_eq(n, 2);
        ck_assert_float_eq(xyz[0], 0.5f);
        ck_assert_float_eq(xyz[1], -2.0f);
        ck_assert_float_eq(xyz[5], 3.0f);
        ck_assert_uint_eq(rgb[2], 30);
        ck_assert_uint_eq(rgb[5], 6);
    }
    cls__dataset_destroy(d);
}
END_TEST

#define FRAME_FMT "{\"file_path\": \"%s\", \"transform_matrix\": [[1,0,0,%d],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}"

/* A transforms JSON with the given frames (file paths) and top-level extra keys. */
static void write_transforms(const char *path, const char *extra, const char *const *files, int n)
{
    char text[8192];
    size_t len = 0;
    len += (size_t)snprintf(text + len, sizeof text - len, "{\"fl_x\": 10, \"w\": 8, \"h\": 6%s%s, \"frames\": [",
                            extra[0] ? ", " : "", extra);
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(text + len, sizeof text - len, i ? ", " : "");
        len += (size_t)snprintf(text + len, sizeof text - len, FRAME_FMT, files[i], i);
    }
    snprintf(text + len, sizeof text - len, "]}\n");
    write_text(path, text);
}

START_TEST(test_transforms_malformed)
{
    static const char *const files[] = {"a.png", "sub/b.png"};
    char dir[4096], p[4096];
    cls__dataset *d = NULL;
    cls_error err;

    /* Frames whose files are missing: the file and the frame are named. */
    fixture_dir(dir, sizeof dir, "ds_nerf");
    write_transforms(path2(p, sizeof p, dir, "transforms.json"), "", files, 2);
    write_gradient_png(path2(p, sizeof p, dir, "a.png"), 8, 6);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_IO, "sub/b.png");
    ck_assert_ptr_nonnull(strstr(err.message, "frame 1 of"));
    ck_assert_ptr_nonnull(strstr(err.message, "transforms.json"));

    /* A fisheye coefficient, and a fisheye camera_model. */
    write_transforms(path2(p, sizeof p, dir, "transforms.json"), "\"k1\": 0.1, \"k4\": 0.01", files, 1);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_UNSUPPORTED, "\"k4\"");
    write_transforms(path2(p, sizeof p, dir, "transforms.json"), "\"camera_model\": \"OPENCV_FISHEYE\"", files, 1);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_UNSUPPORTED, "OPENCV_FISHEYE");
    write_transforms(path2(p, sizeof p, dir, "transforms.json"), "\"k1\": \"big\"", files, 1);
    EXPECT(cls__dataset_load(dir, NULL, &d, &err), err, CLS_ERROR_FORMAT, "\"k1\"");

    /* An INRIA cameras.json has no image paths. */
    write_text(path2(p, sizeof p, dir, "cam.json"),
               "[{\"id\": 0, \"img_name\": \"a\", \"width\": 8, \"height\": 6, \"position\": [0,0,0], "
               "\"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fx\": 10, \"fy\": 10}]");
    EXPECT(cls__dataset_load(p, NULL, &d, &err), err, CLS_ERROR_INVALID_ARGUMENT, "cameras.json");
    ck_assert_ptr_null(d);
}
END_TEST

/* A Blender scene with transforms_test.json: the test split with eval, merged without. */
START_TEST(test_blender_test_file)
{
    static const char *const train[] = {"./train/r_1", "./train/r_0"};
    static const char *const test[] = {"./test/r_0"};
    char dir[4096], p[4096];
    cls__dataset *d;
    cls_error err;
    const char *name;
    fixture_dir(dir, sizeof dir, "ds_blender");
    mkdir_p(path2(p, sizeof p, dir, "train"));
    mkdir_p(path2(p, sizeof p, dir, "test"));
    write_transforms(path2(p, sizeof p, dir, "transforms_train.json"), "", train, 2);
    write_transforms(path2(p, sizeof p, dir, "transforms_test.json"), "", test, 1);
    write_gradient_png(path2(p, sizeof p, dir, "train/r_0.png"), 8, 6);
    write_gradient_png(path2(p, sizeof p, dir, "train/r_1.png"), 8, 6);
    write_gradient_png(path2(p, sizeof p, dir, "test/r_0.png"), 8, 6);
    OK(cls__dataset_load(dir, &(cls_dataset_desc){.eval = 1}, &d, &err), err);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_ALL), 3);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TRAIN), 2);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TEST), 1);
    view(d, CLS_SPLIT_TRAIN, 0, NULL, NULL, &name);
    ck_assert_str_eq(name, "./train/r_0.png");
    view(d, CLS_SPLIT_TEST, 0, NULL, NULL, &name);
    ck_assert_str_eq(name, "./test/r_0.png");
    cls__dataset_destroy(d);
    OK(cls__dataset_load(path2(p, sizeof p, dir, "transforms_train.json"), NULL, &d, &err), err);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TRAIN), 3);
    ck_assert_uint_eq(cls__dataset_count(d, CLS_SPLIT_TEST), 0);
    cls__dataset_destroy(d);
}
END_TEST

/* RGBA compositing, exact 2x2 boxes, and a size that does not divide. */
START_TEST(test_resample)
{
    static const char *const one[] = {"img.png"};
    char dir[4096], p[4096];
    uint8_t px[5 * 3 * 4];
    cls__dataset *d;
    cls_camera cam;
    const uint8_t *rgb;
    cls_error err;
    fixture_dir(dir, sizeof dir, "ds_resample");
    for (int i = 0; i < 15; i++) {
        px[4 * i + 0] = (uint8_t)(i * 17);
        px[4 * i + 1] = (uint8_t)(255 - i * 17);
        px[4 * i + 2] = (uint8_t)(i % 2 ? 200 : 10);
        px[4 * i + 3] = (uint8_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 255 : 128);
    }
    write_png(path2(p, sizeof p, dir, "img.png"), px, 5, 3, 4);
    write_text(path2(p, sizeof p, dir, "transforms.json"),
               "{\"fl_x\": 10, \"cx\": 2.5, \"cy\": 1.5, \"frames\": [{\"file_path\": \"img.png\", "
               "\"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}");
    (void)one;
    /* Full size: composited exactly, c = rgb a + bg (1 - a), rounded once. */
    OK(cls__dataset_load(dir, &(cls_dataset_desc){.background = {0.2f, 0.4f, 1.0f}}, &d, &err), err);
    view(d, CLS_SPLIT_ALL, 0, &cam, &rgb, NULL);
    ck_assert_uint_eq(cam.width, 5);
    ck_assert_uint_eq(cam.height, 3);
    for (int i = 0; i < 15; i++)
        for (int c = 0; c < 3; c++) {
            double a = px[4 * i + 3] / 255.0, bg = (c == 0 ? 0.2 : c == 1 ? 0.4 : 1.0) * 255.0;
            double want = px[4 * i + c] * a + bg * (1.0 - a);
            ck_assert_msg(fabs(rgb[3 * i + c] - want) <= 0.5 + 1e-3, "pixel %d channel %d: %u, want %.3f", i, c,
                          rgb[3 * i + c], want);
        }
    cls__dataset_destroy(d);
    /* Downscale 2 of 5x3: floor((5 + 1) / 2) x floor((3 + 1) / 2) = 3x2; each output pixel is
     * the area mean over its footprint of 5/3 x 3/2 input pixels; intrinsics follow 3/5, 2/3. */
    OK(cls__dataset_load(dir, &(cls_dataset_desc){.downscale = 2}, &d, &err), err);
    view(d, CLS_SPLIT_ALL, 0, &cam, &rgb, NULL);
    ck_assert_uint_eq(cam.width, 3);
    ck_assert_uint_eq(cam.height, 2);
    ck_assert_float_eq_tol(cam.fx, 10.0f * 3 / 5, 1e-5f);
    ck_assert_float_eq_tol(cam.fy, 10.0f * 2 / 3, 1e-5f);
    ck_assert_float_eq_tol(cam.cx, 2.5f * 3 / 5, 1e-5f);
    ck_assert_float_eq_tol(cam.cy, 1.5f * 2 / 3, 1e-5f);
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 3; ox++)
            for (int c = 0; c < 3; c++) {
                double sum = 0.0, area = 0.0;
                for (int y = 0; y < 3; y++)
                    for (int x = 0; x < 5; x++) {
                        double wx = fmax(0.0, fmin(x + 1.0, (ox + 1) * 5.0 / 3) - fmax((double)x, ox * 5.0 / 3));
                        double wy = fmax(0.0, fmin(y + 1.0, (oy + 1) * 1.5) - fmax((double)y, oy * 1.5));
                        int i = y * 5 + x;
                        double a = px[4 * i + 3] / 255.0;
                        sum += wx * wy * (px[4 * i + c] * a); /* black background */
                        area += wx * wy;
                    }
                ck_assert_double_eq_tol(area, 2.5, 1e-9);
                ck_assert_msg(fabs(rgb[(oy * 3 + ox) * 3 + c] - sum / area) <= 0.5 + 1e-3,
                              "output (%d, %d) channel %d: %u, want %.3f", ox, oy, c, rgb[(oy * 3 + ox) * 3 + c],
                              sum / area);
            }
    cls__dataset_destroy(d);
    /* The size rule. */
    {
        uint32_t w, h;
        cls__dataset_output_size(1080, 1920, 8, 0, &w, &h);
        ck_assert_uint_eq(w, 135);
        ck_assert_uint_eq(h, 240);
        cls__dataset_output_size(1919, 1079, 4, 0, &w, &h);
        ck_assert_uint_eq(w, 480); /* floor(1921 / 4) */
        ck_assert_uint_eq(h, 270); /* floor(1081 / 4) */
        cls__dataset_output_size(3, 1, 8, 0, &w, &h);
        ck_assert_uint_eq(w, 1);
        ck_assert_uint_eq(h, 1);
        cls__dataset_output_size(1000, 500, 2, 100, &w, &h);
        ck_assert_uint_eq(w, 100);
        ck_assert_uint_eq(h, 50);
        cls__dataset_output_size(100, 50, 1, 200, &w, &h); /* never enlarged */
        ck_assert_uint_eq(w, 100);
        ck_assert_uint_eq(h, 50);
    }
}
END_TEST

/* Undistortion on a synthetic SIMPLE_RADIAL photo of a smooth pattern: the undistorted image
 * must show the pattern at pinhole positions; the opposite sign must not. */
static double pattern(double x, double y)
{
    return 127.5 + 100.0 * sin(9.0 * x) * cos(7.0 * y);
}

static double radial_fixture_error(double k_file)
{
    const uint32_t w = 96, h = 64;
    const double f = 80.0, cx = 48.0, cy = 32.0, k = 0.15;
    char dir[4096], p[4096], cams[128];
    uint8_t *px = malloc((size_t)w * h * 3);
    cls__dataset *d;
    cls_camera cam;
    const uint8_t *rgb;
    cls_error err;
    double se = 0.0;
    size_t n = 0;
    ck_assert_ptr_nonnull(px);
    /* The photo: pixel (u, v) sees the undistorted direction (x, y) with x (1 + k r^2) = x_d. */
    for (uint32_t v = 0; v < h; v++)
        for (uint32_t u = 0; u < w; u++) {
            double xd = (u + 0.5 - cx) / f, yd = (v + 0.5 - cy) / f, x = xd, y = yd;
            for (int it = 0; it < 50; it++) {
                double s = 1.0 + k * (x * x + y * y);
                x = xd / s;
                y = yd / s;
            }
            for (int c = 0; c < 3; c++)
                px[((size_t)v * w + u) * 3 + (size_t)c] = (uint8_t)lround(pattern(x, y));
        }
    snprintf(cams, sizeof cams, "1 SIMPLE_RADIAL %u %u %g %g %g %g\n", w, h, f, cx, cy, k_file);
    colmap_fixture(dir, sizeof dir, "ds_radial_pattern", cams, "1 1 0 0 0 0 0 0 1 a.png\n\n");
    write_png(path2(p, sizeof p, dir, "images/a.png"), px, w, h, 3);
    free(px);
    OK(cls__dataset_load(dir, NULL, &d, &err), err);
    view(d, CLS_SPLIT_ALL, 0, &cam, &rgb, NULL);
    ck_assert_uint_eq(cam.width, w);
    ck_assert_double_eq_tol(cam.fx, f, 1e-9);
    /* Compare in the middle, where the sampled input stays inside the photo. */
    for (uint32_t v = 12; v < h - 12; v++)
        for (uint32_t u = 16; u < w - 16; u++) {
            double x = (u + 0.5 - cx) / f, y = (v + 0.5 - cy) / f;
            double e = rgb[((size_t)v * w + u) * 3] - pattern(x, y);
            se += e * e;
            n++;
        }
    cls__dataset_destroy(d);
    return sqrt(se / (double)n);
}

START_TEST(test_undistort_direction)
{
    double right = radial_fixture_error(0.15), none = radial_fixture_error(0.0), wrong = radial_fixture_error(-0.15);
    printf("synthetic SIMPLE_RADIAL k=0.15: RMS error %.2f undistorted, %.2f not undistorted, %.2f with -k\n", right,
           none, wrong);
    ck_assert_double_lt(right, 2.0); /* bilinear resampling of a smooth pattern, 8-bit rounding */
    ck_assert_double_gt(none, 4.0 * right);
    ck_assert_double_gt(wrong, 4.0 * right);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *fixtures = tcase_create("fixtures"), *data = tcase_create("data");
    SRunner *sr;
    int failed;
    tcase_add_test(fixtures, test_malformed);
    tcase_add_test(fixtures, test_transforms_malformed);
    tcase_add_test(fixtures, test_blender_test_file);
    tcase_add_test(fixtures, test_resample);
    tcase_add_test(fixtures, test_undistort_direction);
    tcase_set_timeout(data, 600);
    tcase_add_test(data, test_fox_undistorted);
    tcase_add_test(data, test_max_width);
    tcase_add_test(data, test_points_bin);
    tcase_add_test(data, test_fox_opencv);
    tcase_add_test(data, test_fox_transforms);
    tcase_add_test(data, test_lego);
    tcase_add_test(data, test_maupertuis);
    suite_add_tcase(s, fixtures);
    suite_add_tcase(s, data);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
