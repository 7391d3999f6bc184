#include "host/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clh_program_entry {
    char *key; /* source names and options */
    cl_program program;
    clh_program_entry *next;
};

clh_result clh_runtime_init(clh_runtime *rt, const clh_runtime_desc *desc, clh_error *err)
{
    memset(rt, 0, sizeof *rt);
    rt->log = desc->log;
    rt->profiling = desc->profiling;
    if (desc->kernel_dir != NULL)
        snprintf(rt->kernel_dir, sizeof rt->kernel_dir, "%s", desc->kernel_dir);
    if (desc->cache_dir != NULL)
        snprintf(rt->cache_dir, sizeof rt->cache_dir, "%s", desc->cache_dir);

    clh_result rc = clh_device_select(desc->device, &rt->info, err);
    if (rc != CLH_OK)
        return rc;
    if (rt->info.is_pocl)
        rt->cache_dir[0] = '\0'; /* PoCL keeps its own kernel cache; a second one only costs. */

    cl_int code = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->info.platform, 0};
    rt->context = clCreateContext(props, 1, &rt->info.device, NULL, NULL, &code);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clCreateContext", "device '%s'", rt->info.name);
    cl_command_queue_properties qprops = desc->profiling ? CL_QUEUE_PROFILING_ENABLE : 0;
    rt->queue = clCreateCommandQueue(rt->context, rt->info.device, qprops, &code);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clCreateCommandQueue", "device '%s'", rt->info.name);
    clh_log(&rt->log, 3, "device: %s / %s (driver %s)", rt->info.platform_name, rt->info.name,
            rt->info.driver_version);
    return CLH_OK;
}

void clh_runtime_release(clh_runtime *rt)
{
    clh_program_entry *e = rt->programs;
    while (e != NULL) {
        clh_program_entry *next = e->next;
        clReleaseProgram(e->program);
        free(e->key);
        free(e);
        e = next;
    }
    rt->programs = NULL;
    if (rt->queue != NULL)
        clReleaseCommandQueue(rt->queue);
    if (rt->context != NULL)
        clReleaseContext(rt->context);
    rt->queue = NULL;
    rt->context = NULL;
}

/* Appends text to a growing malloc'd string. */
static int append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t cap2 = (*cap + n + 1) * 2;
        char *p = realloc(*buf, cap2);
        if (p == NULL)
            return 0;
        *buf = p;
        *cap = cap2;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 1;
}

static clh_result join_sources(const clh_runtime *rt, const char *const *names, int count, char **out,
                               size_t *out_len, clh_error *err)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < count; i++) {
        const char *text = NULL;
        size_t size = 0;
        char *owned = NULL;
        clh_result rc = clh_source_text(rt, names[i], &text, &size, &owned, err);
        if (rc != CLH_OK) {
            free(buf);
            return rc;
        }
        char line[300];
        int n = snprintf(line, sizeof line, "#line 1 \"%s%s\"\n", names[i], strchr(names[i], '.') ? "" : ".cl");
        int ok = append(&buf, &len, &cap, line, (size_t)n) && append(&buf, &len, &cap, text, size) &&
                 append(&buf, &len, &cap, "\n", 1);
        free(owned);
        if (!ok) {
            free(buf);
            return clh_fail(err, CLH_ERR_HOST_MEMORY, "out of memory joining kernel sources");
        }
    }
    *out = buf;
    *out_len = len;
    return CLH_OK;
}

static void describe_sources(const char *const *names, int count, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < count && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%scl/%s%s", i ? " + " : "", names[i],
                         strchr(names[i], '.') ? "" : ".cl");
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static clh_result build_failure(clh_runtime *rt, cl_program program, cl_int code, const char *what,
                                const char *options, clh_error *err)
{
    size_t log_size = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(program, rt->info.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) == CL_SUCCESS &&
        log_size > 0 && (log = malloc(log_size + 1)) != NULL) {
        if (clGetProgramBuildInfo(program, rt->info.device, CL_PROGRAM_BUILD_LOG, log_size, log, NULL) != CL_SUCCESS)
            log[0] = '\0';
        log[log_size] = '\0';
    }
    clh_fail(err, CLH_ERR_BUILD, "clBuildProgram failed: %s (%d) for %s with options '%s' on %s; build log:\n%s",
             clh_cl_error_name(code), (int)code, what, options, rt->info.name, log ? log : "(no log)");
    if (err != NULL)
        err->cl_code = code;
    free(log);
    return CLH_ERR_BUILD;
}

static cl_program build_from_binary(clh_runtime *rt, const unsigned char *binary, size_t size,
                                    const char *options)
{
    cl_int status = CL_SUCCESS, code = CL_SUCCESS;
    cl_program program = clCreateProgramWithBinary(rt->context, 1, &rt->info.device, &size, &binary, &status, &code);
    if (code != CL_SUCCESS || status != CL_SUCCESS)
        return NULL;
    if (clBuildProgram(program, 1, &rt->info.device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(program);
        return NULL;
    }
    return program;
}

static void store_binary(clh_runtime *rt, cl_program program, const char *key)
{
    size_t size = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0)
        return;
    unsigned char *binary = malloc(size);
    if (binary == NULL)
        return;
    unsigned char *pointers[1] = {binary}; /* one pointer per device of the program */
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof pointers, pointers, NULL) == CL_SUCCESS)
        clh_cache_store(rt->cache_dir, key, binary, size, &rt->log);
    free(binary);
}

static clh_result build_program(clh_runtime *rt, const char *const *names, int count, const char *options,
                                cl_program *out, clh_error *err)
{
    char what[512];
    describe_sources(names, count, what, sizeof what);
    char full_options[2048];
    snprintf(full_options, sizeof full_options, "-cl-std=CL1.2 %s", options ? options : "");

    char *source = NULL;
    size_t source_len = 0;
    clh_result rc = join_sources(rt, names, count, &source, &source_len, err);
    if (rc != CLH_OK)
        return rc;

    char *key = NULL;
    cl_program program = NULL;
    if (rt->cache_dir[0] != '\0') {
        key = clh_cache_key(&rt->info, source, full_options);
        unsigned char *binary = NULL;
        size_t binary_size = 0;
        if (key != NULL && clh_cache_load(rt->cache_dir, key, &binary, &binary_size, &rt->log)) {
            program = build_from_binary(rt, binary, binary_size, full_options);
            if (program == NULL)
                clh_log(&rt->log, 2, "cached binary for %s was rejected by the driver; rebuilding", what);
        }
        free(binary);
    }
    if (program == NULL) {
        cl_int code = CL_SUCCESS;
        const char *text = source;
        program = clCreateProgramWithSource(rt->context, 1, &text, &source_len, &code);
        if (code != CL_SUCCESS) {
            rc = clh_fail_cl(err, code, "clCreateProgramWithSource", "%s", what);
            goto done;
        }
        code = clBuildProgram(program, 1, &rt->info.device, full_options, NULL, NULL);
        if (code != CL_SUCCESS) {
            rc = build_failure(rt, program, code, what, full_options, err);
            clReleaseProgram(program);
            program = NULL;
            goto done;
        }
        clh_log(&rt->log, 4, "built %s with '%s'", what, full_options);
        if (key != NULL)
            store_binary(rt, program, key);
    }
    *out = program;
done:
    free(key);
    free(source);
    return rc;
}

clh_result clh_program_get(clh_runtime *rt, const char *const *source_names, int source_count,
                           const char *options, cl_program *out, clh_error *err)
{
    char key[2048];
    size_t used = 0;
    for (int i = 0; i < source_count; i++) {
        int n = snprintf(key + used, sizeof key - used, "%s|", source_names[i]);
        if (n < 0 || (size_t)n >= sizeof key - used)
            return clh_fail(err, CLH_ERR_ARGUMENT, "too many kernel sources in one program");
        used += (size_t)n;
    }
    snprintf(key + used, sizeof key - used, "%s", options ? options : "");

    for (clh_program_entry *e = rt->programs; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0) {
            *out = e->program;
            return CLH_OK;
        }

    clh_program_entry *entry = calloc(1, sizeof *entry);
    if (entry == NULL || (entry->key = malloc(strlen(key) + 1)) == NULL) {
        free(entry);
        return clh_fail(err, CLH_ERR_HOST_MEMORY, "out of memory caching a program");
    }
    strcpy(entry->key, key);
    clh_result rc = build_program(rt, source_names, source_count, options, &entry->program, err);
    if (rc != CLH_OK) {
        free(entry->key);
        free(entry);
        return rc;
    }
    entry->next = rt->programs;
    rt->programs = entry;
    *out = entry->program;
    return CLH_OK;
}

clh_result clh_kernel_create(clh_runtime *rt, const char *const *source_names, int source_count,
                             const char *options, const char *kernel_name, cl_kernel *out, clh_error *err)
{
    cl_program program = NULL;
    clh_result rc = clh_program_get(rt, source_names, source_count, options, &program, err);
    if (rc != CLH_OK)
        return rc;
    cl_int code = CL_SUCCESS;
    *out = clCreateKernel(program, kernel_name, &code);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clCreateKernel", "kernel %s", kernel_name);
    return CLH_OK;
}
