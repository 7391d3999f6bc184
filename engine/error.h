/* Internal error helpers shared by every engine file. */
#ifndef CLS_ERROR_INTERNAL_H
#define CLS_ERROR_INTERNAL_H

#include "clsplat.h"

#if defined(__GNUC__)
#define CLS__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLS__PRINTF(a, b)
#endif

/* Fills err (when not NULL) with status and a formatted message; returns status so callers
 * can write `return cls__fail(err, CLS_ERROR_FORMAT, "%s: ...", path);`. */
cls_status cls__fail(cls_error *err, cls_status status, const char *fmt, ...) CLS__PRINTF(3, 4);

/* Resets err to CLS_OK with an empty message (err may be NULL). */
void cls__error_clear(cls_error *err);

#endif
