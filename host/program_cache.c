/* On-disk cache of compiled program binaries. One file per build:
 *   "CLSPBIN1" | u32 key length | key text | u64 binary size | u64 FNV-1a of the binary | binary
 * The file name is a 128-bit hash of the key; the full key is stored and compared, so a
 * hash collision is a miss, never a wrong binary. Files are written to a temporary name and
 * renamed. A missing, stale or corrupt file is a miss (logged), never an error. */
#include "host/host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char cache_magic[8] = {'C', 'L', 'S', 'P', 'B', 'I', 'N', '1'};
#define CLH_CACHE_FORMAT_VERSION "1"

char *clh_cache_key(const clh_device_info *info, const char *source, const char *options)
{
    uint64_t source_hash = clh_hash64(source, strlen(source), 0);
    size_t cap = 1024 + strlen(options);
    char *key = malloc(cap);
    if (key == NULL)
        return NULL;
    snprintf(key, cap, "format=" CLH_CACHE_FORMAT_VERSION "\nplatform=%s\nplatform_version=%s\ndevice=%s\n"
             "driver=%s\nsource=%016llx:%zu\noptions=%s\n", info->platform_name, info->platform_version,
             info->name, info->driver_version, (unsigned long long)source_hash, strlen(source), options);
    return key;
}

static void cache_path(const char *dir, const char *key, char *out, size_t cap)
{
    uint64_t a = clh_hash64(key, strlen(key), 0);
    uint64_t b = clh_hash64(key, strlen(key), 0x9e3779b97f4a7c15ull);
    snprintf(out, cap, "%s/%016llx%016llx.bin", dir, (unsigned long long)a, (unsigned long long)b);
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

int clh_cache_load(const char *dir, const char *key, unsigned char **binary, size_t *size, const clh_logger *log)
{
    char path[1200];
    cache_path(dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    int ok = 0;
    char *stored_key = NULL;
    unsigned char *data = NULL;
    char magic[8];
    uint32_t key_len = 0;
    uint64_t data_size = 0, checksum = 0;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, cache_magic, 8) != 0 || fread(&key_len, 4, 1, f) != 1 ||
        key_len != strlen(key) || (stored_key = malloc(key_len + 1)) == NULL ||
        fread(stored_key, 1, key_len, f) != key_len)
        goto done;
    stored_key[key_len] = '\0';
    if (strcmp(stored_key, key) != 0 || fread(&data_size, 8, 1, f) != 1 || fread(&checksum, 8, 1, f) != 1 ||
        data_size == 0 || data_size > (1u << 30) || (data = malloc((size_t)data_size)) == NULL ||
        fread(data, 1, (size_t)data_size, f) != data_size || clh_hash64(data, (size_t)data_size, 0) != checksum)
        goto done;
    ok = 1;
done:
    fclose(f);
    free(stored_key);
    if (ok) {
        *binary = data;
        *size = (size_t)data_size;
    } else {
        free(data);
        clh_log(log, 2, "ignoring corrupt or stale program cache file %s", path);
    }
    return ok;
}

void clh_cache_store(const char *dir, const char *key, const unsigned char *binary, size_t size,
                     const clh_logger *log)
{
    char path[1200], tmp[1300];
    if (!make_dirs(dir)) {
        clh_log(log, 2, "cannot create program cache folder %s: %s", dir, strerror(errno));
        return;
    }
    cache_path(dir, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        clh_log(log, 2, "cannot write program cache file %s: %s", tmp, strerror(errno));
        return;
    }
    uint32_t key_len = (uint32_t)strlen(key);
    uint64_t data_size = size, checksum = clh_hash64(binary, size, 0);
    int ok = fwrite(cache_magic, 1, 8, f) == 8 && fwrite(&key_len, 4, 1, f) == 1 &&
             fwrite(key, 1, key_len, f) == key_len && fwrite(&data_size, 8, 1, f) == 1 &&
             fwrite(&checksum, 8, 1, f) == 1 && fwrite(binary, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        clh_log(log, 2, "cannot write program cache file %s", path);
        remove(tmp);
    }
}
