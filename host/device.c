#include "host/host.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLH_MAX_PLATFORMS 16
#define CLH_MAX_DEVICES_PER_PLATFORM 32

static void query_string(cl_device_id dev, cl_device_info what, char *out, size_t cap)
{
    out[0] = '\0';
    if (clGetDeviceInfo(dev, what, cap, out, NULL) != CL_SUCCESS)
        out[0] = '\0';
    out[cap - 1] = '\0';
}

static int has_extension(const char *extensions, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = strstr(extensions, name); p != NULL; p = strstr(p + 1, name)) {
        int starts = (p == extensions || p[-1] == ' ');
        int ends = (p[len] == '\0' || p[len] == ' ');
        if (starts && ends)
            return 1;
    }
    return 0;
}

static clh_result describe_device(cl_platform_id platform, cl_device_id dev, clh_device_info *d,
                                  clh_error *err)
{
    memset(d, 0, sizeof *d);
    d->platform = platform;
    d->device = dev;
    if (clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof d->platform_name, d->platform_name, NULL) != CL_SUCCESS)
        d->platform_name[0] = '\0';
    if (clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof d->platform_version, d->platform_version, NULL) != CL_SUCCESS)
        d->platform_version[0] = '\0';
    d->platform_name[sizeof d->platform_name - 1] = '\0';
    d->platform_version[sizeof d->platform_version - 1] = '\0';
    query_string(dev, CL_DEVICE_NAME, d->name, sizeof d->name);
    query_string(dev, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
    query_string(dev, CL_DRIVER_VERSION, d->driver_version, sizeof d->driver_version);
    query_string(dev, CL_DEVICE_OPENCL_C_VERSION, d->opencl_c_version, sizeof d->opencl_c_version);

    struct {
        cl_device_info what;
        void *out;
        size_t size;
    } numeric[] = {
        {CL_DEVICE_TYPE, &d->type, sizeof d->type},
        {CL_DEVICE_VENDOR_ID, &d->vendor_id, sizeof d->vendor_id},
        {CL_DEVICE_MAX_COMPUTE_UNITS, &d->compute_units, sizeof d->compute_units},
        {CL_DEVICE_GLOBAL_MEM_SIZE, &d->global_mem, sizeof d->global_mem},
        {CL_DEVICE_MAX_MEM_ALLOC_SIZE, &d->max_alloc, sizeof d->max_alloc},
        {CL_DEVICE_LOCAL_MEM_SIZE, &d->local_mem, sizeof d->local_mem},
        {CL_DEVICE_MAX_WORK_GROUP_SIZE, &d->max_work_group_size, sizeof d->max_work_group_size},
        {CL_DEVICE_MAX_WORK_ITEM_SIZES, d->max_work_item_sizes, sizeof d->max_work_item_sizes},
        {CL_DEVICE_MEM_BASE_ADDR_ALIGN, &d->mem_base_addr_align_bits, sizeof d->mem_base_addr_align_bits},
    };
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        cl_int code = clGetDeviceInfo(dev, numeric[i].what, numeric[i].size, numeric[i].out, NULL);
        if (code != CL_SUCCESS)
            return clh_fail_cl(err, code, "clGetDeviceInfo", "device '%s', query 0x%x", d->name,
                               (unsigned)numeric[i].what);
    }
    cl_device_local_mem_type local_type = CL_LOCAL;
    if (clGetDeviceInfo(dev, CL_DEVICE_LOCAL_MEM_TYPE, sizeof local_type, &local_type, NULL) == CL_SUCCESS)
        d->local_mem_is_global = (local_type == CL_GLOBAL);
    size_t timer = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_PROFILING_TIMER_RESOLUTION, sizeof timer, &timer, NULL) == CL_SUCCESS)
        d->profiling_timer_ns = (int)timer;

    size_t ext_size = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_size) == CL_SUCCESS && ext_size > 0) {
        char *ext = malloc(ext_size + 1);
        if (ext == NULL)
            return clh_fail(err, CLH_ERR_HOST_MEMORY, "out of memory reading device extensions");
        if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, ext_size, ext, NULL) == CL_SUCCESS) {
            ext[ext_size] = '\0';
            d->has_fp16 = has_extension(ext, "cl_khr_fp16");
            d->has_fp64 = has_extension(ext, "cl_khr_fp64");
            d->has_subgroups = has_extension(ext, "cl_khr_subgroups") || has_extension(ext, "cl_intel_subgroups");
            d->has_float_atomics = has_extension(ext, "cl_ext_float_atomics");
            d->has_int64_atomics = has_extension(ext, "cl_khr_int64_base_atomics");
        }
        free(ext);
    }
    d->is_pocl = (strstr(d->platform_name, "Portable Computing Language") != NULL);
    return CLH_OK;
}

clh_result clh_device_list(clh_device_info **out, size_t *count, clh_error *err)
{
    if (out == NULL || count == NULL)
        return clh_fail(err, CLH_ERR_ARGUMENT, "clh_device_list: NULL output");
    *out = NULL;
    *count = 0;

    cl_platform_id platforms[CLH_MAX_PLATFORMS];
    cl_uint nplatforms = 0;
    cl_int code = clGetPlatformIDs(CLH_MAX_PLATFORMS, platforms, &nplatforms);
    if (code == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: no ICD installed */ || nplatforms == 0)
        return CLH_OK;
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clGetPlatformIDs", "listing OpenCL platforms");
    if (nplatforms > CLH_MAX_PLATFORMS)
        nplatforms = CLH_MAX_PLATFORMS;

    clh_device_info *list = calloc((size_t)nplatforms * CLH_MAX_DEVICES_PER_PLATFORM, sizeof *list);
    if (list == NULL)
        return clh_fail(err, CLH_ERR_HOST_MEMORY, "out of memory listing devices");
    size_t n = 0;
    for (cl_uint p = 0; p < nplatforms; p++) {
        cl_device_id devices[CLH_MAX_DEVICES_PER_PLATFORM];
        cl_uint ndev = 0;
        code = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, CLH_MAX_DEVICES_PER_PLATFORM, devices, &ndev);
        if (code == CL_DEVICE_NOT_FOUND)
            continue;
        if (code != CL_SUCCESS) {
            free(list);
            return clh_fail_cl(err, code, "clGetDeviceIDs", "platform %u", (unsigned)p);
        }
        if (ndev > CLH_MAX_DEVICES_PER_PLATFORM)
            ndev = CLH_MAX_DEVICES_PER_PLATFORM;
        for (cl_uint i = 0; i < ndev; i++) {
            clh_result rc = describe_device(platforms[p], devices[i], &list[n], err);
            if (rc != CLH_OK) {
                free(list);
                return rc;
            }
            list[n].platform_index = (int)p;
            list[n].device_index = (int)n;
            n++;
        }
    }
    *out = list;
    *count = n;
    return CLH_OK;
}

static int contains_ignoring_case(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = haystack; *h; h++) {
        size_t i = 0;
        while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

static int parse_index(const char *spec, long *index)
{
    char *end = NULL;
    long v = strtol(spec, &end, 10);
    if (end == spec || *end != '\0' || v < 0)
        return 0;
    *index = v;
    return 1;
}

clh_result clh_device_select(const char *spec, clh_device_info *out, clh_error *err)
{
    clh_device_info *list = NULL;
    size_t count = 0;
    clh_result rc = clh_device_list(&list, &count, err);
    if (rc != CLH_OK)
        return rc;
    if (count == 0) {
        free(list);
        return clh_fail(err, CLH_ERR_NO_DEVICE,
                        "no OpenCL device found: install an OpenCL driver (on Debian/Ubuntu the CPU "
                        "driver is 'apt-get install pocl-opencl-icd')");
    }
    long chosen = -1;
    long index = 0;
    if (spec == NULL || spec[0] == '\0') {
        static const cl_device_type preference[] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_ALL};
        for (size_t k = 0; k < sizeof preference / sizeof preference[0] && chosen < 0; k++)
            for (size_t i = 0; i < count && chosen < 0; i++)
                if (list[i].type & preference[k])
                    chosen = (long)i;
    } else if (parse_index(spec, &index)) {
        if ((size_t)index < count)
            chosen = index;
    } else {
        for (size_t i = 0; i < count && chosen < 0; i++) {
            char full[400];
            snprintf(full, sizeof full, "%s / %s", list[i].platform_name, list[i].name);
            if (contains_ignoring_case(full, spec))
                chosen = (long)i;
        }
    }
    if (chosen < 0) {
        char names[4096] = "";
        size_t used = 0;
        for (size_t i = 0; i < count && used + 1 < sizeof names; i++) {
            int w = snprintf(names + used, sizeof names - used, "%s%zu: %s / %s", i ? "; " : "", i,
                             list[i].platform_name, list[i].name);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        free(list);
        return clh_fail(err, CLH_ERR_NO_DEVICE, "no OpenCL device matches '%s' (devices: %s)", spec, names);
    }
    *out = list[chosen];
    free(list);
    return CLH_OK;
}
