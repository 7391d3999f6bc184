/*
 * image.c - PNG and PFM writers (public), and the PNG/JPEG header reader and decoder used by
 * the camera readers, the tests and the trainer.
 *
 * libpng reports errors by longjmp: every function that calls setjmp here does nothing after
 * it but call libpng and write through pointers, so no local it changes is read after a jump.
 * libpng's warnings are dropped (the library never prints).
 */
#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#define IMAGE_MAX_PIXELS ((uint64_t)1 << 28) /* decoded images: 1 GiB of RGBA at most */
#define JPEG_MAX_BYTES ((size_t)1 << 30)

typedef struct png_job {
    png_structp png;
    png_infop info;
    FILE *fp;
    char message[256];
    /* writing */
    const float *src;
    uint8_t *row;
    /* reading */
    uint8_t *pixels;
    png_bytep *rows;
    uint32_t width, height;
    int channels, bit_depth;
} png_job;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* ---- argument checks ------------------------------------------------------------------- */

static cls_status check_image_args(const char *fn, const char *path, const float *pixels, uint32_t width,
                                   uint32_t height, int channels, cls_error *err)
{
    if (path == NULL || pixels == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, path == NULL ? "path" : "pixels");
    if (width == 0 || height == 0)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "%s: %s: the image is empty (%ux%u)", fn, path, width,
                         height);
    if (channels < 1 || channels > 4)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "%s: %s: %d channels (1 to 4 can be written)", fn, path,
                         channels);
    if ((uint64_t)width * height > SIZE_MAX / 8 / (size_t)channels)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "%s: %s: %ux%u is too large", fn, path, width, height);
    return CLS_OK;
}

/* ---- PNG writing ----------------------------------------------------------------------- */

/* A float in [0, 1] (NaN as 0) to an integer in [0, max], rounded to nearest. */
static unsigned quantize(float v, unsigned max)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return max;
    return (unsigned)(v * (float)max + 0.5f);
}

static void convert_row(const float *src, size_t n, int bit_depth, uint8_t *dst)
{
    for (size_t i = 0; i < n; i++) {
        if (bit_depth == 8) {
            dst[i] = (uint8_t)quantize(src[i], 255);
        } else {
            unsigned v = quantize(src[i], 65535);
            dst[2 * i] = (uint8_t)(v >> 8); /* PNG samples are big endian */
            dst[2 * i + 1] = (uint8_t)v;
        }
    }
}

static int png_encode(png_job *job)
{
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                       PNG_COLOR_TYPE_RGB_ALPHA};
    size_t n = (size_t)job->width * (size_t)job->channels;
    if (setjmp(png_jmpbuf(job->png)))
        return -1;
    png_init_io(job->png, job->fp);
    png_set_IHDR(job->png, job->info, job->width, job->height, job->bit_depth, color_types[job->channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(job->png, job->info);
    for (uint32_t y = 0; y < job->height; y++) {
        convert_row(job->src + (size_t)y * n, n, job->bit_depth, job->row);
        png_write_row(job->png, job->row);
    }
    png_write_end(job->png, job->info);
    return 0;
}

cls_status cls_image_write_png(const char *path, const float *pixels, uint32_t width, uint32_t height, int channels,
                               int bit_depth, cls_error *err)
{
    png_job job;
    cls__atomic_file f;
    cls_status st = check_image_args("cls_image_write_png", path, pixels, width, height, channels, err);
    if (st != CLS_OK)
        return st;
    if (bit_depth != 8 && bit_depth != 16)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_image_write_png: %s: bit depth %d (8 or 16)", path,
                         bit_depth);
    memset(&job, 0, sizeof job);
    job.src = pixels;
    job.width = width;
    job.height = height;
    job.channels = channels;
    job.bit_depth = bit_depth;
    job.row = malloc((size_t)width * (size_t)channels * (size_t)(bit_depth / 8));
    if (job.row == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    if ((st = cls__atomic_write_begin(&f, path, err)) != CLS_OK)
        goto done;
    job.fp = f.fp;
    job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, png_on_error, png_on_warning);
    job.info = job.png != NULL ? png_create_info_struct(job.png) : NULL;
    if (job.info == NULL)
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: cannot create the PNG encoder", path);
    else if (png_encode(&job) != 0)
        st = cls__fail(err, CLS_ERROR_IO, "%s: PNG encoding failed: %s", path, job.message);
    png_destroy_write_struct(&job.png, &job.info);
    if (st == CLS_OK)
        st = cls__atomic_write_commit(&f, err);
    else
        cls__atomic_write_abort(&f);
done:
    free(job.row);
    if (st == CLS_OK)
        cls__error_clear(err);
    return st;
}

/* ---- PFM writing ----------------------------------------------------------------------- */

cls_status cls_image_write_pfm(const char *path, const float *pixels, uint32_t width, uint32_t height,
                               cls_error *err)
{
    char header[64];
    uint8_t *row;
    cls__atomic_file f;
    int n;
    cls_status st = check_image_args("cls_image_write_pfm", path, pixels, width, height, 1, err);
    if (st != CLS_OK)
        return st;
    row = malloc((size_t)width * 4);
    if (row == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    if ((st = cls__atomic_write_begin(&f, path, err)) != CLS_OK)
        goto done;
    /* A negative scale means little endian; rows go from the bottom up. */
    n = snprintf(header, sizeof header, "Pf\n%u %u\n-1.0\n", width, height);
    st = cls__atomic_write(&f, header, (size_t)n, err);
    for (uint32_t y = height; st == CLS_OK && y-- > 0;) {
        for (uint32_t x = 0; x < width; x++)
            cls__st_f32le(row + 4 * (size_t)x, pixels[(size_t)y * width + x]);
        st = cls__atomic_write(&f, row, (size_t)width * 4, err);
    }
    if (st == CLS_OK)
        st = cls__atomic_write_commit(&f, err);
    else
        cls__atomic_write_abort(&f);
done:
    free(row);
    if (st == CLS_OK)
        cls__error_clear(err);
    return st;
}

/* ---- PNG reading ----------------------------------------------------------------------- */

static int png_read_header(png_job *job)
{
    if (setjmp(png_jmpbuf(job->png)))
        return -1;
    png_init_io(job->png, job->fp);
    png_read_info(job->png, job->info);
    job->width = png_get_image_width(job->png, job->info);
    job->height = png_get_image_height(job->png, job->info);
    return 0;
}

/* Decodes to 8-bit RGB or RGBA after png_read_header. */
static int png_decode(png_job *job)
{
    size_t stride;
    if (setjmp(png_jmpbuf(job->png)))
        return -1;
    png_set_expand(job->png); /* palette to RGB, gray below 8 bits to 8, tRNS to alpha */
    png_set_strip_16(job->png);
    png_set_gray_to_rgb(job->png);
    png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);
    job->channels = png_get_channels(job->png, job->info);
    stride = (size_t)job->width * (size_t)job->channels;
    if ((job->channels != 3 && job->channels != 4) || png_get_rowbytes(job->png, job->info) != stride)
        png_error(job->png, "unexpected pixel layout after expansion");
    job->pixels = malloc(stride * job->height);
    job->rows = malloc(sizeof *job->rows * job->height);
    if (job->pixels == NULL || job->rows == NULL)
        png_error(job->png, "out of memory");
    for (uint32_t y = 0; y < job->height; y++)
        job->rows[y] = job->pixels + (size_t)y * stride;
    png_read_image(job->png, job->rows);
    png_read_end(job->png, NULL);
    return 0;
}

/* Reads a PNG's size, and its pixels when pixels is not NULL. */
static cls_status png_read(const char *path, uint8_t **pixels, uint32_t *width, uint32_t *height, int *channels,
                           cls_error *err)
{
    png_job job;
    cls_status st = CLS_OK;
    memset(&job, 0, sizeof job);
    job.fp = fopen(path, "rb");
    if (job.fp == NULL)
        return cls__fail(err, CLS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, png_on_error, png_on_warning);
    job.info = job.png != NULL ? png_create_info_struct(job.png) : NULL;
    if (job.info == NULL) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: cannot create the PNG decoder", path);
        goto done;
    }
    if (png_read_header(&job) != 0) {
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: bad PNG: %s", path, job.message);
        goto done;
    }
    if ((uint64_t)job.width * job.height > IMAGE_MAX_PIXELS) {
        st = cls__fail(err, CLS_ERROR_LIMIT, "%s: %ux%u pixels is more than this reader accepts", path, job.width,
                       job.height);
        goto done;
    }
    if (pixels != NULL && png_decode(&job) != 0) {
        st = cls__fail(err, strcmp(job.message, "out of memory") == 0 ? CLS_ERROR_OUT_OF_HOST_MEMORY : CLS_ERROR_FORMAT,
                       "%s: bad PNG: %s", path, job.message);
        goto done;
    }
    *width = job.width;
    *height = job.height;
    if (pixels != NULL) {
        *pixels = job.pixels;
        *channels = job.channels;
        job.pixels = NULL;
    }
done:
    png_destroy_read_struct(&job.png, &job.info, NULL);
    free(job.pixels);
    free(job.rows);
    fclose(job.fp);
    return st;
}

/* ---- JPEG reading ---------------------------------------------------------------------- */

static cls_status jpeg_read(const char *path, uint8_t **pixels, uint32_t *width, uint32_t *height, int *channels,
                            cls_error *err)
{
    char *data = NULL;
    size_t size;
    int w = 0, h = 0, subsamp, colorspace;
    uint8_t *out = NULL;
    tjhandle tj = NULL;
    cls_status st = cls__read_file(path, JPEG_MAX_BYTES, &data, &size, err);
    if (st != CLS_OK)
        return st;
    tj = tjInitDecompress();
    if (tj == NULL) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: cannot create the JPEG decoder", path);
        goto done;
    }
    if (tjDecompressHeader3(tj, (const unsigned char *)data, (unsigned long)size, &w, &h, &subsamp, &colorspace) != 0) {
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: bad JPEG: %s", path, tjGetErrorStr2(tj));
        goto done;
    }
    if (w <= 0 || h <= 0) { /* a tables-only stream "succeeds" without a size */
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: bad JPEG: no frame header", path);
        goto done;
    }
    if ((uint64_t)w * (uint64_t)h > IMAGE_MAX_PIXELS) {
        st = cls__fail(err, CLS_ERROR_LIMIT, "%s: %dx%d pixels is more than this reader accepts", path, w, h);
        goto done;
    }
    if (pixels != NULL) {
        out = malloc((size_t)w * (size_t)h * 3);
        if (out == NULL) {
            st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory for %dx%d pixels", path, w, h);
            goto done;
        }
        /* Warnings (e.g. extraneous bytes) still give an image; only errors fail. */
        if (tjDecompress2(tj, (const unsigned char *)data, (unsigned long)size, out, w, 0, h, TJPF_RGB, 0) != 0 &&
            tjGetErrorCode(tj) != TJERR_WARNING) {
            st = cls__fail(err, CLS_ERROR_FORMAT, "%s: bad JPEG: %s", path, tjGetErrorStr2(tj));
            goto done;
        }
        *pixels = out;
        *channels = 3;
        out = NULL;
    }
    *width = (uint32_t)w;
    *height = (uint32_t)h;
done:
    if (tj != NULL)
        tjDestroy(tj);
    free(out);
    free(data);
    return st;
}

/* ---- dispatch -------------------------------------------------------------------------- */

static cls_status image_dispatch(const char *path, uint8_t **pixels, uint32_t *width, uint32_t *height,
                                 int *channels, cls_error *err)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t head[8] = {0};
    cls__reader r;
    size_t n;
    cls_status st = cls__reader_open(&r, path, err);
    if (st != CLS_OK)
        return st;
    n = r.size < sizeof head ? (size_t)r.size : sizeof head;
    st = cls__reader_read(&r, head, n, "the image signature", err);
    cls__reader_close(&r);
    if (st != CLS_OK)
        return st;
    if (n == sizeof head && memcmp(head, png_sig, sizeof head) == 0)
        return png_read(path, pixels, width, height, channels, err);
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
        return jpeg_read(path, pixels, width, height, channels, err);
    return cls__fail(err, CLS_ERROR_FORMAT, "%s: not a PNG or JPEG image", path);
}

cls_status cls__image_size(const char *path, uint32_t *width, uint32_t *height, cls_error *err)
{
    return image_dispatch(path, NULL, width, height, NULL, err);
}

cls_status cls__image_read(const char *path, uint8_t **pixels, uint32_t *width, uint32_t *height, int *channels,
                           cls_error *err)
{
    if (path == NULL || pixels == NULL || width == NULL || height == NULL || channels == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls__image_read: a pointer argument is NULL");
    *pixels = NULL;
    return image_dispatch(path, pixels, width, height, channels, err);
}
