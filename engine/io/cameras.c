/*
 * cameras.c - cls_cameras_load (dispatch on the path), the camera-set helpers shared by the
 * COLMAP, transforms.json and cameras.json readers, and the small public camera functions.
 */
#include "io/io_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JSON_MAX_BYTES ((size_t)1 << 30)

/* ---- camera lists ---------------------------------------------------------------------- */

cls_status cls__camera_list_push_lens(cls__camera_list *list, const cls_camera *cam, const char *name,
                                      const cls__lens *lens, cls_error *err)
{
    char *copy = cls__strdup(name);
    if (copy == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for camera names");
    if (list->set.count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        cls_camera *cams = realloc(list->set.cameras, cap * sizeof *cams);
        char **names = NULL;
        cls__lens *lenses = NULL;
        if (cams != NULL)
            list->set.cameras = cams;
        names = cams == NULL ? NULL : realloc(list->set.image_names, cap * sizeof *names);
        if (names != NULL)
            list->set.image_names = names;
        if (names != NULL && list->with_lens) {
            lenses = realloc(list->lens, cap * sizeof *lenses);
            if (lenses != NULL)
                list->lens = lenses;
        }
        if (names == NULL || (list->with_lens && lenses == NULL)) {
            free(copy);
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for %zu cameras", cap);
        }
        list->cap = cap;
    }
    list->set.cameras[list->set.count] = *cam;
    list->set.image_names[list->set.count] = copy;
    if (list->with_lens) {
        cls__lens *l = &list->lens[list->set.count];
        if (lens != NULL) {
            *l = *lens;
        } else {
            memset(l, 0, sizeof *l);
            l->model = "PINHOLE";
        }
    }
    list->set.count++;
    return CLS_OK;
}

cls_status cls__camera_list_push(cls__camera_list *list, const cls_camera *cam, const char *name,
                                 cls_error *err)
{
    return cls__camera_list_push_lens(list, cam, name, NULL, err);
}

void cls__camera_list_free(cls__camera_list *list)
{
    cls_cameras_free(&list->set);
    free(list->lens);
    memset(list, 0, sizeof *list);
}

int cls__lens_distorts(const cls__lens *lens)
{
    return lens != NULL && (lens->k1 != 0.0 || lens->k2 != 0.0 || lens->k3 != 0.0 || lens->p1 != 0.0 ||
                            lens->p2 != 0.0);
}

typedef struct name_index {
    const char *name;
    size_t index;
} name_index;

static int compare_names(const void *a, const void *b)
{
    const name_index *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

cls_status cls__cameras_sort_by_name(cls_camera_set *set, cls__lens *lens, cls_error *err)
{
    size_t n = set->count;
    name_index *order = malloc((n + 1) * sizeof *order);
    cls_camera *cams = malloc((n + 1) * sizeof *cams);
    char **names = malloc((n + 1) * sizeof *names);
    cls__lens *lenses = lens != NULL ? malloc((n + 1) * sizeof *lenses) : NULL;
    if (order == NULL || cams == NULL || names == NULL || (lens != NULL && lenses == NULL)) {
        free(order);
        free(cams);
        free(names);
        free(lenses);
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory sorting %zu cameras", n);
    }
    for (size_t i = 0; i < n; i++) {
        order[i].name = set->image_names[i];
        order[i].index = i;
    }
    qsort(order, n, sizeof *order, compare_names); /* the index tie-break makes it stable */
    for (size_t i = 0; i < n; i++) {
        cams[i] = set->cameras[order[i].index];
        names[i] = set->image_names[order[i].index];
        if (lens != NULL)
            lenses[i] = lens[order[i].index];
    }
    if (lens != NULL)
        memcpy(lens, lenses, n * sizeof *lens);
    free(lenses);
    free(order);
    free(set->cameras);
    free(set->image_names);
    set->cameras = cams;
    set->image_names = names;
    return CLS_OK;
}

double cls__rotation_error(const double r[9])
{
    double worst, det;
    det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) +
          r[2] * (r[3] * r[7] - r[4] * r[6]);
    worst = fabs(det - 1.0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double dot = r[i] * r[j] + r[3 + i] * r[3 + j] + r[6 + i] * r[6 + j]; /* (R^T R)_ij */
            double e = fabs(dot - (i == j ? 1.0 : 0.0));
            if (!(e <= worst))
                worst = e; /* also catches NaN */
        }
    return worst;
}

/* ---- public camera functions ----------------------------------------------------------- */

void cls_cameras_free(cls_camera_set *set)
{
    if (set == NULL)
        return;
    if (set->image_names != NULL)
        for (size_t i = 0; i < set->count; i++)
            free(set->image_names[i]);
    free(set->image_names);
    free(set->cameras);
    memset(set, 0, sizeof *set);
}

cls_camera cls_camera_resized(const cls_camera *cam, uint32_t width)
{
    cls_camera out;
    double sx, sy, h;
    if (cam == NULL) {
        memset(&out, 0, sizeof out);
        return out;
    }
    out = *cam;
    if (width == 0 || cam->width == 0 || cam->height == 0 || width == cam->width)
        return out;
    sx = (double)width / cam->width;
    h = floor(cam->height * sx + 0.5);
    h = h < 1.0 ? 1.0 : h > (double)UINT32_MAX ? (double)UINT32_MAX : h;
    sy = h / cam->height;
    out.width = width;
    out.height = (uint32_t)h;
    out.fx = (float)(cam->fx * sx);
    out.cx = (float)(cam->cx * sx);
    out.fy = (float)(cam->fy * sy);
    out.cy = (float)(cam->cy * sy);
    return out;
}

cls_status cls_cameras_save_json(const char *path, const cls_camera_set *set, cls_error *err)
{
    cls_status st;
    if (path == NULL || set == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_cameras_save_json: %s is NULL",
                         path == NULL ? "path" : "set");
    if (set->count == 0 || set->cameras == NULL || set->image_names == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "%s: the camera set is empty", path);
    st = cls__camjson_write(path, set, err);
    if (st == CLS_OK)
        cls__error_clear(err);
    return st;
}

/* ---- loading --------------------------------------------------------------------------- */

/* "line L, column C" of a position in a text. */
static void text_position(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p != '\0'; p++) {
        if (*p == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

/* The loaders fill out, and src (when not NULL: the dataset's path) with the lenses, the kind
 * and the file or folder read. */
static cls_status set_source(cls__camera_source *src, cls__camera_source_kind kind, const char *path,
                             cls_error *err)
{
    if (src == NULL)
        return CLS_OK;
    src->kind = kind;
    src->path = cls__strdup(path);
    if (src->path == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    return CLS_OK;
}

static cls_status load_json(const char *path, cls_camera_set *out, cls__camera_source *src, cls_error *err)
{
    char *text = NULL;
    size_t size;
    const char *end = NULL;
    cJSON *root = NULL;
    cls__lens **lens = src != NULL ? &src->lens : NULL;
    cls_status st = cls__read_file(path, JSON_MAX_BYTES, &text, &size, err);
    if (st != CLS_OK)
        return st;
    root = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    if (root == NULL) {
        int line, col;
        if (end == NULL || end < text || end > text + size)
            end = text + size;
        text_position(text, end, &line, &col);
        st = cls__fail(err, CLS_ERROR_FORMAT, "%s: invalid JSON near line %d, column %d", path, line, col);
    } else if (cJSON_IsArray(root)) {
        st = cls__camjson_read(path, root, out, err);
        if (st == CLS_OK && src != NULL) {
            src->lens = calloc(out->count + 1, sizeof *src->lens);
            if (src->lens == NULL)
                st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
            for (size_t i = 0; st == CLS_OK && i < out->count; i++) {
                src->lens[i].model = "PINHOLE";
                src->lens[i].source_id = (int64_t)i;
            }
        }
        if (st == CLS_OK)
            st = set_source(src, CLS__SOURCE_CAMJSON, path, err);
    } else if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "frames") != NULL) {
        st = cls__nerf_read(path, root, out, lens, err);
        if (st == CLS_OK)
            st = cls__cameras_sort_by_name(out, lens != NULL ? *lens : NULL, err);
        if (st == CLS_OK)
            st = set_source(src, CLS__SOURCE_NERF, path, err);
    } else {
        st = cls__fail(err, CLS_ERROR_FORMAT,
                       "%s: neither a NeRF transforms.json (an object with \"frames\") nor an INRIA "
                       "cameras.json (an array of cameras)",
                       path);
    }
    cJSON_Delete(root);
    free(text);
    return st;
}

static cls_status load_colmap(const char *dir, cls_camera_set *out, cls__camera_source *src, cls_error *err)
{
    cls__lens **lens = src != NULL ? &src->lens : NULL;
    cls_status st = cls__colmap_read(dir, out, lens, err);
    if (st == CLS_OK)
        st = cls__cameras_sort_by_name(out, lens != NULL ? *lens : NULL, err);
    if (st == CLS_OK)
        st = set_source(src, CLS__SOURCE_COLMAP, dir, err);
    return st;
}

/* A folder: a COLMAP model in it, in sparse/0 or in sparse; else a JSON camera file in it. */
static cls_status load_dir(const char *dir, cls_camera_set *out, cls__camera_source *src, cls_error *err)
{
    static const char *const model_dirs[] = {"", "sparse/0", "sparse"};
    static const char *const json_files[] = {"transforms_train.json", "transforms.json", "cameras.json"};
    cls_status st = CLS_ERROR_INVALID_ARGUMENT;
    int found = 0;
    for (size_t i = 0; i < sizeof model_dirs / sizeof model_dirs[0] && !found; i++) {
        char *sub = cls__path_join(dir, model_dirs[i]);
        if (sub == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", dir);
        if (cls__colmap_is_model(sub)) {
            found = 1;
            st = load_colmap(sub, out, src, err);
        }
        free(sub);
    }
    for (size_t i = 0; i < sizeof json_files / sizeof json_files[0] && !found; i++) {
        char *file = cls__path_join(dir, json_files[i]);
        if (file == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", dir);
        if (cls__is_file(file)) {
            found = 1;
            st = load_json(file, out, src, err);
        }
        free(file);
    }
    if (!found)
        st = cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                       "%s: no cameras found: expected a COLMAP model (cameras.bin + images.bin, or "
                       "cameras.txt + images.txt) in the folder, in sparse/0 or in sparse, or a "
                       "transforms_train.json, transforms.json or cameras.json",
                       dir);
    return st;
}

static cls_status load_any(const char *path, cls_camera_set *out, cls__camera_source *src, cls_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return cls__fail(err, CLS_ERROR_IO, "%s: cannot access: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return load_dir(path, out, src, err);
    if (cls__str_ieq(cls__path_extension(path), ".json"))
        return load_json(path, out, src, err);
    return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                     "%s: not a camera source: give a COLMAP model folder (or a scene folder with "
                     "sparse/0), a transforms.json or a cameras.json",
                     path);
}

cls_status cls_cameras_load(const char *path, cls_camera_set *out, cls_error *err)
{
    cls_status st;
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (path == NULL || out == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_cameras_load: %s is NULL",
                         path == NULL ? "path" : "out");
    st = load_any(path, out, NULL, err);
    if (st != CLS_OK)
        cls_cameras_free(out);
    else
        cls__error_clear(err);
    return st;
}

void cls__camera_source_free(cls__camera_source *src)
{
    if (src == NULL)
        return;
    cls_cameras_free(&src->set);
    free(src->lens);
    free(src->path);
    memset(src, 0, sizeof *src);
}

cls_status cls__camera_source_load(const char *path, cls__camera_source *out, cls_error *err)
{
    cls_status st;
    if (out == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls__camera_source_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (path == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls__camera_source_load: path is NULL");
    st = load_any(path, &out->set, out, err);
    if (st != CLS_OK)
        cls__camera_source_free(out);
    return st;
}
