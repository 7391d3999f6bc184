#include "host/host.h"

clh_result clh_buffer_reserve(clh_runtime *rt, clh_buffer *buf, size_t bytes, const char *what,
                              clh_error *err)
{
    if (bytes == 0)
        bytes = 1;
    if (buf->mem != NULL && buf->size >= bytes)
        return CLH_OK;
    size_t grown = buf->size + buf->size / 2;
    size_t size = grown > bytes ? grown : bytes;
    if ((cl_ulong)size > rt->info.max_alloc && (cl_ulong)bytes <= rt->info.max_alloc)
        size = (size_t)rt->info.max_alloc;
    if ((cl_ulong)size > rt->info.max_alloc)
        return clh_fail(err, CLH_ERR_DEVICE_MEMORY,
                        "buffer '%s' needs %zu bytes, more than the device's largest allocation (%llu bytes)",
                        what, bytes, (unsigned long long)rt->info.max_alloc);
    clh_buffer_release(buf);
    cl_int code = CL_SUCCESS;
    cl_mem mem = clCreateBuffer(rt->context, CL_MEM_READ_WRITE, size, NULL, &code);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clCreateBuffer", "buffer '%s' of %zu bytes", what, size);
    buf->mem = mem;
    buf->size = size;
    buf->rt = rt;
    rt->allocated += size;
    if (rt->allocated > rt->peak)
        rt->peak = rt->allocated;
    return CLH_OK;
}

clh_result clh_buffer_fit(clh_runtime *rt, clh_buffer *buf, size_t bytes, const char *what, clh_error *err)
{
    if (bytes == 0)
        bytes = 1;
    if (buf->mem != NULL && buf->size >= bytes && buf->size - bytes <= bytes / 8)
        return CLH_OK;
    clh_buffer_release(buf); /* so that reserve allocates exactly `bytes` */
    return clh_buffer_reserve(rt, buf, bytes, what, err);
}

void clh_buffer_release(clh_buffer *buf)
{
    if (buf->mem != NULL) {
        clReleaseMemObject(buf->mem);
        if (buf->rt != NULL)
            buf->rt->allocated -= buf->size;
    }
    buf->mem = NULL;
    buf->size = 0;
}

clh_result clh_buffer_write(clh_runtime *rt, clh_buffer *buf, size_t offset, const void *data,
                            size_t bytes, const char *what, clh_error *err)
{
    if (bytes == 0)
        return CLH_OK;
    if (buf->mem == NULL || offset + bytes > buf->size)
        return clh_fail(err, CLH_ERR_ARGUMENT, "write of %zu bytes at %zu exceeds buffer '%s' (%zu bytes)",
                        bytes, offset, what, buf->size);
    cl_int code = clEnqueueWriteBuffer(rt->queue, buf->mem, CL_TRUE, offset, bytes, data, 0, NULL, NULL);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clEnqueueWriteBuffer", "buffer '%s', %zu bytes", what, bytes);
    return CLH_OK;
}

clh_result clh_buffer_read(clh_runtime *rt, const clh_buffer *buf, size_t offset, void *data,
                           size_t bytes, const char *what, clh_error *err)
{
    if (bytes == 0)
        return CLH_OK;
    if (buf->mem == NULL || offset + bytes > buf->size)
        return clh_fail(err, CLH_ERR_ARGUMENT, "read of %zu bytes at %zu exceeds buffer '%s' (%zu bytes)",
                        bytes, offset, what, buf->size);
    cl_int code = clEnqueueReadBuffer(rt->queue, buf->mem, CL_TRUE, offset, bytes, data, 0, NULL, NULL);
    if (code != CL_SUCCESS)
        return clh_fail_cl(err, code, "clEnqueueReadBuffer", "buffer '%s', %zu bytes", what, bytes);
    return CLH_OK;
}
