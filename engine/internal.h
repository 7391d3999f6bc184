/* Internal definitions shared by the engine's files: the context, error plumbing, launches
 * with profiling. Not installed. */
#ifndef CLS_INTERNAL_H
#define CLS_INTERNAL_H

#include "clsplat.h"
#include "error.h"
#include "host/host.h"
#include "params.h"

struct cls_context {
    clh_runtime rt;
    cls_device_info device; /* public view of rt.info */
    cls_params params;      /* kernel parameters for this device */
    char tune_dir[1024];    /* where tuning results live ("" : none) */
    char config[1700];       /* where params came from and what they are (cls_context_config) */
    cls_log_desc log;
    char errmsg[8192];
    int cl_error;
    int live_objects;       /* scenes and frames not yet destroyed */
};

/* Records a failure on ctx (message and status) and returns status. */
cls_status cls__ctx_fail(cls_context *ctx, cls_status status, const char *fmt, ...) CLS__PRINTF(3, 4);
/* Turns a host-layer failure into a status and the context's message. */
cls_status cls__from_host(cls_context *ctx, clh_result rc, const clh_error *err);
/* Clears the context's message at the start of a public call. */
void cls__ctx_clear(cls_context *ctx);
/* Logs through the context's logger. */
void cls__log(const cls_context *ctx, cls_log_level level, const char *fmt, ...) CLS__PRINTF(3, 4);

/* Per-pass device times of one forward call: events are collected while enqueuing and
 * resolved after the queue finished. */
#define CLS_PROFILE_MAX_EVENTS 512
typedef struct cls__profile {
    int count;
    cl_event events[CLS_PROFILE_MAX_EVENTS];
    cls_pass pass[CLS_PROFILE_MAX_EVENTS];
} cls__profile;
void cls__profile_reset(cls__profile *prof);
/* Sums the device time of each pass (the queue must have finished). */
void cls__profile_sum(const cls__profile *prof, double ms[CLS_PASS_COUNT]);

/* Sets the kernel's arguments and enqueues it; records its event in prof (may be NULL) when
 * the context profiles. */
cls_status cls__launch(cls_context *ctx, cl_kernel kernel, const clh_launch_desc *desc, const clh_arg *args,
                       int arg_count, cls__profile *prof, cls_pass pass);

/* Launches a kernel with one work-item per element (`items` of them) in work-groups of the
 * context's gaussian_group_size: the shape of every per-Gaussian and per-pair pass. */
cls_status cls__launch_1d(cls_context *ctx, cl_kernel kernel, const char *name, size_t items, const clh_arg *args,
                          int arg_count, cls__profile *prof, cls_pass pass);

/* Creates a kernel from the listed sources (the shared prelude "common" is prepended) with
 * the context's parameters as -D options plus `extra_options`. */
cls_status cls__kernel(cls_context *ctx, const char *source, const char *extra_options, const char *kernel_name,
                       cl_kernel *out);

/* The -D options of the context's kernel parameters. */
void cls__params_options(const cls_params *params, char *out, size_t cap);

/* ---- tuning results on disk (engine/tune_cache.c, docs/formats.md) ---------------------- */
/* The problem-size bucket of an image: round(log2(pixels)), 0 for none. */
int cls__tune_bucket(uint64_t pixels);
/* The identity lines of this device and kernel sources that a result must match. */
void cls__tune_key(const cls_context *ctx, char *out, size_t cap);
/* The results file of this device in dir. */
void cls__tune_path(const cls_context *ctx, const char *dir, char *out, size_t cap);
/* Reads the result for `pixels` (nearest bucket; 0: the largest) from the context's tune_dir.
 * 1 and *out set when a valid entry was found; 0 otherwise, with a log message when a file was
 * there but corrupt, stale or invalid. *bucket receives the entry's bucket. */
int cls__tune_load(cls_context *ctx, uint64_t pixels, cls_params *out, int *bucket, char *path, size_t path_cap);
/* Writes (atomically) the entry of `pixels`' bucket, keeping the file's other valid entries. */
cls_status cls__tune_store(cls_context *ctx, uint64_t pixels, const cls_params *p, char *path, size_t path_cap);
/* Sets ctx->config from ctx->params and where they came from. */
void cls__config_describe(cls_context *ctx, const char *origin);

#define CLS__ARRAY_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Checks a public-call precondition; on failure records a message naming the argument. */
#define CLS__CHECK_ARG(ctx, cond)                                                              \
    do {                                                                                        \
        if (!(cond))                                                                            \
            return cls__ctx_fail((ctx), CLS_ERROR_INVALID_ARGUMENT, "%s: invalid argument: %s", \
                                 __func__, #cond);                                              \
    } while (0)

#endif
