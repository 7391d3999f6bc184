#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void render_usage(void)
{
    printf("usage: clsplat render SCENE --cameras SOURCE [options]\n\n"
           "Renders a .ply or .splat scene from cameras to PNG files.\n\n"
           "  --cameras SOURCE     a COLMAP model folder (binary or text), a transforms.json or\n"
           "                       an INRIA cameras.json (required)\n"
           "  --index I            render camera I (default 0; cameras are sorted by image name)\n"
           "  --all                render every camera; --out is then a folder\n"
           "  --out PATH           output PNG (default render.png) or folder (default renders)\n"
           "  --width W            render at width W (height follows the aspect ratio)\n"
           "  --background R,G,B   background colour, components in [0, 1] (default 0,0,0)\n"
           "  --antialiased        Mip-Splatting antialiasing compensation\n"
           "  --sh-degree D        highest SH degree to use (default: the scene's)\n"
           "  --alpha              write RGBA PNGs (alpha = 1 - final transmittance)\n"
           "  --depth              also write the expected depth as <out>.depth.pfm (float)\n"
           "  --16bit              16-bit PNGs\n"
           "  --device D           OpenCL device index or name (default: CLSPLAT_DEVICE, else the\n"
           "                       first GPU, else the first CPU)\n"
           CLI_NO_TUNE_HELP
           "  -v, --verbose        say which device and kernel configuration are used and what is written\n");
}

typedef struct render_options {
    const char *scene, *cameras, *out;
    uint32_t index, width;
    int all, alpha, depth, bit_depth;
    cls_render_desc desc;
    cli_device_options dev;
} render_options;

static int parse(int argc, char **argv, render_options *o)
{
    enum { OPT_CAMERAS = 256, OPT_INDEX, OPT_ALL, OPT_OUT, OPT_WIDTH, OPT_BG, OPT_AA, OPT_SH, OPT_ALPHA, OPT_DEPTH,
           OPT_16, OPT_DEVICE };
    static const struct option options[] = {
        {"cameras", required_argument, 0, OPT_CAMERAS}, {"index", required_argument, 0, OPT_INDEX},
        {"all", no_argument, 0, OPT_ALL},               {"out", required_argument, 0, OPT_OUT},
        {"width", required_argument, 0, OPT_WIDTH},     {"background", required_argument, 0, OPT_BG},
        {"antialiased", no_argument, 0, OPT_AA},        {"sh-degree", required_argument, 0, OPT_SH},
        {"alpha", no_argument, 0, OPT_ALPHA},           {"depth", no_argument, 0, OPT_DEPTH},
        {"16bit", no_argument, 0, OPT_16},              {"device", required_argument, 0, OPT_DEVICE},
        {"verbose", no_argument, 0, 'v'},               CLI_NO_TUNE_OPTION, {0, 0, 0, 0}};
    int has_index = 0;
    uint32_t sh = 0;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "v", options, NULL)) != -1;) {
        switch (c) {
        case OPT_CAMERAS: o->cameras = optarg; break;
        case OPT_INDEX:
            if (!cli_parse_u32("--index", optarg, 0, UINT32_MAX, &o->index))
                return 0;
            has_index = 1;
            break;
        case OPT_ALL: o->all = 1; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_WIDTH:
            if (!cli_parse_u32("--width", optarg, 1, 32768, &o->width))
                return 0;
            break;
        case OPT_BG:
            if (!cli_parse_rgb("--background", optarg, o->desc.background))
                return 0;
            break;
        case OPT_AA: o->desc.antialiased = 1; break;
        case OPT_SH:
            if (!cli_parse_u32("--sh-degree", optarg, 0, CLS_MAX_SH_DEGREE, &sh))
                return 0;
            o->desc.sh_degree = (int)sh + 1;
            break;
        case OPT_ALPHA: o->alpha = 1; break;
        case OPT_DEPTH: o->depth = 1; break;
        case OPT_16: o->bit_depth = 16; break;
        case OPT_DEVICE: o->dev.device = optarg; break;
        case CLI_OPT_NO_TUNE: o->dev.no_tune = 1; break;
        case 'v': o->dev.verbose = 1; break;
        default:
            cli_error("render: unknown or incomplete option '%s' (clsplat render --help)", argv[optind - 1]);
            return 0;
        }
    }
    if (optind != argc - 1) {
        cli_error("render: expected exactly one SCENE file (clsplat render --help)");
        return 0;
    }
    o->scene = argv[optind];
    if (o->cameras == NULL) {
        cli_error("render: --cameras SOURCE is required");
        return 0;
    }
    if (o->all && has_index) {
        cli_error("render: --index and --all exclude each other");
        return 0;
    }
    if (o->out == NULL)
        o->out = o->all ? "renders" : "render.png";
    o->desc.with_depth = o->depth;
    return 1;
}

/* "folder/0001.jpg" → "0001". */
static void image_stem(const char *name, size_t index, char *out, size_t cap)
{
    const char *base = strrchr(name ? name : "", '/');
    base = base ? base + 1 : (name ? name : "");
    if (base[0] == '\0') {
        snprintf(out, cap, "%05zu", index);
        return;
    }
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot != NULL && dot != out)
        *dot = '\0';
}

static int write_outputs(const render_options *o, const char *png_path, const cls_camera *cam, const float *rgb,
                         const float *alpha, const float *depth)
{
    const size_t pixels = (size_t)cam->width * cam->height;
    const float *pixels_out = rgb;
    float *rgba = NULL;
    int channels = 3;
    if (o->alpha) {
        rgba = malloc(pixels * 4 * sizeof(float));
        if (rgba == NULL)
            return cli_error("out of memory");
        for (size_t i = 0; i < pixels; i++) {
            memcpy(&rgba[i * 4], &rgb[i * 3], 3 * sizeof(float));
            rgba[i * 4 + 3] = alpha[i];
        }
        pixels_out = rgba;
        channels = 4;
    }
    cls_error err = {0};
    cls_status st = cls_image_write_png(png_path, pixels_out, cam->width, cam->height, channels,
                                        o->bit_depth ? o->bit_depth : 8, &err);
    free(rgba);
    if (st != CLS_OK)
        return cli_status_error(st, "writing the image", err.message);
    if (o->depth) {
        char depth_path[4096];
        snprintf(depth_path, sizeof depth_path, "%.*s.depth.pfm",
                 (int)(strlen(png_path) > 4 && strcmp(png_path + strlen(png_path) - 4, ".png") == 0
                           ? strlen(png_path) - 4
                           : strlen(png_path)),
                 png_path);
        st = cls_image_write_pfm(depth_path, depth, cam->width, cam->height, &err);
        if (st != CLS_OK)
            return cli_status_error(st, "writing the depth image", err.message);
    }
    if (o->dev.verbose)
        fprintf(stderr, "clsplat: wrote %s (%ux%u)\n", png_path, cam->width, cam->height);
    return 0;
}

int cmd_render(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        render_usage();
        return 0;
    }
    render_options o = {0};
    if (!parse(argc, argv, &o))
        return 2;

    cls_camera_set cams = {0};
    cls_error err = {0};
    cls_status st = cls_cameras_load(o.cameras, &cams, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "reading the cameras", err.message);
    if (cams.count == 0) {
        cls_cameras_free(&cams);
        return cli_error("%s: no cameras", o.cameras);
    }
    if (!o.all && o.index >= cams.count) {
        size_t count = cams.count;
        cls_cameras_free(&cams);
        return cli_error("--index %u: %s has %zu cameras (0..%zu)", o.index, o.cameras, count, count - 1);
    }
    if (o.all && mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        cls_cameras_free(&cams);
        return cli_error("cannot create the output folder %s: %s", o.out, strerror(errno));
    }

    int rc = 1;
    cls_context *ctx = NULL;
    cls_scene *scene = NULL;
    cls_frame *frame = NULL;
    float *rgb = NULL, *alpha = NULL, *depth = NULL;
    if (!cli_open_context(&o.dev, &ctx))
        goto done;
    st = cls_scene_load(ctx, o.scene, &scene);
    if (st != CLS_OK) {
        cli_status_error(st, "loading the scene", cls_context_errmsg(ctx));
        goto done;
    }
    st = cls_frame_create(ctx, &frame);
    if (st != CLS_OK) {
        cli_status_error(st, "preparing the renderer", cls_context_errmsg(ctx));
        goto done;
    }
    size_t first = o.all ? 0 : o.index, last = o.all ? cams.count : (size_t)o.index + 1;
    for (size_t i = first; i < last; i++) {
        cls_camera cam = cls_camera_resized(&cams.cameras[i], o.width);
        size_t pixels = (size_t)cam.width * cam.height;
        free(rgb);
        free(alpha);
        free(depth);
        rgb = malloc(pixels * 3 * sizeof(float));
        alpha = malloc(pixels * sizeof(float));
        depth = malloc(pixels * sizeof(float));
        if (rgb == NULL || alpha == NULL || depth == NULL) {
            cli_error("out of memory for a %ux%u image", cam.width, cam.height);
            goto done;
        }
        st = cls_render_forward(frame, scene, &cam, &o.desc);
        if (st == CLS_OK)
            st = cls_frame_read(frame, &(cls_render_output){.rgb = rgb, .alpha = alpha, .depth = o.depth ? depth : NULL});
        if (st != CLS_OK) {
            cli_status_error(st, "rendering", cls_context_errmsg(ctx));
            goto done;
        }
        char path[4096];
        if (o.all) {
            char stem[1024];
            image_stem(cams.image_names ? cams.image_names[i] : NULL, i, stem, sizeof stem);
            snprintf(path, sizeof path, "%s/%s.png", o.out, stem);
        } else {
            snprintf(path, sizeof path, "%s", o.out);
        }
        if (write_outputs(&o, path, &cam, rgb, alpha, depth) != 0)
            goto done;
    }
    printf("rendered %zu view%s of %s (%zu Gaussians) on %s\n", last - first, last - first == 1 ? "" : "s", o.scene,
           cls_scene_count(scene), cls_context_device(ctx)->name);
    rc = 0;
done:
    free(rgb);
    free(alpha);
    free(depth);
    cls_frame_destroy(frame);
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    cls_cameras_free(&cams);
    return rc;
}
