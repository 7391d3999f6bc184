/* test_io_util.c - helpers shared by the I/O test programs. */
#include "test_io_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    ck_assert_ptr_nonnull(s);
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

int tio_have_data(void)
{
    static int reported = 0;
    struct stat st;
    if (stat(CLS_SHARED_DATA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return 1;
    if (!reported) {
        printf("SKIP: ../shared/data not present\n");
        fflush(stdout);
        reported = 1;
    }
    return 0;
}

char *tio_data_path(const char *relative)
{
    return join(CLS_SHARED_DATA_DIR, relative);
}

static void mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    ck_assert_uint_lt(n, sizeof buf);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                ck_abort_msg("mkdir %s: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
}

char *tio_tmp_path(const char *name)
{
    mkdir_p(CLS_TEST_TMP_DIR);
    return join(CLS_TEST_TMP_DIR, name);
}

char *tio_tmp_dir(const char *name)
{
    char *p = tio_tmp_path(name);
    mkdir_p(p);
    return p;
}

void tio_write_file(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_msg(fp != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, size, fp), size);
    ck_assert_int_eq(fclose(fp), 0);
}

void *tio_read_file(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;
    ck_assert_msg(fp != NULL, "cannot open %s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    ck_assert_int_ge(n, 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

void tio_copy_file(const char *from, const char *to)
{
    size_t n;
    void *data = tio_read_file(from, &n);
    tio_write_file(to, data, n);
    free(data);
}

int tio_count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, needle) != NULL;
    closedir(d);
    return n;
}

void tio_buf_put(tio_buf *b, const void *p, size_t n)
{
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        ck_assert_ptr_nonnull(b->data);
    }
    if (n > 0)
        memcpy(b->data + b->size, p, n);
    b->size += n;
}

void tio_buf_str(tio_buf *b, const char *s)
{
    tio_buf_put(b, s, strlen(s));
}

void tio_buf_le(tio_buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        uint8_t x = (uint8_t)(v >> (8 * i));
        tio_buf_put(b, &x, 1);
    }
}

void tio_buf_f32(tio_buf *b, float v, int big_endian)
{
    uint8_t x[4];
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++)
        x[big_endian ? 3 - i : i] = (uint8_t)(u >> (8 * i));
    tio_buf_put(b, x, 4);
}

void tio_buf_f64(tio_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    tio_buf_le(b, u, 8);
}

float tio_uniform(tio_rng *rng, float lo, float hi)
{
    uint32_t x = rng->state ? rng->state : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng->state = x;
    return lo + (hi - lo) * (float)((x >> 8) * (1.0 / 16777216.0));
}

void tio_random_gaussians(cls_gaussians *g, size_t count, int sh_degree, uint32_t seed)
{
    tio_rng rng = {seed * 2654435761u + 1u};
    size_t k = (size_t)cls_sh_coeff_count(sh_degree);
    cls_error err;
    ck_assert_int_eq(cls_gaussians_alloc(g, count, sh_degree, &err), CLS_OK);
    for (size_t i = 0; i < count; i++) {
        for (int c = 0; c < 3; c++) {
            g->means[i * 3 + (size_t)c] = tio_uniform(&rng, -10.0f, 10.0f);
            g->log_scales[i * 3 + (size_t)c] = tio_uniform(&rng, -8.0f, 1.0f);
        }
        for (int c = 0; c < 4; c++)
            g->quats[i * 4 + (size_t)c] = tio_uniform(&rng, -1.0f, 1.0f);
        g->quats[i * 4] += 1.5f; /* never zero */
        g->opacity_logits[i] = tio_uniform(&rng, -5.0f, 5.0f);
        for (size_t j = 0; j < k * 3; j++)
            g->sh[i * k * 3 + j] = j < 3 ? tio_uniform(&rng, -1.7f, 1.7f) : tio_uniform(&rng, -0.3f, 0.3f);
    }
}

int tio_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
