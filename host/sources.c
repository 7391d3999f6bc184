#include "host/sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clh_result read_kernel_file(const char *dir, const char *name, char **text, size_t *size,
                                   clh_error *err)
{
    char path[1400];
    /* Headers keep their extension ("common.h"); passes are "<name>.cl". */
    snprintf(path, sizeof path, "%s/%s%s", dir, name, strchr(name, '.') ? "" : ".cl");
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return clh_fail(err, CLH_ERR_IO, "cannot open kernel source %s: %s", path, strerror(errno));
    clh_result rc = CLH_OK;
    char *buf = NULL;
    long len = 0;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = clh_fail(err, CLH_ERR_IO, "cannot read kernel source %s: %s", path, strerror(errno));
        goto done;
    }
    buf = malloc((size_t)len + 1);
    if (buf == NULL) {
        rc = clh_fail(err, CLH_ERR_HOST_MEMORY, "out of memory reading %s", path);
        goto done;
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        rc = clh_fail(err, CLH_ERR_IO, "short read of kernel source %s", path);
        free(buf);
        buf = NULL;
        goto done;
    }
    buf[len] = '\0';
    *text = buf;
    *size = (size_t)len;
done:
    fclose(f);
    return rc;
}

clh_result clh_source_text(const clh_runtime *rt, const char *name, const char **text, size_t *size,
                           char **owned, clh_error *err)
{
    *owned = NULL;
    if (rt->kernel_dir[0] != '\0') {
        char *buf = NULL;
        clh_result rc = read_kernel_file(rt->kernel_dir, name, &buf, size, err);
        if (rc != CLH_OK)
            return rc;
        *text = buf;
        *owned = buf;
        return CLH_OK;
    }
    for (const clh_source *s = clh_embedded_sources; s->name != NULL; s++) {
        if (strcmp(s->name, name) == 0) {
            *text = s->text;
            *size = s->size;
            return CLH_OK;
        }
    }
    return clh_fail(err, CLH_ERR_ARGUMENT, "no embedded kernel source named '%s'", name);
}
