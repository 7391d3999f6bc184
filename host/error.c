#include "host/host.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *clh_cl_error_name(cl_int code)
{
#define CLH_CODE(c) \
    case c: return #c;
    switch (code) {
        CLH_CODE(CL_SUCCESS)
        CLH_CODE(CL_DEVICE_NOT_FOUND)
        CLH_CODE(CL_DEVICE_NOT_AVAILABLE)
        CLH_CODE(CL_COMPILER_NOT_AVAILABLE)
        CLH_CODE(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        CLH_CODE(CL_OUT_OF_RESOURCES)
        CLH_CODE(CL_OUT_OF_HOST_MEMORY)
        CLH_CODE(CL_PROFILING_INFO_NOT_AVAILABLE)
        CLH_CODE(CL_MEM_COPY_OVERLAP)
        CLH_CODE(CL_IMAGE_FORMAT_MISMATCH)
        CLH_CODE(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        CLH_CODE(CL_BUILD_PROGRAM_FAILURE)
        CLH_CODE(CL_MAP_FAILURE)
        CLH_CODE(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        CLH_CODE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        CLH_CODE(CL_COMPILE_PROGRAM_FAILURE)
        CLH_CODE(CL_LINKER_NOT_AVAILABLE)
        CLH_CODE(CL_LINK_PROGRAM_FAILURE)
        CLH_CODE(CL_DEVICE_PARTITION_FAILED)
        CLH_CODE(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        CLH_CODE(CL_INVALID_VALUE)
        CLH_CODE(CL_INVALID_DEVICE_TYPE)
        CLH_CODE(CL_INVALID_PLATFORM)
        CLH_CODE(CL_INVALID_DEVICE)
        CLH_CODE(CL_INVALID_CONTEXT)
        CLH_CODE(CL_INVALID_QUEUE_PROPERTIES)
        CLH_CODE(CL_INVALID_COMMAND_QUEUE)
        CLH_CODE(CL_INVALID_HOST_PTR)
        CLH_CODE(CL_INVALID_MEM_OBJECT)
        CLH_CODE(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        CLH_CODE(CL_INVALID_IMAGE_SIZE)
        CLH_CODE(CL_INVALID_SAMPLER)
        CLH_CODE(CL_INVALID_BINARY)
        CLH_CODE(CL_INVALID_BUILD_OPTIONS)
        CLH_CODE(CL_INVALID_PROGRAM)
        CLH_CODE(CL_INVALID_PROGRAM_EXECUTABLE)
        CLH_CODE(CL_INVALID_KERNEL_NAME)
        CLH_CODE(CL_INVALID_KERNEL_DEFINITION)
        CLH_CODE(CL_INVALID_KERNEL)
        CLH_CODE(CL_INVALID_ARG_INDEX)
        CLH_CODE(CL_INVALID_ARG_VALUE)
        CLH_CODE(CL_INVALID_ARG_SIZE)
        CLH_CODE(CL_INVALID_KERNEL_ARGS)
        CLH_CODE(CL_INVALID_WORK_DIMENSION)
        CLH_CODE(CL_INVALID_WORK_GROUP_SIZE)
        CLH_CODE(CL_INVALID_WORK_ITEM_SIZE)
        CLH_CODE(CL_INVALID_GLOBAL_OFFSET)
        CLH_CODE(CL_INVALID_EVENT_WAIT_LIST)
        CLH_CODE(CL_INVALID_EVENT)
        CLH_CODE(CL_INVALID_OPERATION)
        CLH_CODE(CL_INVALID_GL_OBJECT)
        CLH_CODE(CL_INVALID_BUFFER_SIZE)
        CLH_CODE(CL_INVALID_MIP_LEVEL)
        CLH_CODE(CL_INVALID_GLOBAL_WORK_SIZE)
        CLH_CODE(CL_INVALID_PROPERTY)
        CLH_CODE(CL_INVALID_IMAGE_DESCRIPTOR)
        CLH_CODE(CL_INVALID_COMPILER_OPTIONS)
        CLH_CODE(CL_INVALID_LINKER_OPTIONS)
        CLH_CODE(CL_INVALID_DEVICE_PARTITION_COUNT)
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
#undef CLH_CODE
}

clh_result clh_fail(clh_error *err, clh_result result, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->result = result;
        err->cl_code = 0;
    }
    return result;
}

clh_result clh_fail_cl(clh_error *err, cl_int code, const char *call, const char *fmt, ...)
{
    clh_result result = (code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_RESOURCES ||
                         code == CL_INVALID_BUFFER_SIZE)
                            ? CLH_ERR_DEVICE_MEMORY
                            : CLH_ERR_CL;
    if (err != NULL) {
        char context[4096] = "";
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(context, sizeof context, fmt, ap);
        va_end(ap);
        /* Keep only the function name of the call text, not its arguments. */
        int call_len = (int)strcspn(call, "(");
        snprintf(err->message, sizeof err->message, "%.*s failed: %s (%d)%s%s", call_len, call,
                 clh_cl_error_name(code), (int)code, context[0] ? ": " : "", context);
        err->result = result;
        err->cl_code = code;
    }
    return result;
}

void clh_log(const clh_logger *log, int level, const char *fmt, ...)
{
    if (log == NULL || log->fn == NULL || level > log->level)
        return;
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    log->fn(log->user_data, level, message);
}
