/* Mutation smoke test of every file reader: seeds (real files from the sample, plus small
 * generated COLMAP, transforms.json and cameras.json files) are mutated with byte flips,
 * truncations, insertions and number swaps, then read. Every outcome must be CLS_OK or a
 * failure status with a non-empty message, and (under the sanitizer build of the suite)
 * without memory errors or leaks. The entry point has libFuzzer's signature: compiled with
 * -DCLS_LIBFUZZER and linked with clang's -fsanitize=fuzzer,address it fuzzes open-ended. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clsplat.h"
#include "test_util.h"

#define TMP CLS_TEST_TMP_DIR "/fuzz"

static int write_bytes(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return (fclose(f) == 0) && ok;
}

static int check(cls_status st, const cls_error *err, const char *what)
{
    if (st != CLS_OK && (err->message[0] == '\0' || st == CLS_OK)) {
        fprintf(stderr, "%s: status %s without a message\n", what, cls_status_name(st));
        return 0;
    }
    return 1;
}

/* The first byte picks the reader; the rest is the file. Returns 0 on a contract violation. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const targets[] = {TMP "/in.ply", TMP "/in.splat", TMP "/transforms.json",
                                          TMP "/cameras.json", TMP "/colmap/cameras.bin", TMP "/colmap/images.bin",
                                          TMP "/txt/cameras.txt", TMP "/txt/images.txt"};
    const size_t which = data[0] % (sizeof targets / sizeof targets[0]);
    if (!write_bytes(targets[which], data + 1, size - 1))
        return 0;
    cls_error err = {0};
    int ok = 1;
    if (which < 2) {
        cls_gaussians g = {0};
        cls_status st = cls_gaussians_load(targets[which], &g, &err);
        ok = check(st, &err, targets[which]);
        cls_gaussians_free(&g);
    } else {
        static const char *const sources[] = {TMP "/transforms.json", TMP "/cameras.json", TMP "/colmap", TMP "/colmap",
                                              TMP "/txt", TMP "/txt"};
        cls_camera_set set = {0};
        cls_status st = cls_cameras_load(sources[which - 2], &set, &err);
        ok = check(st, &err, sources[which - 2]);
        cls_cameras_free(&set);
    }
    return ok ? 0 : -1;
}

#ifndef CLS_LIBFUZZER
static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* A valid file of each kind, made with the library's own writers where it has them. */
static void make_seeds(void)
{
    mkdir(CLS_TEST_TMP_DIR, 0755);
    mkdir(TMP, 0755);
    mkdir(TMP "/colmap", 0755);
    mkdir(TMP "/txt", 0755);
    mkdir(TMP "/seeds", 0755);
    cls_gaussians g = {0};
    cls_error err = {0};
    if (cls_gaussians_load(CLS_SAMPLE_DIR "/fruit_drops/scene.ply", &g, &err) == CLS_OK) {
        g.count = 40; /* keep the seed small */
        cls_gaussians_save(TMP "/seeds/s.ply", &g, &err);
        cls_gaussians_save(TMP "/seeds/s.splat", &g, &err);
        g.count = 4721;
    }
    cls_gaussians_free(&g);
    cls_camera_set cams = {0};
    if (cls_cameras_load(CLS_SAMPLE_DIR "/fruit_drops/cameras.json", &cams, &err) == CLS_OK)
        cls_cameras_save_json(TMP "/seeds/cameras.json", &cams, &err);
    cls_cameras_free(&cams);
    FILE *f = fopen(TMP "/seeds/transforms.json", "wb");
    if (f) {
        fputs("{\"camera_angle_x\": 0.69, \"w\": 64, \"h\": 48, \"frames\": [{\"file_path\": \"a.png\", "
              "\"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]}, {\"file_path\": \"b.png\", "
              "\"fl_x\": 50, \"transform_matrix\": [[0,0,1,4],[0,1,0,0],[-1,0,0,0],[0,0,0,1]]}]}",
              f);
        fclose(f);
    }
    f = fopen(TMP "/seeds/cameras.txt", "wb");
    if (f) {
        fputs("# comment\n1 PINHOLE 64 48 50 50 32 24\n2 SIMPLE_PINHOLE 64 48 40 32 24\n", f);
        fclose(f);
    }
    f = fopen(TMP "/seeds/images.txt", "wb");
    if (f) {
        fputs("# comment\n1 1 0 0 0 0 0 4 1 a.jpg\n10 20 -1\n2 0.7071 0 0.7071 0 1 0 4 2 b.jpg\n\n", f);
        fclose(f);
    }
    /* Binary COLMAP: one PINHOLE camera and one image. */
    uint8_t cam_bin[8 + 4 + 4 + 8 + 8 + 4 * 8] = {0};
    uint64_t one = 1, w = 64, h = 48;
    int32_t id = 1, model = 1;
    double params[4] = {50, 50, 32, 24};
    memcpy(cam_bin, &one, 8);
    memcpy(cam_bin + 8, &id, 4);
    memcpy(cam_bin + 12, &model, 4);
    memcpy(cam_bin + 16, &w, 8);
    memcpy(cam_bin + 24, &h, 8);
    memcpy(cam_bin + 32, params, sizeof params);
    write_bytes(TMP "/seeds/cameras.bin", cam_bin, sizeof cam_bin);
    uint8_t img_bin[8 + 4 + 7 * 8 + 4 + 6 + 8] = {0};
    double pose[7] = {1, 0, 0, 0, 0, 0, 4};
    memcpy(img_bin, &one, 8);
    memcpy(img_bin + 8, &id, 4);
    memcpy(img_bin + 12, pose, sizeof pose);
    memcpy(img_bin + 68, &id, 4);
    memcpy(img_bin + 72, "a.jpg", 6);
    write_bytes(TMP "/seeds/images.bin", img_bin, sizeof img_bin);
}

static int seed_loads(uint8_t target, const uint8_t *seed, size_t size)
{
    static const char *const paths[] = {TMP "/in.ply", TMP "/in.splat", TMP "/transforms.json", TMP "/cameras.json",
                                        TMP "/colmap/cameras.bin", TMP "/colmap/images.bin", TMP "/txt/cameras.txt",
                                        TMP "/txt/images.txt"};
    static const char *const sources[] = {NULL, NULL, TMP "/transforms.json", TMP "/cameras.json", TMP "/colmap",
                                          TMP "/colmap", TMP "/txt", TMP "/txt"};
    if (!write_bytes(paths[target], seed, size))
        return 0;
    cls_error err = {0};
    cls_status st;
    if (target < 2) {
        cls_gaussians g = {0};
        st = cls_gaussians_load(paths[target], &g, &err);
        cls_gaussians_free(&g);
    } else {
        cls_camera_set set = {0};
        st = cls_cameras_load(sources[target], &set, &err);
        cls_cameras_free(&set);
    }
    if (st != CLS_OK)
        fprintf(stderr, "%s\n", err.message);
    return st == CLS_OK;
}

static size_t mutate(uint8_t *buf, size_t size, size_t cap, uint32_t *s)
{
    int edits = 1 + (int)(rng(s) % 4);
    for (int e = 0; e < edits && size > 0; e++) {
        size_t at = rng(s) % size;
        switch (rng(s) % 6) {
        case 0: buf[at] ^= (uint8_t)(1u << (rng(s) % 8)); break;              /* bit flip */
        case 1: buf[at] = (uint8_t)rng(s); break;                             /* random byte */
        case 2: size = at; break;                                             /* truncate */
        case 3: buf[at] = (uint8_t)"0123456789-.e,{}[]\"\n "[rng(s) % 21]; break; /* text-ish */
        case 4:                                                               /* insert */
            if (size < cap) {
                memmove(buf + at + 1, buf + at, size - at);
                buf[at] = (uint8_t)rng(s);
                size++;
            }
            break;
        default: memset(buf + at, 0xff, (size - at) < 8 ? (size - at) : 8); break; /* huge numbers */
        }
    }
    return size;
}

int main(void)
{
    make_seeds();
    static const struct {
        const char *seed;
        uint8_t target;
    } seeds[] = {{TMP "/seeds/s.ply", 0},          {TMP "/seeds/s.splat", 1},     {TMP "/seeds/transforms.json", 2},
                 {TMP "/seeds/cameras.json", 3},   {TMP "/seeds/cameras.bin", 4}, {TMP "/seeds/images.bin", 5},
                 {TMP "/seeds/cameras.txt", 6},    {TMP "/seeds/images.txt", 7}};
    const int rounds = test_small_mode() ? 50 : 600;
    int failures = 0, runs = 0;
    uint32_t state = 0x12345678u;
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        size_t size = 0;
        uint8_t *seed = read_all(seeds[k].seed, &size);
        if (seed == NULL) {
            fprintf(stderr, "cannot make seed %s\n", seeds[k].seed);
            return 1;
        }
        /* The companion file of a two-file COLMAP model stays valid while the other mutates. */
        if (seeds[k].target == 4 || seeds[k].target == 5 || seeds[k].target == 6 || seeds[k].target == 7) {
            const char *const pairs[][2] = {{TMP "/seeds/images.bin", TMP "/colmap/images.bin"},
                                            {TMP "/seeds/cameras.bin", TMP "/colmap/cameras.bin"},
                                            {TMP "/seeds/images.txt", TMP "/txt/images.txt"},
                                            {TMP "/seeds/cameras.txt", TMP "/txt/cameras.txt"}};
            size_t n = 0;
            uint8_t *other = read_all(pairs[seeds[k].target - 4][0], &n);
            if (other == NULL || !write_bytes(pairs[seeds[k].target - 4][1], other, n))
                return 1;
            free(other);
        }
        /* The unmutated seed must load, or the mutations test nothing. */
        if (!seed_loads(seeds[k].target, seed, size)) {
            fprintf(stderr, "seed %s does not load\n", seeds[k].seed);
            return 1;
        }
        const size_t cap = size + 64;
        uint8_t *buf = malloc(cap + 1);
        for (int r = 0; r < rounds; r++) {
            buf[0] = seeds[k].target;
            memcpy(buf + 1, seed, size);
            size_t n = r == 0 ? size : mutate(buf + 1, size, cap, &state);
            failures += LLVMFuzzerTestOneInput(buf, n + 1) != 0;
            runs++;
        }
        free(buf);
        free(seed);
    }
    printf("%d mutated inputs, %d contract violations\n", runs, failures);
    return failures == 0 ? 0 : 1;
}
#endif
