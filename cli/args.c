#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("clsplat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_status_error(cls_status st, const char *what, const char *detail)
{
    return cli_error("%s failed (%s): %s", what, cls_status_name(st),
                     detail != NULL && detail[0] ? detail : cls_status_string(st));
}

int cli_parse_u32(const char *option, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    if (text == NULL) {
        cli_error("%s needs a value", option);
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0 || v < min || v > max) {
        cli_error("%s: '%s' is not a whole number in %u..%u", option, text, min, max);
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

int cli_parse_float(const char *option, const char *text, float *out)
{
    if (text == NULL) {
        cli_error("%s needs a value", option);
        return 0;
    }
    char *end = NULL;
    errno = 0;
    float v = strtof(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v)) {
        cli_error("%s: '%s' is not a finite number", option, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_rgb(const char *option, const char *text, float out[3])
{
    if (text == NULL) {
        cli_error("%s needs a value R,G,B", option);
        return 0;
    }
    char buf[128];
    if (strlen(text) >= sizeof buf) {
        cli_error("%s: value too long", option);
        return 0;
    }
    strcpy(buf, text);
    char *save = NULL;
    int count = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (count == 3 || !cli_parse_float(option, tok, &out[count]))
            goto bad;
        if (out[count] < 0.0f || out[count] > 1.0f)
            goto bad;
        count++;
    }
    if (count == 3)
        return 1;
bad:
    cli_error("%s: '%s' is not R,G,B with three components in [0, 1] (e.g. 1,1,1 for white)", option, text);
    return 0;
}

static void stderr_log(void *user_data, cls_log_level level, const char *message)
{
    (void)user_data;
    static const char *const names[] = {"", "error", "warning", "info", "debug"};
    fprintf(stderr, "clsplat: %s: %s\n", (level >= 1 && level <= 4) ? names[level] : "log", message);
}

int cli_open_context(const cli_device_options *opts, cls_context **ctx)
{
    cls_context_desc desc = {
        .device = opts->device,
        .enable_profiling = opts->profiling,
        .log = {.fn = stderr_log, .level = opts->verbose ? CLS_LOG_INFO : CLS_LOG_WARN},
        .disable_tuning = opts->no_tune,
        .tune_pixels = opts->pixels,
    };
    cls_status st = cls_context_create(&desc, ctx);
    if (st != CLS_OK) {
        cli_status_error(st, "opening the OpenCL device", cls_context_errmsg(*ctx));
        cls_context_destroy(*ctx);
        *ctx = NULL;
        return 0;
    }
    return 1; /* with -v the library's info log has named the device and the kernel configuration */
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}
