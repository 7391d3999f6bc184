/*
 * points3d.c - COLMAP's points3D (.bin or .txt): the SfM points a trainer starts from.
 *
 * Only the position and the colour of each point are kept; the reprojection error and the
 * track are skipped. Points come out sorted by id, so the text and binary forms of one model
 * (which COLMAP writes in different orders) give the same arrays. As in colmap.c, every count
 * is checked against the bytes left in the file before anything is allocated.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A growing pair of arrays. */
typedef struct point_list {
    float *xyz;
    uint8_t *rgb;
    uint64_t *id;
    size_t count, cap;
} point_list;

static int point_list_reserve(point_list *p, size_t cap)
{
    float *xyz;
    uint8_t *rgb;
    uint64_t *id;
    if (cap <= p->cap)
        return 1;
    xyz = realloc(p->xyz, cap * 3 * sizeof *xyz);
    if (xyz == NULL)
        return 0;
    p->xyz = xyz;
    rgb = realloc(p->rgb, cap * 3);
    if (rgb == NULL)
        return 0;
    p->rgb = rgb;
    id = realloc(p->id, cap * sizeof *id);
    if (id == NULL)
        return 0;
    p->id = id;
    p->cap = cap;
    return 1;
}

static void point_list_free(point_list *p)
{
    free(p->xyz);
    free(p->rgb);
    free(p->id);
    memset(p, 0, sizeof *p);
}

typedef struct id_index {
    uint64_t id;
    size_t index;
} id_index;

static int compare_ids(const void *a, const void *b)
{
    const id_index *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts the points by id (ties keep the file order). */
static int point_list_sort(point_list *p)
{
    id_index *order = malloc((p->count + 1) * sizeof *order);
    float *xyz = malloc((p->count + 1) * 3 * sizeof *xyz);
    uint8_t *rgb = malloc((p->count + 1) * 3);
    int ok = order != NULL && xyz != NULL && rgb != NULL;
    if (ok) {
        for (size_t i = 0; i < p->count; i++) {
            order[i].id = p->id[i];
            order[i].index = i;
        }
        qsort(order, p->count, sizeof *order, compare_ids);
        for (size_t i = 0; i < p->count; i++) {
            memcpy(xyz + 3 * i, p->xyz + 3 * order[i].index, 3 * sizeof *xyz);
            memcpy(rgb + 3 * i, p->rgb + 3 * order[i].index, 3);
        }
        free(p->xyz);
        free(p->rgb);
        p->xyz = xyz;
        p->rgb = rgb;
        xyz = NULL;
        rgb = NULL;
    }
    free(order);
    free(xyz);
    free(rgb);
    return ok;
}

static cls_status check_point(const char *path, const char *where, unsigned long long id, const double xyz[3],
                              cls_error *err)
{
    for (int k = 0; k < 3; k++)
        if (!isfinite(xyz[k]) || fabs(xyz[k]) > 3.0e38)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s%s: point %llu: coordinate %c is not a finite float", path,
                             where, id, "XYZ"[k]);
    return CLS_OK;
}

static void point_list_add(point_list *p, uint64_t id, const double xyz[3], const uint8_t rgb[3])
{
    p->id[p->count] = id;
    for (int k = 0; k < 3; k++) {
        p->xyz[3 * p->count + (size_t)k] = (float)xyz[k];
        p->rgb[3 * p->count + (size_t)k] = rgb[k];
    }
    p->count++;
}

/* points3D.bin: uint64 count; per point uint64 id, 3 f64 xyz, 3 u8 rgb, f64 error, uint64
 * track length, then (int32 image id, int32 point2D index) per track entry. */
static cls_status read_bin(const char *path, point_list *p, cls_error *err)
{
    const uint64_t min_record = 43 + 8;
    cls__reader r;
    uint8_t b[51];
    uint64_t count;
    cls_status st = cls__reader_open(&r, path, err);
    if (st != CLS_OK)
        return st;
    if ((st = cls__reader_read(&r, b, 8, "the point count", err)) != CLS_OK)
        goto done;
    count = cls__ld_u64le(b);
    if ((st = cls__reader_check_count(&r, count, min_record, path, "points", err)) != CLS_OK)
        goto done;
    if (!point_list_reserve(p, (size_t)count + 1)) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory for %llu points", path,
                       (unsigned long long)count);
        goto done;
    }
    for (uint64_t i = 0; i < count; i++) {
        double xyz[3];
        uint64_t id, track;
        if ((st = cls__reader_read(&r, b, 51, "a point record", err)) != CLS_OK)
            goto done;
        id = cls__ld_u64le(b);
        for (int k = 0; k < 3; k++)
            xyz[k] = cls__ld_f64le(b + 8 + 8 * k);
        if ((st = check_point(path, "", (unsigned long long)id, xyz, err)) != CLS_OK)
            goto done;
        track = cls__ld_u64le(b + 43);
        if (track > cls__reader_remaining(&r) / 8) {
            st = cls__fail(err, CLS_ERROR_FORMAT,
                           "%s: truncated: point %llu has a track of %llu entries (%llu bytes), only %llu bytes are left",
                           path, (unsigned long long)id, (unsigned long long)track, (unsigned long long)track * 8,
                           (unsigned long long)cls__reader_remaining(&r));
            goto done;
        }
        if ((st = cls__reader_skip(&r, track * 8, "a point track", err)) != CLS_OK)
            goto done;
        point_list_add(p, id, xyz, b + 32);
    }
done:
    cls__reader_close(&r);
    return st;
}

/* points3D.txt: '#' comments, then one point a line: ID X Y Z R G B ERROR TRACK... */
static cls_status read_txt(const char *path, point_list *p, cls_error *err)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    cls_status st = CLS_OK;
    if (fp == NULL)
        return cls__fail(err, CLS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    while (getline(&line, &cap, fp) >= 0) {
        char *cur = line, *tok[8], where[32];
        uint64_t id, c;
        double xyz[3];
        uint8_t rgb[3];
        lineno++;
        for (int k = 0; k < 8; k++)
            tok[k] = cls__next_token(&cur);
        if (tok[0] == NULL || tok[0][0] == '#')
            continue;
        snprintf(where, sizeof where, ":%zu", lineno);
        if (tok[7] == NULL || !cls__parse_u64(tok[0], &id)) {
            st = cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: expected 'POINT3D_ID X Y Z R G B ERROR TRACK...'", path,
                           lineno);
            goto done;
        }
        for (int k = 0; k < 3; k++) {
            if (!cls__parse_double(tok[1 + k], &xyz[k])) {
                st = cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: point %llu: '%s' is not a number", path, lineno,
                               (unsigned long long)id, tok[1 + k]);
                goto done;
            }
            if (!cls__parse_u64(tok[4 + k], &c) || c > 255) {
                st = cls__fail(err, CLS_ERROR_FORMAT, "%s:%zu: point %llu: colour '%s' is not an integer 0..255",
                               path, lineno, (unsigned long long)id, tok[4 + k]);
                goto done;
            }
            rgb[k] = (uint8_t)c;
        }
        if ((st = check_point(path, where, (unsigned long long)id, xyz, err)) != CLS_OK)
            goto done;
        if (p->count == p->cap && !point_list_reserve(p, p->cap ? p->cap * 2 : 1024)) {
            st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
            goto done;
        }
        point_list_add(p, id, xyz, rgb);
    }
    if (ferror(fp))
        st = cls__fail(err, CLS_ERROR_IO, "%s: read failed: %s", path, strerror(errno));
done:
    free(line);
    fclose(fp);
    return st;
}

cls_status cls__colmap_points_read(const char *model_dir, float **xyz, uint8_t **rgb, size_t *count, cls_error *err)
{
    int binary = cls__colmap_is_model(model_dir) == 2;
    char *path = cls__path_join(model_dir, binary ? "points3D.bin" : "points3D.txt");
    point_list p;
    cls_status st = CLS_OK;
    memset(&p, 0, sizeof p);
    *xyz = NULL;
    *rgb = NULL;
    *count = 0;
    if (path == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", model_dir);
    if (cls__is_file(path))
        st = binary ? read_bin(path, &p, err) : read_txt(path, &p, err);
    if (st == CLS_OK && p.count > 0 && !point_list_sort(&p))
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory sorting %zu points", path, p.count);
    free(path);
    if (st != CLS_OK || p.count == 0) {
        point_list_free(&p);
        return st;
    }
    *xyz = p.xyz;
    *rgb = p.rgb;
    *count = p.count;
    free(p.id);
    return CLS_OK;
}
