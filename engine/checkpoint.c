/* Training checkpoints: everything a run needs to continue exactly as if it had not stopped
 * (the options, the step, the random generator and the camera permutation, the Gaussians,
 * every Adam moment and the densification statistics). Resuming gives the same bytes as an
 * uninterrupted run on the same device.
 *
 * Layout (little-endian, as written by the host; a FNV-1a checksum of everything before it
 * closes the file):
 *   "CLSCKPT1" | u32 version | desc (u32 iterations, i32 sh_degree, 3 f32 background, u64 seed,
 *   i32 antialiased, f32 lambda, u32 random_points, u32 max_gaussians, i32 no_densify) |
 *   u64 views | u32 step | u64 rng | u64 order_left | u32 order[views] |
 *   u32 count | i32 sh_degree | f32 means[3n] log_scales[3n] quats[4n] opacity[n] sh[n K 3] |
 *   5 groups x (f32 m, f32 v) of the same sizes | f32 grad_accum[n] | u32 denom[n] | u64 checksum
 */
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "trainer.h"

#define CLS_CHECKPOINT_MAGIC "CLSCKPT1"
#define CLS_CHECKPOINT_VERSION 1u
#define CLS_CHECKPOINT_MAX_BYTES ((size_t)1 << 36)

/* A growing byte buffer that also keeps the running checksum. */
typedef struct blob {
    unsigned char *data;
    size_t size, cap;
    int failed;
} blob;

static void put(blob *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (b->size + n > b->cap) {
        size_t cap = (b->cap + n) * 2;
        unsigned char *p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->size, src, n);
    b->size += n;
}

/* Appends a device buffer's first `bytes`. */
static cls_status put_buffer(cls_trainer *t, blob *b, const clh_buffer *buf, size_t bytes, const char *what)
{
    if (b->failed)
        return cls__ctx_fail(t->ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory writing a checkpoint");
    if (b->size + bytes > b->cap) {
        size_t cap = (b->size + bytes) * 2;
        unsigned char *p = realloc(b->data, cap);
        if (p == NULL)
            return cls__ctx_fail(t->ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory writing a checkpoint");
        b->data = p;
        b->cap = cap;
    }
    clh_error herr;
    clh_result rc = clh_buffer_read(&t->ctx->rt, buf, 0, b->data + b->size, bytes, what, &herr);
    if (rc != CLH_OK)
        return cls__from_host(t->ctx, rc, &herr);
    b->size += bytes;
    return CLS_OK;
}

/* The device buffers of the state, in file order, with their sizes for `count` Gaussians. */
typedef struct state_buffer {
    clh_buffer *buf;
    size_t bytes;
    const char *what;
} state_buffer;

static int state_buffers(cls_trainer *t, uint32_t count, int sh_degree, state_buffer out[22])
{
    cls_scene *s = t->scene;
    const size_t n = count, k3 = (size_t)cls_sh_coeff_count(sh_degree) * 3;
    const size_t values[GROUP_COUNT] = {3 * n, 3 * n, 4 * n, n, k3 * n};
    clh_buffer *params[GROUP_COUNT] = {&s->means, &s->log_scales, &s->quats, &s->opacity_logits, &s->sh};
    int i = 0;
    for (int g = 0; g < GROUP_COUNT; g++)
        out[i++] = (state_buffer){params[g], values[g] * sizeof(float), "parameters"};
    for (int g = 0; g < GROUP_COUNT; g++)
        for (int mv = 0; mv < 2; mv++)
            out[i++] = (state_buffer){&t->moments[g][mv], values[g] * sizeof(float), "Adam moments"};
    out[i++] = (state_buffer){&t->grad_accum, n * sizeof(float), "densification statistics"};
    out[i++] = (state_buffer){&t->denom, n * sizeof(cl_uint), "densification statistics"};
    return i;
}

static void put_desc(blob *b, const cls_trainer_desc *d)
{
    put(b, &d->iterations, 4);
    put(b, &d->sh_degree, 4);
    put(b, d->background, 12);
    put(b, &d->seed, 8);
    put(b, &d->antialiased, 4);
    put(b, &d->lambda_dssim, 4);
    put(b, &d->random_points, 4);
    put(b, &d->max_gaussians, 4);
    put(b, &d->no_densify, 4);
}

cls_status cls__trainer_save_checkpoint(cls_trainer *t, const char *path)
{
    cls_context *ctx = t->ctx;
    blob b = {0};
    const uint32_t version = CLS_CHECKPOINT_VERSION;
    const uint64_t views = t->views, order_left = t->order_left;
    put(&b, CLS_CHECKPOINT_MAGIC, 8);
    put(&b, &version, 4);
    put_desc(&b, &t->desc);
    put(&b, &views, 8);
    put(&b, &t->step, 4);
    put(&b, &t->rng, 8);
    put(&b, &order_left, 8);
    put(&b, t->order, t->views * sizeof *t->order);
    const uint32_t count = t->scene->count;
    const int32_t sh_degree = t->scene->sh_degree;
    put(&b, &count, 4);
    put(&b, &sh_degree, 4);
    state_buffer bufs[22];
    const int nbufs = state_buffers(t, count, sh_degree, bufs);
    cls_status st = CLS_OK;
    for (int i = 0; i < nbufs && st == CLS_OK; i++)
        st = put_buffer(t, &b, bufs[i].buf, bufs[i].bytes, bufs[i].what);
    if (st == CLS_OK && b.failed)
        st = cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory writing a checkpoint");
    if (st == CLS_OK) {
        const uint64_t checksum = clh_hash64(b.data, b.size, 0);
        put(&b, &checksum, 8);
        cls__atomic_file f = {0};
        cls_error err = {0};
        st = cls__atomic_write_begin(&f, path, &err);
        if (st == CLS_OK)
            st = cls__atomic_write(&f, b.data, b.size, &err);
        if (st == CLS_OK)
            st = cls__atomic_write_commit(&f, &err);
        else
            cls__atomic_write_abort(&f);
        if (st != CLS_OK)
            cls__ctx_fail(ctx, st, "%s", err.message);
    }
    free(b.data);
    return st;
}

/* A bounds-checked reader over the checkpoint's bytes. */
typedef struct cursor {
    const unsigned char *p;
    size_t left;
} cursor;

static int take(cursor *c, void *dst, size_t n)
{
    if (n > c->left)
        return 0;
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return 1;
}

cls_status cls__trainer_load_checkpoint(cls_trainer *t, const char *path)
{
    cls_context *ctx = t->ctx;
    char *data = NULL;
    size_t size = 0;
    cls_error err = {0};
    cls_status st = cls__read_file(path, CLS_CHECKPOINT_MAX_BYTES, &data, &size, &err);
    if (st != CLS_OK)
        return cls__ctx_fail(ctx, st, "%s", err.message);
    cursor c = {(const unsigned char *)data, size};
    char magic[8];
    uint32_t version = 0, step = 0, count = 0;
    int32_t sh_degree = 0;
    uint64_t views = 0, rng = 0, order_left = 0, checksum = 0;
    cls_trainer_desc d = {0};
    uint32_t *order = NULL;
    cls_gaussians g = {0};
    cls_scene *scene = NULL;
#define CLS__BAD(...)                                              \
    do {                                                           \
        st = cls__ctx_fail(ctx, CLS_ERROR_FORMAT, __VA_ARGS__);    \
        goto done;                                                 \
    } while (0)
    if (size < 16 || !take(&c, magic, 8) || memcmp(magic, CLS_CHECKPOINT_MAGIC, 8) != 0)
        CLS__BAD("%s: not a clsplat checkpoint", path);
    memcpy(&checksum, data + size - 8, 8);
    if (clh_hash64(data, size - 8, 0) != checksum)
        CLS__BAD("%s: the checkpoint is corrupt (checksum mismatch)", path);
    c.left -= 8; /* the checksum is not part of the records */
    if (!take(&c, &version, 4) || version != CLS_CHECKPOINT_VERSION)
        CLS__BAD("%s: checkpoint version %u, this clsplat reads version %u", path, version, CLS_CHECKPOINT_VERSION);
    if (!take(&c, &d.iterations, 4) || !take(&c, &d.sh_degree, 4) || !take(&c, d.background, 12) ||
        !take(&c, &d.seed, 8) || !take(&c, &d.antialiased, 4) || !take(&c, &d.lambda_dssim, 4) ||
        !take(&c, &d.random_points, 4) || !take(&c, &d.max_gaussians, 4) || !take(&c, &d.no_densify, 4) ||
        !take(&c, &views, 8) || !take(&c, &step, 4) || !take(&c, &rng, 8) || !take(&c, &order_left, 8))
        CLS__BAD("%s: truncated checkpoint header", path);
    if (views != t->views)
        CLS__BAD("%s: the checkpoint was made with %llu training views, this dataset has %zu", path,
                 (unsigned long long)views, t->views);
    if (order_left > views)
        CLS__BAD("%s: inconsistent camera order", path);
    order = malloc(views * sizeof *order);
    if (order == NULL || !take(&c, order, views * sizeof *order) || !take(&c, &count, 4) || !take(&c, &sh_degree, 4))
        CLS__BAD("%s: truncated checkpoint", path);
    if (count == 0 || sh_degree < 0 || sh_degree > CLS_MAX_SH_DEGREE || sh_degree + 1 != d.sh_degree)
        CLS__BAD("%s: %u Gaussians of SH degree %d do not match the checkpoint's options", path, count, sh_degree);
    {
        /* The Gaussians: a new scene of the checkpoint's size. */
        st = cls_gaussians_alloc(&g, count, sh_degree, &err);
        if (st != CLS_OK) {
            st = cls__ctx_fail(ctx, st, "%s", err.message);
            goto done;
        }
        const size_t n = count, k3 = (size_t)cls_sh_coeff_count(sh_degree) * 3;
        float *arrays[GROUP_COUNT] = {g.means, g.log_scales, g.quats, g.opacity_logits, g.sh};
        const size_t values[GROUP_COUNT] = {3 * n, 3 * n, 4 * n, n, k3 * n};
        for (int i = 0; i < GROUP_COUNT; i++)
            if (!take(&c, arrays[i], values[i] * sizeof(float)))
                CLS__BAD("%s: truncated checkpoint (Gaussians)", path);
        st = cls_scene_create(ctx, &g, &scene);
        if (st != CLS_OK)
            goto done;
        cls_scene_destroy(t->scene);
        t->scene = scene;
        scene = NULL;
    }
    {
        /* Moments and statistics: sized for the checkpoint, then filled. */
        state_buffer bufs[22];
        const int nbufs = state_buffers(t, count, sh_degree, bufs);
        clh_error herr;
        for (int i = GROUP_COUNT; i < nbufs; i++) {
            if (bufs[i].bytes > c.left)
                CLS__BAD("%s: truncated checkpoint (%s)", path, bufs[i].what);
            clh_buffer_release(bufs[i].buf);
            clh_result rc = clh_buffer_reserve(&ctx->rt, bufs[i].buf, bufs[i].bytes, bufs[i].what, &herr);
            if (rc == CLH_OK)
                rc = clh_buffer_write(&ctx->rt, bufs[i].buf, 0, c.p, bufs[i].bytes, bufs[i].what, &herr);
            if (rc != CLH_OK) {
                st = cls__from_host(ctx, rc, &herr);
                goto done;
            }
            c.p += bufs[i].bytes;
            c.left -= bufs[i].bytes;
        }
    }
    if (c.left != 0)
        CLS__BAD("%s: %zu unexpected bytes at the end of the checkpoint", path, c.left);
    t->desc = d;
    t->step = step;
    t->rng = rng;
    t->order_left = (size_t)order_left;
    memcpy(t->order, order, views * sizeof *order);
#undef CLS__BAD
done:
    cls_scene_destroy(scene);
    cls_gaussians_free(&g);
    free(order);
    free(data);
    return st;
}
