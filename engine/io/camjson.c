/*
 * camjson.c - the INRIA cameras.json (what the reference trainer writes next to its .ply):
 * an array of {id, img_name, width, height, position[3], rotation[3][3], fy, fx}, where
 * position is the camera centre in world space and rotation the camera-to-world rotation
 * (rows). The principal point is the image centre; when a camera's is not, this writer adds
 * "cx"/"cy" keys (which INRIA readers ignore) and this reader uses them.
 */
#include "io/io_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading --------------------------------------------------------------------------- */

/* A required finite number; CLS_ERROR_FORMAT naming the camera and the key otherwise. */
static cls_status get_number(const char *path, size_t i, const cJSON *obj, const char *key, double *out,
                             cls_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu: missing \"%s\"", path, i, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu: \"%s\" is not a finite number", path, i, key);
    *out = v->valuedouble;
    return CLS_OK;
}

/* n finite numbers from a JSON array. */
static int get_vector(const cJSON *arr, int n, double *out)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n)
        return 0;
    for (int k = 0; k < n; k++) {
        const cJSON *v = cJSON_GetArrayItem(arr, k);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return 0;
        out[k] = v->valuedouble;
    }
    return 1;
}

static cls_status get_pose(const char *path, size_t i, const cJSON *obj, cls_camera *cam, cls_error *err)
{
    const cJSON *rot = cJSON_GetObjectItemCaseSensitive(obj, "rotation");
    double pos[3], r[9], e; /* r: camera-to-world, row-major */
    if (!get_vector(cJSON_GetObjectItemCaseSensitive(obj, "position"), 3, pos))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu: \"position\" is missing or not 3 finite numbers",
                         path, i);
    if (!cJSON_IsArray(rot) || cJSON_GetArraySize(rot) != 3 || !get_vector(cJSON_GetArrayItem(rot, 0), 3, r) ||
        !get_vector(cJSON_GetArrayItem(rot, 1), 3, r + 3) || !get_vector(cJSON_GetArrayItem(rot, 2), 3, r + 6))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu: \"rotation\" is missing or not a 3x3 array of finite numbers",
                         path, i);
    e = cls__rotation_error(r);
    if (!(e <= CLS__ROTATION_TOLERANCE))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu: \"rotation\" is not a rotation matrix (error %.3g)",
                         path, i, e);
    for (int row = 0; row < 3; row++) {
        double t = 0.0;
        for (int k = 0; k < 3; k++) {
            cam->rotation[row * 3 + k] = (float)r[k * 3 + row];
            t -= r[k * 3 + row] * pos[k];
        }
        cam->translation[row] = (float)t;
    }
    return CLS_OK;
}

static cls_status get_size(const char *path, size_t i, const cJSON *obj, const char *key, uint32_t *out,
                           cls_error *err)
{
    double v = 0.0;
    cls_status st = get_number(path, i, obj, key, &v, err);
    if (st != CLS_OK)
        return st;
    if (!(v >= 1.0 && v <= (double)UINT32_MAX) || v != floor(v))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu: \"%s\" = %g is not a positive integer", path, i,
                         key, v);
    *out = (uint32_t)v;
    return CLS_OK;
}

static cls_status read_camera(const char *path, size_t i, const cJSON *obj, cls__camera_list *list, cls_error *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "img_name");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    cls_camera cam;
    double fx = 0.0, fy = 0.0, cx = 0.0, cy = 0.0;
    char fallback[32];
    cls_status st;
    memset(&cam, 0, sizeof cam);
    if (!cJSON_IsObject(obj))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu is not an object", path, i);
    if ((st = get_size(path, i, obj, "width", &cam.width, err)) != CLS_OK ||
        (st = get_size(path, i, obj, "height", &cam.height, err)) != CLS_OK ||
        (st = get_number(path, i, obj, "fx", &fx, err)) != CLS_OK ||
        (st = get_number(path, i, obj, "fy", &fy, err)) != CLS_OK || (st = get_pose(path, i, obj, &cam, err)) != CLS_OK)
        return st;
    if (!(fx > 0.0) || !(fy > 0.0))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: camera %zu: the focal lengths must be positive", path, i);
    cx = 0.5 * cam.width;
    cy = 0.5 * cam.height;
    if ((cJSON_GetObjectItemCaseSensitive(obj, "cx") != NULL &&
         (st = get_number(path, i, obj, "cx", &cx, err)) != CLS_OK) ||
        (cJSON_GetObjectItemCaseSensitive(obj, "cy") != NULL &&
         (st = get_number(path, i, obj, "cy", &cy, err)) != CLS_OK))
        return st;
    cam.fx = (float)fx;
    cam.fy = (float)fy;
    cam.cx = (float)cx;
    cam.cy = (float)cy;
    if (cJSON_IsNumber(id))
        snprintf(fallback, sizeof fallback, "%.0f", id->valuedouble);
    else
        snprintf(fallback, sizeof fallback, "%zu", i);
    return cls__camera_list_push(list, &cam, cJSON_IsString(name) ? name->valuestring : fallback, err);
}

cls_status cls__camjson_read(const char *path, const cJSON *root, cls_camera_set *out, cls_error *err)
{
    cls__camera_list list;
    const cJSON *item;
    size_t i = 0;
    cls_status st = CLS_OK;
    memset(&list, 0, sizeof list);
    if (cJSON_GetArraySize(root) == 0)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: the camera array is empty", path);
    cJSON_ArrayForEach(item, root)
    {
        if ((st = read_camera(path, i++, item, &list, err)) != CLS_OK)
            break;
    }
    if (st == CLS_OK)
        *out = list.set;
    else
        cls_cameras_free(&list.set);
    return st;
}

/* ---- writing --------------------------------------------------------------------------- */

/* The INRIA img_name: the file name without its directory and extension. */
static char *stem(const char *name)
{
    const char *base = cls__path_basename(name);
    size_t n = (size_t)(cls__path_extension(base) - base);
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, base, n);
        s[n] = '\0';
    }
    return s;
}

static cJSON *vector_json(const double *v, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; arr != NULL && k < n; k++) {
        cJSON *num = cJSON_CreateNumber(v[k]);
        if (num == NULL || !cJSON_AddItemToArray(arr, num)) {
            cJSON_Delete(num);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* Adds item to obj under key; deletes item and returns 0 when that fails. */
static int add(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return 0;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

static cJSON *camera_json(const cls_camera *cam, size_t i, const char *name)
{
    double pos[3], r[9];
    cJSON *obj = cJSON_CreateObject(), *rot = cJSON_CreateArray();
    char *img = stem(name);
    int ok = obj != NULL && rot != NULL && img != NULL;
    for (int row = 0; row < 3; row++) {
        pos[row] = 0.0;
        for (int k = 0; k < 3; k++) {
            r[row * 3 + k] = cam->rotation[k * 3 + row]; /* R_c2w = R^T */
            pos[row] -= (double)cam->rotation[k * 3 + row] * cam->translation[k];
        }
    }
    for (int row = 0; ok && row < 3; row++) {
        cJSON *v = vector_json(r + row * 3, 3);
        ok = v != NULL && cJSON_AddItemToArray(rot, v);
        if (!ok)
            cJSON_Delete(v);
    }
    ok = ok && add(obj, "id", cJSON_CreateNumber((double)i)) && add(obj, "img_name", cJSON_CreateString(img)) &&
         add(obj, "width", cJSON_CreateNumber(cam->width)) && add(obj, "height", cJSON_CreateNumber(cam->height)) &&
         add(obj, "position", vector_json(pos, 3));
    if (ok) {
        ok = add(obj, "rotation", rot);
        rot = NULL; /* owned by obj now, or deleted by add */
    }
    ok = ok && add(obj, "fy", cJSON_CreateNumber(cam->fy)) && add(obj, "fx", cJSON_CreateNumber(cam->fx));
    if (ok && ((double)cam->cx != 0.5 * cam->width || (double)cam->cy != 0.5 * cam->height))
        ok = add(obj, "cx", cJSON_CreateNumber(cam->cx)) && add(obj, "cy", cJSON_CreateNumber(cam->cy));
    cJSON_Delete(rot);
    free(img);
    if (!ok) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

cls_status cls__camjson_write(const char *path, const cls_camera_set *set, cls_error *err)
{
    cJSON *root = cJSON_CreateArray();
    char *text = NULL;
    cls__atomic_file f;
    cls_status st;
    for (size_t i = 0; root != NULL && i < set->count; i++) {
        cJSON *cam = camera_json(&set->cameras[i], i, set->image_names[i] ? set->image_names[i] : "");
        if (cam == NULL || !cJSON_AddItemToArray(root, cam)) {
            cJSON_Delete(cam);
            cJSON_Delete(root);
            root = NULL;
        }
    }
    text = root != NULL ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory building the JSON", path);
    if ((st = cls__atomic_write_begin(&f, path, err)) != CLS_OK)
        goto done;
    if ((st = cls__atomic_write(&f, text, strlen(text), err)) != CLS_OK ||
        (st = cls__atomic_write(&f, "\n", 1, err)) != CLS_OK) {
        cls__atomic_write_abort(&f);
        goto done;
    }
    st = cls__atomic_write_commit(&f, err);
done:
    free(text);
    return st;
}
