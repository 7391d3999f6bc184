/* clsplat tune: measures the kernel configurations of a device on a scene and remembers the
 * fastest correct one (docs/tuning.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void tune_usage(void)
{
    printf("usage: clsplat tune (--scene S --cameras C [--index I] | --synthetic N) [options]\n\n"
           "Finds the fastest kernel configuration of a device (tile size, pixels per work-item,\n"
           "local-memory batches, sort and scan shapes, work-group sizes) by measuring every\n"
           "configuration the device allows with profiling events, after checking that its output\n"
           "matches the default configuration's. The result is remembered per device and used by\n"
           "render, grad, train, eval and bench (unless --no-tune).\n\n"
           "  --scene S            a scene (.ply or .splat) to tune on, seen from --cameras C\n"
           "  --cameras C          cameras (COLMAP model, transforms.json or cameras.json)\n"
           "  --index I            which camera (default 0)\n"
           "  --synthetic N        a dense random scene of N Gaussians instead of a scene\n"
           "  --width W            image width (a camera is scaled to it; synthetic default 1280)\n"
           "  --height H           synthetic image height (default 720)\n"
           "  --budget SECONDS     wall-clock budget of the search (default 120)\n"
           "  --repeats R          timed runs per candidate when the budget allows (default 7)\n"
           "  --kernels LIST       tune only these (comma-separated): raster_shape, rasterize,\n"
           "                       rasterize_backward, per_gaussian, scan, radix_sort, loss\n"
           "  --no-cache-write     measure and print, but do not write the results file\n"
           "  --device D           OpenCL device index or name\n"
           "  -v, --verbose        every candidate's fate and the configuration in use\n");
}

typedef struct tune_options {
    const char *scene, *cameras, *kernels;
    uint32_t index, width, height, synthetic, repeats;
    float budget;
    int no_cache_write;
    cli_device_options dev;
} tune_options;

static int parse(int argc, char **argv, tune_options *o)
{
    enum { OPT_SCENE = 256, OPT_CAMERAS, OPT_INDEX, OPT_SYN, OPT_WIDTH, OPT_HEIGHT, OPT_BUDGET, OPT_REPEATS,
           OPT_KERNELS, OPT_NO_WRITE, OPT_DEVICE };
    static const struct option options[] = {
        {"scene", required_argument, 0, OPT_SCENE},     {"cameras", required_argument, 0, OPT_CAMERAS},
        {"index", required_argument, 0, OPT_INDEX},     {"synthetic", required_argument, 0, OPT_SYN},
        {"width", required_argument, 0, OPT_WIDTH},     {"height", required_argument, 0, OPT_HEIGHT},
        {"budget", required_argument, 0, OPT_BUDGET},   {"repeats", required_argument, 0, OPT_REPEATS},
        {"kernels", required_argument, 0, OPT_KERNELS}, {"no-cache-write", no_argument, 0, OPT_NO_WRITE},
        {"device", required_argument, 0, OPT_DEVICE},   {"verbose", no_argument, 0, 'v'},
        {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int ok = 1;
    for (int c; ok && (c = getopt_long(argc, argv, "v", options, NULL)) != -1;) {
        switch (c) {
        case OPT_SCENE: o->scene = optarg; break;
        case OPT_CAMERAS: o->cameras = optarg; break;
        case OPT_INDEX: ok = cli_parse_u32("--index", optarg, 0, UINT32_MAX, &o->index); break;
        case OPT_SYN: ok = cli_parse_u32("--synthetic", optarg, 1, 50000000, &o->synthetic); break;
        case OPT_WIDTH: ok = cli_parse_u32("--width", optarg, 1, 32768, &o->width); break;
        case OPT_HEIGHT: ok = cli_parse_u32("--height", optarg, 1, 32768, &o->height); break;
        case OPT_REPEATS: ok = cli_parse_u32("--repeats", optarg, 1, 31, &o->repeats); break;
        case OPT_BUDGET:
            ok = cli_parse_float("--budget", optarg, &o->budget);
            if (ok && !(o->budget > 0.0f && o->budget <= 86400.0f)) {
                cli_error("--budget: '%s' is not a number of seconds in (0, 86400]", optarg);
                ok = 0;
            }
            break;
        case OPT_KERNELS: o->kernels = optarg; break;
        case OPT_NO_WRITE: o->no_cache_write = 1; break;
        case OPT_DEVICE: o->dev.device = optarg; break;
        case 'v': o->dev.verbose = 1; break;
        default:
            cli_error("tune: unknown or incomplete option '%s' (clsplat tune --help)", argv[optind - 1]);
            ok = 0;
        }
    }
    if (ok && optind < argc) {
        cli_error("tune: unexpected argument '%s' (give the scene with --scene)", argv[optind]);
        ok = 0;
    }
    if (ok && o->synthetic == 0 && (o->scene == NULL || o->cameras == NULL)) {
        cli_error("tune: give --scene S and --cameras C, or --synthetic N");
        ok = 0;
    }
    if (ok && o->synthetic != 0 && (o->scene != NULL || o->cameras != NULL)) {
        cli_error("tune: --synthetic replaces --scene and --cameras; give one or the other");
        ok = 0;
    }
    if (ok && o->height != 0 && o->synthetic == 0) {
        cli_error("tune: --height is for --synthetic scenes (a camera keeps its aspect ratio; use --width)");
        ok = 0;
    }
    return ok;
}

/* The scene and the camera to tune on. */
static int load_problem(const tune_options *o, cls_gaussians *g, cls_camera *cam)
{
    if (o->synthetic)
        return cli_synthetic_scene(o->synthetic, o->width ? o->width : 1280, o->height ? o->height : 720, g, cam);
    cls_error err = {0};
    cls_camera_set cams = {0};
    cls_status st = cls_gaussians_load(o->scene, g, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "reading the scene", err.message);
    st = cls_cameras_load(o->cameras, &cams, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "reading the cameras", err.message);
    int rc = 0;
    if (o->index >= cams.count)
        rc = cli_error("--index %u: only %zu cameras", o->index, cams.count);
    else
        *cam = cls_camera_resized(&cams.cameras[o->index], o->width);
    cls_cameras_free(&cams);
    return rc;
}

int cmd_tune(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        tune_usage();
        return 0;
    }
    tune_options o = {0};
    if (!parse(argc, argv, &o))
        return 2;
    cls_gaussians g = {0};
    cls_camera cam = {0};
    int rc = 1;
    cls_context *ctx = NULL;
    cls_scene *scene = NULL;
    if (load_problem(&o, &g, &cam) != 0)
        goto done;
    o.dev.profiling = 1;
    o.dev.no_tune = 1; /* measure from the compiled-in defaults, not from an earlier result */
    if (!cli_open_context(&o.dev, &ctx))
        goto done;
    cls_status st = cls_scene_create(ctx, &g, &scene);
    if (st != CLS_OK) {
        cli_status_error(st, "uploading the scene", cls_context_errmsg(ctx));
        goto done;
    }
    const cls_device_info *d = cls_context_device(ctx);
    printf("device: %s / %s (driver %s, %u compute units)\n", d->platform_name, d->name, d->driver_version,
           d->compute_units);
    printf("problem: %s, %zu Gaussians, %ux%u; budget %.0f s\n", o.synthetic ? "synthetic" : o.scene, g.count,
           cam.width, cam.height, o.budget > 0 ? (double)o.budget : 120.0);
    fflush(stdout);
    cls_tune_report report;
    st = cls_tune(ctx, scene, &cam,
                  &(cls_tune_desc){.budget_seconds = o.budget, .no_cache_write = o.no_cache_write,
                                   .repeats = (int)o.repeats, .kernels = o.kernels},
                  &report);
    if (st != CLS_OK) {
        cli_status_error(st, "tuning", cls_context_errmsg(ctx));
        goto done;
    }
    printf("%-19s %5s %8s %8s %11s %11s %8s  %s\n", "kernel", "valid", "measured", "rejected", "default ms",
           "tuned ms", "speed-up", "winner");
    for (int i = 0; i < report.kernel_count; i++) {
        const cls_tune_kernel_report *k = &report.kernels[i];
        if (k->default_ms > 0.0)
            printf("%-19s %5d %8d %8d %11.3f %11.3f %7.2fx  %s%s\n", k->name, k->candidates, k->measured, k->rejected,
                   k->default_ms, k->best_ms, k->best_ms > 0 ? k->default_ms / k->best_ms : 1.0, k->best,
                   strcmp(k->best, k->defaults) == 0 ? " (the default)" : "");
        else
            printf("%-19s %5d %8d %8d %11s %11s %8s  %s (not measured: budget spent)\n", k->name, k->candidates,
                   k->measured, k->rejected, "-", "-", "-", k->best);
    }
    printf("search: %.1f s; problem-size bucket 2^%d pixels\n", report.seconds, report.bucket);
    if (report.path[0] != '\0')
        printf("results written to %s\n", report.path);
    else
        printf("results not written (--no-cache-write)\n");
    printf("configuration: %s\n", cls_context_config(ctx));
    rc = 0;
done:
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    cls_gaussians_free(&g);
    return rc;
}
