#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void eval_usage(void)
{
    printf("usage: clsplat eval SCENE DATASET [options]\n\n"
           "Measures any trained scene (.ply or .splat, ours or another tool's) against a dataset's\n"
           "photos: PSNR and SSIM per view and their means, written with side-by-side renders\n"
           "(render | photo) to --out.\n\n"
           "  --split all|test     the views to measure (default test: every 8th photo by name,\n"
           "                       the convention training with --eval holds out)\n"
           "  --downscale F        photos at 1/F size (1, 2, 4 or 8), as the scene was trained\n"
           "  --max-width W        also shrink photos wider than W\n"
           "  --background R,G,B   background in [0, 1] (default 0,0,0)\n"
           "  --antialiased        render in antialiased mode\n"
           "  --out DIR            where metrics.json and test/ go (default eval)\n"
           "  --device D, -v       as for render\n"
           CLI_NO_TUNE_HELP);
}

int cmd_eval(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        eval_usage();
        return 0;
    }
    enum { OPT_SPLIT = 256, OPT_DOWN, OPT_MAXW, OPT_BG, OPT_AA, OPT_OUT, OPT_DEVICE };
    static const struct option options[] = {
        {"split", required_argument, 0, OPT_SPLIT},     {"downscale", required_argument, 0, OPT_DOWN},
        {"max-width", required_argument, 0, OPT_MAXW},  {"background", required_argument, 0, OPT_BG},
        {"antialiased", no_argument, 0, OPT_AA},        {"out", required_argument, 0, OPT_OUT},
        {"device", required_argument, 0, OPT_DEVICE},   {"verbose", no_argument, 0, 'v'}, CLI_NO_TUNE_OPTION,
        {0, 0, 0, 0}};
    const char *out = "eval";
    cls_split split = CLS_SPLIT_TEST;
    cls_dataset_desc ddesc = {0};
    cls_render_desc rdesc = {0};
    cli_device_options dev = {0};
    opterr = 0;
    optind = 1;
    int ok = 1;
    for (int c; ok && (c = getopt_long(argc, argv, "v", options, NULL)) != -1;) {
        switch (c) {
        case OPT_SPLIT:
            if (strcmp(optarg, "all") == 0)
                split = CLS_SPLIT_ALL;
            else if (strcmp(optarg, "test") == 0)
                split = CLS_SPLIT_TEST;
            else
                ok = !cli_error("--split: '%s' is not all or test", optarg);
            break;
        case OPT_DOWN:
            ok = cli_parse_u32("--downscale", optarg, 1, 8, &ddesc.downscale);
            if (ok && (ddesc.downscale & (ddesc.downscale - 1)) != 0)
                ok = !cli_error("--downscale: %u is not 1, 2, 4 or 8", ddesc.downscale);
            break;
        case OPT_MAXW: ok = cli_parse_u32("--max-width", optarg, 16, 32768, &ddesc.max_width); break;
        case OPT_BG: ok = cli_parse_rgb("--background", optarg, rdesc.background); break;
        case OPT_AA: rdesc.antialiased = 1; break;
        case OPT_OUT: out = optarg; break;
        case OPT_DEVICE: dev.device = optarg; break;
        case CLI_OPT_NO_TUNE: dev.no_tune = 1; break;
        case 'v': dev.verbose = 1; break;
        default: ok = !cli_error("eval: unknown or incomplete option '%s' (clsplat eval --help)", argv[optind - 1]);
        }
    }
    if (!ok)
        return 2;
    if (optind != argc - 2)
        return cli_error("eval: expected SCENE and DATASET (clsplat eval --help)"), 2;
    memcpy(ddesc.background, rdesc.background, sizeof ddesc.background);
    ddesc.eval = (split == CLS_SPLIT_TEST);
    cls_dataset *ds = NULL;
    cls_error err = {0};
    cls_status st = cls_dataset_load(argv[optind + 1], &ddesc, &ds, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "loading the dataset", err.message);
    int rc = 1;
    cls_context *ctx = NULL;
    cls_scene *scene = NULL;
    if (!cli_open_context(&dev, &ctx))
        goto done;
    st = cls_scene_load(ctx, argv[optind], &scene);
    if (st != CLS_OK) {
        cli_status_error(st, "loading the scene", cls_context_errmsg(ctx));
        goto done;
    }
    rc = cli_evaluate_report(ctx, scene, ds, split, &rdesc, out, NULL);
done:
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    cls_dataset_destroy(ds);
    return rc;
}
