/* test_io_util.h - helpers shared by the I/O test programs (test_io_*.c). */
#ifndef TEST_IO_UTIL_H
#define TEST_IO_UTIL_H

#include "clsplat.h"

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Asserts a status and that the error message contains a substring. */
#define TIO_EXPECT(call, err, want, substring)                                                           \
    do {                                                                                                 \
        cls_status tio_st_ = (call);                                                                     \
        ck_assert_msg(tio_st_ == (want), "%s: got %s (%s), expected %s", #call, cls_status_name(tio_st_), \
                      (err).message, cls_status_name(want));                                             \
        ck_assert_int_eq((err).status, (want));                                                          \
        ck_assert_msg(strstr((err).message, (substring)) != NULL, "message \"%s\" lacks \"%s\"",          \
                      (err).message, (substring));                                                       \
    } while (0)

/* Asserts CLS_OK, printing the message otherwise. */
#define TIO_OK(call, err)                                                                                \
    do {                                                                                                 \
        cls_status tio_st_ = (call);                                                                     \
        ck_assert_msg(tio_st_ == CLS_OK, "%s: %s: %s", #call, cls_status_name(tio_st_), (err).message);  \
    } while (0)

/* 1 when ../shared/data exists; otherwise prints "SKIP: ../shared/data not present" once per
 * process and returns 0. */
int tio_have_data(void);
/* A malloc'd path inside the shared data folder / the test temporary folder (created). */
char *tio_data_path(const char *relative);
char *tio_tmp_path(const char *name);
/* mkdir -p of a folder under the temporary folder; returns the malloc'd path. */
char *tio_tmp_dir(const char *name);

/* Whole-file helpers; fail the test on error. read returns a malloc'd buffer. */
void tio_write_file(const char *path, const void *data, size_t size);
void *tio_read_file(const char *path, size_t *size);
/* Copies a file. */
void tio_copy_file(const char *from, const char *to);
/* Number of entries in a folder whose name contains needle. */
int tio_count_entries(const char *dir, const char *needle);

/* A byte buffer that grows (fails the test when out of memory); free data with free(). */
typedef struct tio_buf {
    uint8_t *data;
    size_t size, cap;
} tio_buf;
void tio_buf_put(tio_buf *b, const void *p, size_t n);
void tio_buf_str(tio_buf *b, const char *s);
/* The low `bytes` bytes of v, little endian. */
void tio_buf_le(tio_buf *b, uint64_t v, int bytes);
void tio_buf_f32(tio_buf *b, float v, int big_endian);
void tio_buf_f64(tio_buf *b, double v);

/* A small deterministic generator (xorshift32); uniform in [lo, hi). */
typedef struct tio_rng {
    uint32_t state;
} tio_rng;
float tio_uniform(tio_rng *rng, float lo, float hi);
/* Random Gaussians with plausible values (allocated with cls_gaussians_alloc). */
void tio_random_gaussians(cls_gaussians *g, size_t count, int sh_degree, uint32_t seed);

/* Runs a suite (fork mode as Check's default) and returns the process exit code. */
int tio_run(Suite *suite);

#endif
