/*
 * dataset.c - the training dataset (see dataset.h): finds the cameras (io/cameras.c), the
 * image of each camera and, for COLMAP, the SfM points; decodes every image once, on a few
 * threads, into 8-bit RGB at the training size (io/undistort.c composites, undistorts and
 * area-resamples in one pass); then makes the splits and the scene extent.
 *
 * Order of the views: the cameras' (sorted by image name); a Blender scene's
 * transforms_test.json views come after its transforms_train.json views.
 */
#include "dataset.h"

#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATASET_MAX_THREADS 16
/* Undistortion maps shared by the views of one camera: at most this many bytes in all. */
#define DATASET_MAP_BUDGET ((size_t)512 << 20)

typedef struct ds_view {
    cls_camera cam; /* the pinhole camera of the stored image */
    char *name;
    uint8_t *rgb;   /* cam.width * cam.height * 3 */
    int from_test_file;
} ds_view;

struct cls__dataset {
    size_t count;
    ds_view *views;
    size_t *split[3];    /* view indices of each split */
    size_t split_count[3];
    float *points_xyz;
    uint8_t *points_rgb;
    size_t point_count;
    float centre[3], radius;
    size_t image_bytes;
};

/* ---- sizes ----------------------------------------------------------------------------- */

void cls__dataset_output_size(uint32_t width, uint32_t height, uint32_t downscale, uint32_t max_width,
                              uint32_t *out_width, uint32_t *out_height)
{
    uint64_t d = downscale > 1 ? downscale : 1;
    uint64_t w = ((uint64_t)width + d / 2) / d, h = ((uint64_t)height + d / 2) / d;
    w = w < 1 ? 1 : w;
    h = h < 1 ? 1 : h;
    if (max_width > 0 && w > max_width) {
        h = (2 * h * max_width + w) / (2 * w); /* round(h * max_width / w) */
        h = h < 1 ? 1 : h;
        w = max_width;
    }
    *out_width = (uint32_t)w;
    *out_height = (uint32_t)h;
}

/* ---- decoding, on a few threads -------------------------------------------------------- */

/* One image to decode and prepare. */
typedef struct load_task {
    char *file;
    const char *name;
    char label[160];          /* the camera, for messages: "camera 1 of sparse/0", "frame 3 of t.json" */
    cls_camera src_cam;       /* the camera as read (the image must have its size) */
    const cls__lens *lens;
    const float *map;         /* the camera's undistortion map when views share it, else NULL */
    ds_view *view;
} load_task;

typedef struct load_pool {
    load_task *tasks;
    size_t count;
    float background[3];
    pthread_mutex_t lock;
    size_t next;
    int failed;
    size_t fail_index;
    cls_error fail;
} load_pool;

static cls_status load_one(const load_task *t, const float background[3], cls_error *err)
{
    uint8_t *px = NULL;
    uint32_t w = 0, h = 0;
    int channels = 0;
    double k[4];
    cls_error inner;
    cls_status st = cls__image_read(t->file, &px, &w, &h, &channels, &inner);
    if (st != CLS_OK)
        return cls__fail(err, st, "%s (the image of view '%s', %s)", inner.message, t->name, t->label);
    if (w != t->src_cam.width || h != t->src_cam.height) {
        free(px);
        return cls__fail(err, CLS_ERROR_FORMAT, "%s: the image is %ux%u, but its camera (view '%s', %s) is %ux%u",
                         t->file, w, h, t->name, t->label, t->src_cam.width, t->src_cam.height);
    }
    k[0] = t->src_cam.fx;
    k[1] = t->src_cam.fy;
    k[2] = t->src_cam.cx;
    k[3] = t->src_cam.cy;
    st = cls__image_prepare(px, w, h, channels, k, t->lens, t->map, background, t->view->rgb, t->view->cam.width,
                            t->view->cam.height, err);
    free(px);
    return st;
}

static void *load_worker(void *arg)
{
    load_pool *pool = arg;
    cls_error e;
    for (;;) {
        size_t i;
        pthread_mutex_lock(&pool->lock);
        if (pool->failed || pool->next == pool->count) {
            pthread_mutex_unlock(&pool->lock);
            break;
        }
        i = pool->next++;
        pthread_mutex_unlock(&pool->lock);
        if (load_one(&pool->tasks[i], pool->background, &e) != CLS_OK) {
            /* Tasks are claimed in order, so every task before the first failure was claimed:
             * keeping the lowest failing index makes the reported error deterministic. */
            pthread_mutex_lock(&pool->lock);
            if (!pool->failed || i < pool->fail_index) {
                pool->fail = e;
                pool->fail_index = i;
            }
            pool->failed = 1;
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return NULL;
}

static int thread_count(int wanted, size_t tasks)
{
    long n = wanted > 0 ? wanted : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > DATASET_MAX_THREADS)
        n = DATASET_MAX_THREADS;
    if ((size_t)n > tasks)
        n = (long)(tasks > 0 ? tasks : 1);
    return (int)n;
}

static cls_status load_images(load_task *tasks, size_t count, const cls_dataset_desc *desc, cls_error *err)
{
    pthread_t threads[DATASET_MAX_THREADS];
    int n = thread_count(desc->threads, count), started = 0;
    load_pool pool;
    memset(&pool, 0, sizeof pool);
    pool.tasks = tasks;
    pool.count = count;
    memcpy(pool.background, desc->background, sizeof pool.background);
    if (pthread_mutex_init(&pool.lock, NULL) != 0)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "cannot create a mutex for the image loaders");
    /* The calling thread is one of the workers; a thread that cannot start is not needed. */
    for (int i = 1; i < n; i++)
        if (pthread_create(&threads[started], NULL, load_worker, &pool) == 0)
            started++;
    load_worker(&pool);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&pool.lock);
    if (pool.failed) {
        if (err != NULL)
            *err = pool.fail;
        return pool.fail.status;
    }
    return CLS_OK;
}

/* 1 when two views have the same distorted camera (so the same undistortion map). */
static int same_lens_camera(const load_task *a, const load_task *b)
{
    const cls_camera *x = &a->src_cam, *y = &b->src_cam;
    const cls__lens *l = a->lens, *m = b->lens;
    return x->width == y->width && x->height == y->height && x->fx == y->fx && x->fy == y->fy && x->cx == y->cx &&
           x->cy == y->cy && l->k1 == m->k1 && l->k2 == m->k2 && l->k3 == m->k3 && l->p1 == m->p1 && l->p2 == m->p2;
}

/* Builds one undistortion map per distorted camera that several views share (within the
 * budget; the others compute theirs row by row). maps receives them, to free after loading. */
static void share_maps(load_task *tasks, size_t n, float **maps, size_t *nmaps)
{
    size_t used = 0;
    *nmaps = 0;
    for (size_t i = 0; i < n; i++) {
        load_task *t = &tasks[i];
        size_t bytes = (size_t)t->src_cam.width * t->src_cam.height * 2 * sizeof(float), users = 0;
        double k[4];
        float *map;
        if (t->map != NULL || !cls__lens_distorts(t->lens) || bytes > DATASET_MAP_BUDGET - used)
            continue;
        for (size_t j = i + 1; j < n; j++)
            users += same_lens_camera(t, &tasks[j]);
        if (users == 0)
            continue;
        k[0] = t->src_cam.fx;
        k[1] = t->src_cam.fy;
        k[2] = t->src_cam.cx;
        k[3] = t->src_cam.cy;
        map = cls__undistort_map(t->src_cam.width, t->src_cam.height, k, t->lens);
        if (map == NULL)
            return; /* out of memory: every view computes its own rows */
        maps[(*nmaps)++] = map;
        used += bytes;
        t->map = map;
        for (size_t j = i + 1; j < n; j++)
            if (same_lens_camera(t, &tasks[j]))
                tasks[j].map = map;
    }
}

/* ---- finding the images ---------------------------------------------------------------- */

/* The folder of a file path ("" when none), malloc'd. */
static char *dir_of(const char *path)
{
    size_t n = (size_t)(cls__path_basename(path) - path);
    char *dir = malloc(n + 1);
    if (dir != NULL) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* The image folder of a COLMAP model read from `path`. */
static cls_status colmap_images_dir(const char *path, const char *model, const char *override, char **out,
                                    cls_error *err)
{
    char *candidates[3];
    cls_status st = CLS_OK;
    *out = NULL;
    if (override != NULL) {
        if (!cls__is_dir(override))
            return cls__fail(err, CLS_ERROR_IO, "%s: the images folder given does not exist or is not a folder",
                             override);
        *out = cls__strdup(override);
        return *out != NULL ? CLS_OK : cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    }
    candidates[0] = cls__path_join(path, "images");
    candidates[1] = cls__path_join(model, "../images");
    candidates[2] = cls__path_join(model, "../../images");
    for (int i = 0; i < 3; i++) {
        if (candidates[i] == NULL)
            st = cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
        else if (*out == NULL && cls__is_dir(candidates[i]))
            *out = candidates[i], candidates[i] = NULL;
    }
    if (st == CLS_OK && *out == NULL)
        st = cls__fail(err, CLS_ERROR_IO,
                       "%s: no images folder for the COLMAP model %s: looked for %s, %s and %s (or give "
                       "the folder in the dataset description)",
                       path, model, candidates[0], candidates[1], candidates[2]);
    for (int i = 0; i < 3; i++)
        free(candidates[i]);
    if (st != CLS_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* The file of view `name`: in the COLMAP images folder, or relative to the JSON's folder
 * (absolute paths as they are). */
static char *image_file(const cls__camera_source *src, const char *base, const char *name)
{
    if (src->kind == CLS__SOURCE_NERF && name[0] == '/')
        return cls__strdup(name);
    return cls__path_join(base, name);
}

/* Fills tasks[first ..] for the views of one camera source. */
static cls_status add_tasks(const cls__camera_source *src, const char *base, int from_test_file, ds_view *views,
                            load_task *tasks, size_t first, cls_error *err)
{
    for (size_t i = 0; i < src->set.count; i++) {
        load_task *t = &tasks[first + i];
        const char *name = src->set.image_names[i];
        struct stat sb;
        t->view = &views[first + i];
        t->name = name;
        t->src_cam = src->set.cameras[i];
        t->lens = &src->lens[i];
        t->view->from_test_file = from_test_file;
        if (src->kind == CLS__SOURCE_COLMAP)
            snprintf(t->label, sizeof t->label, "camera %lld of %s", (long long)src->lens[i].source_id, src->path);
        else
            snprintf(t->label, sizeof t->label, "frame %lld of %s", (long long)src->lens[i].source_id, src->path);
        t->file = image_file(src, base, name);
        if (t->file == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", src->path);
        if (stat(t->file, &sb) != 0)
            return cls__fail(err, CLS_ERROR_IO, "%s: cannot open the image of view '%s' (%s): %s", t->file, name,
                             t->label, strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return cls__fail(err, CLS_ERROR_IO, "%s: the image of view '%s' (%s) is not a regular file", t->file,
                             name, t->label);
    }
    return CLS_OK;
}

/* A Blender scene's transforms_test.json, beside the transforms_train.json read; NULL when
 * there is none. */
static char *blender_test_file(const cls__camera_source *src)
{
    char *dir, *test;
    if (src->kind != CLS__SOURCE_NERF || strcmp(cls__path_basename(src->path), "transforms_train.json") != 0)
        return NULL;
    dir = dir_of(src->path);
    test = dir != NULL ? cls__path_join(dir, "transforms_test.json") : NULL;
    free(dir);
    if (test != NULL && !cls__is_file(test)) {
        free(test);
        test = NULL;
    }
    return test;
}

/* ---- splits and extent ----------------------------------------------------------------- */

static cls_status make_splits(cls__dataset *d, int eval, int has_test_file, cls_error *err)
{
    for (int s = 0; s < 3; s++) {
        d->split[s] = malloc((d->count + 1) * sizeof *d->split[s]);
        if (d->split[s] == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "out of memory for the splits");
    }
    for (size_t i = 0; i < d->count; i++) {
        int test = eval && (has_test_file ? d->views[i].from_test_file : i % CLS__DATASET_HOLD == 0);
        d->split[CLS_SPLIT_ALL][d->split_count[CLS_SPLIT_ALL]++] = i;
        if (test)
            d->split[CLS_SPLIT_TEST][d->split_count[CLS_SPLIT_TEST]++] = i;
        else
            d->split[CLS_SPLIT_TRAIN][d->split_count[CLS_SPLIT_TRAIN]++] = i;
    }
    if (d->split_count[CLS_SPLIT_TRAIN] == 0)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                         "the dataset has %zu view(s), all held out for testing: nothing is left to train on",
                         d->count);
    return CLS_OK;
}

/* INRIA getNerfppNorm over the training cameras. */
static void make_extent(cls__dataset *d)
{
    const size_t *idx = d->split[CLS_SPLIT_TRAIN];
    size_t n = d->split_count[CLS_SPLIT_TRAIN];
    double mean[3] = {0.0, 0.0, 0.0}, far = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t v = 0; v < n; v++) {
            const cls_camera *c = &d->views[idx[v]].cam;
            double centre[3], dist2 = 0.0;
            for (int i = 0; i < 3; i++) {
                centre[i] = 0.0;
                for (int k = 0; k < 3; k++)
                    centre[i] -= (double)c->rotation[k * 3 + i] * c->translation[k]; /* C = -R^T t */
            }
            if (pass == 0) {
                for (int i = 0; i < 3; i++)
                    mean[i] += centre[i] / (double)n;
                continue;
            }
            for (int i = 0; i < 3; i++)
                dist2 += (centre[i] - mean[i]) * (centre[i] - mean[i]);
            if (dist2 > far * far)
                far = sqrt(dist2);
        }
    }
    /* A single camera position gives no scale: take 1 so that what the trainer scales by the
     * extent (learning rates, densification thresholds) stays usable. */
    if (!(far > 1e-9))
        far = 1.0;
    for (int i = 0; i < 3; i++)
        d->centre[i] = (float)mean[i];
    d->radius = (float)(CLS__DATASET_EXTENT_MARGIN * far);
}

/* ---- loading --------------------------------------------------------------------------- */

static cls_status check_desc(const cls_dataset_desc *desc, cls_error *err)
{
    for (int c = 0; c < 3; c++)
        if (!(desc->background[c] >= 0.0f && desc->background[c] <= 1.0f))
            return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                             "cls_dataset_load: background[%d] = %g is not in [0, 1]", c, (double)desc->background[c]);
    if (desc->threads < 0)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_dataset_load: threads = %d is negative", desc->threads);
    return CLS_OK;
}

/* Everything load needs to free, whatever happens. */
typedef struct load_state {
    cls__camera_source src, test_src;
    char *images_dir, *test_file;
    load_task *tasks;
    size_t ntasks;
    float **maps;
    size_t nmaps;
} load_state;

static void load_state_free(load_state *s)
{
    cls__camera_source_free(&s->src);
    cls__camera_source_free(&s->test_src);
    free(s->images_dir);
    free(s->test_file);
    if (s->tasks != NULL)
        for (size_t i = 0; i < s->ntasks; i++)
            free(s->tasks[i].file);
    free(s->tasks);
    for (size_t i = 0; i < s->nmaps; i++)
        free(s->maps[i]);
    free(s->maps);
}

/* The sizes, cameras and names of the views, and their image buffers. */
static cls_status make_views(cls__dataset *d, const cls_dataset_desc *desc, const load_state *s, cls_error *err)
{
    for (size_t i = 0; i < d->count; i++) {
        const load_task *t = &s->tasks[i];
        ds_view *v = &d->views[i];
        uint32_t w, h;
        double sx, sy;
        size_t bytes;
        cls__dataset_output_size(t->src_cam.width, t->src_cam.height, desc->downscale, desc->max_width, &w, &h);
        sx = (double)w / t->src_cam.width;
        sy = (double)h / t->src_cam.height;
        v->cam = t->src_cam;
        v->cam.width = w;
        v->cam.height = h;
        v->cam.fx = (float)(t->src_cam.fx * sx);
        v->cam.cx = (float)(t->src_cam.cx * sx);
        v->cam.fy = (float)(t->src_cam.fy * sy);
        v->cam.cy = (float)(t->src_cam.cy * sy);
        v->name = cls__strdup(t->name);
        if ((uint64_t)w * h > SIZE_MAX / 3 - d->image_bytes)
            return cls__fail(err, CLS_ERROR_LIMIT, "the images need more than %zu bytes", (size_t)SIZE_MAX);
        bytes = (size_t)w * h * 3;
        v->rgb = malloc(bytes);
        if (v->name == NULL || v->rgb == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY,
                             "out of memory for the images: %zu bytes so far, view '%s' needs %zu more",
                             d->image_bytes, t->name, bytes);
        d->image_bytes += bytes;
    }
    return CLS_OK;
}

static cls_status load(const char *path, const cls_dataset_desc *desc, cls__dataset *d, load_state *s,
                       cls_error *err)
{
    char *json_dir = NULL;
    const char *base;
    size_t n;
    cls_status st = cls__camera_source_load(path, &s->src, err);
    if (st != CLS_OK)
        return st;
    if (s->src.kind == CLS__SOURCE_CAMJSON)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT,
                         "%s: an INRIA cameras.json does not say where its images are; a dataset needs a COLMAP "
                         "model with its images folder, or a transforms.json",
                         s->src.path);
    s->test_file = blender_test_file(&s->src);
    if (s->test_file != NULL && (st = cls__camera_source_load(s->test_file, &s->test_src, err)) != CLS_OK)
        return st;
    if (s->src.kind == CLS__SOURCE_COLMAP) {
        if ((st = colmap_images_dir(path, s->src.path, desc->images, &s->images_dir, err)) != CLS_OK)
            return st;
        base = s->images_dir;
    } else {
        json_dir = dir_of(s->src.path);
        if (json_dir == NULL)
            return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
        s->images_dir = json_dir;
        base = json_dir;
    }
    n = s->src.set.count + s->test_src.set.count;
    s->tasks = calloc(n + 1, sizeof *s->tasks);
    s->maps = calloc(n + 1, sizeof *s->maps);
    d->views = calloc(n + 1, sizeof *d->views);
    if (s->tasks == NULL || s->maps == NULL || d->views == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory for %zu views", path, n);
    s->ntasks = n;
    d->count = n;
    /* Every file is checked before anything is decoded, so a missing one fails fast. */
    if ((st = add_tasks(&s->src, base, 0, d->views, s->tasks, 0, err)) != CLS_OK ||
        (s->test_file != NULL &&
         (st = add_tasks(&s->test_src, base, 1, d->views, s->tasks, s->src.set.count, err)) != CLS_OK) ||
        (st = make_views(d, desc, s, err)) != CLS_OK)
        return st;
    if (s->src.kind == CLS__SOURCE_COLMAP &&
        (st = cls__colmap_points_read(s->src.path, &d->points_xyz, &d->points_rgb, &d->point_count, err)) != CLS_OK)
        return st;
    share_maps(s->tasks, n, s->maps, &s->nmaps);
    if ((st = load_images(s->tasks, n, desc, err)) != CLS_OK)
        return st;
    if ((st = make_splits(d, desc->eval, s->test_file != NULL, err)) != CLS_OK)
        return st;
    make_extent(d);
    return CLS_OK;
}

cls_status cls__dataset_load(const char *path, const cls_dataset_desc *desc, cls__dataset **out, cls_error *err)
{
    cls_dataset_desc defaults;
    load_state s;
    cls__dataset *d;
    cls_status st;
    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_dataset_load: %s is NULL", path == NULL ? "path" : "out");
    if (desc == NULL) {
        memset(&defaults, 0, sizeof defaults);
        desc = &defaults;
    }
    if ((st = check_desc(desc, err)) != CLS_OK)
        return st;
    d = calloc(1, sizeof *d);
    if (d == NULL)
        return cls__fail(err, CLS_ERROR_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    memset(&s, 0, sizeof s);
    st = load(path, desc, d, &s, err);
    load_state_free(&s);
    if (st != CLS_OK) {
        cls__dataset_destroy(d);
        return st;
    }
    cls__error_clear(err);
    *out = d;
    return CLS_OK;
}

void cls__dataset_destroy(cls__dataset *d)
{
    if (d == NULL)
        return;
    if (d->views != NULL)
        for (size_t i = 0; i < d->count; i++) {
            free(d->views[i].name);
            free(d->views[i].rgb);
        }
    free(d->views);
    for (int s = 0; s < 3; s++)
        free(d->split[s]);
    free(d->points_xyz);
    free(d->points_rgb);
    free(d);
}

/* ---- queries --------------------------------------------------------------------------- */

static int split_valid(cls_split split)
{
    return split == CLS_SPLIT_ALL || split == CLS_SPLIT_TRAIN || split == CLS_SPLIT_TEST;
}

size_t cls__dataset_count(const cls__dataset *d, cls_split split)
{
    return d != NULL && split_valid(split) ? d->split_count[split] : 0;
}

cls_status cls__dataset_view(const cls__dataset *d, cls_split split, size_t i, cls_camera *cam, const uint8_t **rgb,
                             const char **name, cls_error *err)
{
    static const char *const split_names[3] = {"all", "train", "test"};
    const ds_view *v;
    if (d == NULL)
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_dataset_view: the dataset is NULL");
    if (!split_valid(split))
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_dataset_view: unknown split %d", (int)split);
    if (i >= d->split_count[split])
        return cls__fail(err, CLS_ERROR_INVALID_ARGUMENT, "cls_dataset_view: view %zu of the %s split, which has %zu",
                         i, split_names[split], d->split_count[split]);
    v = &d->views[d->split[split][i]];
    if (cam != NULL)
        *cam = v->cam;
    if (rgb != NULL)
        *rgb = v->rgb;
    if (name != NULL)
        *name = v->name;
    cls__error_clear(err);
    return CLS_OK;
}

void cls__dataset_points(const cls__dataset *d, const float **xyz, const uint8_t **rgb, size_t *count)
{
    if (xyz != NULL)
        *xyz = d != NULL ? d->points_xyz : NULL;
    if (rgb != NULL)
        *rgb = d != NULL ? d->points_rgb : NULL;
    if (count != NULL)
        *count = d != NULL ? d->point_count : 0;
}

void cls__dataset_extent(const cls__dataset *d, float centre[3], float *radius)
{
    for (int i = 0; centre != NULL && i < 3; i++)
        centre[i] = d != NULL ? d->centre[i] : 0.0f;
    if (radius != NULL)
        *radius = d != NULL ? d->radius : 0.0f;
}

size_t cls__dataset_image_bytes(const cls__dataset *d)
{
    return d != NULL ? d->image_bytes : 0;
}
