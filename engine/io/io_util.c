/* io_util.c - file reading, paths, token parsing and atomic writing for the I/O code. */
#include "io/io_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- reading --------------------------------------------------------------------------- */

static cls_status reader_measure(cls__reader *r, cls_error *err)
{
    struct stat st;
    if (fstat(fileno(r->fp), &st) != 0)
        return cls__fail(err, CLS_ERROR_IO, "%s: cannot stat: %s", r->path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cls__fail(err, CLS_ERROR_IO, "%s: is a directory, not a file", r->path);
    if (!S_ISREG(st.st_mode))
        return cls__fail(err, CLS_ERROR_IO, "%s: is not a regular file", r->path);
    r->size = (uint64_t)st.st_size;
    return CLS_OK;
}

cls_status cls__reader_open(cls__reader *r, const char *path, cls_error *err)
{
    cls_status st;
    memset(r, 0, sizeof *r);
    r->path = path;
    r->fp = fopen(path, "rb");
    if (r->fp == NULL)
        return cls__fail(err, CLS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    st = reader_measure(r, err);
    if (st != CLS_OK)
        cls__reader_close(r);
    return st;
}

void cls__reader_close(cls__reader *r)
{
    if (r->fp != NULL)
        fclose(r->fp);
    r->fp = NULL;
}

uint64_t cls__reader_remaining(const cls__reader *r)
{
    return r->pos < r->size ? r->size - r->pos : 0;
}

static cls_status reader_truncated(const cls__reader *r, uint64_t n, const char *what, cls_error *err)
{
    return cls__fail(err, CLS_ERROR_FORMAT,
                     "%s: truncated: %s needs %llu bytes at offset %llu, but only %llu are left",
                     r->path, what, (unsigned long long)n, (unsigned long long)r->pos,
                     (unsigned long long)cls__reader_remaining(r));
}

cls_status cls__reader_read(cls__reader *r, void *dst, size_t n, const char *what, cls_error *err)
{
    size_t got;
    if ((uint64_t)n > cls__reader_remaining(r))
        return reader_truncated(r, n, what, err);
    got = fread(dst, 1, n, r->fp);
    if (got != n) {
        if (ferror(r->fp))
            return cls__fail(err, CLS_ERROR_IO, "%s: read failed: %s", r->path, strerror(errno));
        return reader_truncated(r, n, what, err);
    }
    r->pos += n;
    return CLS_OK;
}

cls_status cls__reader_skip(cls__reader *r, uint64_t n, const char *what, cls_error *err)
{
    if (n > cls__reader_remaining(r))
        return reader_truncated(r, n, what, err);
    if (n > (uint64_t)LONG_MAX || fseeko(r->fp, (off_t)n, SEEK_CUR) != 0)
        return cls__fail(err, CLS_ERROR_IO, "%s: seek failed: %s", r->path, strerror(errno));
    r->pos += n;
    return CLS_OK;
}

int cls__reader_getc(cls__reader *r)
{
    int c = getc(r->fp);
    if (c != EOF)
        r->pos++;
    return c;
}

cls_status cls__read_file(const char *path, size_t max_size, char **data, size_t *size, cls_error *err)
{
    cls__reader r;
    char *buf = NULL;
    cls_status st = cls__reader_open(&r, path, err);
    *data = NULL;
    *size = 0;
    if (st != CLS_OK)
        return st;
    if (r.size > (uint64_t)max_size) {
        st = cls__fail(err, CLS_ERROR_LIMIT, "%s: %llu bytes is more than the %zu this reader accepts",
                       path, (unsigned long long)r.size, max_size);
        goto fail;
    }
    buf = malloc((size_t)r.size + 1);
    if (buf == NULL) {
        st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: cannot allocate %llu bytes", path,
                       (unsigned long long)r.size + 1);
        goto fail;
    }
    st = cls__reader_read(&r, buf, (size_t)r.size, "the file", err);
    if (st != CLS_OK)
        goto fail;
    buf[r.size] = '\0';
    *data = buf;
    *size = (size_t)r.size;
    cls__reader_close(&r);
    return CLS_OK;
fail:
    free(buf);
    cls__reader_close(&r);
    return st;
}

/* ---- paths and strings ----------------------------------------------------------------- */

int cls__is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cls__is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *cls__path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    char *s = malloc(la + (size_t)slash + lb + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    if (slash)
        s[la] = '/';
    memcpy(s + la + (size_t)slash, b, lb + 1);
    return s;
}

const char *cls__path_basename(const char *path)
{
    const char *base = path;
    for (const char *p = path; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    return base;
}

const char *cls__path_extension(const char *path)
{
    const char *base = cls__path_basename(path);
    const char *dot = strrchr(base, '.');
    return dot != NULL && dot != base ? dot : base + strlen(base);
}

int cls__str_ieq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

char *cls__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* ---- tokens and numbers ---------------------------------------------------------------- */

char *cls__next_token(char **cursor)
{
    char *p = *cursor, *tok;
    while (*p != '\0' && isspace((unsigned char)*p))
        p++;
    if (*p == '\0') {
        *cursor = p;
        return NULL;
    }
    tok = p;
    while (*p != '\0' && !isspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        *p++ = '\0';
    *cursor = p;
    return tok;
}

int cls__parse_double(const char *tok, double *out)
{
    /* strtod follows LC_NUMERIC; files always use '.', so swap it for the locale's point. */
    char buf[128];
    char *end;
    const char *point = localeconv()->decimal_point;
    size_t n = strlen(tok);
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, tok, n + 1);
    if (point != NULL && point[0] != '.' && point[0] != '\0' && point[1] == '\0') {
        for (char *p = buf; *p != '\0'; p++)
            if (*p == '.')
                *p = point[0];
    }
    errno = 0;
    *out = strtod(buf, &end);
    return end == buf + n;
}

int cls__parse_u64(const char *tok, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!isdigit((unsigned char)tok[0]))
        return 0;
    errno = 0;
    v = strtoull(tok, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

int cls__parse_i64(const char *tok, int64_t *out)
{
    char *end;
    long long v;
    if (!isdigit((unsigned char)tok[0]) && tok[0] != '-' && tok[0] != '+')
        return 0;
    errno = 0;
    v = strtoll(tok, &end, 10);
    if (end == tok || *end != '\0' || errno == ERANGE)
        return 0;
    *out = (int64_t)v;
    return 1;
}

/* ---- atomic writing -------------------------------------------------------------------- */

static void atomic_release(cls__atomic_file *f)
{
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
}

cls_status cls__atomic_write_begin(cls__atomic_file *f, const char *path, cls_error *err)
{
    char suffix[40];
    size_t lp = strlen(path);
    int ls = snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    memset(f, 0, sizeof *f);
    f->path = cls__strdup(path);
    f->tmp_path = malloc(lp + (size_t)ls + 1);
    if (f->path == NULL || f->tmp_path == NULL) {
        atomic_release(f);
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    }
    memcpy(f->tmp_path, path, lp);
    memcpy(f->tmp_path + lp, suffix, (size_t)ls + 1);
    f->fp = fopen(f->tmp_path, "wb");
    if (f->fp == NULL) {
        cls_status st = cls__fail(err, CLS_ERROR_IO, "%s: cannot create the temporary file %s: %s",
                                  path, f->tmp_path, strerror(errno));
        atomic_release(f);
        return st;
    }
    return CLS_OK;
}

cls_status cls__atomic_write(cls__atomic_file *f, const void *data, size_t n, cls_error *err)
{
    if (n > 0 && fwrite(data, 1, n, f->fp) != n)
        return cls__fail(err, CLS_ERROR_IO, "%s: write failed: %s", f->path, strerror(errno));
    return CLS_OK;
}

cls_status cls__atomic_write_commit(cls__atomic_file *f, cls_error *err)
{
    cls_status st = CLS_OK;
    int failed = fflush(f->fp) != 0 || ferror(f->fp);
    int saved = errno;
    if (fclose(f->fp) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    f->fp = NULL;
    if (failed) {
        st = cls__fail(err, CLS_ERROR_IO, "%s: write failed: %s", f->path, strerror(saved));
    } else if (rename(f->tmp_path, f->path) != 0) {
        st = cls__fail(err, CLS_ERROR_IO, "%s: cannot rename %s over it: %s", f->path, f->tmp_path,
                       strerror(errno));
    }
    if (st != CLS_OK)
        remove(f->tmp_path);
    atomic_release(f);
    return st;
}

void cls__atomic_write_abort(cls__atomic_file *f)
{
    if (f->fp != NULL)
        fclose(f->fp);
    if (f->tmp_path != NULL)
        remove(f->tmp_path);
    atomic_release(f);
}

cls_status cls__reader_check_count(const cls__reader *r, uint64_t count, uint64_t min_record, const char *path,
                                   const char *what, cls_error *err)
{
    const uint64_t room = cls__reader_remaining(r) / min_record;
    if (count > room)
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: the header says %llu %s, but the file has room for at most %llu", path,
                         (unsigned long long)count, what, (unsigned long long)room);
    return CLS_OK;
}
