/* test_util.h - small helpers the engine's test programs share. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* CLS_TEST_SMALL set (to anything but "0"): run the small problem sets, e.g. under Oclgrind or
 * the sanitizers (test/oclgrind-run.sh, test/run-all.sh). */
static inline int test_small_mode(void)
{
    const char *s = getenv("CLS_TEST_SMALL");
    return s != NULL && s[0] != '\0' && strcmp(s, "0") != 0;
}

/* xorshift32: the tests' deterministic random numbers. */
static inline uint32_t test_xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* Uniform in [lo, hi) from the top 24 bits of the next xorshift32 value. */
static inline float test_uniform(uint32_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)(test_xorshift32(state) >> 8) / 16777216.0f;
}

#endif
