#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void public_device_info(const clh_device_info *in, cls_device_info *out)
{
    memset(out, 0, sizeof *out);
    out->platform_index = in->platform_index;
    out->device_index = in->device_index;
    snprintf(out->platform_name, sizeof out->platform_name, "%s", in->platform_name);
    snprintf(out->platform_version, sizeof out->platform_version, "%s", in->platform_version);
    snprintf(out->name, sizeof out->name, "%s", in->name);
    snprintf(out->vendor, sizeof out->vendor, "%s", in->vendor);
    snprintf(out->driver_version, sizeof out->driver_version, "%s", in->driver_version);
    snprintf(out->opencl_c_version, sizeof out->opencl_c_version, "%s", in->opencl_c_version);
    out->type = (in->type & CL_DEVICE_TYPE_GPU)           ? CLS_DEVICE_TYPE_GPU
                : (in->type & CL_DEVICE_TYPE_CPU)         ? CLS_DEVICE_TYPE_CPU
                : (in->type & CL_DEVICE_TYPE_ACCELERATOR) ? CLS_DEVICE_TYPE_ACCELERATOR
                                                          : CLS_DEVICE_TYPE_OTHER;
    out->compute_units = in->compute_units;
    out->global_memory_bytes = in->global_mem;
    out->max_allocation_bytes = in->max_alloc;
    out->local_memory_bytes = in->local_mem;
    out->max_work_group_size = in->max_work_group_size;
    out->has_fp16 = in->has_fp16;
    out->has_fp64 = in->has_fp64;
    out->has_subgroups = in->has_subgroups;
    out->has_float_atomics = in->has_float_atomics;
    out->has_int64_atomics = in->has_int64_atomics;
}

static cls_status status_of(clh_result rc)
{
    switch (rc) {
    case CLH_OK: return CLS_OK;
    case CLH_ERR_ARGUMENT: return CLS_ERROR_INVALID_ARGUMENT;
    case CLH_ERR_HOST_MEMORY: return CLS_ERROR_OUT_OF_HOST_MEMORY;
    case CLH_ERR_NO_DEVICE: return CLS_ERROR_NO_DEVICE;
    case CLH_ERR_CL: return CLS_ERROR_OPENCL;
    case CLH_ERR_DEVICE_MEMORY: return CLS_ERROR_DEVICE_OUT_OF_MEMORY;
    case CLH_ERR_BUILD: return CLS_ERROR_KERNEL_BUILD;
    case CLH_ERR_IO: return CLS_ERROR_IO;
    case CLH_ERR_LIMIT: return CLS_ERROR_LIMIT;
    }
    return CLS_ERROR_OPENCL;
}

cls_status cls_device_list(cls_device_info **out, size_t *count, cls_error *err)
{
    if (out == NULL || count == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_device_list: out and count must not be NULL");
    *out = NULL;
    *count = 0;
    clh_device_info *list = NULL;
    size_t n = 0;
    clh_error herr;
    clh_result rc = clh_device_list(&list, &n, &herr);
    if (rc != CLH_OK) {
        cls_status st = cls__fail(err, status_of(rc), "%s", herr.message);
        if (err != NULL)
            err->cl_code = herr.cl_code;
        return st;
    }
    cls_device_info *pub = calloc(n ? n : 1, sizeof *pub);
    if (pub == NULL) {
        free(list);
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory listing devices");
    }
    for (size_t i = 0; i < n; i++)
        public_device_info(&list[i], &pub[i]);
    free(list);
    *out = pub;
    *count = n;
    cls__error_clear(err);
    return CLS_OK;
}

static void host_log(void *user_data, int level, const char *message)
{
    const cls_context *ctx = user_data;
    if (ctx->log.fn != NULL)
        ctx->log.fn(ctx->log.user_data, (cls_log_level)level, message);
}

static const char *first_nonempty(const char *a, const char *b)
{
    if (a != NULL && a[0] != '\0')
        return a;
    if (b != NULL && b[0] != '\0')
        return b;
    return NULL;
}

/* The folder of tuning results: desc, $CLSPLAT_TUNE_DIR, $CLSPLAT_CACHE_DIR/tune, XDG, HOME. */
static void tune_dir(const cls_context_desc *desc, char *out, size_t cap)
{
    const char *explicit_dir = first_nonempty(desc->tune_dir, getenv("CLSPLAT_TUNE_DIR"));
    const char *cache = getenv("CLSPLAT_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (explicit_dir != NULL)
        snprintf(out, cap, "%s", explicit_dir);
    else if (cache != NULL && cache[0] != '\0')
        snprintf(out, cap, "%s/tune", cache);
    else if (xdg != NULL && xdg[0] != '\0')
        snprintf(out, cap, "%s/clsplat/tune", xdg);
    else if (home != NULL && home[0] != '\0')
        snprintf(out, cap, "%s/.cache/clsplat/tune", home);
    else
        out[0] = '\0';
}

static void default_cache_dir(char *out, size_t cap)
{
    const char *explicit_dir = getenv("CLSPLAT_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (explicit_dir != NULL && explicit_dir[0] != '\0')
        snprintf(out, cap, "%s", explicit_dir);
    else if (xdg != NULL && xdg[0] != '\0')
        snprintf(out, cap, "%s/clsplat/programs", xdg);
    else if (home != NULL && home[0] != '\0')
        snprintf(out, cap, "%s/.cache/clsplat/programs", home);
    else
        out[0] = '\0';
}

cls_status cls_context_create(const cls_context_desc *desc, cls_context **out)
{
    if (out == NULL)
        return CLS_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    cls_context_desc zero = {0};
    if (desc == NULL)
        desc = &zero;
    cls_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return CLS_ERROR_OUT_OF_HOST_MEMORY;
    *out = ctx;
    ctx->log = desc->log;
    if (ctx->log.level == 0)
        ctx->log.level = CLS_LOG_WARN;

    char cache_dir[1024] = "";
    if (!desc->disable_program_cache) {
        if (desc->cache_dir != NULL)
            snprintf(cache_dir, sizeof cache_dir, "%s", desc->cache_dir);
        else
            default_cache_dir(cache_dir, sizeof cache_dir);
    }
    clh_runtime_desc rdesc = {
        .device = first_nonempty(desc->device, getenv("CLSPLAT_DEVICE")),
        .kernel_dir = first_nonempty(desc->kernel_dir, getenv("CLSPLAT_KERNEL_DIR")),
        .cache_dir = cache_dir,
        .profiling = desc->enable_profiling,
        .log = {.fn = host_log, .user_data = ctx, .level = (int)ctx->log.level},
    };
    clh_error herr;
    clh_result rc = clh_runtime_init(&ctx->rt, &rdesc, &herr);
    if (rc != CLH_OK)
        return cls__from_host(ctx, rc, &herr);
    public_device_info(&ctx->rt.info, &ctx->device);
    cls__params_default(&ctx->rt.info, &ctx->params);
    tune_dir(desc, ctx->tune_dir, sizeof ctx->tune_dir);
    char origin[1100];
    snprintf(origin, sizeof origin, "defaults (%s%s)", (ctx->rt.info.type & CL_DEVICE_TYPE_CPU) ? "cpu" : "gpu",
             desc->disable_tuning ? ", tuning disabled" : "");
    if (!desc->disable_tuning && ctx->tune_dir[0] != '\0') {
        char path[1024];
        int bucket = 0;
        cls_params tuned;
        if (cls__tune_load(ctx, desc->tune_pixels, &tuned, &bucket, path, sizeof path)) {
            ctx->params = tuned;
            snprintf(origin, sizeof origin, "tuned (%s, 2^%d px)", path, bucket);
        }
    }
    cls__config_describe(ctx, origin);
    cls__log(ctx, CLS_LOG_INFO, "kernel configuration: %s", ctx->config);
    return CLS_OK;
}

void cls__config_describe(cls_context *ctx, const char *origin)
{
    char params[512];
    cls__params_format(&ctx->params, params, sizeof params);
    snprintf(ctx->config, sizeof ctx->config, "%s: %s", origin, params);
}

const char *cls_context_config(const cls_context *ctx) { return ctx != NULL ? ctx->config : "no context"; }

void cls_context_destroy(cls_context *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->live_objects != 0)
        cls__log(ctx, CLS_LOG_ERROR, "cls_context_destroy: %d scenes or frames were not destroyed first",
                 ctx->live_objects);
    clh_runtime_release(&ctx->rt);
    free(ctx);
}

const char *cls_context_errmsg(const cls_context *ctx) { return ctx != NULL ? ctx->errmsg : "no context"; }

int cls_context_cl_error(const cls_context *ctx) { return ctx != NULL ? ctx->cl_error : 0; }

const cls_device_info *cls_context_device(const cls_context *ctx) { return &ctx->device; }

void cls_context_memory(const cls_context *ctx, size_t *current, size_t *peak)
{
    if (current != NULL)
        *current = ctx != NULL ? ctx->rt.allocated : 0;
    if (peak != NULL)
        *peak = ctx != NULL ? ctx->rt.peak : 0;
}

cls_status cls__ctx_fail(cls_context *ctx, cls_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    ctx->cl_error = 0;
    return status;
}

cls_status cls__from_host(cls_context *ctx, clh_result rc, const clh_error *err)
{
    if (rc == CLH_OK)
        return CLS_OK;
    snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", err->message);
    ctx->cl_error = err->cl_code;
    return status_of(rc);
}

void cls__ctx_clear(cls_context *ctx)
{
    ctx->errmsg[0] = '\0';
    ctx->cl_error = 0;
}

void cls__log(const cls_context *ctx, cls_log_level level, const char *fmt, ...)
{
    if (ctx->log.fn == NULL || level > ctx->log.level)
        return;
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    ctx->log.fn(ctx->log.user_data, level, message);
}

void cls__profile_reset(cls__profile *prof)
{
    for (int i = 0; i < prof->count; i++)
        if (prof->events[i] != NULL)
            clReleaseEvent(prof->events[i]);
    prof->count = 0;
}

void cls__profile_sum(const cls__profile *prof, double ms[CLS_PASS_COUNT])
{
    for (int p = 0; p < CLS_PASS_COUNT; p++)
        ms[p] = 0.0;
    for (int i = 0; i < prof->count; i++)
        ms[prof->pass[i]] += clh_event_ms(prof->events[i]);
}

cls_status cls__launch(cls_context *ctx, cl_kernel kernel, const clh_launch_desc *desc, const clh_arg *args,
                       int arg_count, cls__profile *prof, cls_pass pass)
{
    clh_error herr;
    clh_result rc = clh_set_args(kernel, desc->name, args, arg_count, &herr);
    if (rc != CLH_OK)
        return cls__from_host(ctx, rc, &herr);
    cl_event event = NULL;
    int record = prof != NULL && ctx->rt.profiling && prof->count < CLS_PROFILE_MAX_EVENTS;
    rc = clh_launch(&ctx->rt, kernel, desc, record ? &event : NULL, &herr);
    if (rc != CLH_OK)
        return cls__from_host(ctx, rc, &herr);
    if (record && event != NULL) {
        prof->events[prof->count] = event;
        prof->pass[prof->count] = pass;
        prof->count++;
    }
    return CLS_OK;
}

cls_status cls__launch_1d(cls_context *ctx, cl_kernel kernel, const char *name, size_t items, const clh_arg *args,
                          int arg_count, cls__profile *prof, cls_pass pass)
{
    clh_launch_desc desc = {.name = name, .dims = 1, .items = {items, 1},
                            .local = {(size_t)ctx->params.gaussian_group_size, 1}};
    return cls__launch(ctx, kernel, &desc, args, arg_count, prof, pass);
}

void cls__params_options(const cls_params *p, char *out, size_t cap) { cls__params_defines(p, NULL, out, cap); }

cls_status cls__kernel(cls_context *ctx, const char *source, const char *extra_options, const char *kernel_name,
                       cl_kernel *out)
{
    /* Only the parameters the source reads become options: a program another parameter does
     * not change keeps its options, so the program cache (and PoCL's) reuses it while the
     * tuner varies that parameter. CLS_SORT_REORDER and CLS_BWD_BATCH come in extra_options. */
    char options[1024], params[512];
    const char *text = NULL;
    size_t size = 0;
    char *owned = NULL;
    clh_error herr;
    /* An unreadable source gets every define: the build below reports the failure as usual. */
    if (clh_source_text(&ctx->rt, source, &text, &size, &owned, &herr) != CLH_OK)
        text = NULL;
    cls__params_defines(&ctx->params, text, params, sizeof params);
    free(owned);
    snprintf(options, sizeof options, "%s %s", params, extra_options ? extra_options : "");
    const char *names[] = {"common", source};
    clh_result rc = clh_kernel_create(&ctx->rt, names, 2, options, kernel_name, out, &herr);
    return cls__from_host(ctx, rc, &herr);
}
