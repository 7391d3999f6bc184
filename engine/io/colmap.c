/*
 * colmap.c - COLMAP sparse models: cameras.bin + images.bin, or cameras.txt + images.txt
 * (binary preferred when both exist). points3D is read by points3d.c.
 *
 * Every count is checked against the bytes left in the file before anything is allocated,
 * and every record against truncation. Cameras of models other than PINHOLE and
 * SIMPLE_PINHOLE are rejected when an image uses them, unless the caller asks for lenses
 * (the training dataset, which undistorts): then SIMPLE_RADIAL, RADIAL and OPENCV pass too.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define COLMAP_MAX_PARAMS 16
#define COLMAP_NAME_MAX 4096
#define COLMAP_MODEL_SIMPLE_PINHOLE 0
#define COLMAP_MODEL_PINHOLE 1
#define COLMAP_MODEL_SIMPLE_RADIAL 2
#define COLMAP_MODEL_RADIAL 3
#define COLMAP_MODEL_OPENCV 4

/* COLMAP's camera models by id (src/colmap/sensor/models.h). */
static const struct {
    const char *name;
    int num_params;
} colmap_models[] = {
    {"SIMPLE_PINHOLE", 3}, {"PINHOLE", 4},  {"SIMPLE_RADIAL", 4},         {"RADIAL", 5},
    {"OPENCV", 8},         {"OPENCV_FISHEYE", 8},  {"FULL_OPENCV", 12},   {"FOV", 5},
    {"SIMPLE_RADIAL_FISHEYE", 4}, {"RADIAL_FISHEYE", 5}, {"THIN_PRISM_FISHEYE", 12},
    {"RAD_TAN_THIN_PRISM_FISHEYE", 16},
};
#define COLMAP_MODEL_COUNT ((int)(sizeof colmap_models / sizeof colmap_models[0]))

typedef struct colmap_camera {
    int64_t id;
    int model;
    uint64_t width, height;
    double params[COLMAP_MAX_PARAMS];
} colmap_camera;

typedef struct colmap_cameras {
    const char *path; /* cameras.bin or cameras.txt, for messages */
    colmap_camera *items;
    size_t count;
} colmap_cameras;

/* One image as read, before it is joined with its camera. */
typedef struct colmap_image {
    int64_t id;
    double q[4], t[3];
    int64_t camera_id;
    const char *name;
} colmap_image;

/* ---- cameras --------------------------------------------------------------------------- */

static cls_status check_camera(const colmap_cameras *cams, const colmap_camera *c, cls_error *err)
{
    if (c->width == 0 || c->height == 0 || c->width > UINT32_MAX || c->height > UINT32_MAX)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %lld: invalid size %llux%llu", cams->path,
                         (long long)c->id, (unsigned long long)c->width, (unsigned long long)c->height);
    for (int i = 0; i < colmap_models[c->model].num_params; i++)
        if (!isfinite(c->params[i]))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %lld: parameter %d is not finite", cams->path,
                             (long long)c->id, i);
    for (size_t i = 0; i < cams->count; i++)
        if (cams->items[i].id == c->id)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera id %lld appears twice", cams->path,
                             (long long)c->id);
    return CLS_OK;
}

static int compare_camera_ids(const void *a, const void *b)
{
    const colmap_camera *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static const colmap_camera *find_camera(const colmap_cameras *cams, int64_t id)
{
    colmap_camera key;
    memset(&key, 0, sizeof key);
    key.id = id;
    return cams->count == 0 ? NULL : bsearch(&key, cams->items, cams->count, sizeof key, compare_camera_ids);
}

static cls_status read_cameras_bin(const char *path, colmap_cameras *cams, cls_error *err)
{
    const uint64_t min_record = 24 + 3 * 8; /* header + the 3 parameters of SIMPLE_PINHOLE */
    cls__reader r;
    uint8_t b[24];
    uint64_t count;
    cls_status st = cls__reader_open(&r, path, err);
    if (st != CLS_OK)
        return st;
    if ((st = cls__reader_read(&r, b, 8, "the camera count", err)) != CLS_OK)
        goto done;
    count = cls__ld_u64le(b);
    if ((st = cls__reader_check_count(&r, count, min_record, path, "cameras", err)) != CLS_OK)
        goto done;
    cams->items = calloc((size_t)count + 1, sizeof *cams->items);
    if (cams->items == NULL) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
        goto done;
    }
    for (uint64_t i = 0; i < count; i++) {
        colmap_camera c;
        uint8_t p[COLMAP_MAX_PARAMS * 8];
        int32_t id, model;
        uint32_t u;
        memset(&c, 0, sizeof c);
        if ((st = cls__reader_read(&r, b, 24, "a camera record", err)) != CLS_OK)
            goto done;
        u = cls__ld_u32le(b);
        memcpy(&id, &u, 4);
        u = cls__ld_u32le(b + 4);
        memcpy(&model, &u, 4);
        c.id = id;
        if (model < 0 || model >= COLMAP_MODEL_COUNT) {
            st = cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %d: unknown camera model id %d", path, id, model);
            goto done;
        }
        c.model = model;
        c.width = cls__ld_u64le(b + 8);
        c.height = cls__ld_u64le(b + 16);
        if ((st = cls__reader_read(&r, p, (size_t)colmap_models[model].num_params * 8, "camera parameters", err)) !=
            CLS_OK)
            goto done;
        for (int k = 0; k < colmap_models[model].num_params; k++)
            c.params[k] = cls__ld_f64le(p + 8 * k);
        if ((st = check_camera(cams, &c, err)) != CLS_OK)
            goto done;
        cams->items[cams->count++] = c;
    }
done:
    cls__reader_close(&r);
    return st;
}

static int model_by_name(const char *name)
{
    for (int m = 0; m < COLMAP_MODEL_COUNT; m++)
        if (strcmp(name, colmap_models[m].name) == 0)
            return m;
    return -1;
}

/* One data line of cameras.txt: ID MODEL WIDTH HEIGHT PARAMS... */
static cls_status parse_camera_line(const colmap_cameras *cams, size_t lineno, char *line, colmap_camera *c,
                                    cls_error *err)
{
    char *cur = line, *tok;
    char *id = cls__next_token(&cur), *model = cls__next_token(&cur);
    char *w = cls__next_token(&cur), *h = cls__next_token(&cur);
    int n = 0;
    memset(c, 0, sizeof *c);
    if (h == NULL || !cls__parse_i64(id, &c->id) || !cls__parse_u64(w, &c->width) || !cls__parse_u64(h, &c->height))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: expected 'ID MODEL WIDTH HEIGHT PARAMS...'", cams->path,
                         lineno);
    c->model = model_by_name(model);
    if (c->model < 0)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: camera %lld: unknown camera model '%s'", cams->path,
                         lineno, (long long)c->id, model);
    while ((tok = cls__next_token(&cur)) != NULL) {
        if (n == COLMAP_MAX_PARAMS || !cls__parse_double(tok, &c->params[n]))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: camera %lld: bad parameter '%s'", cams->path, lineno,
                             (long long)c->id, tok);
        n++;
    }
    if (n != colmap_models[c->model].num_params)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: camera %lld: the %s model has %d parameters, found %d",
                         cams->path, lineno, (long long)c->id, model, colmap_models[c->model].num_params, n);
    return CLS_OK;
}

static int is_comment_or_blank(const char *line)
{
    while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\n')
        line++;
    return *line == '\0' || *line == '#';
}

static cls_status read_cameras_txt(const char *path, colmap_cameras *cams, cls_error *err)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0, items_cap = 0;
    cls_status st = CLS_OK;
    if (fp == NULL)
        return cls__fail(err, CLS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    while (getline(&line, &cap, fp) >= 0) {
        colmap_camera c;
        lineno++;
        if (is_comment_or_blank(line))
            continue;
        if ((st = parse_camera_line(cams, lineno, line, &c, err)) != CLS_OK ||
            (st = check_camera(cams, &c, err)) != CLS_OK)
            goto done;
        if (cams->count == items_cap) {
            size_t n = items_cap ? items_cap * 2 : 4;
            colmap_camera *grown = realloc(cams->items, n * sizeof *grown);
            if (grown == NULL) {
                st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
                goto done;
            }
            cams->items = grown;
            items_cap = n;
        }
        cams->items[cams->count++] = c;
    }
    if (ferror(fp))
        st = cls__fail(err, CLS_ERROR_IO, "%s: read failed: %s", path, strerror(errno));
done:
    free(line);
    fclose(fp);
    return st;
}

/* ---- images ---------------------------------------------------------------------------- */

/* The lens of a camera of one of the models a dataset can undistort; 0 for the others. */
static int camera_lens(const colmap_camera *c, cls__lens *lens)
{
    const double *p = c->params;
    memset(lens, 0, sizeof *lens);
    lens->model = colmap_models[c->model].name;
    lens->source_id = c->id;
    switch (c->model) {
    case COLMAP_MODEL_SIMPLE_PINHOLE:
    case COLMAP_MODEL_PINHOLE:
        return 1;
    case COLMAP_MODEL_SIMPLE_RADIAL: /* f, cx, cy, k */
        lens->k1 = p[3];
        return 1;
    case COLMAP_MODEL_RADIAL: /* f, cx, cy, k1, k2 */
        lens->k1 = p[3];
        lens->k2 = p[4];
        return 1;
    case COLMAP_MODEL_OPENCV: /* fx, fy, cx, cy, k1, k2, p1, p2 */
        lens->k1 = p[4];
        lens->k2 = p[5];
        lens->p1 = p[6];
        lens->p2 = p[7];
        return 1;
    default:
        return 0;
    }
}

/* Joins an image with its camera into a cls_camera and appends it. */
static cls_status add_image(const colmap_cameras *cams, const char *images_path, const colmap_image *im,
                            cls__camera_list *list, cls_error *err)
{
    const colmap_camera *c = find_camera(cams, im->camera_id);
    double n2 = 0.0, w, x, y, z;
    int two_focals;
    cls_camera cam;
    cls__lens lens;
    if (c == NULL)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: image %lld (%s) uses camera %lld, which %s does not define",
                         images_path, (long long)im->id, im->name, (long long)im->camera_id, cams->path);
    if (!list->with_lens && c->model != COLMAP_MODEL_PINHOLE && c->model != COLMAP_MODEL_SIMPLE_PINHOLE)
        return cls__fail(err, CLS_ERROR_UNSUPPORTED,
                         "%s: camera %lld uses the %s model; only PINHOLE and SIMPLE_PINHOLE can be rendered "
                         "(undistort the images first, e.g. colmap image_undistorter)",
                         cams->path, (long long)c->id, colmap_models[c->model].name);
    if (list->with_lens && !camera_lens(c, &lens))
        return cls__fail(err, CLS_ERROR_UNSUPPORTED,
                         "%s: camera %lld uses the %s model, which cannot be undistorted here; supported "
                         "models: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL and OPENCV (undistort the "
                         "images first, e.g. colmap image_undistorter)",
                         cams->path, (long long)c->id, colmap_models[c->model].name);
    two_focals = c->model == COLMAP_MODEL_PINHOLE || c->model == COLMAP_MODEL_OPENCV;
    for (int i = 0; i < 4; i++)
        n2 += im->q[i] * im->q[i];
    for (int i = 0; i < 7; i++)
        if (!isfinite(i < 4 ? im->q[i] : im->t[i - 4]))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: image %lld (%s): the pose is not finite", images_path,
                             (long long)im->id, im->name);
    if (!(n2 > 1e-12))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: image %lld (%s): the rotation quaternion is zero", images_path,
                         (long long)im->id, im->name);
    n2 = sqrt(n2);
    w = im->q[0] / n2, x = im->q[1] / n2, y = im->q[2] / n2, z = im->q[3] / n2;
    memset(&cam, 0, sizeof cam);
    cam.width = (uint32_t)c->width;
    cam.height = (uint32_t)c->height;
    cam.fx = (float)c->params[0];
    cam.fy = (float)c->params[two_focals ? 1 : 0];
    cam.cx = (float)c->params[two_focals ? 2 : 1];
    cam.cy = (float)c->params[two_focals ? 3 : 2];
    if (!(cam.fx > 0.0f) || !(cam.fy > 0.0f) || !isfinite(cam.fx) || !isfinite(cam.fy))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %lld: the focal length must be positive", cams->path,
                         (long long)c->id);
    /* R(q) for the world-to-camera quaternion (w, x, y, z), row-major. */
    cam.rotation[0] = (float)(1 - 2 * (y * y + z * z));
    cam.rotation[1] = (float)(2 * (x * y - w * z));
    cam.rotation[2] = (float)(2 * (x * z + w * y));
    cam.rotation[3] = (float)(2 * (x * y + w * z));
    cam.rotation[4] = (float)(1 - 2 * (x * x + z * z));
    cam.rotation[5] = (float)(2 * (y * z - w * x));
    cam.rotation[6] = (float)(2 * (x * z - w * y));
    cam.rotation[7] = (float)(2 * (y * z + w * x));
    cam.rotation[8] = (float)(1 - 2 * (x * x + y * y));
    for (int i = 0; i < 3; i++)
        cam.translation[i] = (float)im->t[i];
    return cls__camera_list_push_lens(list, &cam, im->name, list->with_lens ? &lens : NULL, err);
}

static cls_status read_images_bin(const char *path, const colmap_cameras *cams, cls__camera_list *list,
                                  cls_error *err)
{
    const uint64_t min_record = 64 + 1 + 8; /* header, an empty name's NUL, the point count */
    cls__reader r;
    uint8_t b[64];
    char name[COLMAP_NAME_MAX];
    uint64_t count;
    cls_status st = cls__reader_open(&r, path, err);
    if (st != CLS_OK)
        return st;
    if ((st = cls__reader_read(&r, b, 8, "the image count", err)) != CLS_OK)
        goto done;
    count = cls__ld_u64le(b);
    if ((st = cls__reader_check_count(&r, count, min_record, path, "images", err)) != CLS_OK)
        goto done;
    for (uint64_t i = 0; i < count; i++) {
        colmap_image im;
        uint64_t npoints;
        size_t n = 0;
        int c;
        int32_t v32;
        uint32_t u;
        if ((st = cls__reader_read(&r, b, 64, "an image record", err)) != CLS_OK)
            goto done;
        u = cls__ld_u32le(b);
        memcpy(&v32, &u, 4);
        im.id = v32;
        for (int k = 0; k < 4; k++)
            im.q[k] = cls__ld_f64le(b + 4 + 8 * k);
        for (int k = 0; k < 3; k++)
            im.t[k] = cls__ld_f64le(b + 36 + 8 * k);
        u = cls__ld_u32le(b + 60);
        memcpy(&v32, &u, 4);
        im.camera_id = v32;
        while ((c = cls__reader_getc(&r)) != EOF && c != '\0' && n + 1 < sizeof name)
            name[n++] = (char)c;
        if (c != '\0') {
            st = cls__fail(err, CLS_ERROR_FORMAT, "%s: image %lld: the name is %s", path, (long long)im.id,
                           c == EOF ? "truncated by the end of the file" : "too long or not NUL-terminated");
            goto done;
        }
        name[n] = '\0';
        im.name = name;
        if ((st = cls__reader_read(&r, b, 8, "the 2D point count", err)) != CLS_OK)
            goto done;
        npoints = cls__ld_u64le(b);
        if (npoints > cls__reader_remaining(&r) / 24) {
            st = cls__fail(err, CLS_ERROR_FORMAT,
                           "%s: truncated: image %lld (%s) has %llu 2D points (%llu bytes), only %llu bytes are left",
                           path, (long long)im.id, name, (unsigned long long)npoints,
                           (unsigned long long)npoints * 24, (unsigned long long)cls__reader_remaining(&r));
            goto done;
        }
        if ((st = cls__reader_skip(&r, npoints * 24, "2D points", err)) != CLS_OK ||
            (st = add_image(cams, path, &im, list, err)) != CLS_OK)
            goto done;
    }
done:
    cls__reader_close(&r);
    return st;
}

/* The first line of an image: ID QW QX QY QZ TX TY TZ CAMERA_ID NAME (the name may hold spaces). */
static cls_status parse_image_line(const char *path, size_t lineno, char *line, colmap_image *im, cls_error *err)
{
    char *cur = line, *tok[9], *end;
    for (int i = 0; i < 9; i++)
        tok[i] = cls__next_token(&cur);
    while (*cur == ' ' || *cur == '\t')
        cur++;
    end = cur + strlen(cur);
    while (end > cur && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (tok[8] == NULL || *cur == '\0' || !cls__parse_i64(tok[0], &im->id) || !cls__parse_i64(tok[8], &im->camera_id))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: expected 'ID QW QX QY QZ TX TY TZ CAMERA_ID NAME'", path,
                         lineno);
    for (int i = 0; i < 7; i++)
        if (!cls__parse_double(tok[1 + i], i < 4 ? &im->q[i] : &im->t[i - 4]))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: image %lld: '%s' is not a number", path, lineno,
                             (long long)im->id, tok[1 + i]);
    im->name = cur;
    return CLS_OK;
}

static cls_status read_images_txt(const char *path, const colmap_cameras *cams, cls__camera_list *list,
                                  cls_error *err)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    cls_status st = CLS_OK;
    if (fp == NULL)
        return cls__fail(err, CLS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    while (getline(&line, &cap, fp) >= 0) {
        colmap_image im;
        lineno++;
        if (is_comment_or_blank(line))
            continue;
        if ((st = parse_image_line(path, lineno, line, &im, err)) != CLS_OK ||
            (st = add_image(cams, path, &im, list, err)) != CLS_OK)
            goto done;
        /* The second line lists the 2D points; it may be empty, and is not read. */
        if (getline(&line, &cap, fp) >= 0)
            lineno++;
    }
    if (ferror(fp))
        st = cls__fail(err, CLS_ERROR_IO, "%s: read failed: %s", path, strerror(errno));
done:
    free(line);
    fclose(fp);
    return st;
}

/* ---- the model ------------------------------------------------------------------------- */

static int has_pair(const char *dir, const char *ext)
{
    char cams[32], imgs[32];
    char *a, *b;
    int ok;
    snprintf(cams, sizeof cams, "cameras%s", ext);
    snprintf(imgs, sizeof imgs, "images%s", ext);
    a = cls__path_join(dir, cams);
    b = cls__path_join(dir, imgs);
    ok = a != NULL && b != NULL && cls__is_file(a) && cls__is_file(b);
    free(a);
    free(b);
    return ok;
}

int cls__colmap_is_model(const char *dir)
{
    return has_pair(dir, ".bin") ? 2 : has_pair(dir, ".txt") ? 1 : 0;
}

cls_status cls__colmap_read(const char *model_dir, cls_camera_set *out, cls__lens **lens, cls_error *err)
{
    int binary = has_pair(model_dir, ".bin");
    char *cams_path = cls__path_join(model_dir, binary ? "cameras.bin" : "cameras.txt");
    char *imgs_path = cls__path_join(model_dir, binary ? "images.bin" : "images.txt");
    colmap_cameras cams;
    cls__camera_list list;
    cls_status st;
    memset(&cams, 0, sizeof cams);
    memset(&list, 0, sizeof list);
    list.with_lens = lens != NULL;
    if (cams_path == NULL || imgs_path == NULL) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", model_dir);
        goto done;
    }
    cams.path = cams_path;
    st = binary ? read_cameras_bin(cams_path, &cams, err) : read_cameras_txt(cams_path, &cams, err);
    if (st != CLS_OK)
        goto done;
    if (cams.count > 0)
        qsort(cams.items, cams.count, sizeof *cams.items, compare_camera_ids);
    st = binary ? read_images_bin(imgs_path, &cams, &list, err) : read_images_txt(imgs_path, &cams, &list, err);
    if (st == CLS_OK && list.set.count == 0)
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: the model has no images", imgs_path);
done:
    if (st == CLS_OK) {
        *out = list.set;
        if (lens != NULL)
            *lens = list.lens;
    } else {
        cls__camera_list_free(&list);
    }
    free(cams.items);
    free(cams_path);
    free(imgs_path);
    return st;
}
