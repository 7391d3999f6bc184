/* test_io_ply.c - Gaussian files: INRIA .ply (read and write), antimatter15 .splat, and the
 * cls_gaussians helpers. Real files from ../shared/data are checked against an independent
 * parse done here with plain fread of the known record layouts. */
#include "clsplat.h"
#include "io/io_internal.h"
#include "test_io_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SH_C0 0.28209479177387814

/* ---- helpers --------------------------------------------------------------------------- */

/* The INRIA property names in file order for a degree; returns the count. */
static int inria_names(int degree, char names[][32])
{
    static const char *const head[] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
    static const char *const tail[] = {"opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
    int n = 0, rest = 3 * (cls_sh_coeff_count(degree) - 1);
    for (int i = 0; i < 9; i++)
        snprintf(names[n++], 32, "%s", head[i]);
    for (int i = 0; i < rest; i++)
        snprintf(names[n++], 32, "f_rest_%d", i % 100);
    for (int i = 0; i < 8; i++)
        snprintf(names[n++], 32, "%s", tail[i]);
    return n;
}

/* The value of INRIA property j (file order) of Gaussian i. */
static float inria_value(const cls_gaussians *g, size_t i, int j)
{
    int k = cls_sh_coeff_count(g->sh_degree), rest = 3 * (k - 1);
    const float *sh = g->sh + i * (size_t)k * 3;
    if (j < 3)
        return g->means[i * 3 + (size_t)j];
    if (j < 6)
        return 0.0f;
    if (j < 9)
        return sh[j - 6];
    if (j < 9 + rest) {
        int r = j - 9, c = r / (k - 1), coeff = r % (k - 1) + 1;
        return sh[coeff * 3 + c];
    }
    j -= 9 + rest;
    if (j == 0)
        return g->opacity_logits[i];
    if (j < 4)
        return g->log_scales[i * 3 + (size_t)(j - 1)];
    return g->quats[i * 4 + (size_t)(j - 4)];
}

static void assert_same_gaussians(const cls_gaussians *a, const cls_gaussians *b)
{
    size_t k = (size_t)cls_sh_coeff_count(a->sh_degree);
    ck_assert_uint_eq(a->count, b->count);
    ck_assert_int_eq(a->sh_degree, b->sh_degree);
    ck_assert_mem_eq(a->means, b->means, a->count * 3 * sizeof(float));
    ck_assert_mem_eq(a->log_scales, b->log_scales, a->count * 3 * sizeof(float));
    ck_assert_mem_eq(a->quats, b->quats, a->count * 4 * sizeof(float));
    ck_assert_mem_eq(a->opacity_logits, b->opacity_logits, a->count * sizeof(float));
    ck_assert_mem_eq(a->sh, b->sh, a->count * k * 3 * sizeof(float));
}

/* An INRIA header for the format; `count` is the text after "element vertex". */
static void inria_header(tio_buf *b, const char *format, const char *count, int degree)
{
    char names[64][32], line[128];
    int n = inria_names(degree, names);
    snprintf(line, sizeof line, "ply\nformat %s 1.0\ncomment made by test_io_ply\nelement vertex %s\n", format, count);
    tio_buf_str(b, line);
    for (int j = 0; j < n; j++) {
        snprintf(line, sizeof line, "property float %.31s\n", names[j]);
        tio_buf_str(b, line);
    }
    tio_buf_str(b, "end_header\n");
}

/* A degree-0 binary little-endian file of n valid vertices where vertex `at`'s property
 * `prop` (INRIA order, 17 properties) is replaced by value (at < 0: no change). */
static void write_deg0(const char *path, size_t n, int at, int prop, float value)
{
    cls_gaussians g;
    tio_buf b = {0};
    char count[32];
    tio_random_gaussians(&g, n, 0, 7);
    snprintf(count, sizeof count, "%zu", n);
    inria_header(&b, "binary_little_endian", count, 0);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 17; j++)
            tio_buf_f32(&b, (int)i == at && j == prop ? value : inria_value(&g, i, j), 0);
    tio_write_file(path, b.data, b.size);
    free(b.data);
    cls_gaussians_free(&g);
}

/* Finds the end of a PLY header in a buffer. */
static size_t header_end(const char *data, size_t size)
{
    for (size_t i = 0; i + 11 <= size; i++)
        if (memcmp(data + i, "end_header\n", 11) == 0)
            return i + 11;
    ck_abort_msg("no end_header");
    return 0;
}

/* ---- real data ------------------------------------------------------------------------- */

/* Compares a loaded file against the raw float records (INRIA order with `floats` per
 * record, the INRIA properties first). */
static void check_against_raw(const char *rel, size_t count, size_t floats, size_t trailing)
{
    char *path = tio_data_path(rel);
    cls_gaussians g, ref;
    cls_error err;
    size_t size, off;
    char *raw = tio_read_file(path, &size);
    off = header_end(raw, size);
    ck_assert_uint_eq(size - off - count * floats * 4, trailing);
    TIO_OK(cls_gaussians_load(path, &g, &err), err);
    ck_assert_uint_eq(g.count, count);
    ck_assert_int_eq(g.sh_degree, 3);
    /* ref: the same degree, filled from the raw records through the INRIA mapping. */
    ck_assert_int_eq(cls_gaussians_alloc(&ref, count, 3, &err), CLS_OK);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *rec = (const uint8_t *)raw + off + i * floats * 4;
        float v[64] = {0};
        for (size_t j = 0; j < floats; j++)
            memcpy(&v[j], rec + 4 * j, 4); /* little-endian host assumed by this check */
        for (int c = 0; c < 3; c++) {
            ref.means[i * 3 + (size_t)c] = v[c];
            ref.sh[i * 48 + (size_t)c] = v[6 + c];
            ref.log_scales[i * 3 + (size_t)c] = v[55 + c];
            for (int k = 1; k < 16; k++)
                ref.sh[i * 48 + (size_t)k * 3 + (size_t)c] = v[9 + c * 15 + (k - 1)];
        }
        ref.opacity_logits[i] = v[54];
        for (int c = 0; c < 4; c++)
            ref.quats[i * 4 + (size_t)c] = v[58 + c];
    }
    assert_same_gaussians(&g, &ref);
    cls_gaussians_free(&g);
    cls_gaussians_free(&ref);
    free(raw);
    free(path);
}

START_TEST(real_fruit_drops)
{
    check_against_raw("fruit_drops_minimal/fruit_drops_minimal.ply", 4721, 63, 0);
}
END_TEST

START_TEST(real_epfl_trailing_bytes)
{
    check_against_raw("epfl_pc_short/pc_short.ply", 100, 62, 14029);
}
END_TEST

/* Our writer reproduces the INRIA exporter's bytes exactly (pc_short has zero normals). */
START_TEST(real_epfl_rewrite_is_byte_identical)
{
    char *path = tio_data_path("epfl_pc_short/pc_short.ply");
    char *out = tio_tmp_path("ply_epfl_rewrite.ply");
    cls_gaussians g;
    cls_error err;
    size_t n_orig, n_new;
    char *orig, *mine;
    TIO_OK(cls_gaussians_load(path, &g, &err), err);
    TIO_OK(cls_gaussians_save(out, &g, &err), err);
    orig = tio_read_file(path, &n_orig);
    mine = tio_read_file(out, &n_new);
    ck_assert_uint_eq(n_new, n_orig - 14029);
    ck_assert_mem_eq(mine, orig, n_new);
    free(orig);
    free(mine);
    cls_gaussians_free(&g);
    free(out);
    free(path);
}
END_TEST

/* ---- round trips ----------------------------------------------------------------------- */

START_TEST(ply_round_trip_each_degree)
{
    int degree = _i;
    char name[64];
    char *path;
    cls_gaussians g, back;
    cls_error err;
    snprintf(name, sizeof name, "ply_round_trip_%d.ply", degree);
    path = tio_tmp_path(name);
    tio_random_gaussians(&g, 257, degree, (uint32_t)(100 + degree));
    g.opacity_logits[3] = 37.5f; /* finite values beyond the clamp are kept */
    TIO_OK(cls_gaussians_save(path, &g, &err), err);
    ck_assert_int_eq(err.status, CLS_OK);
    TIO_OK(cls_gaussians_load(path, &back, &err), err);
    assert_same_gaussians(&g, &back);
    cls_gaussians_free(&back);
    /* The header lists exactly the INRIA properties. */
    {
        size_t size;
        char *raw = tio_read_file(path, &size);
        size_t off = header_end(raw, size);
        size_t floats = (size_t)(14 + 3 * cls_sh_coeff_count(degree));
        ck_assert_ptr_nonnull(strstr(raw, "ply\nformat binary_little_endian 1.0\nelement vertex 257\nproperty float x\n"));
        ck_assert_uint_eq(size - off, 257 * floats * 4);
        free(raw);
    }
    cls_gaussians_free(&g);
    free(path);
}
END_TEST

START_TEST(splat_round_trip)
{
    char *path = tio_tmp_path("splat_round_trip.splat");
    cls_gaussians g, back;
    cls_error err;
    /* Tolerances: positions exact; log-scales 1e-6 (float exp/log); f_dc half a colour step
     * (0.5 / 255 / C0 = 0.00696); opacity half a step in sigmoid space (0.5 / 255); the
     * normalised quaternion 1/64 per component (bytes are q * 128 + 128, clamped at 255). */
    const double tol_dc = 0.5 / 255.0 / SH_C0 + 1e-6, tol_alpha = 0.5 / 255.0 + 1e-6, tol_q = 1.0 / 64.0;
    tio_random_gaussians(&g, 1000, 2, 42);
    TIO_OK(cls_gaussians_save(path, &g, &err), err);
    TIO_OK(cls_gaussians_load(path, &back, &err), err);
    ck_assert_uint_eq(back.count, g.count);
    ck_assert_int_eq(back.sh_degree, 0);
    ck_assert_mem_eq(back.means, g.means, g.count * 3 * sizeof(float));
    for (size_t i = 0; i < g.count; i++) {
        double na = 0, nb = 0;
        double sa = 1 / (1 + exp(-(double)g.opacity_logits[i])), sb = 1 / (1 + exp(-(double)back.opacity_logits[i]));
        ck_assert(isfinite(back.opacity_logits[i]));
        ck_assert_double_eq_tol(sa, sb, tol_alpha);
        for (int c = 0; c < 3; c++) {
            ck_assert_double_eq_tol(back.log_scales[i * 3 + (size_t)c], g.log_scales[i * 3 + (size_t)c], 1e-6);
            ck_assert_double_eq_tol(back.sh[i * 3 + (size_t)c], g.sh[i * 27 + (size_t)c], tol_dc);
        }
        for (int c = 0; c < 4; c++) {
            na += (double)g.quats[i * 4 + (size_t)c] * g.quats[i * 4 + (size_t)c];
            nb += (double)back.quats[i * 4 + (size_t)c] * back.quats[i * 4 + (size_t)c];
        }
        for (int c = 0; c < 4; c++)
            ck_assert_double_eq_tol(g.quats[i * 4 + (size_t)c] / sqrt(na), back.quats[i * 4 + (size_t)c] / sqrt(nb),
                                    tol_q);
    }
    cls_gaussians_free(&g);
    cls_gaussians_free(&back);
    free(path);
}
END_TEST

/* ASCII and big-endian files, with the properties in another order and an extra one, give the
 * same values as the little-endian file. */
START_TEST(ascii_and_big_endian_match_little_endian)
{
    char *le = tio_tmp_path("ply_fmt_le.ply"), *asc = tio_tmp_path("ply_fmt_ascii.ply"),
         *be = tio_tmp_path("ply_fmt_be.ply");
    char names[64][32], line[128];
    int n = inria_names(1, names);
    cls_gaussians g, a, b;
    cls_error err;
    tio_buf ta = {0}, tb = {0};
    tio_random_gaussians(&g, 9, 1, 5);
    TIO_OK(cls_gaussians_save(le, &g, &err), err);
    tio_buf_str(&ta, "ply\r\nformat ascii 1.0\r\nobj_info generated\r\nelement vertex 9\r\nproperty uchar extra\r\n");
    tio_buf_str(&tb, "ply\nformat binary_big_endian 1.0\nelement vertex 9\nproperty uint8 extra\n");
    for (int j = n - 1; j >= 0; j--) { /* reversed order */
        snprintf(line, sizeof line, "property float %.31s\r\n", names[j]);
        tio_buf_str(&ta, line);
        snprintf(line, sizeof line, "property float32 %.31s\n", names[j]);
        tio_buf_str(&tb, line);
    }
    tio_buf_str(&ta, "end_header\r\n");
    tio_buf_str(&tb, "end_header\n");
    for (size_t i = 0; i < g.count; i++) {
        uint8_t extra = 200;
        tio_buf_str(&ta, "200");
        tio_buf_put(&tb, &extra, 1);
        for (int j = n - 1; j >= 0; j--) {
            snprintf(line, sizeof line, i % 2 ? " %.9g" : "\t%.9g\n", (double)inria_value(&g, i, j));
            tio_buf_str(&ta, line);
            tio_buf_f32(&tb, inria_value(&g, i, j), 1);
        }
        tio_buf_str(&ta, "\r\n");
    }
    tio_write_file(asc, ta.data, ta.size);
    tio_write_file(be, tb.data, tb.size);
    TIO_OK(cls_gaussians_load(asc, &a, &err), err);
    TIO_OK(cls_gaussians_load(be, &b, &err), err);
    assert_same_gaussians(&g, &a);
    assert_same_gaussians(&g, &b);
    cls_gaussians_free(&g);
    cls_gaussians_free(&a);
    cls_gaussians_free(&b);
    free(ta.data);
    free(tb.data);
    free(le);
    free(asc);
    free(be);
}
END_TEST

/* Every scalar type and alias decodes; other elements before the vertex are skipped (list
 * properties included) and the ones after it are ignored. */
START_TEST(all_types_and_other_elements)
{
    static const struct {
        const char *type, *name;
        int bytes;
        uint64_t bits; /* little-endian encoding */
        double expect;
    } props[] = {
        {"double", "x", 8, 0x3ff8000000000000ull, 1.5},     {"float64", "y", 8, 0xc004000000000000ull, -2.5},
        {"float32", "z", 4, 0x40400000u, 3.0},               {"char", "f_dc_0", 1, 0xfd, -3.0},
        {"int8", "f_dc_1", 1, 0x05, 5.0},                    {"uchar", "f_dc_2", 1, 0xfe, 254.0},
        {"short", "opacity", 2, 0xfff6, -10.0},              {"int16", "scale_0", 2, 0x0007, 7.0},
        {"ushort", "scale_1", 2, 0xfffe, 65534.0},           {"uint16", "scale_2", 2, 0x0002, 2.0},
        {"int", "rot_0", 4, 0xffffff9cu, -100.0},            {"int32", "rot_1", 4, 0x00000064u, 100.0},
        {"uint", "rot_2", 4, 0xfffffff0u, 4294967280.0},     {"uint32", "rot_3", 4, 0x00000001u, 1.0},
    };
    const size_t np = sizeof props / sizeof props[0];
    char *path = tio_tmp_path("ply_types.ply");
    char line[128];
    tio_buf b = {0};
    cls_gaussians g;
    cls_error err;
    tio_buf_str(&b, "ply\nformat binary_little_endian 1.0\nelement camera 2\nproperty uchar a\n"
                "property list uchar int idx\nproperty float b\nelement vertex 2\n");
    for (size_t p = 0; p < np; p++) {
        snprintf(line, sizeof line, "property %s %s\n", props[p].type, props[p].name);
        tio_buf_str(&b, line);
    }
    tio_buf_str(&b, "element face 1\nproperty list uchar int vertex_indices\nend_header\n");
    /* two cameras: a, a list of 3 then 0 ints, b */
    tio_buf_le(&b, 1, 1), tio_buf_le(&b, 3, 1), tio_buf_le(&b, 10, 4), tio_buf_le(&b, 11, 4), tio_buf_le(&b, 12, 4), tio_buf_le(&b, 0, 4);
    tio_buf_le(&b, 2, 1), tio_buf_le(&b, 0, 1), tio_buf_le(&b, 0, 4);
    for (int v = 0; v < 2; v++)
        for (size_t p = 0; p < np; p++)
            tio_buf_le(&b, props[p].bits, props[p].bytes);
    tio_buf_le(&b, 3, 1), tio_buf_le(&b, 0, 4), tio_buf_le(&b, 1, 4), tio_buf_le(&b, 1, 4);
    tio_write_file(path, b.data, b.size);
    TIO_OK(cls_gaussians_load(path, &g, &err), err);
    ck_assert_uint_eq(g.count, 2);
    ck_assert_int_eq(g.sh_degree, 0);
    for (size_t v = 0; v < 2; v++) {
        const float got[14] = {g.means[v * 3], g.means[v * 3 + 1], g.means[v * 3 + 2], g.sh[v * 3], g.sh[v * 3 + 1],
                               g.sh[v * 3 + 2], g.opacity_logits[v], g.log_scales[v * 3], g.log_scales[v * 3 + 1],
                               g.log_scales[v * 3 + 2], g.quats[v * 4], g.quats[v * 4 + 1], g.quats[v * 4 + 2],
                               g.quats[v * 4 + 3]};
        for (size_t p = 0; p < np; p++)
            ck_assert_msg(got[p] == (float)props[p].expect, "%s: %g != %g", props[p].name, (double)got[p],
                          props[p].expect);
    }
    cls_gaussians_free(&g);
    free(b.data);
    free(path);
}
END_TEST

START_TEST(ascii_element_before_vertex)
{
    char *path = tio_tmp_path("ply_ascii_elements.ply");
    const char *text = "ply\nformat ascii 1.0\nelement material 2\nproperty list uchar float values\n"
                       "property uchar id\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n"
                       "property float f_dc_0\nproperty float f_dc_1\nproperty float f_dc_2\nproperty float opacity\n"
                       "property float scale_0\nproperty float scale_1\nproperty float scale_2\nproperty float rot_0\n"
                       "property float rot_1\nproperty float rot_2\nproperty float rot_3\nend_header\n"
                       "3 0.5 0.25 1 7\n0 8\n1 2 3 0.1 0.2 0.3 inf -1 -2 -3 1 0 0 0\n";
    cls_gaussians g;
    cls_error err;
    tio_write_file(path, text, strlen(text));
    TIO_OK(cls_gaussians_load(path, &g, &err), err);
    ck_assert_uint_eq(g.count, 1);
    ck_assert(g.means[0] == 1.0f && g.means[1] == 2.0f && g.means[2] == 3.0f);
    ck_assert(g.sh[1] == 0.2f);
    ck_assert(g.opacity_logits[0] == CLS__OPACITY_LOGIT_LIMIT); /* +inf is clamped */
    ck_assert(g.log_scales[2] == -3.0f && g.quats[0] == 1.0f);
    cls_gaussians_free(&g);
    free(path);
}
END_TEST

START_TEST(infinite_opacity_is_clamped)
{
    char *path = tio_tmp_path("ply_inf_opacity.ply");
    cls_gaussians g;
    cls_error err;
    write_deg0(path, 4, 2, 9, -INFINITY); /* property 9 = opacity */
    TIO_OK(cls_gaussians_load(path, &g, &err), err);
    ck_assert(g.opacity_logits[2] == -CLS__OPACITY_LOGIT_LIMIT);
    cls_gaussians_free(&g);
    free(path);
}
END_TEST

START_TEST(alloc_and_free)
{
    cls_gaussians g;
    cls_error err;
    ck_assert_int_eq(cls_sh_coeff_count(0), 1);
    ck_assert_int_eq(cls_sh_coeff_count(3), 16);
    ck_assert_int_eq(cls_sh_coeff_count(4), 0);
    ck_assert_int_eq(cls_sh_coeff_count(-1), 0);
    TIO_OK(cls_gaussians_alloc(&g, 3, 2, &err), err);
    ck_assert_uint_eq(g.count, 3);
    ck_assert(g.sh[3 * 9 * 3 - 1] == 0.0f && g.quats[11] == 0.0f);
    cls_gaussians_free(&g);
    ck_assert_ptr_null(g.means);
    cls_gaussians_free(&g); /* zeroed: no-op */
    cls_gaussians_free(NULL);
    TIO_EXPECT(cls_gaussians_alloc(&g, 3, 4, &err), err, CLS_ERROR_INVALID_ARGUMENT, "degree 4");
    TIO_EXPECT(cls_gaussians_alloc(NULL, 3, 0, &err), err, CLS_ERROR_INVALID_ARGUMENT, "NULL");
    TIO_EXPECT(cls_gaussians_alloc(&g, SIZE_MAX / 8, 3, &err), err, CLS_ERROR_OUT_OF_HOST_MEMORY, "Gaussians");
    ck_assert_ptr_null(g.means);
    /* The error record is optional. */
    ck_assert_int_eq(cls_gaussians_alloc(&g, 1, 9, NULL), CLS_ERROR_INVALID_ARGUMENT);
}
END_TEST

/* ---- malformed .ply -------------------------------------------------------------------- */

START_TEST(ply_truncated_at_several_offsets)
{
    char *good = tio_tmp_path("ply_trunc_src.ply"), *cut = tio_tmp_path("ply_trunc_cut.ply");
    cls_gaussians g, back;
    cls_error err;
    size_t size, off;
    char *raw;
    tio_random_gaussians(&g, 10, 1, 3);
    TIO_OK(cls_gaussians_save(good, &g, &err), err);
    raw = tio_read_file(good, &size);
    off = header_end(raw, size); /* 10 vertices of (14 + 12) * 4 = 104 bytes */
    ck_assert_uint_eq(size - off, 1040);
    {
        const size_t cuts[] = {off, off + 1, off + 104 * 5 + 3, size - 1};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            char found[64];
            tio_write_file(cut, raw, cuts[c]);
            snprintf(found, sizeof found, "need 1040 bytes of vertex data, found %zu", cuts[c] - off);
            TIO_EXPECT(cls_gaussians_load(cut, &back, &err), err, CLS_ERROR_FORMAT, found);
            ck_assert_ptr_null(back.means);
        }
    }
    /* Cut inside the header. */
    tio_write_file(cut, raw, 60);
    TIO_EXPECT(cls_gaussians_load(cut, &back, &err), err, CLS_ERROR_FORMAT, "end_header");
    tio_write_file(cut, raw, off - 1); /* "end_header" without its newline still counts */
    TIO_EXPECT(cls_gaussians_load(cut, &back, &err), err, CLS_ERROR_FORMAT, "found 0");
    cls_gaussians_free(&g);
    free(raw);
    free(good);
    free(cut);
}
END_TEST

START_TEST(ply_counts_too_large)
{
    char *path = tio_tmp_path("ply_counts.ply");
    cls_gaussians g;
    cls_error err;
    tio_buf b = {0};
    inria_header(&b, "binary_little_endian", "1000000", 0);
    for (int j = 0; j < 17 * 10; j++)
        tio_buf_f32(&b, 1.0f, 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "need 68000000 bytes");
    b.size = 0;
    inria_header(&b, "binary_little_endian", "18446744073709551615", 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "18446744073709551615");
    ck_assert_ptr_nonnull(strstr(err.message, "overflow"));
    b.size = 0;
    inria_header(&b, "binary_little_endian", "18446744073709551616", 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "invalid count '18446744073709551616'");
    b.size = 0;
    inria_header(&b, "binary_little_endian", "-5", 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "invalid count");
    b.size = 0;
    inria_header(&b, "ascii", "4000000000", 0);
    tio_buf_str(&b, "1 2 3\n");
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "truncated");
    b.size = 0;
    inria_header(&b, "binary_little_endian", "0", 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "no Gaussians");
    free(b.data);
    free(path);
}
END_TEST

START_TEST(ply_missing_required_property)
{
    static const char *const required[] = {"x", "f_dc_2", "opacity", "scale_1", "rot_3"};
    char *path = tio_tmp_path("ply_missing.ply");
    char names[64][32], line[128];
    int n = inria_names(0, names);
    cls_gaussians g;
    cls_error err;
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        tio_buf b = {0};
        char expect[64];
        tio_buf_str(&b, "ply\nformat binary_little_endian 1.0\nelement vertex 1\n");
        for (int j = 0; j < n; j++)
            if (strcmp(names[j], required[r]) != 0) {
                snprintf(line, sizeof line, "property float %.31s\n", names[j]);
                tio_buf_str(&b, line);
            }
        tio_buf_str(&b, "end_header\n");
        for (int j = 0; j < n; j++)
            tio_buf_f32(&b, 1.0f, 0);
        tio_write_file(path, b.data, b.size);
        snprintf(expect, sizeof expect, "no property '%s'", required[r]);
        TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, expect);
        free(b.data);
    }
    free(path);
}
END_TEST

START_TEST(ply_non_finite_values)
{
    /* INRIA order, degree 0: 0-2 xyz, 3-5 normals, 6-8 f_dc, 9 opacity, 10-12 scale, 13-16 rot. */
    static const struct {
        int vertex, prop;
        float value;
        const char *expect;
    } cases[] = {
        {3, 1, NAN, "vertex 3: property 'y' is NaN"},
        {0, 0, INFINITY, "vertex 0: property 'x' is infinite"},
        {2, 11, INFINITY, "vertex 2: property 'scale_1' is infinite"},
        {4, 10, NAN, "vertex 4: property 'scale_0' is NaN"},
        {1, 15, NAN, "vertex 1: property 'rot_2' is NaN"},
        {1, 13, -INFINITY, "vertex 1: property 'rot_0' is infinite"},
        {2, 9, NAN, "vertex 2: property 'opacity' is NaN"},
        {3, 7, INFINITY, "vertex 3: property 'f_dc_1' is infinite"},
    };
    char *path = tio_tmp_path("ply_nonfinite.ply");
    cls_gaussians g;
    cls_error err;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_deg0(path, 5, cases[c].vertex, cases[c].prop, cases[c].value);
        TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, cases[c].expect);
        ck_assert_ptr_nonnull(strstr(err.message, path));
    }
    free(path);
}
END_TEST

START_TEST(ply_zero_quaternion_and_nan_sh)
{
    char *path = tio_tmp_path("ply_zero_quat.ply");
    cls_gaussians g, back;
    cls_error err;
    tio_buf b = {0};
    tio_random_gaussians(&g, 3, 1, 9);
    for (int c = 0; c < 4; c++)
        g.quats[1 * 4 + (size_t)c] = 0.0f;
    inria_header(&b, "binary_little_endian", "3", 1);
    for (size_t i = 0; i < 3; i++)
        for (int j = 0; j < 17 + 9; j++)
            tio_buf_f32(&b, inria_value(&g, i, j), 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &back, &err), err, CLS_ERROR_FORMAT, "vertex 1: the rotation quaternion");
    /* NaN in f_rest_4 of vertex 2 (property 9 + 4 in file order) */
    b.size = 0;
    cls_gaussians_free(&g);
    tio_random_gaussians(&g, 3, 1, 9);
    inria_header(&b, "binary_little_endian", "3", 1);
    for (size_t i = 0; i < 3; i++)
        for (int j = 0; j < 17 + 9; j++)
            tio_buf_f32(&b, i == 2 && j == 13 ? NAN : inria_value(&g, i, j), 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &back, &err), err, CLS_ERROR_FORMAT, "vertex 2: property 'f_rest_4' is NaN");
    cls_gaussians_free(&g);
    free(b.data);
    free(path);
}
END_TEST

START_TEST(ply_bad_f_rest_count)
{
    char *path = tio_tmp_path("ply_frest.ply");
    char names[64][32], line[128];
    int n = inria_names(1, names);
    cls_gaussians g;
    cls_error err;
    tio_buf b = {0};
    tio_buf_str(&b, "ply\nformat binary_little_endian 1.0\nelement vertex 1\n");
    for (int j = 0; j < n; j++) {
        snprintf(line, sizeof line, "property float %.31s\n", names[j]);
        tio_buf_str(&b, line);
    }
    tio_buf_str(&b, "property float f_rest_9\nend_header\n");
    for (int j = 0; j <= n; j++)
        tio_buf_f32(&b, 0.5f, 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "has 10 f_rest properties");
    /* 9 f_rest, but f_rest_3 is replaced by f_rest_12: out of range */
    b.size = 0;
    tio_buf_str(&b, "ply\nformat binary_little_endian 1.0\nelement vertex 1\n");
    for (int j = 0; j < n; j++) {
        snprintf(line, sizeof line, "property float %.31s\n", strcmp(names[j], "f_rest_3") ? names[j] : "f_rest_12");
        tio_buf_str(&b, line);
    }
    tio_buf_str(&b, "end_header\n");
    for (int j = 0; j < n; j++)
        tio_buf_f32(&b, 0.5f, 0);
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "f_rest_12");
    free(b.data);
    free(path);
}
END_TEST

START_TEST(ply_bad_headers)
{
    static const struct {
        const char *text;
        cls_status status;
        const char *expect;
    } cases[] = {
        {"", CLS_ERROR_FORMAT, "empty file"},
        {"PK\x03\x04garbage garbage garbage\n", CLS_ERROR_FORMAT, "does not start with 'ply'"},
        {"plyx\nformat ascii 1.0\n", CLS_ERROR_FORMAT, "does not start with 'ply'"},
        {"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\n", CLS_ERROR_FORMAT, "end_header"},
        {"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty list uchar float x\nend_header\n",
         CLS_ERROR_UNSUPPORTED, "'x' is a list"},
        {"ply\nformat binary_little_endian 2.0\nend_header\n", CLS_ERROR_UNSUPPORTED, "version 2.0"},
        {"ply\nformat binary_middle_endian 1.0\nend_header\n", CLS_ERROR_FORMAT, "binary_middle_endian"},
        {"ply\nformat ascii 1.0\nelement vertex 1\nproperty half x\nend_header\n", CLS_ERROR_FORMAT, "'half'"},
        {"ply\nformat ascii 1.0\nproperty float x\nend_header\n", CLS_ERROR_FORMAT, "before any 'element'"},
        {"ply\nelement vertex 1\nproperty float x\nend_header\n", CLS_ERROR_FORMAT, "no 'format'"},
        {"ply\nformat ascii 1.0\nbogus line\nend_header\n", CLS_ERROR_FORMAT, "unexpected header line 'bogus'"},
        {"ply\nformat ascii 1.0\nelement face 1\nproperty uchar a\nend_header\n7\n", CLS_ERROR_FORMAT,
         "no 'vertex' element"},
        {"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float x\nproperty float y\n"
         "end_header\n",
         CLS_ERROR_FORMAT, "'x' appears twice"},
    };
    char *path = tio_tmp_path("ply_bad_header.ply");
    cls_gaussians g;
    cls_error err;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tio_write_file(path, cases[c].text, strlen(cases[c].text));
        TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, cases[c].status, cases[c].expect);
        ck_assert_ptr_null(g.means);
    }
    free(path);
}
END_TEST

START_TEST(ply_long_header_lines)
{
    char *path = tio_tmp_path("ply_long_lines.ply");
    char *long_text = malloc(5001);
    cls_gaussians g, back;
    cls_error err;
    tio_buf b = {0};
    memset(long_text, 'a', 5000);
    long_text[5000] = '\0';
    tio_random_gaussians(&g, 2, 0, 4);
    tio_buf_str(&b, "ply\nformat binary_little_endian 1.0\ncomment ");
    tio_buf_str(&b, long_text); /* a long comment is fine */
    tio_buf_str(&b, "\n");
    {
        tio_buf rest = {0};
        inria_header(&rest, "binary_little_endian", "2", 0);
        tio_buf_put(&b, rest.data + 4 + 32, rest.size - 4 - 32); /* after "ply\n" and the format line */
        free(rest.data);
    }
    for (size_t i = 0; i < 2; i++)
        for (int j = 0; j < 17; j++)
            tio_buf_f32(&b, inria_value(&g, i, j), 0);
    tio_write_file(path, b.data, b.size);
    TIO_OK(cls_gaussians_load(path, &back, &err), err);
    assert_same_gaussians(&g, &back);
    cls_gaussians_free(&back);
    b.size = 0;
    tio_buf_str(&b, "ply\nformat ascii 1.0\nelement vertex 1\nproperty float ");
    tio_buf_str(&b, long_text);
    tio_buf_str(&b, "\nend_header\n");
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &back, &err), err, CLS_ERROR_FORMAT, "header line longer than");
    cls_gaussians_free(&g);
    free(b.data);
    free(long_text);
    free(path);
}
END_TEST

START_TEST(ply_bad_ascii_body)
{
    char *path = tio_tmp_path("ply_bad_ascii.ply");
    cls_gaussians g;
    cls_error err;
    tio_buf b = {0};
    inria_header(&b, "ascii", "2", 0);
    tio_buf_str(&b, "0 0 0 0 0 0 0.1 0.2 0.3 0 -1 -1 -1 1 0 0 0\n0 0 0 0 0 0 0.1 zero 0.3 0 -1 -1 -1 1 0 0 0\n");
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "vertex 1: property 'f_dc_1': 'zero'");
    b.size = 0;
    inria_header(&b, "ascii", "2", 0);
    tio_buf_str(&b, "0 0 0 0 0 0 0.1 0.2 0.3 0 -1 -1 -1 1 0 0 0\n0 0 0 0 0 0 0.1 0.2 0.3 0 -1 -1 -1 1 0 0\n");
    tio_write_file(path, b.data, b.size);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "file ends in vertex 1, property 'rot_3'");
    free(b.data);
    free(path);
}
END_TEST

START_TEST(load_arguments_and_io_errors)
{
    char *dir = tio_tmp_dir("ply_a_directory.ply");
    char *txt = tio_tmp_path("ply_not_gaussians.txt");
    cls_gaussians g;
    cls_error err;
    TIO_EXPECT(cls_gaussians_load(NULL, &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, "path");
    TIO_EXPECT(cls_gaussians_load("x.ply", NULL, &err), err, CLS_ERROR_INVALID_ARGUMENT, "out");
    TIO_EXPECT(cls_gaussians_load("/nonexistent/dir/scene.ply", &g, &err), err, CLS_ERROR_IO, "No such file");
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/dir/scene.ply"));
    TIO_EXPECT(cls_gaussians_load("/nonexistent/scene.bin", &g, &err), err, CLS_ERROR_IO, "No such file");
    TIO_EXPECT(cls_gaussians_load(dir, &g, &err), err, CLS_ERROR_IO, "directory");
    tio_write_file(txt, "hello, world, 32 bytes of text!!", 32);
    TIO_EXPECT(cls_gaussians_load(txt, &g, &err), err, CLS_ERROR_FORMAT, "not a Gaussian file");
    free(dir);
    free(txt);
}
END_TEST

START_TEST(save_rejects_bad_input)
{
    char *path = tio_tmp_path("ply_save_bad.ply");
    cls_gaussians g;
    cls_error err;
    tio_random_gaussians(&g, 4, 1, 11);
    TIO_EXPECT(cls_gaussians_save(NULL, &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, "path");
    TIO_EXPECT(cls_gaussians_save(path, NULL, &err), err, CLS_ERROR_INVALID_ARGUMENT, "g is NULL");
    TIO_EXPECT(cls_gaussians_save("scene.obj", &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, "'.obj'");
    TIO_EXPECT(cls_gaussians_save("scene", &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, ".ply or .splat");
    g.log_scales[2 * 3 + 1] = NAN;
    TIO_EXPECT(cls_gaussians_save(path, &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, "Gaussian 2: log_scales[1] is NaN");
    g.log_scales[2 * 3 + 1] = 0.0f;
    memset(g.quats + 4, 0, 4 * sizeof(float));
    TIO_EXPECT(cls_gaussians_save(path, &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, "Gaussian 1: the quaternion is zero");
    g.quats[4] = 1.0f;
    g.sh_degree = 5;
    TIO_EXPECT(cls_gaussians_save(path, &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, "SH degree 5");
    g.sh_degree = 1;
    {
        cls_gaussians empty = {0};
        TIO_EXPECT(cls_gaussians_save(path, &empty, &err), err, CLS_ERROR_INVALID_ARGUMENT, "no Gaussians");
    }
    ck_assert_int_eq(tio_count_entries(CLS_TEST_TMP_DIR, "ply_save_bad.ply"), 0);
    cls_gaussians_free(&g);
    free(path);
}
END_TEST

/* ---- malformed .splat ------------------------------------------------------------------ */

START_TEST(splat_bad_files)
{
    char *path = tio_tmp_path("splat_bad.splat");
    uint8_t rec[3 * 32];
    cls_gaussians g;
    cls_error err;
    tio_write_file(path, "", 0);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "no splats");
    memset(rec, 0, sizeof rec);
    tio_write_file(path, rec, 33);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "33 bytes is not a multiple of the 32-byte");
    /* Three splats; splat 2 gets a negative scale, then splat 1 a NaN position, then a zero quaternion. */
    for (int i = 0; i < 3; i++) {
        uint8_t *r = rec + 32 * i;
        for (int c = 0; c < 3; c++)
            cls__st_f32le(r + 12 + 4 * c, 0.01f);
        r[28] = 255, r[29] = 128, r[30] = 128, r[31] = 128;
    }
    tio_write_file(path, rec, sizeof rec);
    TIO_OK(cls_gaussians_load(path, &g, &err), err);
    ck_assert_uint_eq(g.count, 3);
    ck_assert(isfinite(g.opacity_logits[0])); /* alpha byte 0 still gives a finite logit */
    ck_assert_double_eq_tol(g.log_scales[0], log(0.01), 1e-6);
    cls_gaussians_free(&g);
    cls__st_f32le(rec + 2 * 32 + 16, -0.5f);
    tio_write_file(path, rec, sizeof rec);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "splat 2: scale y is -0.5");
    cls__st_f32le(rec + 2 * 32 + 16, 0.0f);
    tio_write_file(path, rec, sizeof rec);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "splat 2: scale y is 0");
    cls__st_f32le(rec + 2 * 32 + 16, INFINITY);
    tio_write_file(path, rec, sizeof rec);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "splat 2: scale y");
    cls__st_f32le(rec + 2 * 32 + 16, 0.01f);
    cls__st_f32le(rec + 1 * 32 + 8, NAN);
    tio_write_file(path, rec, sizeof rec);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "splat 1: position z is NaN");
    cls__st_f32le(rec + 1 * 32 + 8, 0.0f);
    rec[28] = 128;
    tio_write_file(path, rec, sizeof rec);
    TIO_EXPECT(cls_gaussians_load(path, &g, &err), err, CLS_ERROR_FORMAT, "splat 0: the rotation quaternion is zero");
    free(path);
}
END_TEST

/* ---- atomic writing -------------------------------------------------------------------- */

START_TEST(atomic_write_failures)
{
    char *dir = tio_tmp_dir("ply_atomic");
    char *existing = tio_tmp_path("ply_atomic/old.ply");
    char *as_dir = tio_tmp_dir("ply_atomic/taken.ply");
    cls_gaussians g;
    cls_error err;
    size_t n;
    char *content;
    tio_random_gaussians(&g, 8, 0, 1);
    TIO_EXPECT(cls_gaussians_save("/nonexistent-dir-clsplat/out.ply", &g, &err), err, CLS_ERROR_IO,
               "No such file or directory");
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent-dir-clsplat/out.ply"));
    /* A destination that is a directory: the temporary file is written, the rename fails, and
     * the temporary file is removed. */
    TIO_EXPECT(cls_gaussians_save(as_dir, &g, &err), err, CLS_ERROR_IO, "cannot rename");
    TIO_EXPECT(cls_gaussians_save(as_dir, &g, &err), err, CLS_ERROR_IO, "taken.ply");
    ck_assert_int_eq(tio_count_entries(dir, ".tmp."), 0);
    /* A failed save over an existing file leaves it as it was. */
    tio_write_file(existing, "OLD CONTENT", 11);
    g.means[5] = INFINITY;
    TIO_EXPECT(cls_gaussians_save(existing, &g, &err), err, CLS_ERROR_INVALID_ARGUMENT, "means[2] is infinite");
    content = tio_read_file(existing, &n);
    ck_assert_uint_eq(n, 11);
    ck_assert_mem_eq(content, "OLD CONTENT", 11);
    free(content);
    /* A successful save replaces it. */
    g.means[5] = 1.0f;
    TIO_OK(cls_gaussians_save(existing, &g, &err), err);
    content = tio_read_file(existing, &n);
    ck_assert_mem_eq(content, "ply\n", 4);
    free(content);
    ck_assert_int_eq(tio_count_entries(dir, ".tmp."), 0);
    cls_gaussians_free(&g);
    free(dir);
    free(existing);
    free(as_dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_ply");
    TCase *round = tcase_create("round_trips");
    TCase *bad = tcase_create("malformed");
    if (tio_have_data()) {
        TCase *real = tcase_create("real_data");
        tcase_add_test(real, real_fruit_drops);
        tcase_add_test(real, real_epfl_trailing_bytes);
        tcase_add_test(real, real_epfl_rewrite_is_byte_identical);
        suite_add_tcase(s, real);
    }
    tcase_add_loop_test(round, ply_round_trip_each_degree, 0, 4);
    tcase_add_test(round, splat_round_trip);
    tcase_add_test(round, ascii_and_big_endian_match_little_endian);
    tcase_add_test(round, all_types_and_other_elements);
    tcase_add_test(round, ascii_element_before_vertex);
    tcase_add_test(round, infinite_opacity_is_clamped);
    tcase_add_test(round, alloc_and_free);
    tcase_add_test(bad, ply_truncated_at_several_offsets);
    tcase_add_test(bad, ply_counts_too_large);
    tcase_add_test(bad, ply_missing_required_property);
    tcase_add_test(bad, ply_non_finite_values);
    tcase_add_test(bad, ply_zero_quaternion_and_nan_sh);
    tcase_add_test(bad, ply_bad_f_rest_count);
    tcase_add_test(bad, ply_bad_headers);
    tcase_add_test(bad, ply_long_header_lines);
    tcase_add_test(bad, ply_bad_ascii_body);
    tcase_add_test(bad, load_arguments_and_io_errors);
    tcase_add_test(bad, save_rejects_bad_input);
    tcase_add_test(bad, splat_bad_files);
    tcase_add_test(bad, atomic_write_failures);
    suite_add_tcase(s, round);
    suite_add_tcase(s, bad);
    return tio_run(s);
}
