#include "host/host.h"

#include <stdio.h>

clh_result clh_set_args(cl_kernel kernel, const char *kernel_name, const clh_arg *args, int count,
                        clh_error *err)
{
    for (int i = 0; i < count; i++) {
        cl_int code = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
        if (code != CL_SUCCESS)
            return clh_fail_cl(err, code, "clSetKernelArg", "kernel %s, argument %d (%zu bytes)",
                               kernel_name, i, args[i].size);
    }
    return CLH_OK;
}

clh_result clh_kernel_max_local(const clh_runtime *rt, cl_kernel kernel, size_t *out, clh_error *err)
{
    size_t kernel_max = 0;
    cl_int code = clGetKernelWorkGroupInfo(kernel, rt->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                           sizeof kernel_max, &kernel_max, NULL);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clGetKernelWorkGroupInfo", "CL_KERNEL_WORK_GROUP_SIZE");
    size_t device_max = rt->info.max_work_group_size;
    *out = kernel_max < device_max ? kernel_max : device_max;
    if (*out == 0)
        *out = 1;
    return CLH_OK;
}

static size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

clh_result clh_launch(clh_runtime *rt, cl_kernel kernel, const clh_launch_desc *desc, cl_event *event,
                      clh_error *err)
{
    if (desc->dims < 1 || desc->dims > 2)
        return clh_fail(err, CLH_ERR_ARGUMENT, "kernel %s: launch with %u dimensions", desc->name, desc->dims);
    for (cl_uint d = 0; d < desc->dims; d++)
        if (desc->items[d] == 0) { /* nothing to do: not an error, and no event */
            if (event != NULL)
                *event = NULL;
            return CLH_OK;
        }

    size_t max_local = 1;
    clh_result rc = clh_kernel_max_local(rt, kernel, &max_local, err);
    if (rc != CLH_OK)
        return rc;

    size_t local[2] = {desc->local[0], desc->dims > 1 ? desc->local[1] : 1};
    int driver_chooses = (local[0] == 0);
    if (!driver_chooses) {
        for (cl_uint d = 0; d < desc->dims; d++) {
            if (local[d] == 0)
                local[d] = 1;
            if (local[d] > rt->info.max_work_item_sizes[d]) {
                if (desc->exact_local)
                    goto too_large;
                local[d] = rt->info.max_work_item_sizes[d];
            }
        }
        while (local[0] * local[1] > max_local) {
            if (desc->exact_local)
                goto too_large;
            if (local[0] >= local[1])
                local[0] = (local[0] + 1) / 2;
            else
                local[1] = (local[1] + 1) / 2;
        }
    }
    size_t global[2];
    for (cl_uint d = 0; d < desc->dims; d++)
        global[d] = driver_chooses ? desc->items[d] : round_up(desc->items[d], local[d]);

    cl_int code = clEnqueueNDRangeKernel(rt->queue, kernel, desc->dims, NULL, global,
                                         driver_chooses ? NULL : local, 0, NULL, rt->profiling ? event : NULL);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clEnqueueNDRangeKernel", "kernel %s, global %zu x %zu, local %zu x %zu "
                           "(kernel max %zu)", desc->name, global[0], desc->dims > 1 ? global[1] : 1,
                           local[0], local[1], max_local);
    if (event != NULL && !rt->profiling)
        *event = NULL;
    return CLH_OK;

too_large:
    return clh_fail(err, CLH_ERR_LIMIT, "kernel %s: local size %zu x %zu exceeds what the device allows "
                    "for it (%zu work-items; per dimension %zu x %zu)", desc->name, desc->local[0],
                    desc->dims > 1 ? desc->local[1] : 1, max_local, rt->info.max_work_item_sizes[0],
                    rt->info.max_work_item_sizes[1]);
}

static int event_time(cl_event event, cl_profiling_info what, cl_ulong *out)
{
    return event != NULL && clGetEventProfilingInfo(event, what, sizeof *out, out, NULL) == CL_SUCCESS;
}

double clh_event_ms(cl_event event)
{
    return clh_event_span_ms(event, event);
}

double clh_event_span_ms(cl_event first, cl_event last)
{
    cl_ulong start = 0, end = 0;
    if (!event_time(first, CL_PROFILING_COMMAND_START, &start) || !event_time(last, CL_PROFILING_COMMAND_END, &end))
        return 0.0;
    return end > start ? (double)(end - start) * 1e-6 : 0.0;
}
