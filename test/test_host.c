/* The OpenCL host layer and the context: device selection, error reporting with build logs,
 * the program binary cache, launch-size clamping, and the status table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/internal.h"
#include "host/host.h"

static cls_context *open_default(void)
{
    cls_context *ctx = NULL;
    cls_status st = cls_context_create(&(cls_context_desc){0}, &ctx);
    ck_assert_msg(st == CLS_OK, "no OpenCL device: %s", cls_context_errmsg(ctx));
    return ctx;
}

START_TEST(test_status_table)
{
#define CHECK_STATUS(name, value, text)                                  \
    ck_assert_str_eq(cls_status_name(name), #name);                      \
    ck_assert_str_eq(cls_status_string(name), text);                     \
    ck_assert_int_eq((int)(name), value);
    CLS_STATUS_LIST(CHECK_STATUS)
#undef CHECK_STATUS
    ck_assert_str_eq(cls_status_name((cls_status)-999), "unknown status");

    /* Every status is documented in docs/api.md. */
    FILE *f = fopen(CLS_SAMPLE_DIR "/../docs/api.md", "rb");
    ck_assert_msg(f != NULL, "docs/api.md missing");
    static char doc[1 << 18];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
#define CHECK_DOC(name, value, text) ck_assert_msg(strstr(doc, #name) != NULL, "%s is not in docs/api.md", #name);
    CLS_STATUS_LIST(CHECK_DOC)
#undef CHECK_DOC
}
END_TEST

START_TEST(test_device_selection)
{
    cls_device_info *list = NULL;
    size_t count = 0;
    cls_error err = {0};
    ck_assert_int_eq(cls_device_list(&list, &count, &err), CLS_OK);
    ck_assert_uint_gt(count, 0);
    char upper[64];
    /* Select the first device by a case-changed substring of its name. */
    snprintf(upper, sizeof upper, "%.8s", list[0].name);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    cls_context *ctx = NULL;
    ck_assert_int_eq(cls_context_create(&(cls_context_desc){.device = upper}, &ctx), CLS_OK);
    ck_assert_str_eq(cls_context_device(ctx)->name, list[0].name);
    cls_context_destroy(ctx);

    ck_assert_int_eq(cls_context_create(&(cls_context_desc){.device = "0"}, &ctx), CLS_OK);
    ck_assert_int_eq(cls_context_device(ctx)->device_index, 0);
    cls_context_destroy(ctx);

    ck_assert_int_eq(cls_context_create(&(cls_context_desc){.device = "no-such-device-xyz"}, &ctx), CLS_ERROR_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "no-such-device-xyz"));
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), list[0].name)); /* lists what exists */
    cls_context_destroy(ctx);

    ck_assert_int_eq(cls_context_create(&(cls_context_desc){.device = "99"}, &ctx), CLS_ERROR_NO_DEVICE);
    cls_context_destroy(ctx);
    free(list);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_build_failure_reports_log)
{
    const char *dir = CLS_TEST_TMP_DIR "/broken_kernels";
    mkdir(dir, 0755);
    char path[512];
    snprintf(path, sizeof path, "%s/common.cl", dir);
    write_file(path, "/* empty prelude */\n");
    snprintf(path, sizeof path, "%s/project.cl", dir);
    write_file(path, "__kernel void project(__global float *x) { x[0] = undefined_symbol_xyz; }\n");
    cls_context *ctx = NULL;
    ck_assert_int_eq(cls_context_create(&(cls_context_desc){.kernel_dir = dir}, &ctx), CLS_OK);
    cls_frame *frame = NULL;
    ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_ERROR_KERNEL_BUILD);
    ck_assert_ptr_null(frame);
    const char *msg = cls_context_errmsg(ctx);
    ck_assert_msg(strstr(msg, "cl/project.cl") != NULL, "message lacks the file: %s", msg);
    ck_assert_msg(strstr(msg, "-DCLS_TILE=") != NULL, "message lacks the options: %s", msg);
    ck_assert_msg(strstr(msg, "undefined_symbol_xyz") != NULL, "message lacks the compiler log: %s", msg);
    ck_assert_int_eq(cls_context_cl_error(ctx), -11 /* CL_BUILD_PROGRAM_FAILURE */);
    cls_context_destroy(ctx);

    /* A kernel folder without the file is an I/O error naming the path. */
    ck_assert_int_eq(cls_context_create(&(cls_context_desc){.kernel_dir = CLS_TEST_TMP_DIR "/no_such_dir"}, &ctx), CLS_OK);
    ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_ERROR_IO);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "no_such_dir/common.cl"));
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_program_cache)
{
    const char *dir = CLS_TEST_TMP_DIR "/program_cache/nested";
    clh_device_info info = {.platform_name = "P", .platform_version = "1.2", .name = "D", .driver_version = "7"};
    char *key = clh_cache_key(&info, "kernel source", "-DX=1");
    ck_assert_ptr_nonnull(key);
    unsigned char binary[1000];
    for (size_t i = 0; i < sizeof binary; i++)
        binary[i] = (unsigned char)(i * 7);
    clh_cache_store(dir, key, binary, sizeof binary, NULL);
    unsigned char *loaded = NULL;
    size_t size = 0;
    ck_assert_int_eq(clh_cache_load(dir, key, &loaded, &size, NULL), 1);
    ck_assert_uint_eq(size, sizeof binary);
    ck_assert_int_eq(memcmp(loaded, binary, size), 0);
    free(loaded);

    /* Anything that changes the binary changes the key. */
    char *other[] = {clh_cache_key(&info, "kernel source!", "-DX=1"), clh_cache_key(&info, "kernel source", "-DX=2"),
                     NULL, NULL};
    clh_device_info info2 = info;
    snprintf(info2.driver_version, sizeof info2.driver_version, "8");
    other[2] = clh_cache_key(&info2, "kernel source", "-DX=1");
    for (int i = 0; i < 3; i++) {
        ck_assert_str_ne(other[i], key);
        ck_assert_int_eq(clh_cache_load(dir, other[i], &loaded, &size, NULL), 0);
        free(other[i]);
    }

    /* Corruption: flip a byte of the binary, then truncate: both are misses, not errors. */
    char path[1200];
    uint64_t a = clh_hash64(key, strlen(key), 0), b = clh_hash64(key, strlen(key), 0x9e3779b97f4a7c15ull);
    snprintf(path, sizeof path, "%s/%016llx%016llx.bin", dir, (unsigned long long)a, (unsigned long long)b);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, -10, SEEK_END);
    fputc(0xff ^ binary[sizeof binary - 10], f);
    fclose(f);
    ck_assert_int_eq(clh_cache_load(dir, key, &loaded, &size, NULL), 0);
    ck_assert_int_eq(truncate(path, 20), 0);
    ck_assert_int_eq(clh_cache_load(dir, key, &loaded, &size, NULL), 0);
    free(key);
}
END_TEST

START_TEST(test_launch_clamps_local_size)
{
    cls_context *ctx = open_default();
    cl_kernel kernel = NULL;
    ck_assert_int_eq(cls__kernel(ctx, "tiles", NULL, "gather_tile_counts", &kernel), CLS_OK);
    size_t max_local = 0;
    clh_error herr;
    ck_assert_int_eq(clh_kernel_max_local(&ctx->rt, kernel, &max_local, &herr), CLH_OK);

    clh_buffer ids = {0}, tiles = {0}, out = {0};
    const cl_uint n = 1000;
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &ids, n * 4, "ids", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &tiles, n * 4, "tiles", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &out, n * 4, "out", &herr), CLH_OK);
    cl_uint host_ids[1000], host_tiles[1000], host_out[1000];
    for (cl_uint i = 0; i < n; i++) {
        host_ids[i] = n - 1 - i;
        host_tiles[i] = i * 3;
    }
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, &ids, 0, host_ids, sizeof host_ids, "ids", &herr), CLH_OK);
    ck_assert_int_eq(clh_buffer_write(&ctx->rt, &tiles, 0, host_tiles, sizeof host_tiles, "tiles", &herr), CLH_OK);
    const clh_arg args[] = {CLH_ARG(n), CLH_MEM(ids), CLH_MEM(tiles), CLH_MEM(out)};
    /* A local size far beyond the kernel's limit is clamped, and the result is right. */
    clh_launch_desc desc = {.name = "gather_tile_counts", .dims = 1, .items = {n, 1}, .local = {max_local * 8, 1}};
    ck_assert_int_eq(cls__launch(ctx, kernel, &desc, args, 4, NULL, CLS_PASS_EMIT), CLS_OK);
    ck_assert_int_eq(clh_buffer_read(&ctx->rt, &out, 0, host_out, sizeof host_out, "out", &herr), CLH_OK);
    for (cl_uint i = 0; i < n; i++)
        ck_assert_uint_eq(host_out[i], (n - 1 - i) * 3);
    /* Asking for exactly that size fails with a status that says what the limit is. */
    desc.exact_local = 1;
    ck_assert_int_eq(cls__launch(ctx, kernel, &desc, args, 4, NULL, CLS_PASS_EMIT), CLS_ERROR_LIMIT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "gather_tile_counts"));
    clh_buffer_release(&ids);
    clh_buffer_release(&tiles);
    clh_buffer_release(&out);
    clReleaseKernel(kernel);
    cls_context_destroy(ctx);
}
END_TEST

/* Growth policies and the device-memory accounting: reserve grows by half again and never
 * shrinks; fit sizes exactly, keeps a buffer at most 1/8 too large, and gives memory back. */
START_TEST(test_buffer_sizes)
{
    cls_context *ctx = open_default();
    clh_error herr;
    clh_buffer a = {0}, b = {0};
    const size_t base = ctx->rt.allocated;
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &a, 1000, "a", &herr), CLH_OK);
    ck_assert_uint_eq(a.size, 1000);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &a, 1100, "a", &herr), CLH_OK);
    ck_assert_uint_eq(a.size, 1500);
    ck_assert_int_eq(clh_buffer_reserve(&ctx->rt, &a, 10, "a", &herr), CLH_OK);
    ck_assert_uint_eq(a.size, 1500);
    ck_assert_int_eq(clh_buffer_fit(&ctx->rt, &b, 1000, "b", &herr), CLH_OK);
    ck_assert_uint_eq(b.size, 1000);
    ck_assert_int_eq(clh_buffer_fit(&ctx->rt, &b, 900, "b", &herr), CLH_OK); /* 1/9 too large: kept */
    ck_assert_uint_eq(b.size, 1000);
    ck_assert_int_eq(clh_buffer_fit(&ctx->rt, &b, 800, "b", &herr), CLH_OK); /* 1/4 too large: refitted */
    ck_assert_uint_eq(b.size, 800);
    ck_assert_int_eq(clh_buffer_fit(&ctx->rt, &b, 1100, "b", &herr), CLH_OK);
    ck_assert_uint_eq(b.size, 1100);
    ck_assert_uint_eq(ctx->rt.allocated, base + 1500 + 1100);
    ck_assert_uint_ge(ctx->rt.peak, base + 1500 + 1100);
    clh_buffer_release(&a);
    clh_buffer_release(&b);
    ck_assert_uint_eq(ctx->rt.allocated, base);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_render_argument_errors)
{
    cls_context *ctx = open_default();
    cls_gaussians g = {0};
    cls_error err = {0};
    ck_assert_int_eq(cls_gaussians_alloc(&g, 4, 0, &err), CLS_OK);
    for (int i = 0; i < 4; i++) {
        g.means[i * 3 + 2] = 3.0f;
        g.quats[i * 4] = 1.0f;
    }
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    float rgb[16 * 16 * 3];
    cls_render_output out = {.rgb = rgb};
    cls_camera good = {.width = 16, .height = 16, .fx = 20, .fy = 20, .cx = 8, .cy = 8, .rotation = {1, 0, 0, 0, 1, 0, 0, 0, 1}};
    ck_assert_int_eq(cls_render(scene, &good, NULL, &out), CLS_OK);

    cls_camera bad = good;
    bad.width = 0;
    ck_assert_int_eq(cls_render(scene, &bad, NULL, &out), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "image size"));
    bad = good;
    bad.fx = -1.0f;
    ck_assert_int_eq(cls_render(scene, &bad, NULL, &out), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "focal"));
    bad = good;
    bad.rotation[0] = 2.0f;
    ck_assert_int_eq(cls_render(scene, &bad, NULL, &out), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "orthonormal"));
    ck_assert_int_eq(cls_render(scene, &good, &(cls_render_desc){.near_plane = 5, .far_plane = 1}, &out),
                     CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(cls_render(scene, &good, &(cls_render_desc){.sh_degree = 9}, &out), CLS_ERROR_INVALID_ARGUMENT);

    /* Depth asked of a frame rendered without it. */
    float depth[16 * 16];
    cls_frame *frame = NULL;
    ck_assert_int_eq(cls_frame_create(ctx, &frame), CLS_OK);
    ck_assert_int_eq(cls_frame_read(frame, &out), CLS_ERROR_INVALID_ARGUMENT); /* nothing rendered yet */
    ck_assert_int_eq(cls_render_forward(frame, scene, &good, NULL), CLS_OK);
    ck_assert_int_eq(cls_frame_read(frame, &(cls_render_output){.depth = depth}), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "with_depth"));
    cls_frame_destroy(frame);

    /* Empty scenes are refused with a message. */
    cls_gaussians empty = {0};
    cls_scene *none = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &empty, &none), CLS_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cls_context_errmsg(ctx), "no Gaussians"));

    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

START_TEST(test_scene_round_trip)
{
    cls_context *ctx = open_default();
    cls_gaussians g = {0}, back = {0};
    cls_error err = {0};
    ck_assert_int_eq(cls_gaussians_alloc(&g, 37, 2, &err), CLS_OK);
    size_t k = (size_t)cls_sh_coeff_count(2);
    for (size_t i = 0; i < 37; i++) {
        for (int a = 0; a < 3; a++) {
            g.means[i * 3 + (size_t)a] = (float)i * 0.5f + (float)a;
            g.log_scales[i * 3 + (size_t)a] = -(float)a;
        }
        for (int a = 0; a < 4; a++)
            g.quats[i * 4 + (size_t)a] = (float)(a + 1);
        g.opacity_logits[i] = (float)i - 10.0f;
        for (size_t c = 0; c < k * 3; c++)
            g.sh[i * k * 3 + c] = (float)c * 0.01f;
    }
    cls_scene *scene = NULL;
    ck_assert_int_eq(cls_scene_create(ctx, &g, &scene), CLS_OK);
    ck_assert_uint_eq(cls_scene_count(scene), 37);
    ck_assert_int_eq(cls_scene_sh_degree(scene), 2);
    ck_assert_int_eq(cls_scene_download(scene, &back), CLS_OK);
    ck_assert_int_eq(memcmp(g.means, back.means, 37 * 3 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(g.quats, back.quats, 37 * 4 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(g.sh, back.sh, 37 * k * 3 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(g.opacity_logits, back.opacity_logits, 37 * sizeof(float)), 0);
    cls_gaussians_free(&back);
    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    cls_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("host");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_status_table);
    tcase_add_test(tc, test_device_selection);
    tcase_add_test(tc, test_build_failure_reports_log);
    tcase_add_test(tc, test_program_cache);
    tcase_add_test(tc, test_launch_clamps_local_size);
    tcase_add_test(tc, test_buffer_sizes);
    tcase_add_test(tc, test_render_argument_errors);
    tcase_add_test(tc, test_scene_round_trip);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
