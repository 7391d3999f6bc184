#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void bench_usage(void)
{
    printf("usage: clsplat bench render (SCENE --cameras SOURCE [--index I] | --synthetic N) [options]\n"
           "       clsplat bench grad   (SCENE --cameras SOURCE [--index I] | --synthetic N) [options]\n"
           "       clsplat bench sort --count N [--bits B] [--repeats R] [--device D]\n"
           "       clsplat bench train DATASET [--downscale F] [--repeats R] [--warmup W] [--device D]\n\n"
           "render: per-pass device times (median over --repeats runs after --warmup runs, from OpenCL\n"
           "        profiling events), host wall time per frame, visible Gaussians and intersections.\n"
           "  --width W / --height H   image size (synthetic default 1920x1080; a camera's size is\n"
           "                           scaled to --width)\n"
           "  --synthetic N            a dense random scene of N Gaussians (SH degree 3) in front of\n"
           "                           the camera, instead of SCENE and --cameras\n"
           "  --antialiased            antialiased mode\n"
           "grad:   the same plus the backward passes for a fixed dense dL/dRGB, and the\n"
           "        backward/forward time ratio.\n"
           "sort:   stable key-value radix sort of N random pairs on B key bits (default 32), pairs/s,\n"
           "        and the device copy bandwidth measured in the same run.\n"
           "train:  training steps on a dataset from its initial state (before densification): the\n"
           "        per-pass device time of a step (median over --repeats steps after --warmup steps,\n"
           "        profiled run) and the wall time per step of a second, unprofiled run of the same\n"
           "        steps. --downscale F as for train (default 1).\n"
           "common: --repeats R (default 10), --warmup W (default 2), --device D, --no-tune, -v\n");
}

typedef struct bench_options {
    const char *scene, *cameras;
    uint32_t index, width, height, synthetic, repeats, warmup, count, bits, downscale;
    int antialiased;
    cli_device_options dev;
} bench_options;

static int parse(int argc, char **argv, bench_options *o)
{
    enum { OPT_CAMERAS = 256, OPT_INDEX, OPT_WIDTH, OPT_HEIGHT, OPT_SYN, OPT_REPEATS, OPT_WARMUP, OPT_COUNT,
           OPT_BITS, OPT_AA, OPT_DEVICE, OPT_DOWNSCALE };
    static const struct option options[] = {
        {"cameras", required_argument, 0, OPT_CAMERAS}, {"index", required_argument, 0, OPT_INDEX},
        {"width", required_argument, 0, OPT_WIDTH},     {"height", required_argument, 0, OPT_HEIGHT},
        {"synthetic", required_argument, 0, OPT_SYN},   {"repeats", required_argument, 0, OPT_REPEATS},
        {"warmup", required_argument, 0, OPT_WARMUP},   {"count", required_argument, 0, OPT_COUNT},
        {"bits", required_argument, 0, OPT_BITS},       {"antialiased", no_argument, 0, OPT_AA},
        {"device", required_argument, 0, OPT_DEVICE},   {"verbose", no_argument, 0, 'v'},
        {"downscale", required_argument, 0, OPT_DOWNSCALE}, CLI_NO_TUNE_OPTION,
        {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int ok = 1;
    for (int c; ok && (c = getopt_long(argc, argv, "v", options, NULL)) != -1;) {
        switch (c) {
        case OPT_CAMERAS: o->cameras = optarg; break;
        case OPT_INDEX: ok = cli_parse_u32("--index", optarg, 0, UINT32_MAX, &o->index); break;
        case OPT_WIDTH: ok = cli_parse_u32("--width", optarg, 1, 32768, &o->width); break;
        case OPT_HEIGHT: ok = cli_parse_u32("--height", optarg, 1, 32768, &o->height); break;
        case OPT_SYN: ok = cli_parse_u32("--synthetic", optarg, 1, 50000000, &o->synthetic); break;
        case OPT_REPEATS: ok = cli_parse_u32("--repeats", optarg, 1, 100000, &o->repeats); break;
        case OPT_WARMUP: ok = cli_parse_u32("--warmup", optarg, 0, 1000, &o->warmup); break;
        case OPT_COUNT: ok = cli_parse_u32("--count", optarg, 0, 1u << 30, &o->count); break;
        case OPT_BITS: ok = cli_parse_u32("--bits", optarg, 0, 32, &o->bits); break;
        case OPT_AA: o->antialiased = 1; break;
        case OPT_DEVICE: o->dev.device = optarg; break;
        case CLI_OPT_NO_TUNE: o->dev.no_tune = 1; break;
        case OPT_DOWNSCALE: ok = cli_parse_u32("--downscale", optarg, 1, 64, &o->downscale); break;
        case 'v': o->dev.verbose = 1; break;
        default:
            cli_error("bench: unknown or incomplete option '%s' (clsplat bench --help)", argv[optind - 1]);
            ok = 0;
        }
    }
    return ok;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, compare_double);
    return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static float uniform(uint32_t *s, float lo, float hi) { return lo + (hi - lo) * (float)(xorshift(s) >> 8) / 16777216.0f; }

int cli_synthetic_scene(uint32_t n, uint32_t width, uint32_t height, cls_gaussians *g, cls_camera *cam)
{
    cls_error err = {0};
    if (cls_gaussians_alloc(g, n, 3, &err) != CLS_OK)
        return cli_error("%s", err.message);
    *cam = (cls_camera){.width = width, .height = height, .fx = (float)width * 0.8f, .fy = (float)width * 0.8f,
                        .cx = 0.5f * (float)width, .cy = 0.5f * (float)height,
                        .rotation = {1, 0, 0, 0, 1, 0, 0, 0, 1}};
    uint32_t seed = 0x9e3779b9u;
    const int k = cls_sh_coeff_count(3);
    for (uint32_t i = 0; i < n; i++) {
        float z = uniform(&seed, 2.0f, 8.0f);
        g->means[i * 3 + 0] = uniform(&seed, -0.7f, 0.7f) * z * (float)width / cam->fx;
        g->means[i * 3 + 1] = uniform(&seed, -0.7f, 0.7f) * z * (float)height / cam->fy;
        g->means[i * 3 + 2] = z;
        for (int a = 0; a < 3; a++)
            g->log_scales[i * 3 + a] = logf(uniform(&seed, 0.003f, 0.03f));
        for (int a = 0; a < 4; a++)
            g->quats[i * 4 + a] = uniform(&seed, -1.0f, 1.0f);
        g->opacity_logits[i] = uniform(&seed, -2.0f, 4.0f);
        for (int c = 0; c < k * 3; c++)
            g->sh[(size_t)i * (size_t)k * 3 + (size_t)c] = c < 3 ? uniform(&seed, -1.5f, 1.5f) : uniform(&seed, -0.2f, 0.2f);
    }
    return 0;
}

static void print_device(cls_context *ctx)
{
    const cls_device_info *d = cls_context_device(ctx);
    printf("device: %s / %s (driver %s, %u compute units)\n", d->platform_name, d->name, d->driver_version,
           d->compute_units);
}

/* Forward (and with `backward`, backward) passes of one view, timed per pass. */
static int bench_render(bench_options *o, int backward)
{
    cls_gaussians g = {0};
    cls_camera cam = {0};
    cls_camera_set cams = {0};
    cls_error err = {0};
    if (o->synthetic) {
        if (cli_synthetic_scene(o->synthetic, o->width ? o->width : 1920, o->height ? o->height : 1080, &g, &cam) != 0)
            return 1;
    } else {
        if (o->scene == NULL || o->cameras == NULL)
            return cli_error("bench render: give SCENE and --cameras SOURCE, or --synthetic N");
        cls_status st = cls_gaussians_load(o->scene, &g, &err);
        if (st != CLS_OK)
            return cli_status_error(st, "reading the scene", err.message);
        st = cls_cameras_load(o->cameras, &cams, &err);
        if (st != CLS_OK) {
            cls_gaussians_free(&g);
            return cli_status_error(st, "reading the cameras", err.message);
        }
        if (o->index >= cams.count) {
            cls_gaussians_free(&g);
            cls_cameras_free(&cams);
            return cli_error("--index %u: only %zu cameras", o->index, cams.count);
        }
        cam = cls_camera_resized(&cams.cameras[o->index], o->width);
        cls_cameras_free(&cams);
    }

    int rc = 1;
    cls_context *ctx = NULL;
    cls_scene *scene = NULL;
    cls_frame *frame = NULL;
    cls_grads *grads = NULL;
    float *d_rgb = NULL;
    double *samples = NULL;
    o->dev.profiling = 1;
    o->dev.pixels = (uint64_t)cam.width * cam.height;
    if (!cli_open_context(&o->dev, &ctx))
        goto done;
    cls_status st = cls_scene_create(ctx, &g, &scene);
    if (st == CLS_OK)
        st = cls_frame_create(ctx, &frame);
    if (st != CLS_OK) {
        cli_status_error(st, "preparing the benchmark", cls_context_errmsg(ctx));
        goto done;
    }
    size_t runs = o->repeats;
    samples = calloc((CLS_PASS_COUNT + 2) * runs, sizeof *samples);
    if (samples == NULL) {
        cli_error("out of memory");
        goto done;
    }
    cls_render_desc desc = {.antialiased = o->antialiased};
    cls_frame_stats stats = {0};
    if (backward) {
        const size_t values = (size_t)cam.width * cam.height * 3;
        d_rgb = malloc(values * sizeof(float));
        if (d_rgb == NULL || cls_grads_create(ctx, &grads) != CLS_OK) {
            cli_error("out of memory");
            goto done;
        }
        uint32_t seed = 12345u;
        for (size_t i = 0; i < values; i++) /* a fixed, dense upstream gradient */
            d_rgb[i] = uniform(&seed, -1.0f, 1.0f) / (float)values;
    }
    for (size_t r = 0; r < o->warmup + runs; r++) {
        double t0 = now_ms();
        st = cls_render_forward(frame, scene, &cam, &desc);
        if (st == CLS_OK && backward)
            st = cls_render_backward(frame, scene, &(cls_backward_desc){.d_rgb = d_rgb}, grads);
        double t1 = now_ms();
        double ms[CLS_PASS_COUNT];
        if (st == CLS_OK)
            st = cls_frame_timings(frame, ms);
        if (st != CLS_OK) {
            cli_status_error(st, "rendering", cls_context_errmsg(ctx));
            goto done;
        }
        if (r < o->warmup)
            continue;
        size_t i = r - o->warmup;
        double total = 0.0;
        for (int p = 0; p < CLS_PASS_COUNT; p++) {
            samples[(size_t)p * runs + i] = ms[p];
            total += ms[p];
        }
        samples[(size_t)CLS_PASS_COUNT * runs + i] = total;
        samples[(size_t)(CLS_PASS_COUNT + 1) * runs + i] = t1 - t0;
    }
    cls_frame_stats_get(frame, &stats);
    print_device(ctx);
    printf("scene: %s, %u Gaussians, %ux%u, %u tiles\n", o->synthetic ? "synthetic" : o->scene, stats.gaussians,
           stats.width, stats.height, stats.tiles);
    printf("visible: %u, intersections: %u (%.2f per visible Gaussian)\n", stats.visible, stats.intersections,
           stats.visible ? (double)stats.intersections / stats.visible : 0.0);
    printf("median of %u runs after %u warm-up runs (device time from profiling events):\n", o->repeats, o->warmup);
    double total = median(&samples[(size_t)CLS_PASS_COUNT * runs], runs);
    double forward_ms = 0.0, backward_ms = 0.0;
    for (int p = 0; p < CLS_PASS_COUNT; p++) {
        int is_backward = (p == CLS_PASS_RASTERIZE_BACKWARD || p == CLS_PASS_PROJECT_BACKWARD);
        if ((is_backward && !backward) || p == CLS_PASS_LOSS || p == CLS_PASS_OPTIMIZE)
            continue;
        double m = median(&samples[(size_t)p * runs], runs);
        *(is_backward ? &backward_ms : &forward_ms) += m;
        printf("  %-14s %9.3f ms  %5.1f%%\n", cls_pass_name((cls_pass)p), m, total > 0 ? 100.0 * m / total : 0.0);
    }
    printf("  %-14s %9.3f ms\n", "device total", total);
    if (backward)
        printf("  forward %.3f ms, backward %.3f ms: backward/forward = %.2f (sums of the pass medians)\n",
               forward_ms, backward_ms, forward_ms > 0 ? backward_ms / forward_ms : 0.0);
    printf("  %-14s %9.3f ms  (host wall time per %s, including the count read-back)\n", "wall",
           median(&samples[(size_t)(CLS_PASS_COUNT + 1) * runs], runs), backward ? "step" : "frame");
    /* The tile sort in memory terms: pairs per second against the copy bandwidth. */
    double tile_sort_ms = median(&samples[(size_t)CLS_PASS_TILE_SORT * runs], runs);
    double copy = 0.0;
    st = cls_bench_copy_bandwidth(ctx, 64u << 20, 5, &copy);
    if (st != CLS_OK) {
        cli_status_error(st, "the copy-bandwidth probe", cls_context_errmsg(ctx));
        goto done;
    }
    printf("tile sort: %.1f M pairs/s; device copy bandwidth (same run) %.2f GB/s\n",
           tile_sort_ms > 0 ? stats.intersections / tile_sort_ms * 1e-3 : 0.0, copy * 1e-9);
    rc = 0;
done:
    free(samples);
    free(d_rgb);
    cls_grads_destroy(grads);
    cls_frame_destroy(frame);
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    cls_gaussians_free(&g);
    return rc;
}

static int bench_sort(bench_options *o)
{
    if (o->count == 0)
        return cli_error("bench sort: --count N is required (N > 0)");
    cls_context *ctx = NULL;
    o->dev.profiling = 1;
    if (!cli_open_context(&o->dev, &ctx))
        return 1;
    uint32_t bits = o->bits ? o->bits : 32;
    cls_bench_sort_result r = {0};
    cls_status st = cls_bench_sort(ctx, o->count, bits, (int)o->repeats, &r);
    if (st != CLS_OK) {
        cli_status_error(st, "the sort benchmark", cls_context_errmsg(ctx));
        cls_context_destroy(ctx);
        return 1;
    }
    print_device(ctx);
    printf("sort: %u pairs, %u key bits, median %.3f ms (min %.3f) over %u runs\n", r.count, r.key_bits, r.median_ms,
           r.min_ms, o->repeats);
    printf("  %.1f M pairs/s; %.0f bytes moved per pair -> %.2f GB/s effective\n", r.pairs_per_second * 1e-6,
           r.bytes_moved_per_pair, r.pairs_per_second * r.bytes_moved_per_pair * 1e-9);
    printf("  copy bandwidth (same run): %.2f GB/s; sort reaches %.0f%% of it\n", r.copy_bytes_per_second * 1e-9,
           100.0 * r.fraction_of_copy);
    cls_context_destroy(ctx);
    return 0;
}

/* Runs `steps` training steps on a fresh trainer; with `pass_ms` (steps x CLS_PASS_COUNT) the
 * context profiles and each step's pass times are kept, else the wall time of all steps is
 * returned in *wall_ms. */
static int train_steps(const bench_options *o, cls_dataset *ds, uint32_t steps, double *pass_ms, double *wall_ms)
{
    cli_device_options dev = o->dev;
    dev.profiling = pass_ms != NULL;
    cls_context *ctx = NULL;
    cls_trainer *trainer = NULL;
    int rc = 1;
    if (!cli_open_context(&dev, &ctx))
        return 1;
    cls_status st = cls_trainer_create(ctx, ds, &(cls_trainer_desc){.iterations = o->warmup + steps}, &trainer);
    for (uint32_t i = 0; st == CLS_OK && i < o->warmup; i++)
        st = cls_trainer_step(trainer, NULL);
    cls_train_stats stats;
    double t0 = now_ms();
    for (uint32_t i = 0; st == CLS_OK && i < steps; i++) {
        /* Stats (a read-back) on every profiled step, and once at the end of the timed run. */
        st = cls_trainer_step(trainer, pass_ms != NULL || i + 1 == steps ? &stats : NULL);
        if (st == CLS_OK && pass_ms != NULL)
            for (int p = 0; p < CLS_PASS_COUNT; p++)
                pass_ms[(size_t)p * steps + i] = stats.pass_ms[p];
    }
    if (wall_ms != NULL)
        *wall_ms = now_ms() - t0;
    if (st != CLS_OK)
        cli_status_error(st, "training", cls_context_errmsg(ctx));
    else {
        if (pass_ms != NULL) {
            print_device(ctx);
            printf("%u Gaussians, %u visible in the last step\n", stats.gaussians, stats.visible);
        }
        rc = 0;
    }
    cls_trainer_destroy(trainer);
    cls_context_destroy(ctx);
    return rc;
}

static int bench_train(bench_options *o)
{
    if (o->scene == NULL)
        return cli_error("bench train: give a DATASET folder");
    const uint32_t steps = o->repeats;
    if (o->warmup + steps >= 500)
        return cli_error("bench train: --warmup + --repeats must stay below 500, where densification starts");
    cls_dataset *ds = NULL;
    cls_error err = {0};
    cls_status st = cls_dataset_load(o->scene, &(cls_dataset_desc){.downscale = o->downscale}, &ds, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "loading the dataset", err.message);
    double *samples = calloc((size_t)CLS_PASS_COUNT * steps, sizeof *samples);
    double wall = 0.0;
    int rc = 1;
    if (samples == NULL)
        cli_error("out of memory");
    else if (train_steps(o, ds, steps, samples, NULL) == 0 && train_steps(o, ds, steps, NULL, &wall) == 0) {
        printf("median of %u steps after %u warm-up steps (device time from profiling events):\n", steps, o->warmup);
        double total = 0.0, ms[CLS_PASS_COUNT];
        for (int p = 0; p < CLS_PASS_COUNT; p++)
            total += ms[p] = median(&samples[(size_t)p * steps], steps);
        for (int p = 0; p < CLS_PASS_COUNT; p++)
            printf("  %-14s %9.3f ms  %5.1f%%\n", cls_pass_name((cls_pass)p), ms[p], total > 0 ? 100.0 * ms[p] / total : 0.0);
        printf("  sum of medians %9.3f ms\n", total);
        printf("  wall           %9.3f ms per step (a second, unprofiled run of the same %u steps)\n", wall / steps,
               steps);
        rc = 0;
    }
    free(samples);
    cls_dataset_destroy(ds);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        bench_usage();
        return argc < 2 ? 2 : 0;
    }
    bench_options o = {.repeats = 10, .warmup = 2};
    const char *what = argv[1];
    if (!parse(argc - 1, argv + 1, &o))
        return 2;
    if (strcmp(what, "render") == 0 || strcmp(what, "grad") == 0) {
        if (optind < argc - 1)
            o.scene = argv[1 + optind];
        if (optind + 1 < argc - 1)
            return cli_error("bench %s: unexpected argument '%s'", what, argv[2 + optind]);
        return bench_render(&o, strcmp(what, "grad") == 0);
    }
    if (strcmp(what, "sort") == 0) {
        if (optind < argc - 1)
            return cli_error("bench sort: unexpected argument '%s'", argv[1 + optind]);
        return bench_sort(&o);
    }
    if (strcmp(what, "train") == 0) {
        if (optind < argc - 1)
            o.scene = argv[1 + optind];
        if (optind + 1 < argc - 1)
            return cli_error("bench train: unexpected argument '%s'", argv[2 + optind]);
        return bench_train(&o);
    }
    return cli_error("bench: unknown benchmark '%s' (render, grad, sort or train)", what);
}
