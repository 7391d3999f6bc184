/*
 * ply.c - the INRIA 3DGS .ply: a strict header parser, a reader of the `vertex` element in
 * ASCII, binary little endian and binary big endian, and the writer of the INRIA layout.
 *
 * The reader looks properties up by name, so their order and extra properties do not
 * matter. Elements before `vertex` are skipped (list properties included); elements after it
 * are never read. Exactly count * stride bytes are read after the header: trailing bytes are
 * ignored.
 */
#include "io/io_internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PLY_NAME_MAX 64
#define PLY_LINE_MAX 1024
#define PLY_HEADER_MAX (1u << 20)   /* bytes; a 3DGS header is about 1.5 KB */
#define PLY_PROPS_MAX 4096          /* per element */
#define PLY_ELEMENTS_MAX 256
#define PLY_CHUNK_BYTES (1u << 20)  /* binary vertex data is read in chunks of about this */

typedef enum ply_format { PLY_NONE, PLY_ASCII, PLY_BINARY_LE, PLY_BINARY_BE } ply_format;

typedef enum ply_type {
    PLY_CHAR, PLY_UCHAR, PLY_SHORT, PLY_USHORT, PLY_INT, PLY_UINT, PLY_FLOAT, PLY_DOUBLE, PLY_TYPE_COUNT
} ply_type;

static const struct {
    const char *name, *alias;
    unsigned size;
} ply_types[PLY_TYPE_COUNT] = {
    [PLY_CHAR] = {"char", "int8", 1},      [PLY_UCHAR] = {"uchar", "uint8", 1},
    [PLY_SHORT] = {"short", "int16", 2},   [PLY_USHORT] = {"ushort", "uint16", 2},
    [PLY_INT] = {"int", "int32", 4},       [PLY_UINT] = {"uint", "uint32", 4},
    [PLY_FLOAT] = {"float", "float32", 4}, [PLY_DOUBLE] = {"double", "float64", 8},
};

typedef struct ply_property {
    char name[PLY_NAME_MAX];
    ply_type type;       /* the value type; the item type of a list */
    int is_list;
    ply_type count_type; /* lists only */
} ply_property;

typedef struct ply_element {
    char name[PLY_NAME_MAX];
    uint64_t count;
    ply_property *props;
    size_t nprops, cap;
} ply_element;

typedef struct ply_header {
    ply_format format;
    ply_element *elems;
    size_t nelems, cap;
} ply_header;

/* Where a vertex property goes in cls_gaussians. */
typedef enum ply_dst { DST_NONE, DST_MEAN, DST_SCALE, DST_QUAT, DST_OPACITY, DST_SH } ply_dst;

typedef struct ply_slot {
    ply_dst dst;
    unsigned comp;   /* index inside the Gaussian's block of that array */
    ply_type type;
    size_t offset;   /* binary: byte offset inside the vertex record */
    const char *name;
} ply_slot;

/* The fixed-name properties; f_dc_c is SH coefficient 0 of channel c. */
static const struct {
    const char *name;
    ply_dst dst;
    unsigned comp;
} ply_fixed[] = {
    {"x", DST_MEAN, 0},        {"y", DST_MEAN, 1},        {"z", DST_MEAN, 2},
    {"f_dc_0", DST_SH, 0},     {"f_dc_1", DST_SH, 1},     {"f_dc_2", DST_SH, 2},
    {"opacity", DST_OPACITY, 0},
    {"scale_0", DST_SCALE, 0}, {"scale_1", DST_SCALE, 1}, {"scale_2", DST_SCALE, 2},
    {"rot_0", DST_QUAT, 0},    {"rot_1", DST_QUAT, 1},    {"rot_2", DST_QUAT, 2},    {"rot_3", DST_QUAT, 3},
};
#define PLY_FIXED_COUNT (sizeof ply_fixed / sizeof ply_fixed[0])

/* The three f_rest counts (degree 1..3) a file may have besides 0. */
static int sh_degree_of_rest(size_t n_rest)
{
    for (int d = 0; d <= CLS_MAX_SH_DEGREE; d++)
        if ((size_t)(3 * (cls_sh_coeff_count(d) - 1)) == n_rest)
            return d;
    return -1;
}

/* ---- header ---------------------------------------------------------------------------- */

static void header_free(ply_header *h)
{
    for (size_t i = 0; i < h->nelems; i++)
        free(h->elems[i].props);
    free(h->elems);
    memset(h, 0, sizeof *h);
}

/* Reads one header line without its end of line; *len = -1 at the end of the file. Over-long
 * comment lines are cut (their text does not matter); any other over-long line is an error. */
static cls_status read_line(cls__reader *r, char *buf, int *len, cls_error *err)
{
    int n = 0, c;
    while ((c = cls__reader_getc(r)) != EOF && c != '\n') {
        if (n + 1 < PLY_LINE_MAX) {
            buf[n++] = (char)c;
            continue;
        }
        buf[n] = '\0';
        if (strncmp(buf, "comment", 7) != 0 && strncmp(buf, "obj_info", 8) != 0)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: header line longer than %d bytes at offset %llu",
                             r->path, PLY_LINE_MAX, (unsigned long long)r->pos);
        if (r->pos > PLY_HEADER_MAX)
            break; /* header_read reports the missing end_header */
    }
    if (c == EOF && n == 0) {
        *len = -1;
        return CLS_OK;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return CLS_OK;
}

static int parse_type(const char *tok, ply_type *out)
{
    for (int t = 0; t < PLY_TYPE_COUNT; t++)
        if (strcmp(tok, ply_types[t].name) == 0 || strcmp(tok, ply_types[t].alias) == 0) {
            *out = (ply_type)t;
            return 1;
        }
    return 0;
}

static cls_status header_format(ply_header *h, const cls__reader *r, char *rest, cls_error *err)
{
    static const struct {
        const char *name;
        ply_format format;
    } formats[] = {{"ascii", PLY_ASCII},
                   {"binary_little_endian", PLY_BINARY_LE},
                   {"binary_big_endian", PLY_BINARY_BE}};
    char *fmt = cls__next_token(&rest), *version = cls__next_token(&rest);
    if (h->format != PLY_NONE)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: the header has two 'format' lines", r->path);
    if (fmt == NULL || version == NULL || cls__next_token(&rest) != NULL)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: malformed 'format' line", r->path);
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(fmt, formats[i].name) == 0)
            h->format = formats[i].format;
    if (h->format == PLY_NONE)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: unknown PLY format '%s'", r->path, fmt);
    if (strcmp(version, "1.0") != 0)
        return cls__fail(err, CLS_ERROR_UNSUPPORTED, "%s: PLY version %s (only 1.0 is known)", r->path,
                         version);
    return CLS_OK;
}

static cls_status header_element(ply_header *h, const cls__reader *r, char *rest, cls_error *err)
{
    char *name = cls__next_token(&rest), *count = cls__next_token(&rest);
    ply_element *e;
    if (name == NULL || count == NULL || cls__next_token(&rest) != NULL)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: malformed 'element' line", r->path);
    if (strlen(name) >= PLY_NAME_MAX)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: element name '%.64s...' is too long", r->path, name);
    if (h->nelems == PLY_ELEMENTS_MAX)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: more than %d elements", r->path, PLY_ELEMENTS_MAX);
    if (h->nelems == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4;
        ply_element *grown = realloc(h->elems, cap * sizeof *grown);
        if (grown == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", r->path);
        h->elems = grown;
        h->cap = cap;
    }
    e = &h->elems[h->nelems];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    if (!cls__parse_u64(count, &e->count))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: element %s: invalid count '%s'", r->path, name, count);
    h->nelems++;
    return CLS_OK;
}

static cls_status header_property(ply_header *h, const cls__reader *r, char *rest, cls_error *err)
{
    ply_property p;
    ply_element *e;
    char *tok = cls__next_token(&rest), *name;
    memset(&p, 0, sizeof p);
    if (h->nelems == 0)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: 'property' line before any 'element'", r->path);
    e = &h->elems[h->nelems - 1];
    if (tok != NULL && strcmp(tok, "list") == 0) {
        char *ct = cls__next_token(&rest);
        p.is_list = 1;
        if (ct == NULL || !parse_type(ct, &p.count_type))
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: element %s: unknown list count type '%s'", r->path,
                             e->name, ct ? ct : "");
        if (p.count_type == PLY_FLOAT || p.count_type == PLY_DOUBLE)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: element %s: list count type '%s' is not an integer",
                             r->path, e->name, ct);
        tok = cls__next_token(&rest);
    }
    if (tok == NULL || !parse_type(tok, &p.type))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: element %s: unknown property type '%s'", r->path, e->name,
                         tok ? tok : "");
    name = cls__next_token(&rest);
    if (name == NULL || cls__next_token(&rest) != NULL)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: element %s: malformed 'property' line", r->path, e->name);
    if (strlen(name) >= PLY_NAME_MAX)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: property name '%.64s...' is too long", r->path, name);
    strcpy(p.name, name);
    if (e->nprops == PLY_PROPS_MAX)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: element %s has more than %d properties", r->path,
                         e->name, PLY_PROPS_MAX);
    if (e->nprops == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        ply_property *grown = realloc(e->props, cap * sizeof *grown);
        if (grown == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", r->path);
        e->props = grown;
        e->cap = cap;
    }
    e->props[e->nprops++] = p;
    return CLS_OK;
}

/* Parses the header; r is left at the first byte after "end_header\n". */
static cls_status header_read(cls__reader *r, ply_header *h, cls_error *err)
{
    char line[PLY_LINE_MAX];
    int len;
    cls_status st;
    if (r->size == 0)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: empty file", r->path);
    if ((st = read_line(r, line, &len, err)) != CLS_OK)
        return st;
    if (len < 0 || strcmp(line, "ply") != 0)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: not a PLY file (it does not start with 'ply')", r->path);
    for (;;) {
        char *rest = line, *key;
        if ((st = read_line(r, line, &len, err)) != CLS_OK)
            return st;
        if (len < 0 || r->pos > PLY_HEADER_MAX)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: the header has no 'end_header' line%s", r->path,
                             len < 0 ? "" : " in its first MiB");
        key = cls__next_token(&rest);
        if (key != NULL && strcmp(key, "end_header") == 0)
            break;
        if (r->pos >= r->size) /* the file ends inside the header */
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: the header has no 'end_header' line", r->path);
        if (key == NULL || strcmp(key, "comment") == 0 || strcmp(key, "obj_info") == 0)
            continue;
        if (strcmp(key, "format") == 0)
            st = header_format(h, r, rest, err);
        else if (strcmp(key, "element") == 0)
            st = header_element(h, r, rest, err);
        else if (strcmp(key, "property") == 0)
            st = header_property(h, r, rest, err);
        else
            st = cls__fail(err, CLS_ERROR_FORMAT, "%s: unexpected header line '%.80s'", r->path, key);
        if (st != CLS_OK)
            return st;
    }
    if (h->format == PLY_NONE)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: the header has no 'format' line", r->path);
    return CLS_OK;
}

/* ---- mapping vertex properties to cls_gaussians ---------------------------------------- */

/* "f_rest_<n>": the index, or -1 for any other name. */
static long rest_index(const char *name)
{
    uint64_t v;
    if (strncmp(name, "f_rest_", 7) != 0 || !cls__parse_u64(name + 7, &v) || v > 1000000)
        return -1;
    return (long)v;
}

static cls_status map_one(const cls__reader *r, const ply_property *p, size_t n_rest, ply_slot *s,
                          cls_error *err)
{
    long ri = rest_index(p->name);
    s->dst = DST_NONE;
    s->name = p->name;
    s->type = p->type;
    for (size_t f = 0; f < PLY_FIXED_COUNT; f++)
        if (strcmp(p->name, ply_fixed[f].name) == 0) {
            s->dst = ply_fixed[f].dst;
            s->comp = ply_fixed[f].comp;
        }
    if (ri >= 0) {
        size_t per_channel = n_rest / 3; /* K - 1 */
        if ((size_t)ri >= n_rest)
            return cls__fail(err, CLS_ERROR_FORMAT,
                             "%s: property 'f_rest_%ld' is out of range: the vertex has %zu f_rest properties",
                             r->path, ri, n_rest);
        /* Channel-major in the file: f_rest_{c*(K-1) + (k-1)} is coefficient k of channel c. */
        s->dst = DST_SH;
        s->comp = (unsigned)((((size_t)ri % per_channel) + 1) * 3 + (size_t)ri / per_channel);
    }
    if (s->dst != DST_NONE && p->is_list)
        return cls__fail(err, CLS_ERROR_UNSUPPORTED, "%s: vertex property '%s' is a list", r->path, p->name);
    return CLS_OK;
}

/* Builds one slot per vertex property; *degree from the f_rest count; *stride in binary. */
static cls_status map_vertex(const cls__reader *r, const ply_element *v, ply_slot *slots, int *degree,
                             size_t *stride, cls_error *err)
{
    size_t n_rest = 0, offset = 0;
    unsigned char seen_fixed[PLY_FIXED_COUNT] = {0};
    unsigned char *seen_rest = NULL;
    cls_status st = CLS_OK;
    for (size_t i = 0; i < v->nprops; i++) {
        if (v->props[i].is_list)
            return cls__fail(err, CLS_ERROR_UNSUPPORTED,
                             "%s: vertex property '%s' is a list; 3DGS vertices have scalar properties only",
                             r->path, v->props[i].name);
        n_rest += rest_index(v->props[i].name) >= 0;
    }
    *degree = sh_degree_of_rest(n_rest);
    if (*degree < 0)
        return cls__fail(err, CLS_ERROR_FORMAT,
                         "%s: the vertex has %zu f_rest properties; 3DGS files have 0, 9, 24 or 45 (SH degree 0-3)",
                         r->path, n_rest);
    seen_rest = calloc(n_rest + 1, 1);
    if (seen_rest == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", r->path);
    for (size_t i = 0; i < v->nprops; i++) {
        const ply_property *p = &v->props[i];
        long ri = rest_index(p->name);
        if ((st = map_one(r, p, n_rest, &slots[i], err)) != CLS_OK)
            goto done;
        slots[i].offset = offset;
        offset += ply_types[p->type].size;
        for (size_t f = 0; f < PLY_FIXED_COUNT; f++)
            if (strcmp(p->name, ply_fixed[f].name) == 0 && seen_fixed[f]++) {
                st = cls__fail(err, CLS_ERROR_FORMAT, "%s: vertex property '%s' appears twice", r->path, p->name);
                goto done;
            }
        if (ri >= 0 && seen_rest[ri]++) {
            st = cls__fail(err, CLS_ERROR_FORMAT, "%s: vertex property '%s' appears twice", r->path, p->name);
            goto done;
        }
    }
    for (size_t f = 0; f < PLY_FIXED_COUNT; f++)
        if (!seen_fixed[f]) {
            st = cls__fail(err, CLS_ERROR_FORMAT, "%s: the vertex element has no property '%s'", r->path,
                           ply_fixed[f].name);
            goto done;
        }
    *stride = offset;
done:
    free(seen_rest);
    return st;
}

/* ---- values ---------------------------------------------------------------------------- */

static double decode_binary(const uint8_t *p, ply_type t, int big)
{
    uint16_t u16 = big ? cls__ld_u16be(p) : cls__ld_u16le(p);
    uint32_t u32 = big ? cls__ld_u32be(p) : cls__ld_u32le(p);
    uint64_t u64 = big ? cls__ld_u64be(p) : cls__ld_u64le(p);
    int8_t i8;
    int16_t i16;
    int32_t i32;
    float f;
    double d;
    switch (t) {
    case PLY_CHAR: memcpy(&i8, p, 1); return i8;
    case PLY_UCHAR: return p[0];
    case PLY_SHORT: memcpy(&i16, &u16, 2); return i16;
    case PLY_USHORT: return u16;
    case PLY_INT: memcpy(&i32, &u32, 4); return i32;
    case PLY_UINT: return u32;
    case PLY_FLOAT: memcpy(&f, &u32, 4); return f;
    case PLY_DOUBLE: memcpy(&d, &u64, 8); return d;
    case PLY_TYPE_COUNT: break;
    }
    return 0.0;
}

typedef struct ply_target {
    cls_gaussians *g;
    size_t sh_block; /* floats of SH per Gaussian */
    const char *path;
} ply_target;

static cls_status bad_value(const ply_target *t, size_t i, const ply_slot *s, double v, cls_error *err)
{
    const char *what = isnan(v) ? "NaN" : isinf(v) ? "infinite" : "out of float range";
    return cls__fail(err, CLS_ERROR_FORMAT, "%s: vertex %zu: property '%s' is %s", t->path, i, s->name, what);
}

/* Stores vertex i's value v for slot s, rejecting what cannot be rendered. */
static cls_status store(const ply_target *t, size_t i, const ply_slot *s, double v, cls_error *err)
{
    cls_gaussians *g = t->g;
    int finite = isfinite(v) && fabs(v) <= FLT_MAX;
    switch (s->dst) {
    case DST_NONE: return CLS_OK;
    case DST_OPACITY:
        if (isnan(v))
            return bad_value(t, i, s, v, err);
        g->opacity_logits[i] = finite ? (float)v : v > 0 ? CLS__OPACITY_LOGIT_LIMIT : -CLS__OPACITY_LOGIT_LIMIT;
        return CLS_OK;
    case DST_MEAN:
    case DST_SCALE:
    case DST_QUAT:
    case DST_SH: break;
    }
    if (!finite)
        return bad_value(t, i, s, v, err);
    switch (s->dst) {
    case DST_MEAN: g->means[i * 3 + s->comp] = (float)v; break;
    case DST_SCALE: g->log_scales[i * 3 + s->comp] = (float)v; break;
    case DST_QUAT: g->quats[i * 4 + s->comp] = (float)v; break;
    case DST_SH: g->sh[i * t->sh_block + s->comp] = (float)v; break;
    case DST_NONE:
    case DST_OPACITY: break;
    }
    return CLS_OK;
}

static cls_status check_quat(const ply_target *t, size_t i, cls_error *err)
{
    const float *q = t->g->quats + i * 4;
    if (q[0] == 0.0f && q[1] == 0.0f && q[2] == 0.0f && q[3] == 0.0f)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: vertex %zu: the rotation quaternion (rot_0..rot_3) is all zero",
                         t->path, i);
    return CLS_OK;
}

/* ---- ASCII bodies ---------------------------------------------------------------------- */

/* The next whitespace-separated token; *len = 0 at the end of the file. */
static cls_status ascii_token(cls__reader *r, char *buf, size_t cap, size_t *len, cls_error *err)
{
    int c;
    size_t n = 0;
    while ((c = cls__reader_getc(r)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        ;
    while (c != EOF && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        if (n + 1 >= cap)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: value longer than %zu characters at offset %llu",
                             r->path, cap - 1, (unsigned long long)r->pos);
        buf[n++] = (char)c;
        c = cls__reader_getc(r);
    }
    buf[n] = '\0';
    *len = n;
    return CLS_OK;
}

static cls_status ascii_value(cls__reader *r, const char *elem, uint64_t i, const char *prop, double *v,
                              cls_error *err)
{
    char tok[128];
    size_t len;
    cls_status st = ascii_token(r, tok, sizeof tok, &len, err);
    if (st != CLS_OK)
        return st;
    if (len == 0)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: truncated: the file ends in %s %llu, property '%s'", r->path,
                         elem, (unsigned long long)i, prop);
    if (!cls__parse_double(tok, v))
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: %s %llu: property '%s': '%s' is not a number", r->path, elem,
                         (unsigned long long)i, prop, tok);
    return CLS_OK;
}

static cls_status ascii_skip_element(cls__reader *r, const ply_element *e, cls_error *err)
{
    cls_status st;
    double v;
    for (uint64_t i = 0; i < e->count; i++)
        for (size_t p = 0; p < e->nprops; p++) {
            uint64_t n = 1;
            if (e->props[p].is_list) {
                if ((st = ascii_value(r, e->name, i, e->props[p].name, &v, err)) != CLS_OK)
                    return st;
                if (!(v >= 0 && v <= 1e9))
                    return cls__fail(err, CLS_ERROR_FORMAT, "%s: %s %llu: bad list length", r->path, e->name,
                                     (unsigned long long)i);
                n = (uint64_t)v;
            }
            for (uint64_t k = 0; k < n; k++)
                if ((st = ascii_value(r, e->name, i, e->props[p].name, &v, err)) != CLS_OK)
                    return st;
        }
    return CLS_OK;
}

static cls_status ascii_vertices(cls__reader *r, const ply_element *v, const ply_slot *slots,
                                 const ply_target *t, cls_error *err)
{
    cls_status st;
    for (size_t i = 0; i < t->g->count; i++) {
        for (size_t p = 0; p < v->nprops; p++) {
            double val;
            if ((st = ascii_value(r, "vertex", i, v->props[p].name, &val, err)) != CLS_OK ||
                (st = store(t, i, &slots[p], val, err)) != CLS_OK)
                return st;
        }
        if ((st = check_quat(t, i, err)) != CLS_OK)
            return st;
    }
    return CLS_OK;
}

/* ---- binary bodies --------------------------------------------------------------------- */

static cls_status binary_skip_element(cls__reader *r, const ply_element *e, int big, cls_error *err)
{
    uint64_t stride = 0;
    int has_list = 0;
    char what[PLY_NAME_MAX + 32];
    cls_status st;
    snprintf(what, sizeof what, "element %s", e->name);
    for (size_t p = 0; p < e->nprops; p++) {
        has_list |= e->props[p].is_list;
        stride += ply_types[e->props[p].type].size;
    }
    if (!has_list) {
        if (stride != 0 && e->count > UINT64_MAX / stride)
            return cls__fail(err, CLS_ERROR_FORMAT, "%s: element %s: %llu records of %llu bytes overflow", r->path,
                             e->name, (unsigned long long)e->count, (unsigned long long)stride);
        return cls__reader_skip(r, e->count * stride, what, err);
    }
    for (uint64_t i = 0; i < e->count; i++)
        for (size_t p = 0; p < e->nprops; p++) {
            const ply_property *q = &e->props[p];
            uint64_t n = 1;
            if (q->is_list) {
                uint8_t b[8];
                double len;
                if ((st = cls__reader_read(r, b, ply_types[q->count_type].size, what, err)) != CLS_OK)
                    return st;
                len = decode_binary(b, q->count_type, big);
                if (len < 0)
                    return cls__fail(err, CLS_ERROR_FORMAT, "%s: %s %llu: negative list length", r->path, e->name,
                                     (unsigned long long)i);
                n = (uint64_t)len;
            }
            if ((st = cls__reader_skip(r, n * ply_types[q->type].size, what, err)) != CLS_OK)
                return st;
        }
    return CLS_OK;
}

static cls_status binary_vertices(cls__reader *r, const ply_element *v, const ply_slot *slots, size_t stride,
                                  const ply_target *t, int big, cls_error *err)
{
    size_t per_chunk = PLY_CHUNK_BYTES / stride + 1;
    uint8_t *buf = malloc(per_chunk * stride);
    cls_status st = CLS_OK;
    if (buf == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", r->path);
    for (size_t first = 0; first < t->g->count; first += per_chunk) {
        size_t n = t->g->count - first < per_chunk ? t->g->count - first : per_chunk;
        if ((st = cls__reader_read(r, buf, n * stride, "vertex data", err)) != CLS_OK)
            goto done;
        for (size_t j = 0; j < n; j++) {
            const uint8_t *rec = buf + j * stride;
            for (size_t p = 0; p < v->nprops; p++) {
                if (slots[p].dst == DST_NONE)
                    continue;
                st = store(t, first + j, &slots[p], decode_binary(rec + slots[p].offset, slots[p].type, big), err);
                if (st != CLS_OK)
                    goto done;
            }
            if ((st = check_quat(t, first + j, err)) != CLS_OK)
                goto done;
        }
    }
done:
    free(buf);
    return st;
}

/* ---- reader ---------------------------------------------------------------------------- */

/* Rejects counts the rest of the file cannot hold before anything is allocated. */
static cls_status check_size(const cls__reader *r, const ply_header *h, const ply_element *v, size_t stride,
                             cls_error *err)
{
    uint64_t left = cls__reader_remaining(r);
    if (v->count == 0)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: element vertex 0: the file holds no Gaussians", r->path);
    if (h->format == PLY_ASCII) {
        /* Every value takes at least two bytes: a digit and a separator. */
        uint64_t per = 2 * (uint64_t)v->nprops;
        if (v->count > (left + 1) / per)
            return cls__fail(err, CLS_ERROR_FORMAT,
                             "%s: truncated: element vertex %llu needs at least %llu bytes of text per vertex, "
                             "but only %llu bytes follow the header",
                             r->path, (unsigned long long)v->count, (unsigned long long)per,
                             (unsigned long long)left);
        return CLS_OK;
    }
    if (v->count > UINT64_MAX / stride || v->count > SIZE_MAX / stride)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: element vertex %llu: %llu records of %zu bytes overflow",
                         r->path, (unsigned long long)v->count, (unsigned long long)v->count, stride);
    if (v->count * stride > left)
        return cls__fail(err, CLS_ERROR_FORMAT,
                         "%s: truncated: %llu vertices of %zu bytes need %llu bytes of vertex data, found %llu",
                         r->path, (unsigned long long)v->count, stride, (unsigned long long)(v->count * stride),
                         (unsigned long long)left);
    return CLS_OK;
}

static cls_status read_body(cls__reader *r, const ply_header *h, cls_gaussians *out, cls_error *err)
{
    const ply_element *v = NULL;
    ply_slot *slots = NULL;
    size_t vi = 0, stride = 0;
    int degree = 0;
    int big = h->format == PLY_BINARY_BE;
    ply_target t;
    cls_status st;
    for (size_t i = 0; i < h->nelems; i++)
        if (strcmp(h->elems[i].name, "vertex") == 0) {
            if (v != NULL)
                return cls__fail(err, CLS_ERROR_FORMAT, "%s: two 'vertex' elements", r->path);
            v = &h->elems[i];
            vi = i;
        }
    if (v == NULL)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: no 'vertex' element", r->path);
    slots = calloc(v->nprops + 1, sizeof *slots);
    if (slots == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", r->path);
    if ((st = map_vertex(r, v, slots, &degree, &stride, err)) != CLS_OK)
        goto done;
    for (size_t i = 0; i < vi && st == CLS_OK; i++)
        st = h->format == PLY_ASCII ? ascii_skip_element(r, &h->elems[i], err)
                                    : binary_skip_element(r, &h->elems[i], big, err);
    if (st != CLS_OK || (st = check_size(r, h, v, stride, err)) != CLS_OK)
        goto done;
    if ((st = cls_gaussians_alloc(out, (size_t)v->count, degree, err)) != CLS_OK)
        goto done;
    t.g = out;
    t.sh_block = (size_t)cls_sh_coeff_count(degree) * 3;
    t.path = r->path;
    st = h->format == PLY_ASCII ? ascii_vertices(r, v, slots, &t, err)
                                : binary_vertices(r, v, slots, stride, &t, big, err);
done:
    free(slots);
    return st;
}

cls_status cls__ply_read(const char *path, cls_gaussians *out, cls_error *err)
{
    cls__reader r;
    ply_header h;
    cls_status st;
    memset(&h, 0, sizeof h);
    memset(out, 0, sizeof *out);
    if ((st = cls__reader_open(&r, path, err)) != CLS_OK)
        return st;
    if ((st = header_read(&r, &h, err)) == CLS_OK)
        st = read_body(&r, &h, out, err);
    if (st != CLS_OK)
        cls_gaussians_free(out);
    header_free(&h);
    cls__reader_close(&r);
    return st;
}

/* ---- writer ---------------------------------------------------------------------------- */

static cls_status write_header(cls__atomic_file *f, const cls_gaussians *g, size_t n_rest, cls_error *err)
{
    static const char *const before_rest[] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
    static const char *const after_rest[] = {"opacity", "scale_0", "scale_1", "scale_2",
                                             "rot_0",   "rot_1",   "rot_2",   "rot_3"};
    char line[96];
    cls_status st;
    int n = snprintf(line, sizeof line, "ply\nformat binary_little_endian 1.0\nelement vertex %zu\n", g->count);
    if ((st = cls__atomic_write(f, line, (size_t)n, err)) != CLS_OK)
        return st;
    for (size_t i = 0; i < sizeof before_rest / sizeof before_rest[0]; i++) {
        n = snprintf(line, sizeof line, "property float %s\n", before_rest[i]);
        if ((st = cls__atomic_write(f, line, (size_t)n, err)) != CLS_OK)
            return st;
    }
    for (size_t i = 0; i < n_rest; i++) {
        n = snprintf(line, sizeof line, "property float f_rest_%zu\n", i);
        if ((st = cls__atomic_write(f, line, (size_t)n, err)) != CLS_OK)
            return st;
    }
    for (size_t i = 0; i < sizeof after_rest / sizeof after_rest[0]; i++) {
        n = snprintf(line, sizeof line, "property float %s\n", after_rest[i]);
        if ((st = cls__atomic_write(f, line, (size_t)n, err)) != CLS_OK)
            return st;
    }
    return cls__atomic_write(f, "end_header\n", 11, err);
}

/* One vertex in the INRIA order: x y z, zero normals, f_dc, channel-major f_rest, opacity,
 * scales, rotation. */
static void encode_vertex(const cls_gaussians *g, size_t i, size_t k, uint8_t *rec)
{
    float v[62];
    size_t n = 0;
    const float *sh = g->sh + i * k * 3;
    for (int c = 0; c < 3; c++)
        v[n++] = g->means[i * 3 + (size_t)c];
    for (int c = 0; c < 3; c++)
        v[n++] = 0.0f;
    for (int c = 0; c < 3; c++)
        v[n++] = sh[c];
    for (size_t c = 0; c < 3; c++)
        for (size_t j = 1; j < k; j++)
            v[n++] = sh[j * 3 + c];
    v[n++] = g->opacity_logits[i];
    for (int c = 0; c < 3; c++)
        v[n++] = g->log_scales[i * 3 + (size_t)c];
    for (int c = 0; c < 4; c++)
        v[n++] = g->quats[i * 4 + (size_t)c];
    for (size_t j = 0; j < n; j++)
        cls__st_f32le(rec + 4 * j, v[j]);
}

cls_status cls__ply_write(const char *path, const cls_gaussians *g, cls_error *err)
{
    size_t k = (size_t)cls_sh_coeff_count(g->sh_degree);
    size_t stride = (14 + 3 * k) * sizeof(float); /* xyz, normals, opacity, scales, rot + 3k SH */
    size_t per_chunk = PLY_CHUNK_BYTES / stride + 1;
    uint8_t *buf = malloc(per_chunk * stride);
    cls__atomic_file f;
    cls_status st;
    if (buf == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    if ((st = cls__atomic_write_begin(&f, path, err)) != CLS_OK) {
        free(buf);
        return st;
    }
    if ((st = write_header(&f, g, 3 * (k - 1), err)) != CLS_OK)
        goto fail;
    for (size_t first = 0; first < g->count; first += per_chunk) {
        size_t n = g->count - first < per_chunk ? g->count - first : per_chunk;
        for (size_t j = 0; j < n; j++)
            encode_vertex(g, first + j, k, buf + j * stride);
        if ((st = cls__atomic_write(&f, buf, n * stride, err)) != CLS_OK)
            goto fail;
    }
    free(buf);
    return cls__atomic_write_commit(&f, err);
fail:
    free(buf);
    cls__atomic_write_abort(&f);
    return st;
}
