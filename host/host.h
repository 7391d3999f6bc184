/*
 * host.h - the OpenCL plumbing of clsplat: devices, programs (embedded sources, build,
 * binary cache), buffers, launches and profiling. It knows nothing about Gaussians and does
 * not include engine headers. Every fallible call returns a clh_result and fills a
 * clh_error with the OpenCL error name, the call and what it was doing.
 */
#ifndef CLH_HOST_H
#define CLH_HOST_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CLH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLH_PRINTF(a, b)
#endif

/* ---- errors ------------------------------------------------------------------------------ */
typedef enum clh_result {
    CLH_OK = 0,
    CLH_ERR_ARGUMENT,     /* a caller mistake */
    CLH_ERR_HOST_MEMORY,  /* malloc failed */
    CLH_ERR_NO_DEVICE,    /* no platform / no device matches */
    CLH_ERR_CL,           /* an OpenCL call failed (code in clh_error.cl_code) */
    CLH_ERR_DEVICE_MEMORY,/* an OpenCL call failed for lack of device memory */
    CLH_ERR_BUILD,        /* a program failed to build (log in the message) */
    CLH_ERR_IO,           /* a kernel file could not be read */
    CLH_ERR_LIMIT         /* a size exceeds a device limit */
} clh_result;

typedef struct clh_error {
    clh_result result;
    cl_int cl_code;
    char message[8192];
} clh_error;

/* Sets err and returns result. */
clh_result clh_fail(clh_error *err, clh_result result, const char *fmt, ...) CLH_PRINTF(3, 4);
/* Sets err for a failed OpenCL call: "<call> failed: CL_X (-n)[: context]". Returns
 * CLH_ERR_DEVICE_MEMORY for the out-of-memory codes, else CLH_ERR_CL. */
clh_result clh_fail_cl(clh_error *err, cl_int code, const char *call, const char *fmt, ...)
    CLH_PRINTF(4, 5);
/* "CL_INVALID_VALUE" for -30, etc. */
const char *clh_cl_error_name(cl_int code);

/* Checks an OpenCL call; on failure records it and jumps to `fail` with `rc` set. Used
 * inside functions that declare `clh_result rc` and a `fail:` label. */
#define CLH_TRY(err, call, ...)                                                      \
    do {                                                                             \
        cl_int clh__code = (call);                                                   \
        if (clh__code != CL_SUCCESS) {                                               \
            rc = clh_fail_cl((err), clh__code, #call, __VA_ARGS__);                  \
            goto fail;                                                               \
        }                                                                            \
    } while (0)

/* ---- logging ----------------------------------------------------------------------------- */
typedef void (*clh_log_fn)(void *user_data, int level, const char *message);
typedef struct clh_logger {
    clh_log_fn fn;
    void *user_data;
    int level; /* messages with level <= this are passed on; 1 error .. 4 debug */
} clh_logger;
void clh_log(const clh_logger *log, int level, const char *fmt, ...) CLH_PRINTF(3, 4);

/* ---- devices ----------------------------------------------------------------------------- */
typedef struct clh_device_info {
    cl_platform_id platform;
    cl_device_id device;
    int platform_index;
    int device_index; /* across all platforms */
    char platform_name[128];
    char platform_version[128];
    char name[256];
    char vendor[128];
    char driver_version[128];
    char opencl_c_version[128];
    cl_device_type type;
    cl_uint vendor_id;
    cl_uint compute_units;
    cl_ulong global_mem;
    cl_ulong max_alloc;
    cl_ulong local_mem;
    int local_mem_is_global; /* CL_GLOBAL local memory (CPU devices) */
    size_t max_work_group_size;
    size_t max_work_item_sizes[3];
    cl_uint mem_base_addr_align_bits;
    int profiling_timer_ns;
    int is_pocl;
    int has_fp16, has_fp64, has_subgroups, has_float_atomics, has_int64_atomics;
} clh_device_info;

/* Every device of every platform. *out is malloc'd (free()). Zero devices is not an error
 * here (count 0); a missing ICD loader or no platform gives count 0 too. */
clh_result clh_device_list(clh_device_info **out, size_t *count, clh_error *err);

/* Picks a device: spec NULL or "" → the first GPU, else the first CPU, else the first
 * device; a decimal number → that device_index; otherwise the first device whose
 * "platform / device" name contains spec, ignoring case. */
clh_result clh_device_select(const char *spec, clh_device_info *out, clh_error *err);

/* ---- kernel sources ---------------------------------------------------------------------- */
typedef struct clh_source {
    const char *name; /* "rasterize" for cl/rasterize.cl */
    const char *text;
    size_t size;
} clh_source;

/* ---- runtime: one device, its context and queue, and the program cache ----------------- */
typedef struct clh_program_entry clh_program_entry;

typedef struct clh_runtime {
    clh_device_info info;
    cl_context context;
    cl_command_queue queue;
    int profiling;
    char kernel_dir[1024];  /* "" → embedded sources */
    char cache_dir[1024];   /* "" → no binary cache */
    clh_logger log;
    clh_program_entry *programs; /* built programs, keyed by (source names, options) */
    size_t allocated, peak;       /* bytes of device buffers now, and the most at any time */
} clh_runtime;

typedef struct clh_runtime_desc {
    const char *device;     /* see clh_device_select */
    const char *kernel_dir; /* NULL/"" → embedded */
    const char *cache_dir;  /* NULL/"" → no binary cache */
    int profiling;
    clh_logger log;
} clh_runtime_desc;

clh_result clh_runtime_init(clh_runtime *rt, const clh_runtime_desc *desc, clh_error *err);
void clh_runtime_release(clh_runtime *rt);

/* Builds (or finds already built) a program made of the listed kernel sources, joined in
 * order (a shared prelude first), with the given build options. The program stays owned by
 * the runtime. A build failure returns CLH_ERR_BUILD with the file names, the options and
 * the compiler log in the message. */
clh_result clh_program_get(clh_runtime *rt, const char *const *source_names, int source_count,
                           const char *options, cl_program *out, clh_error *err);

/* clh_program_get + clCreateKernel. The kernel belongs to the caller (clReleaseKernel). */
clh_result clh_kernel_create(clh_runtime *rt, const char *const *source_names, int source_count,
                             const char *options, const char *kernel_name, cl_kernel *out,
                             clh_error *err);

/* The text of a kernel source, from kernel_dir when set, else embedded. *owned is set when
 * the caller must free the text. */
clh_result clh_source_text(const clh_runtime *rt, const char *name, const char **text, size_t *size,
                           char **owned, clh_error *err);

/* ---- binary cache (used by clh_program_get; exposed for tests) --------------------------- */
/* The cache key text of a build: everything that changes the binary. malloc'd. */
char *clh_cache_key(const clh_device_info *info, const char *source, const char *options);
/* Loads the binary for key; returns 0 when absent, stale or corrupt (never an error). */
int clh_cache_load(const char *dir, const char *key, unsigned char **binary, size_t *size,
                   const clh_logger *log);
/* Stores a binary, atomically; failures are logged and ignored. */
void clh_cache_store(const char *dir, const char *key, const unsigned char *binary, size_t size,
                     const clh_logger *log);

/* 64-bit FNV-1a, chainable: pass the previous value as `seed` (0 → the FNV offset basis). */
uint64_t clh_hash64(const void *data, size_t size, uint64_t seed);

/* ---- buffers ----------------------------------------------------------------------------- */
typedef struct clh_buffer {
    cl_mem mem;
    size_t size;      /* bytes allocated */
    clh_runtime *rt;  /* whose memory accounting the buffer counts in */
} clh_buffer;

/* Makes buf hold at least `bytes` (at least 1), growing geometrically (x1.5) when it must;
 * contents are not preserved on growth. */
clh_result clh_buffer_reserve(clh_runtime *rt, clh_buffer *buf, size_t bytes, const char *what,
                              clh_error *err);
/* As clh_buffer_reserve, for sizes that change rarely (per-Gaussian arrays, which change at
 * densification): no growth slack, and a buffer more than 1/8 too large is reallocated to
 * size, so pruning gives memory back. Contents are not kept when it reallocates. */
clh_result clh_buffer_fit(clh_runtime *rt, clh_buffer *buf, size_t bytes, const char *what, clh_error *err);
void clh_buffer_release(clh_buffer *buf);
clh_result clh_buffer_write(clh_runtime *rt, clh_buffer *buf, size_t offset, const void *data,
                            size_t bytes, const char *what, clh_error *err);
clh_result clh_buffer_read(clh_runtime *rt, const clh_buffer *buf, size_t offset, void *data,
                           size_t bytes, const char *what, clh_error *err);

/* ---- launches ---------------------------------------------------------------------------- */
/* Kernel arguments are set from a table: CLH_ARG(x) takes the address and size of x. */
typedef struct clh_arg {
    size_t size;
    const void *value; /* NULL with size > 0: local memory of that size */
} clh_arg;
#define CLH_ARG(x) ((clh_arg){sizeof(x), &(x)})
#define CLH_MEM(buf) ((clh_arg){sizeof(cl_mem), &(buf).mem})
#define CLH_LOCAL(bytes) ((clh_arg){(bytes), NULL})

clh_result clh_set_args(cl_kernel kernel, const char *kernel_name, const clh_arg *args, int count,
                        clh_error *err);

/* Launch geometry: `items` work-items wanted per dimension and the preferred local size.
 * The launcher clamps the local size to the device and kernel limits (keeping the product
 * a divisor-friendly shape), unless `exact_local` is set, in which case a local size the
 * kernel cannot run fails with CLH_ERR_LIMIT instead. The global size is rounded up to a
 * multiple of the local size: kernels must bound-check. */
typedef struct clh_launch_desc {
    const char *name;   /* for error messages and profiling */
    cl_uint dims;       /* 1 or 2 */
    size_t items[2];
    size_t local[2];
    int exact_local;
} clh_launch_desc;

/* Enqueues the kernel. When event is not NULL it receives the launch's event (profiling). */
clh_result clh_launch(clh_runtime *rt, cl_kernel kernel, const clh_launch_desc *desc, cl_event *event,
                      clh_error *err);

/* The largest local size (product) this kernel may use on this device. */
clh_result clh_kernel_max_local(const clh_runtime *rt, cl_kernel kernel, size_t *out, clh_error *err);

/* Milliseconds between the START and END of a completed profiled event (0 when profiling
 * is off or the event is NULL). */
double clh_event_ms(cl_event event);
/* Milliseconds from the START of `first` to the END of `last`. */
double clh_event_span_ms(cl_event first, cl_event last);

#endif
