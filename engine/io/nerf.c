/*
 * nerf.c - NeRF transforms.json (Blender, instant-ngp, nerfstudio).
 *
 * transform_matrix is camera-to-world with OpenGL camera axes (+y up, looking down -z); its
 * rotation's columns 1 and 2 are negated to get OpenCV axes, then inverted. Intrinsics may be
 * global or per frame (a frame's keys win): fl_x / fl_y, else camera_angle_x / camera_angle_y;
 * cx, cy default to the image centre; w, h default to the size in the image's header.
 * Distortion coefficients (k1 k2 k3 k4 p1 p2, global or per frame) are ignored for the
 * renderer, which is pinhole; the training dataset asks for them (a lens per frame) and
 * undistorts the images.
 */
#include "io/io_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NERF_PI 3.14159265358979323846

typedef enum nerf_key { K_FL_X, K_FL_Y, K_ANGLE_X, K_ANGLE_Y, K_CX, K_CY, K_W, K_H, K_COUNT } nerf_key;

static const char *const nerf_key_names[K_COUNT] = {"fl_x", "fl_y", "camera_angle_x", "camera_angle_y",
                                                    "cx",   "cy",   "w",              "h"};

typedef struct nerf_intrinsics {
    double v[K_COUNT];
    int have[K_COUNT];
} nerf_intrinsics;

typedef enum nerf_dist_key { D_K1, D_K2, D_K3, D_K4, D_P1, D_P2, D_COUNT } nerf_dist_key;

static const char *const nerf_dist_names[D_COUNT] = {"k1", "k2", "k3", "k4", "p1", "p2"};

/* Distortion coefficients: the top level's, overlaid by a frame's. */
typedef struct nerf_distortion {
    double v[D_COUNT];
} nerf_distortion;

typedef struct nerf_ctx {
    const char *path;
    char *dir; /* the JSON's folder, "" when the path has none */
    cls_error inner; /* messages of the image-header reads, wrapped with the frame index */
    int with_lens;   /* read the distortion keys */
} nerf_ctx;

static cls_status read_distortion(const nerf_ctx *c, const cJSON *obj, const char *where, nerf_distortion *d,
                                  cls_error *err)
{
    for (int k = 0; k < D_COUNT; k++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, nerf_dist_names[k]);
        if (item == NULL)
            continue;
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: \"%s\"%s is not a finite number", c->path,
                             nerf_dist_names[k], where);
        d->v[k] = item->valuedouble;
    }
    return CLS_OK;
}

/* The lens of frame i; a non-zero k4 (the fourth fisheye coefficient) cannot be undistorted. */
static cls_status frame_lens(const nerf_ctx *c, size_t i, const nerf_distortion *d, cls__lens *lens, cls_error *err)
{
    if (d->v[D_K4] != 0.0)
        return cls__fail(err, CLS_ERROR_UNSUPPORTED,
                         "%s: frame %zu: \"k4\" = %g is a fisheye coefficient, which cannot be undistorted here "
                         "(supported: k1 k2 k3 p1 p2 of the OPENCV model)",
                         c->path, i, d->v[D_K4]);
    memset(lens, 0, sizeof *lens);
    lens->k1 = d->v[D_K1];
    lens->k2 = d->v[D_K2];
    lens->k3 = d->v[D_K3];
    lens->p1 = d->v[D_P1];
    lens->p2 = d->v[D_P2];
    lens->model = cls__lens_distorts(lens) ? "OPENCV" : "PINHOLE";
    lens->source_id = (int64_t)i;
    return CLS_OK;
}

/* Overlays the numeric intrinsics keys present in obj. `where` is "" or " of frame N". */
static cls_status read_intrinsics(const nerf_ctx *c, const cJSON *obj, const char *where, nerf_intrinsics *in,
                                  cls_error *err)
{
    for (int k = 0; k < K_COUNT; k++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, nerf_key_names[k]);
        if (item == NULL)
            continue;
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: \"%s\"%s is not a finite number", c->path, nerf_key_names[k],
                             where);
        in->v[k] = item->valuedouble;
        in->have[k] = 1;
    }
    return CLS_OK;
}

static cls_status check_camera_model(const nerf_ctx *c, const cJSON *obj, const char *where, cls_error *err)
{
    static const char *const accepted[] = {"OPENCV", "PINHOLE", "SIMPLE_PINHOLE"};
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "camera_model");
    if (m == NULL)
        return CLS_OK;
    if (!cJSON_IsString(m))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: \"camera_model\"%s is not a string", c->path, where);
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++)
        if (strcmp(m->valuestring, accepted[i]) == 0)
            return CLS_OK;
    if (c->with_lens)
        return cls__fail(err, CLS_ERROR_UNSUPPORTED,
                         "%s: camera_model \"%s\"%s is not supported; only PINHOLE, SIMPLE_PINHOLE and OPENCV "
                         "(k1 k2 k3 p1 p2) images can be undistorted here",
                         c->path, m->valuestring, where);
    return cls__fail(err, CLS_ERROR_UNSUPPORTED,
                     "%s: camera_model \"%s\"%s is not supported; only pinhole cameras (PINHOLE, or OPENCV "
                     "treated as pinhole) can be rendered",
                     c->path, m->valuestring, where);
}

/* The 4x4 (or 3x4) camera-to-world matrix into c2w[3][4]. */
static cls_status read_matrix(const nerf_ctx *c, const cJSON *frame, size_t i, double c2w[3][4], cls_error *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(frame, "transform_matrix");
    int rows = cJSON_IsArray(m) ? cJSON_GetArraySize(m) : 0;
    if (rows != 4 && rows != 3)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: frame %zu: \"transform_matrix\" is missing or not a 4x4 array",
                         c->path, i);
    for (int r = 0; r < 3; r++) {
        const cJSON *row = cJSON_GetArrayItem(m, r);
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != 4)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: frame %zu: \"transform_matrix\" row %d is not 4 numbers",
                             c->path, i, r);
        for (int k = 0; k < 4; k++) {
            const cJSON *v = cJSON_GetArrayItem(row, k);
            if (!cJSON_IsNumber(v))
                return cls__fail(err, CLS_ERROR_FORMAT, "%s: frame %zu: \"transform_matrix\"[%d][%d] is not a number",
                                 c->path, i, r, k);
            if (!isfinite(v->valuedouble))
                return cls__fail(err, CLS_ERROR_FORMAT, "%s: frame %zu: \"transform_matrix\"[%d][%d] is not finite",
                                 c->path, i, r, k);
            c2w[r][k] = v->valuedouble;
        }
    }
    return CLS_OK;
}

/* World-to-camera pose in OpenCV axes from an OpenGL camera-to-world matrix. */
static cls_status set_pose(const nerf_ctx *c, size_t i, double c2w[3][4], cls_camera *cam, cls_error *err)
{
    double r[9], e;
    for (int row = 0; row < 3; row++) {
        r[row * 3 + 0] = c2w[row][0];
        r[row * 3 + 1] = -c2w[row][1];
        r[row * 3 + 2] = -c2w[row][2];
    }
    e = cls__rotation_error(r);
    if (!(e <= CLS__ROTATION_TOLERANCE))
        return cls__fail(err, CLS_ERROR_FORMAT,
                         "%s: frame %zu: the 3x3 part of \"transform_matrix\" is not a rotation (error %.3g > %g)",
                         c->path, i, e, CLS__ROTATION_TOLERANCE);
    for (int row = 0; row < 3; row++) {
        double t = 0.0;
        for (int k = 0; k < 3; k++) {
            cam->rotation[row * 3 + k] = (float)r[k * 3 + row]; /* R_w2c = R_c2w^T */
            t -= r[k * 3 + row] * c2w[k][3];
        }
        cam->translation[row] = (float)t;
    }
    return CLS_OK;
}

/* frame.file_path, with ".png" appended when it has no extension (the Blender datasets). */
static cls_status frame_name(const nerf_ctx *c, const cJSON *frame, size_t i, char **name, cls_error *err)
{
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(frame, "file_path");
    size_t n;
    int add_ext;
    if (!cJSON_IsString(fp) || fp->valuestring[0] == '\0')
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: frame %zu: \"file_path\" is missing or not a string", c->path,
                         i);
    n = strlen(fp->valuestring);
    add_ext = cls__path_extension(fp->valuestring)[0] == '\0';
    *name = malloc(n + 5);
    if (*name == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", c->path);
    memcpy(*name, fp->valuestring, n + 1);
    if (add_ext)
        memcpy(*name + n, ".png", 5);
    return CLS_OK;
}

static cls_status image_size(nerf_ctx *c, size_t i, const char *name, nerf_intrinsics *in, cls_error *err)
{
    uint32_t w, h;
    char *file = name[0] == '/' ? cls__strdup(name) : cls__path_join(c->dir, name);
    cls_status st;
    if (file == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", c->path);
    st = cls__image_size(file, &w, &h, &c->inner);
    free(file);
    if (st != CLS_OK)
        return cls__fail(err, st, "%s: frame %zu: no \"w\"/\"h\" given, and the image size is unknown: %s", c->path,
                         i, c->inner.message);
    in->v[K_W] = in->have[K_W] ? in->v[K_W] : w;
    in->v[K_H] = in->have[K_H] ? in->v[K_H] : h;
    in->have[K_W] = in->have[K_H] = 1;
    return CLS_OK;
}

/* Focal lengths and principal point from whatever the intrinsics hold. */
static cls_status set_intrinsics(const nerf_ctx *c, size_t i, const nerf_intrinsics *in, cls_camera *cam,
                                 cls_error *err)
{
    double w = floor(in->v[K_W] + 0.5), h = floor(in->v[K_H] + 0.5), fx = 0.0, fy = 0.0;
    if (!(w >= 1.0 && w <= (double)UINT32_MAX && h >= 1.0 && h <= (double)UINT32_MAX))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: frame %zu: invalid image size %gx%g", c->path, i, in->v[K_W],
                         in->v[K_H]);
    if (in->have[K_ANGLE_X] && in->v[K_ANGLE_X] > 0.0 && in->v[K_ANGLE_X] < NERF_PI)
        fx = 0.5 * w / tan(0.5 * in->v[K_ANGLE_X]);
    if (in->have[K_ANGLE_Y] && in->v[K_ANGLE_Y] > 0.0 && in->v[K_ANGLE_Y] < NERF_PI)
        fy = 0.5 * h / tan(0.5 * in->v[K_ANGLE_Y]);
    fx = in->have[K_FL_X] ? in->v[K_FL_X] : in->have[K_FL_Y] ? in->v[K_FL_Y] : fx > 0.0 ? fx : fy;
    fy = in->have[K_FL_Y] ? in->v[K_FL_Y] : in->have[K_FL_X] ? in->v[K_FL_X] : fy > 0.0 ? fy : fx;
    if (!(fx > 0.0) || !(fy > 0.0))
        return cls__fail(err, CLS_ERROR_FORMAT,
                         "%s: frame %zu: no usable focal length (fl_x, fl_y, camera_angle_x or camera_angle_y)",
                         c->path, i);
    cam->width = (uint32_t)w;
    cam->height = (uint32_t)h;
    cam->fx = (float)fx;
    cam->fy = (float)fy;
    cam->cx = (float)(in->have[K_CX] ? in->v[K_CX] : 0.5 * w);
    cam->cy = (float)(in->have[K_CY] ? in->v[K_CY] : 0.5 * h);
    return CLS_OK;
}

static cls_status read_frame(nerf_ctx *c, const cJSON *frame, size_t i, const nerf_intrinsics *global,
                             const nerf_distortion *global_dist, cls__camera_list *list, cls_error *err)
{
    nerf_intrinsics in = *global;
    nerf_distortion dist = *global_dist;
    cls__lens lens;
    double c2w[3][4];
    char where[48];
    char *name = NULL;
    cls_camera cam;
    cls_status st;
    memset(&cam, 0, sizeof cam);
    snprintf(where, sizeof where, " of frame %zu", i);
    if (!cJSON_IsObject(frame))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: frame %zu is not an object", c->path, i);
    if ((st = frame_name(c, frame, i, &name, err)) != CLS_OK)
        return st;
    if ((st = check_camera_model(c, frame, where, err)) != CLS_OK ||
        (st = read_intrinsics(c, frame, where, &in, err)) != CLS_OK ||
        (st = read_matrix(c, frame, i, c2w, err)) != CLS_OK || (st = set_pose(c, i, c2w, &cam, err)) != CLS_OK)
        goto done;
    if (!(in.have[K_W] && in.have[K_H]) && (st = image_size(c, i, name, &in, err)) != CLS_OK)
        goto done;
    if ((st = set_intrinsics(c, i, &in, &cam, err)) != CLS_OK)
        goto done;
    if (c->with_lens && ((st = read_distortion(c, frame, where, &dist, err)) != CLS_OK ||
                         (st = frame_lens(c, i, &dist, &lens, err)) != CLS_OK))
        goto done;
    st = cls__camera_list_push_lens(list, &cam, name, c->with_lens ? &lens : NULL, err);
done:
    free(name);
    return st;
}

cls_status cls__nerf_read(const char *path, const cJSON *root, cls_camera_set *out, cls__lens **lens,
                          cls_error *err)
{
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
    const char *base = cls__path_basename(path);
    nerf_intrinsics global;
    nerf_distortion global_dist;
    nerf_ctx c;
    cls__camera_list list;
    cls_status st;
    size_t i = 0;
    const cJSON *frame;
    memset(&global, 0, sizeof global);
    memset(&global_dist, 0, sizeof global_dist);
    memset(&list, 0, sizeof list);
    memset(&c, 0, sizeof c);
    c.path = path;
    c.with_lens = lens != NULL;
    list.with_lens = lens != NULL;
    c.dir = malloc((size_t)(base - path) + 1);
    if (c.dir == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    memcpy(c.dir, path, (size_t)(base - path));
    c.dir[base - path] = '\0';
    if (!cJSON_IsArray(frames) || cJSON_GetArraySize(frames) == 0) {
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: \"frames\" is %s", path,
                       cJSON_IsArray(frames) ? "empty" : "not an array");
        goto done;
    }
    if ((st = check_camera_model(&c, root, "", err)) != CLS_OK ||
        (st = read_intrinsics(&c, root, "", &global, err)) != CLS_OK ||
        (c.with_lens && (st = read_distortion(&c, root, "", &global_dist, err)) != CLS_OK))
        goto done;
    cJSON_ArrayForEach(frame, frames)
    {
        if ((st = read_frame(&c, frame, i++, &global, &global_dist, &list, err)) != CLS_OK)
            goto done;
    }
done:
    if (st == CLS_OK) {
        *out = list.set;
        if (lens != NULL)
            *lens = list.lens;
    } else {
        cls__camera_list_free(&list);
    }
    free(c.dir);
    return st;
}
