/* Tuning results on disk (docs/formats.md, "Tuning results"): one small text file per device
 * (platform name, device name, vendor id) in the context's tune_dir, holding the identity the
 * results were measured on (driver, kernel-source hash, ...) and one entry per problem-size
 * bucket, closed by a checksum. Written to a temporary name and renamed. A file that is
 * corrupt, stale (another driver or other kernel sources) or holds a configuration this
 * device rejects is ignored with a log message, never an error. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/sources.h"
#include "io/io_internal.h"

#define TUNE_MAGIC "clsplat-tune 1"
#define TUNE_MAX_FILE (64 * 1024)
#define TUNE_MAX_ENTRIES 40

int cls__tune_bucket(uint64_t pixels)
{
    return pixels == 0 ? 0 : (int)lround(log2((double)pixels));
}

/* FNV-1a over the names and texts of every kernel source (the kernel_dir's when set). */
static uint64_t sources_hash(const cls_context *ctx)
{
    uint64_t h = 0;
    for (const clh_source *s = clh_embedded_sources; s->name != NULL; s++) {
        const char *text = NULL;
        size_t size = 0;
        char *owned = NULL;
        clh_error herr;
        h = clh_hash64(s->name, strlen(s->name) + 1, h);
        if (clh_source_text(&ctx->rt, s->name, &text, &size, &owned, &herr) == CLH_OK)
            h = clh_hash64(text, size, h);
        free(owned);
    }
    return h;
}

/* Keeps a value on one line. */
static void one_line(const char *in, char *out, size_t cap)
{
    snprintf(out, cap, "%s", in);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

void cls__tune_key(const cls_context *ctx, char *out, size_t cap)
{
    const clh_device_info *d = &ctx->rt.info;
    char platform[160], version[160], device[300], driver[160];
    one_line(d->platform_name, platform, sizeof platform);
    one_line(d->platform_version, version, sizeof version);
    one_line(d->name, device, sizeof device);
    one_line(d->driver_version, driver, sizeof driver);
    snprintf(out, cap,
             TUNE_MAGIC "\nplatform %s\nplatform_version %s\ndevice %s\nvendor_id 0x%04x\ndriver %s\ntype %s\n"
                        "sources %016llx\n",
             platform, version, device, (unsigned)d->vendor_id, driver,
             (d->type & CL_DEVICE_TYPE_GPU) ? "gpu" : (d->type & CL_DEVICE_TYPE_CPU) ? "cpu" : "other",
             (unsigned long long)sources_hash(ctx));
}

void cls__tune_path(const cls_context *ctx, const char *dir, char *out, size_t cap)
{
    const clh_device_info *d = &ctx->rt.info;
    /* Readable prefix: the device name with anything but [A-Za-z0-9._-] made '_'. */
    char name[48];
    size_t n = 0;
    for (const char *p = d->name; *p && n + 1 < sizeof name; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
        name[n++] = ok ? c : '_';
    }
    name[n] = '\0';
    uint64_t h = clh_hash64(d->platform_name, strlen(d->platform_name) + 1, 0);
    h = clh_hash64(d->name, strlen(d->name) + 1, h);
    h = clh_hash64(&d->vendor_id, sizeof d->vendor_id, h);
    snprintf(out, cap, "%s/%s-%016llx.txt", dir, name, (unsigned long long)h);
}

typedef struct tune_entry {
    int bucket;
    cls_params params;
} tune_entry;

/* Reads the whole file; NULL when absent or unreadable (quietly) or too large (logged). */
static char *read_file(const cls_context *ctx, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(TUNE_MAX_FILE + 1);
    size_t n = buf != NULL ? fread(buf, 1, TUNE_MAX_FILE + 1, f) : 0;
    fclose(f);
    if (buf == NULL)
        return NULL;
    if (n > TUNE_MAX_FILE) {
        cls__log(ctx, CLS_LOG_WARN, "tuning results %s: larger than %d bytes, ignored as corrupt", path, TUNE_MAX_FILE);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Parses "entry bucket=B name=value ..." onto base; 0 when malformed. */
static int parse_entry(char *line, const cls_params *base, tune_entry *out)
{
    out->bucket = -1;
    out->params = *base;
    int seen = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            return 0;
        *eq = '\0';
        char *end = NULL;
        errno = 0;
        long v = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || *end != '\0' || errno != 0 || v < 0 || v > 1 << 24)
            return 0;
        if (strcmp(tok, "bucket") == 0)
            out->bucket = (int)v;
        else if (!cls__params_set(&out->params, tok, (int)v))
            return 0;
        else
            seen++;
    }
    return out->bucket >= 0 && seen == CLS__P_COUNT;
}

/* Reads the device's file: 1 with the entries when it is intact and matches key; 0 (logged
 * when a file was there) otherwise. */
static int read_entries(cls_context *ctx, const char *path, const char *key, tune_entry *entries, int *count)
{
    *count = 0;
    char *text = read_file(ctx, path);
    if (text == NULL)
        return 0;
    int ok = 0;
    /* The last line is "checksum <hex>" of everything before it. */
    char *sum = strstr(text, "checksum ");
    while (sum != NULL && sum != text && sum[-1] != '\n')
        sum = strstr(sum + 1, "checksum ");
    unsigned long long stored = 0;
    char tail[8] = "";
    if (sum == NULL || sscanf(sum, "checksum %16llx%7s", &stored, tail) != 1 ||
        stored != (unsigned long long)clh_hash64(text, (size_t)(sum - text), 0)) {
        cls__log(ctx, CLS_LOG_WARN, "tuning results %s: corrupt (missing or wrong checksum), ignored; "
                 "`clsplat tune` rewrites it", path);
        goto done;
    }
    *sum = '\0';
    size_t key_len = strlen(key);
    if (strncmp(text, key, key_len) != 0) {
        const char *what = strncmp(text, TUNE_MAGIC "\n", strlen(TUNE_MAGIC) + 1) != 0 ? "another format version"
                                                                                      : "another driver or other kernel sources";
        cls__log(ctx, CLS_LOG_WARN, "tuning results %s: stale (measured with %s), ignored; run `clsplat tune` again",
                 path, what);
        goto done;
    }
    cls_params base;
    cls__params_default(&ctx->rt.info, &base);
    char *save = NULL;
    for (char *line = strtok_r(text + key_len, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (strncmp(line, "entry ", 6) != 0 || *count >= TUNE_MAX_ENTRIES ||
            !parse_entry(line + 6, &base, &entries[*count])) {
            cls__log(ctx, CLS_LOG_WARN, "tuning results %s: a malformed line, ignored as corrupt", path);
            *count = 0;
            goto done;
        }
        (*count)++;
    }
    ok = 1;
done:
    free(text);
    return ok;
}

int cls__tune_load(cls_context *ctx, uint64_t pixels, cls_params *out, int *bucket, char *path, size_t path_cap)
{
    char key[1400];
    tune_entry entries[TUNE_MAX_ENTRIES];
    int count = 0;
    cls__tune_path(ctx, ctx->tune_dir, path, path_cap);
    cls__tune_key(ctx, key, sizeof key);
    if (!read_entries(ctx, path, key, entries, &count) || count == 0)
        return 0;
    const int want = cls__tune_bucket(pixels);
    int best = -1;
    for (int i = 0; i < count; i++) {
        if (best < 0)
            best = i;
        else if (pixels == 0 ? entries[i].bucket > entries[best].bucket
                             : abs(entries[i].bucket - want) < abs(entries[best].bucket - want))
            best = i;
    }
    char why[256];
    if (!cls__params_check(&entries[best].params, &ctx->rt.info, why, sizeof why)) {
        cls__log(ctx, CLS_LOG_WARN, "tuning results %s: the entry of bucket %d is not valid on this device (%s), "
                 "ignored", path, entries[best].bucket, why);
        return 0;
    }
    *out = entries[best].params;
    *bucket = entries[best].bucket;
    return 1;
}

static int make_dirs(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return 0;
            *p = '/';
        }
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST;
}

cls_status cls__tune_store(cls_context *ctx, uint64_t pixels, const cls_params *p, char *path, size_t path_cap)
{
    if (ctx->tune_dir[0] == '\0')
        return cls__ctx_fail(ctx, CLS_ERROR_IO, "no folder for tuning results: set CLSPLAT_TUNE_DIR or HOME");
    char key[1400];
    tune_entry entries[TUNE_MAX_ENTRIES + 1];
    int count = 0;
    cls__tune_path(ctx, ctx->tune_dir, path, path_cap);
    cls__tune_key(ctx, key, sizeof key);
    read_entries(ctx, path, key, entries, &count); /* keep the other buckets of a valid file */
    const int bucket = cls__tune_bucket(pixels);
    int slot = count;
    for (int i = 0; i < count; i++)
        if (entries[i].bucket == bucket)
            slot = i;
    entries[slot] = (tune_entry){.bucket = bucket, .params = *p};
    if (slot == count)
        count++;

    if (!make_dirs(ctx->tune_dir))
        return cls__ctx_fail(ctx, CLS_ERROR_IO, "cannot create the folder %s: %s", ctx->tune_dir, strerror(errno));
    size_t cap = strlen(key) + 256 + (size_t)count * 512;
    char *text = malloc(cap);
    if (text == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory writing %s", path);
    size_t used = (size_t)snprintf(text, cap, "%s", key);
    for (int i = 0; i < count && used < cap; i++) {
        char params[512];
        cls__params_format(&entries[i].params, params, sizeof params);
        used += (size_t)snprintf(text + used, cap - used, "entry bucket=%d %s\n", entries[i].bucket, params);
    }
    if (used < cap)
        used += (size_t)snprintf(text + used, cap - used, "checksum %016llx\n",
                                 (unsigned long long)clh_hash64(text, used, 0));
    cls_error err = {0};
    cls__atomic_file f;
    cls_status st = used < cap ? cls__atomic_write_begin(&f, path, &err) : CLS_ERROR_LIMIT;
    if (st == CLS_OK) {
        st = cls__atomic_write(&f, text, used, &err);
        if (st == CLS_OK)
            st = cls__atomic_write_commit(&f, &err);
        else
            cls__atomic_write_abort(&f);
    }
    free(text);
    if (st != CLS_OK)
        return cls__ctx_fail(ctx, st, "writing tuning results: %s", err.message[0] ? err.message : path);
    return CLS_OK;
}
