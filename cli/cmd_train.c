#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void train_usage(void)
{
    printf("usage: clsplat train DATASET --out DIR [options]\n\n"
           "Trains a 3DGS scene from photos: DATASET is a COLMAP scene (images/ + sparse/0, binary\n"
           "or text) or a NeRF transforms.json dataset. Writes DIR/scene.ply (INRIA layout, opens in\n"
           "every 3DGS viewer) and DIR/cameras.json (INRIA format); with --eval also\n"
           "DIR/metrics.json and side-by-side renders of the held-out views (DIR/test/).\n\n"
           "  --out DIR            output folder (required; created)\n"
           "  --iters N            optimisation steps (default 30000)\n"
           "  --downscale F        use the photos at 1/F size (1, 2, 4 or 8), done once at load\n"
           "  --max-width W        also shrink photos wider than W\n"
           "  --eval               hold out every 8th photo (by name) and report PSNR/SSIM on them\n"
           "  --sh-degree D        highest SH degree (default 3)\n"
           "  --background R,G,B   background in [0, 1] (default 0,0,0; 1,1,1 for Blender scenes)\n"
           "  --seed S             camera order and random initialisation (default 0)\n"
           "  --max-gaussians N    cap the count (densification then only prunes)\n"
           "  --no-densify         keep the initial Gaussians (no adaptive density control)\n"
           "  --antialiased        train in antialiased mode\n"
           "  --device D           OpenCL device index or name\n"
           "  --quiet              no progress output\n"
           CLI_NO_TUNE_HELP
           "  -v, --verbose        device, kernel configuration and file details\n\n"
           "  --save-every N       write DIR/checkpoint.bin every N steps (atomically)\n"
           "  --resume CHECKPOINT  continue a run from its checkpoint (its options and state take\n"
           "                       over; --iters is the total the run goes to); the result equals an\n"
           "                       uninterrupted run's, byte for byte\n\n"
           "Ctrl-C writes DIR/checkpoint.bin and stops cleanly (resume with --resume).\n");
}

typedef struct train_options {
    const char *dataset, *out, *resume;
    uint32_t iters, downscale, max_width, sh_degree, seed, max_gaussians, save_every;
    int eval, quiet, antialiased, has_sh, no_densify;
    float background[3];
    cli_device_options dev;
} train_options;

static int parse(int argc, char **argv, train_options *o)
{
    enum { OPT_OUT = 256, OPT_ITERS, OPT_DOWN, OPT_MAXW, OPT_EVAL, OPT_SH, OPT_BG, OPT_SEED, OPT_AA, OPT_DEVICE,
           OPT_QUIET, OPT_MAXG, OPT_NODENSE, OPT_SAVE, OPT_RESUME };
    static const struct option options[] = {
        {"out", required_argument, 0, OPT_OUT},       {"iters", required_argument, 0, OPT_ITERS},
        {"downscale", required_argument, 0, OPT_DOWN}, {"max-width", required_argument, 0, OPT_MAXW},
        {"eval", no_argument, 0, OPT_EVAL},            {"sh-degree", required_argument, 0, OPT_SH},
        {"background", required_argument, 0, OPT_BG}, {"seed", required_argument, 0, OPT_SEED},
        {"antialiased", no_argument, 0, OPT_AA},       {"device", required_argument, 0, OPT_DEVICE},
        {"quiet", no_argument, 0, OPT_QUIET},          {"verbose", no_argument, 0, 'v'}, CLI_NO_TUNE_OPTION,
        {"max-gaussians", required_argument, 0, OPT_MAXG}, {"no-densify", no_argument, 0, OPT_NODENSE},
        {"save-every", required_argument, 0, OPT_SAVE},    {"resume", required_argument, 0, OPT_RESUME},
        {0, 0, 0, 0}};
    o->iters = 30000;
    opterr = 0;
    optind = 1;
    int ok = 1;
    for (int c; ok && (c = getopt_long(argc, argv, "v", options, NULL)) != -1;) {
        switch (c) {
        case OPT_OUT: o->out = optarg; break;
        case OPT_ITERS: ok = cli_parse_u32("--iters", optarg, 1, 10000000, &o->iters); break;
        case OPT_DOWN:
            ok = cli_parse_u32("--downscale", optarg, 1, 8, &o->downscale);
            if (ok && (o->downscale & (o->downscale - 1)) != 0) {
                cli_error("--downscale: %u is not 1, 2, 4 or 8", o->downscale);
                ok = 0;
            }
            break;
        case OPT_MAXW: ok = cli_parse_u32("--max-width", optarg, 16, 32768, &o->max_width); break;
        case OPT_EVAL: o->eval = 1; break;
        case OPT_SH:
            ok = cli_parse_u32("--sh-degree", optarg, 0, CLS_MAX_SH_DEGREE, &o->sh_degree);
            o->has_sh = 1;
            break;
        case OPT_BG: ok = cli_parse_rgb("--background", optarg, o->background); break;
        case OPT_SEED: ok = cli_parse_u32("--seed", optarg, 0, UINT32_MAX, &o->seed); break;
        case OPT_AA: o->antialiased = 1; break;
        case OPT_DEVICE: o->dev.device = optarg; break;
        case CLI_OPT_NO_TUNE: o->dev.no_tune = 1; break;
        case OPT_QUIET: o->quiet = 1; break;
        case OPT_MAXG: ok = cli_parse_u32("--max-gaussians", optarg, 1, 100000000, &o->max_gaussians); break;
        case OPT_NODENSE: o->no_densify = 1; break;
        case OPT_SAVE: ok = cli_parse_u32("--save-every", optarg, 1, 10000000, &o->save_every); break;
        case OPT_RESUME: o->resume = optarg; break;
        case 'v': o->dev.verbose = 1; break;
        default:
            cli_error("train: unknown or incomplete option '%s' (clsplat train --help)", argv[optind - 1]);
            ok = 0;
        }
    }
    if (!ok)
        return 0;
    if (optind != argc - 1) {
        cli_error("train: expected exactly one DATASET (clsplat train --help)");
        return 0;
    }
    o->dataset = argv[optind];
    if (o->out == NULL) {
        cli_error("train: --out DIR is required");
        return 0;
    }
    return 1;
}

/* Set by SIGINT: the loop writes a checkpoint and stops after the current step. */
static volatile sig_atomic_t interrupted = 0;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int save_checkpoint(cls_trainer *t, cls_context *ctx, const char *dir, int quiet)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    cls_status st = cls_trainer_save_checkpoint(t, path);
    if (st != CLS_OK)
        return cli_status_error(st, "writing the checkpoint", cls_context_errmsg(ctx));
    if (!quiet)
        printf("%swrote %s at step %u\n", isatty(fileno(stdout)) ? "\n" : "", path, cls_trainer_step_count(t));
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The training cameras as an INRIA cameras.json, for viewers. */
static int write_cameras(const cls_dataset *ds, const char *path)
{
    const size_t n = cls_dataset_count(ds, CLS_SPLIT_TRAIN);
    cls_camera_set set = {.count = n, .cameras = calloc(n ? n : 1, sizeof(cls_camera)),
                          .image_names = calloc(n ? n : 1, sizeof(char *))};
    cls_error err = {0};
    int rc = 1;
    if (set.cameras == NULL || set.image_names == NULL) {
        cli_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        if (cls_dataset_view(ds, CLS_SPLIT_TRAIN, i, &set.cameras[i], NULL, &name, &err) != CLS_OK) {
            cli_error("%s", err.message);
            goto done;
        }
        set.image_names[i] = (char *)name; /* borrowed: not freed below */
    }
    cls_status st = cls_cameras_save_json(path, &set, &err);
    if (st != CLS_OK) {
        cli_status_error(st, "writing the cameras", err.message);
        goto done;
    }
    rc = 0;
done:
    free(set.cameras);
    free(set.image_names);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        train_usage();
        return 0;
    }
    train_options o = {0};
    if (!parse(argc, argv, &o))
        return 2;
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST)
        return cli_error("cannot create the output folder %s: %s", o.out, strerror(errno));

    cls_dataset_desc ddesc = {.downscale = o.downscale, .max_width = o.max_width, .eval = o.eval};
    memcpy(ddesc.background, o.background, sizeof ddesc.background);
    cls_dataset *ds = NULL;
    cls_error err = {0};
    double t0 = now_s();
    cls_status st = cls_dataset_load(o.dataset, &ddesc, &ds, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "loading the dataset", err.message);
    if (!o.quiet)
        printf("dataset: %zu training and %zu test views, %.1f MB of 8-bit photos, loaded in %.1f s\n",
               cls_dataset_count(ds, CLS_SPLIT_TRAIN), cls_dataset_count(ds, CLS_SPLIT_TEST),
               (double)cls_dataset_image_bytes(ds) / 1e6, now_s() - t0);

    int rc = 1;
    cls_context *ctx = NULL;
    cls_trainer *trainer = NULL;
    if (!cli_open_context(&o.dev, &ctx))
        goto done;
    cls_trainer_desc tdesc = {.iterations = o.iters, .seed = o.seed, .antialiased = o.antialiased,
                              .sh_degree = o.has_sh ? (int)o.sh_degree + 1 : 0,
                              .max_gaussians = o.max_gaussians, .no_densify = o.no_densify};
    memcpy(tdesc.background, o.background, sizeof tdesc.background);
    st = cls_trainer_create(ctx, ds, &tdesc, &trainer);
    if (st != CLS_OK) {
        cli_status_error(st, "preparing the training", cls_context_errmsg(ctx));
        goto done;
    }
    if (o.resume != NULL) {
        st = cls_trainer_load_checkpoint(trainer, o.resume);
        if (st != CLS_OK) {
            cli_status_error(st, "resuming", cls_context_errmsg(ctx));
            goto done;
        }
        if (!o.quiet)
            printf("resumed %s at step %u\n", o.resume, cls_trainer_step_count(trainer));
    }
    const int tty = isatty(fileno(stdout));
    const uint32_t report_every = tty ? 10 : (o.iters >= 100 ? o.iters / 20 : 1);
    struct sigaction action = {.sa_handler = on_interrupt}, previous;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous);
    double start = now_s();
    const uint32_t first = cls_trainer_step_count(trainer) + 1;
    for (uint32_t i = first; i <= o.iters; i++) {
        cls_train_stats stats;
        const int report = !o.quiet && (i % report_every == 0 || i == o.iters);
        st = cls_trainer_step(trainer, report ? &stats : NULL);
        if (st != CLS_OK) {
            cli_status_error(st, "training", cls_context_errmsg(ctx));
            goto done;
        }
        if (report) {
            const double elapsed = now_s() - start, rate = (double)(i - first + 1) / elapsed;
            printf("%sstep %u/%u  loss %.4f  (L1 %.4f, 1-SSIM %.4f)  %u Gaussians  SH %d  %.1f it/s  ETA %.0f s%s",
                   tty ? "\r" : "", i, o.iters, stats.loss, stats.l1, stats.dssim, stats.gaussians, stats.sh_degree,
                   rate, (double)(o.iters - i) / rate, tty ? "   " : "\n");
            fflush(stdout);
        }
        if ((o.save_every && i % o.save_every == 0 && i < o.iters) || interrupted) {
            if (save_checkpoint(trainer, ctx, o.out, o.quiet) != 0)
                goto done;
            if (interrupted) {
                printf("interrupted: resume with --resume %s/checkpoint.bin\n", o.out);
                sigaction(SIGINT, &previous, NULL);
                rc = 130;
                goto done;
            }
        }
    }
    sigaction(SIGINT, &previous, NULL);
    const double train_seconds = now_s() - start;
    const uint32_t steps_run = o.iters >= first ? o.iters - first + 1 : 0;
    if (!o.quiet && tty)
        printf("\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/scene.ply", o.out);
    st = cls_scene_save(cls_trainer_scene(trainer), path);
    if (st != CLS_OK) {
        cli_status_error(st, "writing the scene", cls_context_errmsg(ctx));
        goto done;
    }
    snprintf(path, sizeof path, "%s/cameras.json", o.out);
    if (write_cameras(ds, path) != 0)
        goto done;
    if (!o.quiet)
        printf("trained %u steps in %.1f s (%.1f ms per step); wrote %s/scene.ply and cameras.json\n",
               steps_run, train_seconds, 1e3 * train_seconds / (steps_run ? steps_run : 1), o.out);
    if (o.eval) {
        cls_render_desc rdesc = {.antialiased = o.antialiased};
        memcpy(rdesc.background, o.background, sizeof rdesc.background);
        const cli_report_extra extra = {.steps = cls_trainer_step_count(trainer), .train_seconds = train_seconds};
        if (cli_evaluate_report(ctx, cls_trainer_scene(trainer), ds, CLS_SPLIT_TEST, &rdesc, o.out, &extra) != 0)
            goto done;
    }
    if (!o.quiet) {
        size_t now = 0, peak = 0;
        cls_context_memory(ctx, &now, &peak);
        printf("peak device memory %.1f MB, peak host memory (RSS) %.1f MB\n", (double)peak / 1e6,
               (double)cli_peak_rss_bytes() / 1e6);
    }
    rc = 0;
done:
    cls_trainer_destroy(trainer);
    cls_context_destroy(ctx);
    cls_dataset_destroy(ds);
    return rc;
}
