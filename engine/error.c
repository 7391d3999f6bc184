#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cls_version_string(void)
{
#define CLS__STR2(x) #x
#define CLS__STR(x) CLS__STR2(x)
    return CLS__STR(CLS_VERSION_MAJOR) "." CLS__STR(CLS_VERSION_MINOR) "." CLS__STR(CLS_VERSION_PATCH);
#undef CLS__STR
#undef CLS__STR2
}

const char *cls_status_name(cls_status status)
{
    switch (status) {
#define CLS__STATUS_NAME(name, value, text) \
    case name: return #name;
        CLS_STATUS_LIST(CLS__STATUS_NAME)
#undef CLS__STATUS_NAME
    }
    return "unknown status";
}

const char *cls_status_string(cls_status status)
{
    switch (status) {
#define CLS__STATUS_TEXT(name, value, text) \
    case name: return text;
        CLS_STATUS_LIST(CLS__STATUS_TEXT)
#undef CLS__STATUS_TEXT
    }
    return "unknown status";
}

cls_status cls__fail(cls_error *err, cls_status status, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
        err->cl_code = 0;
    }
    return status;
}

void cls__error_clear(cls_error *err)
{
    if (err != NULL) {
        err->status = CLS_OK;
        err->cl_code = 0;
        err->message[0] = '\0';
    }
}
