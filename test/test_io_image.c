/* test_io_image.c - PNG and PFM writers, the PNG/JPEG decoder, and atomic writes of images.
 * Written PNGs are read back with libpng directly (no transformations) so the stored samples
 * are checked, not only what our own decoder makes of them. */
#include "clsplat.h"
#include "io/io_internal.h"
#include "test_io_util.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

typedef struct raw_png {
    uint32_t width, height;
    int bit_depth, color_type, channels;
    size_t rowbytes;
    uint8_t *data;
} raw_png;

static void read_raw_png(const char *path, raw_png *out)
{
    FILE *fp = fopen(path, "rb");
    png_structp png;
    png_infop info;
    png_bytepp rows;
    ck_assert_ptr_nonnull(fp);
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("libpng could not read %s", path);
    png_init_io(png, fp);
    png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    out->width = png_get_image_width(png, info);
    out->height = png_get_image_height(png, info);
    out->bit_depth = png_get_bit_depth(png, info);
    out->color_type = png_get_color_type(png, info);
    out->channels = png_get_channels(png, info);
    out->rowbytes = png_get_rowbytes(png, info);
    out->data = malloc(out->rowbytes * out->height);
    ck_assert_ptr_nonnull(out->data);
    rows = png_get_rows(png, info);
    for (uint32_t y = 0; y < out->height; y++)
        memcpy(out->data + y * out->rowbytes, rows[y], out->rowbytes);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
}

static unsigned expect_sample(float v, unsigned max)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return max;
    return (unsigned)floor((double)v * max + 0.5);
}

static float *random_pixels(size_t n, uint32_t seed)
{
    tio_rng rng = {seed};
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = tio_uniform(&rng, -0.1f, 1.1f);
    return p;
}

/* ---- PNG writing ----------------------------------------------------------------------- */

START_TEST(png_8bit_each_channel_count)
{
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                       PNG_COLOR_TYPE_RGB_ALPHA};
    int ch = _i;
    const uint32_t w = 7, h = 5;
    char name[64];
    char *path;
    float *px = random_pixels((size_t)w * h * (size_t)ch, (uint32_t)(10 + ch));
    raw_png raw;
    uint8_t *dec;
    uint32_t dw, dh;
    int dch;
    cls_error err;
    snprintf(name, sizeof name, "img_8bit_%d.png", ch);
    path = tio_tmp_path(name);
    TIO_OK(cls_image_write_png(path, px, w, h, ch, 8, &err), err);
    ck_assert_int_eq(err.status, CLS_OK);
    read_raw_png(path, &raw);
    ck_assert_uint_eq(raw.width, w);
    ck_assert_uint_eq(raw.height, h);
    ck_assert_int_eq(raw.bit_depth, 8);
    ck_assert_int_eq(raw.color_type, color_types[ch]);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t i = 0; i < w * (uint32_t)ch; i++)
            ck_assert_uint_eq(raw.data[y * raw.rowbytes + i], expect_sample(px[y * w * (uint32_t)ch + i], 255));
    /* Our decoder: gray becomes RGB, gray + alpha becomes RGBA. */
    TIO_OK(cls__image_read(path, &dec, &dw, &dh, &dch, &err), err);
    ck_assert_uint_eq(dw, w);
    ck_assert_uint_eq(dh, h);
    ck_assert_int_eq(dch, ch % 2 == 0 ? 4 : 3);
    for (size_t p = 0; p < (size_t)w * h; p++)
        for (int c = 0; c < dch; c++) {
            int src = ch >= 3 ? c : (c < 3 ? 0 : 1);
            ck_assert_uint_eq(dec[p * (size_t)dch + (size_t)c], expect_sample(px[p * (size_t)ch + (size_t)src], 255));
        }
    free(dec);
    free(raw.data);
    free(px);
    free(path);
}
END_TEST

START_TEST(png_16bit)
{
    const uint32_t w = 4, h = 3;
    char *path = tio_tmp_path("img_16bit.png");
    float *px = random_pixels(w * h * 3, 99);
    raw_png raw;
    uint8_t *dec;
    uint32_t dw, dh;
    int dch;
    cls_error err;
    TIO_OK(cls_image_write_png(path, px, w, h, 3, 16, &err), err);
    read_raw_png(path, &raw);
    ck_assert_int_eq(raw.bit_depth, 16);
    ck_assert_int_eq(raw.color_type, PNG_COLOR_TYPE_RGB);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t i = 0; i < w * 3; i++) {
            const uint8_t *s = raw.data + y * raw.rowbytes + 2 * i;
            ck_assert_uint_eq((unsigned)(s[0] << 8 | s[1]), expect_sample(px[y * w * 3 + i], 65535));
        }
    TIO_OK(cls__image_read(path, &dec, &dw, &dh, &dch, &err), err);
    ck_assert_int_eq(dch, 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        ck_assert_uint_eq(dec[i], expect_sample(px[i], 65535) >> 8); /* libpng strips the low byte */
    free(dec);
    free(raw.data);
    free(px);
    free(path);
}
END_TEST

START_TEST(png_clamps_and_nan)
{
    const float px[8] = {-1.0f, 2.0f, NAN, 0.5f, INFINITY, -INFINITY, 0.49f / 255.0f, 0.51f / 255.0f};
    const unsigned expect[8] = {0, 255, 0, 128, 255, 0, 0, 1};
    char *path = tio_tmp_path("img_clamp.png");
    raw_png raw;
    cls_error err;
    TIO_OK(cls_image_write_png(path, px, 8, 1, 1, 8, &err), err);
    read_raw_png(path, &raw);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(raw.data[i], expect[i]);
    free(raw.data);
    free(path);
}
END_TEST

START_TEST(pfm_layout)
{
    const float px[6] = {1.0f, 2.0f, 3.0f, -4.5f, NAN, 1e30f}; /* rows: {1,2,3} on top, {-4.5,nan,1e30} below */
    const char header[] = "Pf\n3 2\n-1.0\n";
    char *path = tio_tmp_path("img_depth.pfm");
    size_t n;
    uint8_t *raw;
    cls_error err;
    TIO_OK(cls_image_write_pfm(path, px, 3, 2, &err), err);
    raw = tio_read_file(path, &n);
    ck_assert_uint_eq(n, strlen(header) + 24);
    ck_assert_mem_eq(raw, header, strlen(header));
    {
        const uint8_t *d = raw + strlen(header);
        const float order[6] = {-4.5f, NAN, 1e30f, 1.0f, 2.0f, 3.0f}; /* bottom row first */
        for (int i = 0; i < 6; i++) {
            float v = cls__ld_f32le(d + 4 * i);
            ck_assert(isnan(order[i]) ? isnan(v) : v == order[i]);
        }
    }
    free(raw);
    free(path);
}
END_TEST

START_TEST(image_write_arguments)
{
    float px[16] = {0};
    char *path = tio_tmp_path("img_args.png");
    cls_error err;
    TIO_EXPECT(cls_image_write_png(NULL, px, 2, 2, 3, 8, &err), err, CLS_ERROR_INVALID_ARGUMENT, "path is NULL");
    TIO_EXPECT(cls_image_write_png(path, NULL, 2, 2, 3, 8, &err), err, CLS_ERROR_INVALID_ARGUMENT, "pixels is NULL");
    TIO_EXPECT(cls_image_write_png(path, px, 0, 2, 3, 8, &err), err, CLS_ERROR_INVALID_ARGUMENT, "empty (0x2)");
    TIO_EXPECT(cls_image_write_png(path, px, 2, 0, 3, 8, &err), err, CLS_ERROR_INVALID_ARGUMENT, "empty (2x0)");
    TIO_EXPECT(cls_image_write_png(path, px, 2, 2, 0, 8, &err), err, CLS_ERROR_INVALID_ARGUMENT, "0 channels");
    TIO_EXPECT(cls_image_write_png(path, px, 2, 2, 5, 8, &err), err, CLS_ERROR_INVALID_ARGUMENT, "5 channels");
    TIO_EXPECT(cls_image_write_png(path, px, 2, 2, 3, 12, &err), err, CLS_ERROR_INVALID_ARGUMENT, "bit depth 12");
    TIO_EXPECT(cls_image_write_pfm(NULL, px, 2, 2, &err), err, CLS_ERROR_INVALID_ARGUMENT, "path is NULL");
    TIO_EXPECT(cls_image_write_pfm(path, NULL, 2, 2, &err), err, CLS_ERROR_INVALID_ARGUMENT, "pixels is NULL");
    TIO_EXPECT(cls_image_write_pfm(path, px, 2, 0, &err), err, CLS_ERROR_INVALID_ARGUMENT, "empty");
    ck_assert_int_eq(cls_image_write_png(path, px, 2, 2, 7, 8, NULL), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tio_count_entries(CLS_TEST_TMP_DIR, "img_args"), 0);
    free(path);
}
END_TEST

/* ---- decoding -------------------------------------------------------------------------- */

/* A 4-bit palette PNG with a tRNS chunk, written with libpng directly. */
static void write_palette_png(const char *path)
{
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_color palette[3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    png_byte trans[2] = {0, 128};
    png_byte row[2] = {0x01, 0x20}; /* 4 pixels: indices 0, 1, 2, 0 */
    ck_assert_ptr_nonnull(fp);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("libpng could not write %s", path);
    png_init_io(png, fp);
    png_set_IHDR(png, info, 4, 2, 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_PLTE(png, info, palette, 3);
    png_set_tRNS(png, info, trans, 2, NULL);
    png_write_info(png, info);
    png_write_row(png, row);
    png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
}

START_TEST(decode_palette_png)
{
    static const uint8_t expect[4][4] = {{255, 0, 0, 0}, {0, 255, 0, 128}, {0, 0, 255, 255}, {255, 0, 0, 0}};
    char *path = tio_tmp_path("img_palette.png");
    uint8_t *px;
    uint32_t w, h;
    int ch;
    cls_error err;
    write_palette_png(path);
    TIO_OK(cls__image_read(path, &px, &w, &h, &ch, &err), err);
    ck_assert_uint_eq(w, 4);
    ck_assert_uint_eq(h, 2);
    ck_assert_int_eq(ch, 4);
    for (int y = 0; y < 2; y++)
        ck_assert_mem_eq(px + y * 16, expect, 16);
    free(px);
    TIO_OK(cls__image_size(path, &w, &h, &err), err);
    ck_assert_uint_eq(w, 4);
    free(path);
}
END_TEST

START_TEST(decode_jpeg)
{
    enum { W = 40, H = 24 };
    uint8_t rgb[W * H * 3];
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    tjhandle tj = tjInitCompress();
    char *path = tio_tmp_path("img_gradient.jpg"), *cut = tio_tmp_path("img_cut.jpg");
    uint8_t *px;
    uint32_t w, h;
    int ch, worst = 0;
    cls_error err;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            rgb[(y * W + x) * 3 + 0] = (uint8_t)(x * 6);
            rgb[(y * W + x) * 3 + 1] = (uint8_t)(y * 10);
            rgb[(y * W + x) * 3 + 2] = 128;
        }
    ck_assert_ptr_nonnull(tj);
    ck_assert_int_eq(tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &jpeg, &size, TJSAMP_444, 95, 0), 0);
    tio_write_file(path, jpeg, size);
    TIO_OK(cls__image_read(path, &px, &w, &h, &ch, &err), err);
    ck_assert_uint_eq(w, W);
    ck_assert_uint_eq(h, H);
    ck_assert_int_eq(ch, 3);
    for (int i = 0; i < W * H * 3; i++) {
        int d = abs((int)px[i] - (int)rgb[i]);
        worst = d > worst ? d : worst;
    }
    ck_assert_int_le(worst, 8); /* quality 95, 4:4:4, smooth gradient */
    free(px);
    tio_write_file(cut, jpeg, 20);
    TIO_EXPECT(cls__image_read(cut, &px, &w, &h, &ch, &err), err, CLS_ERROR_FORMAT, "bad JPEG");
    ck_assert_ptr_null(px);
    tjFree(jpeg);
    tjDestroy(tj);
    free(path);
    free(cut);
}
END_TEST

START_TEST(decode_errors)
{
    char *path = tio_tmp_path("img_bad.png"), *good = tio_tmp_path("img_good.png");
    float pixels[12] = {0};
    uint8_t *px;
    uint32_t w, h;
    int ch;
    size_t n;
    char *raw;
    cls_error err;
    tio_write_file(path, "GIF89a not supported", 20);
    TIO_EXPECT(cls__image_read(path, &px, &w, &h, &ch, &err), err, CLS_ERROR_FORMAT, "not a PNG or JPEG");
    TIO_EXPECT(cls__image_size(path, &w, &h, &err), err, CLS_ERROR_FORMAT, "not a PNG or JPEG");
    tio_write_file(path, "", 0);
    TIO_EXPECT(cls__image_read(path, &px, &w, &h, &ch, &err), err, CLS_ERROR_FORMAT, "not a PNG or JPEG");
    TIO_OK(cls_image_write_png(good, pixels, 2, 2, 3, 8, &err), err);
    raw = tio_read_file(good, &n);
    tio_write_file(path, raw, 20); /* inside IHDR */
    TIO_EXPECT(cls__image_size(path, &w, &h, &err), err, CLS_ERROR_FORMAT, "bad PNG");
    tio_write_file(path, raw, n - 20); /* inside the image data */
    TIO_EXPECT(cls__image_read(path, &px, &w, &h, &ch, &err), err, CLS_ERROR_FORMAT, "bad PNG");
    ck_assert_ptr_null(px);
    TIO_EXPECT(cls__image_read("/nonexistent/x.png", &px, &w, &h, &ch, &err), err, CLS_ERROR_IO, "No such file");
    TIO_EXPECT(cls__image_read(NULL, &px, &w, &h, &ch, &err), err, CLS_ERROR_INVALID_ARGUMENT, "NULL");
    free(raw);
    free(path);
    free(good);
}
END_TEST

START_TEST(real_images)
{
    char *png = tio_data_path("lego/train/r_0.png"), *jpg = tio_data_path("maupertuis/images/00.jpg");
    uint8_t *px;
    uint32_t w, h;
    int ch;
    cls_error err;
    TIO_OK(cls__image_read(png, &px, &w, &h, &ch, &err), err);
    ck_assert_uint_eq(w, 800);
    ck_assert_uint_eq(h, 800);
    ck_assert_int_eq(ch, 4);
    ck_assert_uint_eq(px[3], 0); /* the corner is transparent background */
    free(px);
    TIO_OK(cls__image_read(jpg, &px, &w, &h, &ch, &err), err);
    ck_assert_uint_eq(w, 1919);
    ck_assert_uint_eq(h, 1079);
    ck_assert_int_eq(ch, 3);
    free(px);
    TIO_OK(cls__image_size(jpg, &w, &h, &err), err);
    ck_assert_uint_eq(w, 1919);
    free(png);
    free(jpg);
}
END_TEST

/* ---- atomic writes --------------------------------------------------------------------- */

START_TEST(atomic_image_writes)
{
    char *dir = tio_tmp_dir("img_atomic");
    char *keep = tio_tmp_path("img_atomic/keep.png"), *taken = tio_tmp_dir("img_atomic/taken.pfm");
    const uint32_t wide = 2000000; /* beyond libpng's default width limit of 1,000,000 */
    float *px = calloc(wide, sizeof(float));
    size_t n;
    char *content;
    cls_error err;
    ck_assert_ptr_nonnull(px);
    TIO_EXPECT(cls_image_write_png("/nonexistent-clsplat/a.png", px, 2, 2, 1, 8, &err), err, CLS_ERROR_IO,
               "No such file or directory");
    tio_write_file(keep, "OLD", 3);
    /* libpng fails in the middle of the write: the old file stays, the temporary goes. */
    TIO_EXPECT(cls_image_write_png(keep, px, wide, 1, 1, 8, &err), err, CLS_ERROR_IO, "PNG encoding failed");
    ck_assert_ptr_nonnull(strstr(err.message, "keep.png"));
    content = tio_read_file(keep, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(content, "OLD", 3);
    free(content);
    ck_assert_int_eq(tio_count_entries(dir, ".tmp."), 0);
    /* The rename fails (the destination is a directory). */
    TIO_EXPECT(cls_image_write_pfm(taken, px, 4, 4, &err), err, CLS_ERROR_IO, "cannot rename");
    ck_assert_int_eq(tio_count_entries(dir, ".tmp."), 0);
    /* A good write replaces the old file. */
    TIO_OK(cls_image_write_png(keep, px, 4, 4, 1, 8, &err), err);
    content = tio_read_file(keep, &n);
    ck_assert_mem_eq(content, "\x89PNG", 4);
    free(content);
    ck_assert_int_eq(tio_count_entries(dir, ".tmp."), 0);
    free(px);
    free(dir);
    free(keep);
    free(taken);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_image");
    TCase *write = tcase_create("write");
    TCase *read = tcase_create("read");
    if (tio_have_data()) {
        TCase *real = tcase_create("real_data");
        tcase_add_test(real, real_images);
        suite_add_tcase(s, real);
    }
    tcase_add_loop_test(write, png_8bit_each_channel_count, 1, 5);
    tcase_add_test(write, png_16bit);
    tcase_add_test(write, png_clamps_and_nan);
    tcase_add_test(write, pfm_layout);
    tcase_add_test(write, image_write_arguments);
    tcase_add_test(write, atomic_image_writes);
    tcase_add_test(read, decode_palette_png);
    tcase_add_test(read, decode_jpeg);
    tcase_add_test(read, decode_errors);
    suite_add_tcase(s, write);
    suite_add_tcase(s, read);
    return tio_run(s);
}
