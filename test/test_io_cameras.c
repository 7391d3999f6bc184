/* test_io_cameras.c - cameras: COLMAP (binary and text), NeRF transforms.json, INRIA
 * cameras.json, the folder dispatch, and cls_camera_resized. */
#include "clsplat.h"
#include "test_io_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------------------- */

static void assert_rotation(const cls_camera *c)
{
    double det;
    const float *r = c->rotation;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double dot = 0;
            for (int k = 0; k < 3; k++)
                dot += (double)r[i * 3 + k] * r[j * 3 + k];
            ck_assert_double_eq_tol(dot, i == j ? 1.0 : 0.0, 1e-5);
        }
    det = r[0] * ((double)r[4] * r[8] - (double)r[5] * r[7]) - r[1] * ((double)r[3] * r[8] - (double)r[5] * r[6]) +
          r[2] * ((double)r[3] * r[7] - (double)r[4] * r[6]);
    ck_assert_double_eq_tol(det, 1.0, 1e-5);
}

/* The camera centre in world space, C = -R^T t. */
static void centre(const cls_camera *c, double out[3])
{
    for (int i = 0; i < 3; i++) {
        out[i] = 0;
        for (int k = 0; k < 3; k++)
            out[i] -= (double)c->rotation[k * 3 + i] * c->translation[k];
    }
}

static void assert_cameras_close(const cls_camera *a, const cls_camera *b, double tol)
{
    ck_assert_uint_eq(a->width, b->width);
    ck_assert_uint_eq(a->height, b->height);
    ck_assert_double_eq_tol(a->fx, b->fx, tol * fmax(1.0, fabs(a->fx)));
    ck_assert_double_eq_tol(a->fy, b->fy, tol * fmax(1.0, fabs(a->fy)));
    ck_assert_double_eq_tol(a->cx, b->cx, tol * fmax(1.0, fabs(a->cx)));
    ck_assert_double_eq_tol(a->cy, b->cy, tol * fmax(1.0, fabs(a->cy)));
    for (int k = 0; k < 9; k++)
        ck_assert_double_eq_tol(a->rotation[k], b->rotation[k], tol);
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq_tol(a->translation[k], b->translation[k], tol * fmax(1.0, fabs(a->translation[k])));
}

static void assert_sorted(const cls_camera_set *s)
{
    for (size_t i = 1; i < s->count; i++)
        ck_assert_int_lt(strcmp(s->image_names[i - 1], s->image_names[i]), 0);
}

typedef struct cam_rec {
    int id, model;
    uint64_t w, h;
    int nparams;
    double p[16];
} cam_rec;

typedef struct img_rec {
    int id;
    double q[4], t[3];
    int camera;
    const char *name;
    uint64_t npoints;
} img_rec;

static void cameras_bin(tio_buf *b, const cam_rec *c, int n)
{
    tio_buf_le(b, (uint64_t)n, 8);
    for (int i = 0; i < n; i++) {
        tio_buf_le(b, (uint32_t)c[i].id, 4);
        tio_buf_le(b, (uint32_t)c[i].model, 4);
        tio_buf_le(b, c[i].w, 8);
        tio_buf_le(b, c[i].h, 8);
        for (int k = 0; k < c[i].nparams; k++)
            tio_buf_f64(b, c[i].p[k]);
    }
}

static void images_bin(tio_buf *b, const img_rec *im, int n)
{
    tio_buf_le(b, (uint64_t)n, 8);
    for (int i = 0; i < n; i++) {
        tio_buf_le(b, (uint32_t)im[i].id, 4);
        for (int k = 0; k < 4; k++)
            tio_buf_f64(b, im[i].q[k]);
        for (int k = 0; k < 3; k++)
            tio_buf_f64(b, im[i].t[k]);
        tio_buf_le(b, (uint32_t)im[i].camera, 4);
        tio_buf_put(b, im[i].name, strlen(im[i].name) + 1);
        tio_buf_le(b, im[i].npoints, 8);
        for (uint64_t k = 0; k < im[i].npoints; k++) {
            tio_buf_f64(b, 1.5);
            tio_buf_f64(b, 2.5);
            tio_buf_le(b, (uint64_t)-1, 8);
        }
    }
}

/* Writes a model folder name/ with the given binary files; returns the malloc'd folder. */
static char *write_bin_model(const char *name, const cam_rec *c, int nc, const img_rec *im, int ni)
{
    char *dir = tio_tmp_dir(name), path[1024];
    tio_buf b = {0};
    cameras_bin(&b, c, nc);
    snprintf(path, sizeof path, "%s/cameras.bin", dir);
    tio_write_file(path, b.data, b.size);
    b.size = 0;
    images_bin(&b, im, ni);
    snprintf(path, sizeof path, "%s/images.bin", dir);
    tio_write_file(path, b.data, b.size);
    free(b.data);
    return dir;
}

static void write_text(const char *dir, const char *file, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    tio_write_file(path, text, strlen(text));
}

/* A JSON text written to the temporary folder; returns the malloc'd path. */
static char *write_json(const char *name, const char *text)
{
    char *path = tio_tmp_path(name);
    tio_write_file(path, text, strlen(text));
    return path;
}

/* The fixture: camera 1 SIMPLE_PINHOLE, camera 3 PINHOLE; three images given out of order. */
static const cam_rec good_cams[] = {
    {3, 1, 640, 480, 4, {500, 510, 320.5, 240.5}},
    {1, 0, 100, 50, 3, {80, 49.5, 24.5}},
};
#define S45 0.70710678118654752
static const img_rec good_imgs[] = {
    {7, {3 * S45, 0, 0, 3 * S45}, {1, 2, 3}, 3, "c.png", 2},
    {2, {2, 0, 0, 0}, {-1, 0.5, 4}, 1, "a.png", 0},
    {5, {0, 1, 0, 0}, {0, 0, 10}, 3, "sub/b.png", 5},
};
static const char good_cams_txt[] = "# Camera list\n3 PINHOLE 640 480 500 510 320.5 240.5\n\n1 SIMPLE_PINHOLE 100 50 80 49.5 24.5\n";
/* Second lines: empty, with points, and missing at the very end. */
static const char good_imgs_txt[] = "# Image list with two lines of data per image:\n#   IMAGE_ID, ...\n"
                                    "7 2.1213203435596424 0 0 2.1213203435596424 1 2 3 3 c.png\n"
                                    "\n"
                                    "2 2 0 0 0 -1 0.5 4 1 a.png\n"
                                    "1.5 2.5 -1 3 4 17\n"
                                    "5 0 1 0 0 0 0 10 3 sub/b.png\n";

static void check_good_model(const cls_camera_set *s)
{
    static const float rz90[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1}, id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1},
                       rx180[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1};
    ck_assert_uint_eq(s->count, 3);
    ck_assert_str_eq(s->image_names[0], "a.png");
    ck_assert_str_eq(s->image_names[1], "c.png");
    ck_assert_str_eq(s->image_names[2], "sub/b.png");
    /* a.png: SIMPLE_PINHOLE, identity */
    ck_assert_uint_eq(s->cameras[0].width, 100);
    ck_assert(s->cameras[0].fx == 80.0f && s->cameras[0].fy == 80.0f);
    ck_assert(s->cameras[0].cx == 49.5f && s->cameras[0].cy == 24.5f);
    /* c.png: PINHOLE, 90 degrees about z from an unnormalised quaternion */
    ck_assert_uint_eq(s->cameras[1].height, 480);
    ck_assert(s->cameras[1].fx == 500.0f && s->cameras[1].fy == 510.0f && s->cameras[1].cx == 320.5f);
    for (int k = 0; k < 9; k++) {
        ck_assert_double_eq_tol(s->cameras[0].rotation[k], id[k], 1e-7);
        ck_assert_double_eq_tol(s->cameras[1].rotation[k], rz90[k], 1e-7);
        ck_assert_double_eq_tol(s->cameras[2].rotation[k], rx180[k], 1e-7);
    }
    ck_assert(s->cameras[0].translation[0] == -1.0f && s->cameras[0].translation[2] == 4.0f);
    ck_assert(s->cameras[1].translation[1] == 2.0f && s->cameras[2].translation[2] == 10.0f);
}

/* ---- real data ------------------------------------------------------------------------- */

START_TEST(real_fox_opencv_is_unsupported)
{
    char *model = tio_data_path("fox/sparse/0"), *scene = tio_data_path("fox");
    cls_camera_set s;
    cls_error err;
    TIO_EXPECT(cls_cameras_load(model, &s, &err), err, CLS_ERROR_UNSUPPORTED, "camera 1 uses the OPENCV model");
    ck_assert_ptr_nonnull(strstr(err.message, "sparse/0/cameras.bin"));
    ck_assert_ptr_nonnull(strstr(err.message, "image_undistorter"));
    ck_assert_uint_eq(s.count, 0);
    ck_assert_ptr_null(s.cameras);
    /* The scene folder has both a COLMAP model and transforms.json: COLMAP wins. */
    TIO_EXPECT(cls_cameras_load(scene, &s, &err), err, CLS_ERROR_UNSUPPORTED, "OPENCV");
    free(model);
    free(scene);
}
END_TEST

START_TEST(real_fox_undistorted)
{
    char *model = tio_data_path("fox_undistorted/sparse/0"), *scene = tio_data_path("fox_undistorted");
    cls_camera_set s, t;
    cls_error err;
    TIO_OK(cls_cameras_load(model, &s, &err), err);
    ck_assert_uint_eq(s.count, 67);
    assert_sorted(&s);
    ck_assert_str_eq(s.image_names[0], "0001.jpg");
    for (size_t i = 0; i < s.count; i++) {
        ck_assert_uint_eq(s.cameras[i].width, 538);
        ck_assert_uint_eq(s.cameras[i].height, 960);
        ck_assert_double_eq_tol(s.cameras[i].fx, 697.256, 1e-3);
        ck_assert_double_eq_tol(s.cameras[i].fy, 697.127, 1e-3);
        ck_assert(s.cameras[i].cx == 269.0f && s.cameras[i].cy == 480.0f);
        assert_rotation(&s.cameras[i]);
    }
    TIO_OK(cls_cameras_load(scene, &t, &err), err); /* scene/sparse/0 */
    ck_assert_uint_eq(t.count, 67);
    ck_assert_mem_eq(t.cameras, s.cameras, 67 * sizeof(cls_camera));
    cls_cameras_free(&t);
    /* Half width: 269 x 480 exactly. */
    {
        cls_camera h = cls_camera_resized(&s.cameras[0], 269);
        ck_assert_uint_eq(h.height, 480);
        ck_assert_double_eq_tol(h.fx, s.cameras[0].fx * 0.5, 1e-4);
        ck_assert_double_eq_tol(h.cy, 240.0, 1e-6);
        ck_assert_mem_eq(h.rotation, s.cameras[0].rotation, sizeof h.rotation);
    }
    cls_cameras_free(&s);
    free(model);
    free(scene);
}
END_TEST

START_TEST(real_maupertuis_text_and_binary_agree)
{
    char *txt = tio_data_path("maupertuis/sparse/0"), *bin = tio_data_path("maupertuis/sparse_bin/0"),
         *scene = tio_data_path("maupertuis");
    cls_camera_set a, b, c;
    cls_error err;
    double q[4] = {0.860298, 0.0113506, 0.344769, 0.375358}, n2 = 0, tr;
    TIO_OK(cls_cameras_load(txt, &a, &err), err);
    TIO_OK(cls_cameras_load(bin, &b, &err), err);
    TIO_OK(cls_cameras_load(scene, &c, &err), err);
    ck_assert_uint_eq(a.count, 4);
    ck_assert_uint_eq(b.count, 4);
    ck_assert_uint_eq(c.count, 4);
    for (size_t i = 0; i < 4; i++) {
        double ctr[3];
        char name[8];
        snprintf(name, sizeof name, "%02zu.jpg", i);
        ck_assert_str_eq(a.image_names[i], name);
        ck_assert_str_eq(b.image_names[i], name);
        ck_assert_uint_eq(a.cameras[i].width, 1919);
        ck_assert_uint_eq(a.cameras[i].height, 1079);
        ck_assert_double_eq_tol(a.cameras[i].fx, 1847.53, 1e-3);
        ck_assert(a.cameras[i].fx == a.cameras[i].fy);
        ck_assert(a.cameras[i].cx == 959.5f && a.cameras[i].cy == 539.5f);
        assert_cameras_close(&a.cameras[i], &b.cameras[i], 1e-6);
        ck_assert_mem_eq(&a.cameras[i], &c.cameras[i], sizeof(cls_camera));
        assert_rotation(&a.cameras[i]);
        centre(&a.cameras[i], ctr);
        ck_assert(ctr[0] > -3.6 && ctr[0] < 9.7 && ctr[1] > -2.8 && ctr[1] < 2.4 && ctr[2] > -0.4 && ctr[2] < 2.8);
    }
    /* Image 4 of images.txt is 03.jpg: its translation as written, and trace R = 4w^2 - 1. */
    ck_assert_double_eq_tol(a.cameras[3].translation[0], -7.96417, 1e-5);
    ck_assert_double_eq_tol(a.cameras[3].translation[1], -4.99505, 1e-5);
    ck_assert_double_eq_tol(a.cameras[3].translation[2], 4.3645, 1e-5);
    for (int k = 0; k < 4; k++)
        n2 += q[k] * q[k];
    tr = (double)a.cameras[3].rotation[0] + a.cameras[3].rotation[4] + a.cameras[3].rotation[8];
    ck_assert_double_eq_tol(tr, 4 * q[0] * q[0] / n2 - 1, 1e-6);
    /* An odd resize: 1919 -> 960 wide gives round(1079 * 960 / 1919) = 540 rows. */
    {
        cls_camera r = cls_camera_resized(&a.cameras[0], 960);
        ck_assert_uint_eq(r.width, 960);
        ck_assert_uint_eq(r.height, 540);
        ck_assert_double_eq_tol(r.fx, 1847.53 * 960.0 / 1919.0, 1e-3);
        ck_assert_double_eq_tol(r.fy, 1847.53 * 540.0 / 1079.0, 1e-3);
        ck_assert_double_eq_tol(r.cy, 539.5 * 540.0 / 1079.0, 1e-4);
    }
    cls_cameras_free(&a);
    cls_cameras_free(&b);
    cls_cameras_free(&c);
    free(txt);
    free(bin);
    free(scene);
}
END_TEST

START_TEST(real_fox_transforms)
{
    char *path = tio_data_path("fox/transforms.json");
    cls_camera_set s;
    cls_error err;
    size_t n;
    char *text;
    cJSON *root, *frame;
    TIO_OK(cls_cameras_load(path, &s, &err), err);
    ck_assert_uint_eq(s.count, 67);
    assert_sorted(&s);
    ck_assert_str_eq(s.image_names[0], "images/0001.jpg");
    for (size_t i = 0; i < s.count; i++) {
        ck_assert_uint_eq(s.cameras[i].width, 1080);
        ck_assert_uint_eq(s.cameras[i].height, 1920);
        ck_assert(s.cameras[i].fx == 1375.52f && s.cameras[i].fy == 1374.49f);
        ck_assert(s.cameras[i].cx == 554.558f && s.cameras[i].cy == 965.268f);
        assert_rotation(&s.cameras[i]);
    }
    /* Independently: the camera centre is the matrix's last column, camera +x is its first
     * column, and camera +y (down) and +z (forward) are minus its second and third. */
    text = tio_read_file(path, &n);
    root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    cJSON_ArrayForEach(frame, cJSON_GetObjectItem(root, "frames"))
    {
        const char *name = cJSON_GetObjectItem(frame, "file_path")->valuestring;
        cJSON *m = cJSON_GetObjectItem(frame, "transform_matrix");
        size_t i = 0;
        double ctr[3];
        while (i < s.count && strcmp(s.image_names[i], name) != 0)
            i++;
        ck_assert_uint_lt(i, s.count);
        centre(&s.cameras[i], ctr);
        for (int r = 0; r < 3; r++) {
            cJSON *row = cJSON_GetArrayItem(m, r);
            ck_assert_double_eq_tol(ctr[r], cJSON_GetArrayItem(row, 3)->valuedouble, 1e-5);
            for (int axis = 0; axis < 3; axis++) {
                double sign = axis == 0 ? 1.0 : -1.0;
                ck_assert_double_eq_tol(s.cameras[i].rotation[axis * 3 + r],
                                        sign * cJSON_GetArrayItem(row, axis)->valuedouble, 1e-6);
            }
        }
    }
    cJSON_Delete(root);
    free(text);
    cls_cameras_free(&s);
    free(path);
}
END_TEST

START_TEST(real_lego_transforms)
{
    char *path = tio_data_path("lego/transforms_train.json"), *dir = tio_data_path("lego");
    cls_camera_set s, t;
    cls_error err;
    TIO_OK(cls_cameras_load(path, &s, &err), err);
    ck_assert_uint_eq(s.count, 100);
    assert_sorted(&s);
    ck_assert_str_eq(s.image_names[0], "./train/r_0.png");
    ck_assert_str_eq(s.image_names[1], "./train/r_1.png");
    ck_assert_str_eq(s.image_names[2], "./train/r_10.png");
    for (size_t i = 0; i < s.count; i++) {
        double c[3];
        ck_assert_uint_eq(s.cameras[i].width, 800); /* from the PNG headers */
        ck_assert_uint_eq(s.cameras[i].height, 800);
        ck_assert_double_eq_tol(s.cameras[i].fx, 1111.111, 1e-2);
        ck_assert(s.cameras[i].fx == s.cameras[i].fy);
        ck_assert(s.cameras[i].cx == 400.0f && s.cameras[i].cy == 400.0f);
        assert_rotation(&s.cameras[i]);
        centre(&s.cameras[i], c);
        ck_assert_double_eq_tol(sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]), 4.03, 0.03);
    }
    TIO_OK(cls_cameras_load(dir, &t, &err), err); /* a folder with transforms_train.json */
    ck_assert_uint_eq(t.count, 100);
    ck_assert_mem_eq(t.cameras, s.cameras, 100 * sizeof(cls_camera));
    cls_cameras_free(&t);
    cls_cameras_free(&s);
    free(path);
    free(dir);
}
END_TEST

/* w/h missing: read from a real JPEG's header (an absolute file_path). */
START_TEST(real_jpeg_header_size)
{
    char *img = tio_data_path("fox_undistorted/images/0001.jpg");
    char text[2048];
    char *path;
    cls_camera_set s;
    cls_error err;
    snprintf(text, sizeof text,
             "{\"fl_x\": 500, \"frames\": [{\"file_path\": \"%s\", \"transform_matrix\": "
             "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}",
             img);
    path = write_json("cam_jpeg_size.json", text);
    TIO_OK(cls_cameras_load(path, &s, &err), err);
    ck_assert_uint_eq(s.cameras[0].width, 538);
    ck_assert_uint_eq(s.cameras[0].height, 960);
    ck_assert(s.cameras[0].cx == 269.0f);
    cls_cameras_free(&s);
    free(path);
    free(img);
}
END_TEST

START_TEST(real_cameras_json_round_trip)
{
    char *model = tio_data_path("fox_undistorted/sparse/0"), *out = tio_tmp_path("cam_fox_cameras.json");
    cls_camera_set s, t;
    cls_error err;
    TIO_OK(cls_cameras_load(model, &s, &err), err);
    TIO_OK(cls_cameras_save_json(out, &s, &err), err);
    TIO_OK(cls_cameras_load(out, &t, &err), err);
    ck_assert_uint_eq(t.count, s.count);
    for (size_t i = 0; i < s.count; i++) {
        char stem[64];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(s.image_names[i]) - 4), s.image_names[i]);
        ck_assert_str_eq(t.image_names[i], stem);
        assert_cameras_close(&s.cameras[i], &t.cameras[i], 1e-5);
    }
    cls_cameras_free(&s);
    cls_cameras_free(&t);
    free(model);
    free(out);
}
END_TEST

/* ---- COLMAP fixtures ------------------------------------------------------------------- */

START_TEST(colmap_binary_and_text_fixtures)
{
    char *bin = write_bin_model("cam_good_bin", good_cams, 2, good_imgs, 3);
    char *txt = tio_tmp_dir("cam_good_txt");
    char *both = write_bin_model("cam_good_both", good_cams, 2, good_imgs, 3);
    char *parent = tio_tmp_dir("cam_scene_sparse/sparse"), *scene = tio_tmp_path("cam_scene_sparse");
    cls_camera_set a, b, c;
    cls_error err;
    write_text(txt, "cameras.txt", good_cams_txt);
    write_text(txt, "images.txt", good_imgs_txt);
    write_text(both, "cameras.txt", "garbage that must not be read\n");
    write_text(both, "images.txt", "garbage\n");
    write_text(parent, "cameras.txt", good_cams_txt);
    write_text(parent, "images.txt", good_imgs_txt);
    TIO_OK(cls_cameras_load(bin, &a, &err), err);
    check_good_model(&a);
    TIO_OK(cls_cameras_load(txt, &b, &err), err);
    check_good_model(&b);
    for (int i = 0; i < 3; i++)
        assert_cameras_close(&a.cameras[i], &b.cameras[i], 1e-6);
    cls_cameras_free(&b);
    TIO_OK(cls_cameras_load(both, &b, &err), err); /* .bin preferred */
    check_good_model(&b);
    TIO_OK(cls_cameras_load(scene, &c, &err), err); /* scene/sparse/ holding the files */
    check_good_model(&c);
    cls_cameras_free(&a);
    cls_cameras_free(&b);
    cls_cameras_free(&c);
    cls_cameras_free(&c); /* zeroed: no-op */
    cls_cameras_free(NULL);
    free(bin);
    free(txt);
    free(both);
    free(parent);
    free(scene);
}
END_TEST

START_TEST(colmap_truncated_and_huge_counts)
{
    char *dir = write_bin_model("cam_trunc", good_cams, 2, good_imgs, 3);
    char cams[1024], imgs[1024];
    size_t ncam, nimg;
    uint8_t *cam_raw, *img_raw;
    cls_camera_set s;
    cls_error err;
    snprintf(cams, sizeof cams, "%s/cameras.bin", dir);
    snprintf(imgs, sizeof imgs, "%s/images.bin", dir);
    cam_raw = tio_read_file(cams, &ncam);
    img_raw = tio_read_file(imgs, &nimg);
    {
        const size_t cuts[] = {0, 5, 8 + 10, 8 + 24 + 8, ncam - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            tio_write_file(cams, cam_raw, cuts[i]);
            TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "cameras.bin: ");
            ck_assert_msg(strstr(err.message, "truncated") || strstr(err.message, "room for at most"), "%s", err.message);
        }
    }
    tio_write_file(cams, cam_raw, ncam);
    {
        /* header 64, "c.png\0" 6, count 8, 2 points of 24: cut in each part */
        const size_t cuts[] = {4, 8 + 30, 8 + 64 + 3, 8 + 64 + 6 + 4, 8 + 64 + 6 + 8 + 24, nimg - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            tio_write_file(imgs, img_raw, cuts[i]);
            TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "images.bin: ");
            ck_assert_msg(strstr(err.message, "truncated") || strstr(err.message, "room for at most"), "%s", err.message);
            ck_assert_ptr_null(s.cameras);
        }
    }
    /* Counts that would need far more bytes than the file has. */
    memset(cam_raw, 0xff, 7);
    cam_raw[7] = 0x0f;
    tio_write_file(cams, cam_raw, ncam);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "1152921504606846975 cameras");
    tio_buf b = {0};
    cameras_bin(&b, good_cams, 2);
    tio_write_file(cams, b.data, b.size);
    memcpy(img_raw, "\x00\x00\x00\x00\x00\x00\x00\x40", 8);
    tio_write_file(imgs, img_raw, nimg);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "images, but the file has room for at most");
    {
        img_rec many = good_imgs[0];
        many.npoints = 0;
        b.size = 0;
        images_bin(&b, &many, 1);
        memcpy(b.data + b.size - 8, "\xff\xff\xff\xff\xff\xff\xff\x0f", 8); /* the 2D point count */
        tio_write_file(imgs, b.data, b.size);
        TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "image 7 (c.png) has 1152921504606846975 2D points");
    }
    free(b.data);
    free(cam_raw);
    free(img_raw);
    free(dir);
}
END_TEST

START_TEST(colmap_bad_records)
{
    cam_rec cams[2];
    img_rec imgs[3];
    char *dir;
    cls_camera_set s;
    cls_error err;
    /* unknown model id */
    memcpy(cams, good_cams, sizeof cams);
    cams[1].model = 42;
    dir = write_bin_model("cam_bad_model", cams, 2, good_imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "camera 1: unknown camera model id 42");
    free(dir);
    /* SIMPLE_RADIAL (id 2, 4 parameters) is a known model that cannot be rendered */
    cams[1].model = 2;
    cams[1].nparams = 4;
    dir = write_bin_model("cam_simple_radial", cams, 2, good_imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_UNSUPPORTED, "camera 1 uses the SIMPLE_RADIAL model");
    free(dir);
    /* zero width, NaN parameter, duplicate id */
    memcpy(cams, good_cams, sizeof cams);
    cams[0].w = 0;
    dir = write_bin_model("cam_zero_width", cams, 2, good_imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "camera 3: invalid size 0x480");
    free(dir);
    memcpy(cams, good_cams, sizeof cams);
    cams[0].p[1] = NAN;
    dir = write_bin_model("cam_nan_param", cams, 2, good_imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "camera 3: parameter 1 is not finite");
    free(dir);
    memcpy(cams, good_cams, sizeof cams);
    cams[1].id = 3;
    dir = write_bin_model("cam_dup_id", cams, 2, good_imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "camera id 3 appears twice");
    free(dir);
    /* an image using a camera that does not exist */
    memcpy(imgs, good_imgs, sizeof imgs);
    imgs[2].camera = 9;
    dir = write_bin_model("cam_missing_cam", good_cams, 2, imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "image 5 (sub/b.png) uses camera 9");
    free(dir);
    /* zero quaternion, non-finite translation, no images at all */
    memcpy(imgs, good_imgs, sizeof imgs);
    imgs[1].q[0] = 0;
    dir = write_bin_model("cam_zero_quat", good_cams, 2, imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "image 2 (a.png): the rotation quaternion is zero");
    free(dir);
    memcpy(imgs, good_imgs, sizeof imgs);
    imgs[0].t[1] = INFINITY;
    dir = write_bin_model("cam_inf_t", good_cams, 2, imgs, 3);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "image 7 (c.png): the pose is not finite");
    free(dir);
    dir = write_bin_model("cam_no_images", good_cams, 2, imgs, 0);
    TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, CLS_ERROR_FORMAT, "no images");
    free(dir);
}
END_TEST

START_TEST(colmap_bad_text)
{
    static const struct {
        const char *cams, *imgs;
        cls_status status;
        const char *expect;
    } cases[] = {
        {"1 SIMPLE_RADIAL 100 50 80 49.5 24.5 0.01\n", "1 1 0 0 0 0 0 0 1 a.png\n\n", CLS_ERROR_UNSUPPORTED,
         "camera 1 uses the SIMPLE_RADIAL model"},
        {"1 FOO 100 50 80 49.5 24.5\n", "", CLS_ERROR_FORMAT, "cameras.txt:1: camera 1: unknown camera model 'FOO'"},
        {"# c\n1 PINHOLE 100 50 80 49.5 24.5\n", "", CLS_ERROR_FORMAT, "cameras.txt:2: camera 1: the PINHOLE model has 4 parameters, found 3"},
        {"1 PINHOLE 100 x 80 80 49.5 24.5\n", "", CLS_ERROR_FORMAT, "expected 'ID MODEL WIDTH HEIGHT"},
        {"1 PINHOLE 100 50 80 80 49.5 nan\n", "", CLS_ERROR_FORMAT, "camera 1: parameter 3 is not finite"},
        {"1 SIMPLE_PINHOLE 100 50 80 49.5 24.5\n", "1 1 0 0 abc 0 0 0 1 a.png\n\n", CLS_ERROR_FORMAT,
         "images.txt:1: image 1: 'abc' is not a number"},
        {"1 SIMPLE_PINHOLE 100 50 80 49.5 24.5\n", "1 1 0 0 0 0 0 0 1\n\n", CLS_ERROR_FORMAT, "images.txt:1: expected"},
        {"1 SIMPLE_PINHOLE 100 50 80 49.5 24.5\n", "\n# only comments\n", CLS_ERROR_FORMAT, "no images"},
        {"1 SIMPLE_PINHOLE 100 50 -80 49.5 24.5\n", "1 1 0 0 0 0 0 0 1 a.png\n", CLS_ERROR_FORMAT, "focal length"},
    };
    char *dir = tio_tmp_dir("cam_bad_text");
    cls_camera_set s;
    cls_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(dir, "cameras.txt", cases[i].cams);
        write_text(dir, "images.txt", cases[i].imgs);
        TIO_EXPECT(cls_cameras_load(dir, &s, &err), err, cases[i].status, cases[i].expect);
    }
    /* A name with a space, and CRLF line ends. */
    write_text(dir, "cameras.txt", "1 SIMPLE_PINHOLE 100 50 80 49.5 24.5\r\n");
    write_text(dir, "images.txt", "1 1 0 0 0 0 0 0 1 my image.png\r\n\r\n");
    TIO_OK(cls_cameras_load(dir, &s, &err), err);
    ck_assert_str_eq(s.image_names[0], "my image.png");
    cls_cameras_free(&s);
    free(dir);
}
END_TEST

/* ---- transforms.json fixtures ---------------------------------------------------------- */

#define IDENTITY_MATRIX "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]"

START_TEST(nerf_intrinsics_variants)
{
    /* Global fl_y only (fx follows), distortion keys, a per-frame override, camera_model OPENCV. */
    char *p1 = write_json("cam_nerf_fly.json",
                          "{\"camera_model\": \"OPENCV\", \"fl_y\": 700, \"w\": 640, \"h\": 480, \"k1\": 0.1, "
                          "\"k2\": -0.05, \"p1\": 0.001, \"p2\": 0.002, \"k3\": 0.01, \"k4\": 0.001,\n"
                          "\"frames\": [{\"file_path\": \"b.jpg\", \"transform_matrix\": " IDENTITY_MATRIX "},\n"
                          "{\"file_path\": \"a.jpg\", \"fl_x\": 650, \"cx\": 300, \"w\": 600, "
                          "\"transform_matrix\": [[1,0,0,1],[0,0,-1,2],[0,1,0,3],[0,0,0,1]]}]}");
    /* camera_angle_y only, 3x4 matrix */
    char *p2 = write_json("cam_nerf_angle_y.json",
                          "{\"camera_angle_y\": 1.0, \"w\": 100, \"h\": 200, \"frames\": [{\"file_path\": \"x.png\", "
                          "\"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}");
    cls_camera_set s;
    cls_error err;
    TIO_OK(cls_cameras_load(p1, &s, &err), err);
    ck_assert_uint_eq(s.count, 2);
    ck_assert_str_eq(s.image_names[0], "a.jpg"); /* sorted */
    ck_assert(s.cameras[1].fx == 700.0f && s.cameras[1].fy == 700.0f);
    ck_assert(s.cameras[1].cx == 320.0f && s.cameras[1].cy == 240.0f);
    ck_assert(s.cameras[0].fx == 650.0f && s.cameras[0].fy == 700.0f && s.cameras[0].cx == 300.0f);
    ck_assert_uint_eq(s.cameras[0].width, 600);
    /* identity c2w in OpenGL axes: R = diag(1, -1, -1), t = 0 */
    ck_assert(s.cameras[1].rotation[0] == 1.0f && s.cameras[1].rotation[4] == -1.0f && s.cameras[1].rotation[8] == -1.0f);
    /* a.jpg: the camera looks along world +y from (1, 2, 3) */
    {
        double c[3];
        centre(&s.cameras[0], c);
        ck_assert_double_eq_tol(c[0], 1, 1e-6);
        ck_assert_double_eq_tol(c[1], 2, 1e-6);
        ck_assert_double_eq_tol(c[2], 3, 1e-6);
        ck_assert_double_eq_tol(s.cameras[0].rotation[7], 1.0, 1e-7); /* row 2 (forward) = +y */
        assert_rotation(&s.cameras[0]);
    }
    cls_cameras_free(&s);
    TIO_OK(cls_cameras_load(p2, &s, &err), err);
    ck_assert_double_eq_tol(s.cameras[0].fy, 100.0 / tan(0.5), 1e-3);
    ck_assert(s.cameras[0].fx == s.cameras[0].fy);
    cls_cameras_free(&s);
    free(p1);
    free(p2);
}
END_TEST

/* A Blender-style file_path without extension: ".png" is added and the size read from it. */
START_TEST(nerf_size_from_png_header)
{
    char *dir = tio_tmp_dir("cam_nerf_png/train"), *png = tio_tmp_path("cam_nerf_png/train/r_0.png");
    char *json = tio_tmp_path("cam_nerf_png/transforms.json");
    char *folder = tio_tmp_path("cam_nerf_png");
    const char *text = "{\"camera_angle_x\": 0.6911112070083618, \"frames\": [{\"file_path\": \"./train/r_0\", "
                       "\"transform_matrix\": " IDENTITY_MATRIX "}]}";
    float pixels[48 * 32 * 4] = {0};
    cls_camera_set s;
    cls_error err;
    TIO_OK(cls_image_write_png(png, pixels, 48, 32, 4, 8, &err), err);
    tio_write_file(json, text, strlen(text));
    TIO_OK(cls_cameras_load(folder, &s, &err), err); /* a folder holding transforms.json */
    ck_assert_uint_eq(s.count, 1);
    ck_assert_str_eq(s.image_names[0], "./train/r_0.png");
    ck_assert_uint_eq(s.cameras[0].width, 48);
    ck_assert_uint_eq(s.cameras[0].height, 32);
    ck_assert_double_eq_tol(s.cameras[0].fx, 24.0 / tan(0.5 * 0.6911112070083618), 1e-4);
    cls_cameras_free(&s);
    free(dir);
    free(png);
    free(json);
    free(folder);
}
END_TEST

START_TEST(nerf_malformed)
{
    static const struct {
        const char *text;
        cls_status status;
        const char *expect;
    } cases[] = {
        {"{\"frames\": [\n{\"file_path\": \"a.png\",\n \"transform_matrix\": [[1,0,0,0],]}]}", CLS_ERROR_FORMAT,
         "invalid JSON near line 3"},
        {"", CLS_ERROR_FORMAT, "invalid JSON"},
        {"{\"fl_x\": 100, \"w\": 10, \"h\": 10}", CLS_ERROR_FORMAT, "neither a NeRF transforms.json"},
        {"42", CLS_ERROR_FORMAT, "neither"},
        {"{\"frames\": []}", CLS_ERROR_FORMAT, "\"frames\" is empty"},
        {"{\"frames\": {}}", CLS_ERROR_FORMAT, "\"frames\" is not an array"},
        {"{\"fl_x\": 100, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": " IDENTITY_MATRIX
         "}, {\"file_path\": \"b\", \"transform_matrix\": [[1,0,0,1e999],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}",
         CLS_ERROR_FORMAT, "frame 1: \"transform_matrix\"[0][3] is not finite"},
        {"{\"fl_x\": 100, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": "
         "[[2,0,0,0],[0,2,0,0],[0,0,2,0],[0,0,0,1]]}]}",
         CLS_ERROR_FORMAT, "frame 0: the 3x3 part of \"transform_matrix\" is not a rotation"},
        {"{\"fl_x\": 100, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": "
         "[[1,0,0,0],[0,1,0,0],[0,0,-1,0],[0,0,0,1]]}]}",
         CLS_ERROR_FORMAT, "not a rotation"}, /* a reflection */
        {"{\"fl_x\": 100, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": [[1,0,0]]}]}",
         CLS_ERROR_FORMAT, "4x4"},
        {"{\"fl_x\": 100, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": "
         "[[1,0,0,0],[0,1,\"0\",0],[0,0,1,0],[0,0,0,1]]}]}",
         CLS_ERROR_FORMAT, "[1][2] is not a number"},
        {"{\"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": " IDENTITY_MATRIX "}]}",
         CLS_ERROR_FORMAT, "frame 0: no usable focal length"},
        {"{\"fl_x\": 100, \"w\": 10, \"h\": 10, \"frames\": [{\"transform_matrix\": " IDENTITY_MATRIX "}]}",
         CLS_ERROR_FORMAT, "frame 0: \"file_path\" is missing"},
        {"{\"fl_x\": 100, \"frames\": [{\"file_path\": \"missing_image\", \"transform_matrix\": " IDENTITY_MATRIX "}]}",
         CLS_ERROR_IO, "frame 0: no \"w\"/\"h\" given, and the image size is unknown"},
        {"{\"camera_model\": \"OPENCV_FISHEYE\", \"fl_x\": 100, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", "
         "\"transform_matrix\": " IDENTITY_MATRIX "}]}",
         CLS_ERROR_UNSUPPORTED, "camera_model \"OPENCV_FISHEYE\""},
        {"{\"fl_x\": \"100\", \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": " IDENTITY_MATRIX
         "}]}",
         CLS_ERROR_FORMAT, "\"fl_x\" is not a finite number"},
        {"{\"fl_x\": 100, \"w\": 0, \"h\": 10, \"frames\": [{\"file_path\": \"a\", \"transform_matrix\": " IDENTITY_MATRIX
         "}]}",
         CLS_ERROR_FORMAT, "frame 0: invalid image size 0x10"},
    };
    char *path = tio_tmp_path("cam_nerf_bad.json");
    cls_camera_set s;
    cls_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tio_write_file(path, cases[i].text, strlen(cases[i].text));
        TIO_EXPECT(cls_cameras_load(path, &s, &err), err, cases[i].status, cases[i].expect);
        ck_assert_ptr_null(s.cameras);
    }
    free(path);
}
END_TEST

/* ---- cameras.json ---------------------------------------------------------------------- */

static void random_camera(tio_rng *rng, cls_camera *c)
{
    double q[4], n = 0;
    for (int k = 0; k < 4; k++) {
        q[k] = tio_uniform(rng, -1, 1);
        n += q[k] * q[k];
    }
    n = sqrt(n);
    for (int k = 0; k < 4; k++)
        q[k] /= n;
    {
        double w = q[0], x = q[1], y = q[2], z = q[3];
        const double r[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z),     2 * (x * z + w * y),
                             2 * (x * y + w * z),     1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                             2 * (x * z - w * y),     2 * (y * z + w * x),     1 - 2 * (x * x + y * y)};
        for (int k = 0; k < 9; k++)
            c->rotation[k] = (float)r[k];
    }
    for (int k = 0; k < 3; k++)
        c->translation[k] = tio_uniform(rng, -5, 5);
    c->width = 100 + (uint32_t)tio_uniform(rng, 0, 1000);
    c->height = 100 + (uint32_t)tio_uniform(rng, 0, 1000);
    c->fx = tio_uniform(rng, 100, 2000);
    c->fy = tio_uniform(rng, 100, 2000);
    c->cx = 0.5f * (float)c->width;
    c->cy = 0.5f * (float)c->height;
}

START_TEST(cameras_json_round_trip)
{
    char *path = tio_tmp_path("cam_round_trip.json");
    char *names[6] = {"dir/img_5.jpg", "img_1.png", "a/b/img_3", "img_0.jpeg", "x.y/img_4.JPG", "img_2.tar.gz"};
    cls_camera cams[6];
    cls_camera_set set = {6, cams, names}, back;
    cls_error err;
    tio_rng rng = {12345};
    size_t n;
    char *text;
    for (int i = 0; i < 6; i++)
        random_camera(&rng, &cams[i]);
    cams[2].cx = 123.25f; /* off-centre: written as an extra key */
    TIO_OK(cls_cameras_save_json(path, &set, &err), err);
    ck_assert_int_eq(err.status, CLS_OK);
    TIO_OK(cls_cameras_load(path, &back, &err), err);
    ck_assert_uint_eq(back.count, 6);
    /* file order is kept; img_name is the file name without directory and extension */
    ck_assert_str_eq(back.image_names[0], "img_5");
    ck_assert_str_eq(back.image_names[2], "img_3");
    ck_assert_str_eq(back.image_names[4], "img_4");
    ck_assert_str_eq(back.image_names[5], "img_2.tar");
    for (int i = 0; i < 6; i++)
        assert_cameras_close(&cams[i], &back.cameras[i], 1e-5);
    text = tio_read_file(path, &n);
    ck_assert_ptr_nonnull(strstr(text, "\"cx\""));
    ck_assert_ptr_null(strstr(strstr(text, "\"cx\"") + 1, "\"cx\"")); /* only once */
    ck_assert_ptr_nonnull(strstr(text, "\"img_name\""));
    ck_assert_ptr_nonnull(strstr(text, "\"position\""));
    free(text);
    cls_cameras_free(&back);
    free(path);
}
END_TEST

START_TEST(cameras_json_malformed)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"[]", "the camera array is empty"},
        {"[3]", "camera 0 is not an object"},
        {"[{\"id\": 0, \"img_name\": \"a\", \"width\": 10, \"height\": 10, \"position\": [0,0,0], "
         "\"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fy\": 5, \"fx\": 5},"
         " {\"id\": 1, \"img_name\": \"b\", \"width\": 10, \"height\": 10, \"position\": [0,0,0], "
         "\"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fx\": 5}]",
         "camera 1: missing \"fy\""},
        {"[{\"width\": 10, \"height\": 10, \"position\": [0,0,0], \"rotation\": [[1,0,0],[0,1,0]], \"fy\": 5, \"fx\": 5}]",
         "camera 0: \"rotation\" is missing or not a 3x3"},
        {"[{\"width\": 10, \"height\": 10, \"position\": [0,0], \"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fy\": 5, "
         "\"fx\": 5}]",
         "camera 0: \"position\""},
        {"[{\"width\": 0, \"height\": 10, \"position\": [0,0,0], \"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fy\": 5, "
         "\"fx\": 5}]",
         "\"width\" = 0 is not a positive integer"},
        {"[{\"height\": 10, \"position\": [0,0,0], \"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fy\": 5, \"fx\": 5}]",
         "camera 0: missing \"width\""},
        {"[{\"width\": 10, \"height\": 10, \"position\": [0,0,0], \"rotation\": [[1,0,0],[0,1,0],[0,0,3]], \"fy\": 5, "
         "\"fx\": 5}]",
         "is not a rotation matrix"},
        {"[{\"width\": 10, \"height\": 10, \"position\": [0,0,0], \"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fy\": 5, "
         "\"fx\": -5}]",
         "focal lengths must be positive"},
    };
    char *path = tio_tmp_path("cam_json_bad.json");
    cls_camera_set s;
    cls_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tio_write_file(path, cases[i].text, strlen(cases[i].text));
        TIO_EXPECT(cls_cameras_load(path, &s, &err), err, CLS_ERROR_FORMAT, cases[i].expect);
    }
    /* Without img_name the id names the camera. */
    {
        const char *ok = "[{\"id\": 17, \"width\": 10, \"height\": 10, \"position\": [0,0,0], "
                         "\"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fy\": 5, \"fx\": 5}]";
        tio_write_file(path, ok, strlen(ok));
        TIO_OK(cls_cameras_load(path, &s, &err), err);
        ck_assert_str_eq(s.image_names[0], "17");
        ck_assert(s.cameras[0].cx == 5.0f);
        cls_cameras_free(&s);
    }
    free(path);
}
END_TEST

/* ---- dispatch and arguments ------------------------------------------------------------ */

START_TEST(dispatch_and_arguments)
{
    char *empty = tio_tmp_dir("cam_empty_dir"), *txt = tio_tmp_path("cam_list.txt");
    char *out = tio_tmp_path("cam_args.json");
    cls_camera cam = {0};
    char *name = "a.png";
    cls_camera_set s, one = {1, &cam, &name}, none = {0, NULL, NULL};
    cls_error err;
    tio_write_file(txt, "hello\n", 6);
    TIO_EXPECT(cls_cameras_load(NULL, &s, &err), err, CLS_ERROR_INVALID_ARGUMENT, "path");
    TIO_EXPECT(cls_cameras_load(empty, NULL, &err), err, CLS_ERROR_INVALID_ARGUMENT, "out");
    TIO_EXPECT(cls_cameras_load("/nonexistent/cameras", &s, &err), err, CLS_ERROR_IO, "No such file");
    TIO_EXPECT(cls_cameras_load(empty, &s, &err), err, CLS_ERROR_INVALID_ARGUMENT, "no cameras found");
    TIO_EXPECT(cls_cameras_load(txt, &s, &err), err, CLS_ERROR_INVALID_ARGUMENT, "not a camera source");
    TIO_EXPECT(cls_cameras_save_json(NULL, &one, &err), err, CLS_ERROR_INVALID_ARGUMENT, "path");
    TIO_EXPECT(cls_cameras_save_json(out, NULL, &err), err, CLS_ERROR_INVALID_ARGUMENT, "set");
    TIO_EXPECT(cls_cameras_save_json(out, &none, &err), err, CLS_ERROR_INVALID_ARGUMENT, "empty");
    TIO_EXPECT(cls_cameras_save_json("/nonexistent-clsplat/cameras.json", &one, &err), err, CLS_ERROR_IO,
               "No such file");
    ck_assert_int_eq(cls_cameras_load(empty, &s, NULL), CLS_ERROR_INVALID_ARGUMENT);
    /* resize: 0 keeps the camera; NULL gives a zeroed one */
    cam.width = 100;
    cam.height = 75;
    cam.fx = cam.fy = 50;
    cam.cx = 50;
    cam.cy = 37.5f;
    {
        cls_camera same = cls_camera_resized(&cam, 0), half = cls_camera_resized(&cam, 50);
        cls_camera zero = cls_camera_resized(NULL, 10);
        ck_assert_mem_eq(&same, &cam, sizeof cam);
        ck_assert_uint_eq(half.height, 38); /* round(37.5) */
        ck_assert(half.fx == 25.0f && half.cx == 25.0f);
        ck_assert_double_eq_tol(half.fy, 50.0 * 38 / 75, 1e-5);
        ck_assert_double_eq_tol(half.cy, 37.5 * 38 / 75, 1e-5);
        ck_assert_uint_eq(zero.width, 0);
    }
    free(empty);
    free(txt);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_cameras");
    TCase *colmap = tcase_create("colmap");
    TCase *json = tcase_create("json");
    if (tio_have_data()) {
        TCase *real = tcase_create("real_data");
        tcase_add_test(real, real_fox_opencv_is_unsupported);
        tcase_add_test(real, real_fox_undistorted);
        tcase_add_test(real, real_maupertuis_text_and_binary_agree);
        tcase_add_test(real, real_fox_transforms);
        tcase_add_test(real, real_lego_transforms);
        tcase_add_test(real, real_jpeg_header_size);
        tcase_add_test(real, real_cameras_json_round_trip);
        suite_add_tcase(s, real);
    }
    tcase_add_test(colmap, colmap_binary_and_text_fixtures);
    tcase_add_test(colmap, colmap_truncated_and_huge_counts);
    tcase_add_test(colmap, colmap_bad_records);
    tcase_add_test(colmap, colmap_bad_text);
    tcase_add_test(json, nerf_intrinsics_variants);
    tcase_add_test(json, nerf_size_from_png_header);
    tcase_add_test(json, nerf_malformed);
    tcase_add_test(json, cameras_json_round_trip);
    tcase_add_test(json, cameras_json_malformed);
    tcase_add_test(json, dispatch_and_arguments);
    suite_add_tcase(s, colmap);
    suite_add_tcase(s, json);
    return tio_run(s);
}
