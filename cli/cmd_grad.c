#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void grad_usage(void)
{
    printf("usage: clsplat grad SCENE --cameras SOURCE --target IMAGE --out GRADS.ply [options]\n\n"
           "Renders camera --index of SOURCE, compares it with the target photo under\n"
           "L = mean over pixels and channels of (render - target)^2, and writes dL/d(every stored\n"
           "parameter) as a .ply with exactly the scene's vertex properties (x, y, z, f_dc_*,\n"
           "f_rest_*, opacity, scale_*, rot_*; normals zero), computed by the deterministic\n"
           "backward pass on the device.\n\n"
           "  --cameras SOURCE     COLMAP model, transforms.json or cameras.json (required)\n"
           "  --index I            the camera (default 0)\n"
           "  --target IMAGE       PNG or JPEG; the camera is scaled to its width (required).\n"
           "                       An alpha channel is composited onto --background.\n"
           "  --out GRADS.ply      output (required)\n"
           "  --background R,G,B   background colour in [0, 1] (default 0,0,0)\n"
           "  --antialiased        antialiased mode\n"
           "  --device D, -v       as for render\n"
           CLI_NO_TUNE_HELP);
}

typedef struct grad_options {
    const char *scene, *cameras, *target, *out;
    uint32_t index;
    cls_render_desc desc;
    cli_device_options dev;
} grad_options;

static int parse(int argc, char **argv, grad_options *o)
{
    enum { OPT_CAMERAS = 256, OPT_INDEX, OPT_TARGET, OPT_OUT, OPT_BG, OPT_AA, OPT_DEVICE };
    static const struct option options[] = {
        {"cameras", required_argument, 0, OPT_CAMERAS}, {"index", required_argument, 0, OPT_INDEX},
        {"target", required_argument, 0, OPT_TARGET},   {"out", required_argument, 0, OPT_OUT},
        {"background", required_argument, 0, OPT_BG},   {"antialiased", no_argument, 0, OPT_AA},
        {"device", required_argument, 0, OPT_DEVICE},   {"verbose", no_argument, 0, 'v'}, CLI_NO_TUNE_OPTION,
        {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "v", options, NULL)) != -1;) {
        switch (c) {
        case OPT_CAMERAS: o->cameras = optarg; break;
        case OPT_INDEX:
            if (!cli_parse_u32("--index", optarg, 0, UINT32_MAX, &o->index))
                return 0;
            break;
        case OPT_TARGET: o->target = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_BG:
            if (!cli_parse_rgb("--background", optarg, o->desc.background))
                return 0;
            break;
        case OPT_AA: o->desc.antialiased = 1; break;
        case OPT_DEVICE: o->dev.device = optarg; break;
        case CLI_OPT_NO_TUNE: o->dev.no_tune = 1; break;
        case 'v': o->dev.verbose = 1; break;
        default:
            cli_error("grad: unknown or incomplete option '%s' (clsplat grad --help)", argv[optind - 1]);
            return 0;
        }
    }
    if (optind != argc - 1) {
        cli_error("grad: expected exactly one SCENE file (clsplat grad --help)");
        return 0;
    }
    o->scene = argv[optind];
    const char *missing = !o->cameras ? "--cameras SOURCE" : !o->target ? "--target IMAGE" : !o->out ? "--out GRADS.ply" : NULL;
    if (missing != NULL) {
        cli_error("grad: %s is required", missing);
        return 0;
    }
    return 1;
}

/* RGB target pixels (RGBA composited onto the background). */
static float *load_target(const grad_options *o, uint32_t *w, uint32_t *h)
{
    float *pixels = NULL;
    int channels = 0;
    cls_error err = {0};
    cls_status st = cls_image_read(o->target, &pixels, w, h, &channels, &err);
    if (st != CLS_OK) {
        cli_status_error(st, "reading the target image", err.message);
        return NULL;
    }
    if (channels == 4) {
        const size_t n = (size_t)*w * *h;
        for (size_t i = 0; i < n; i++) {
            const float a = pixels[i * 4 + 3];
            for (int c = 0; c < 3; c++)
                pixels[i * 3 + (size_t)c] = pixels[i * 4 + (size_t)c] * a + o->desc.background[c] * (1.0f - a);
        }
    }
    return pixels;
}

int cmd_grad(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        grad_usage();
        return 0;
    }
    grad_options o = {0};
    if (!parse(argc, argv, &o))
        return 2;
    cls_camera_set cams = {0};
    cls_error err = {0};
    cls_status st = cls_cameras_load(o.cameras, &cams, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "reading the cameras", err.message);
    if (o.index >= cams.count) {
        size_t count = cams.count;
        cls_cameras_free(&cams);
        return cli_error("--index %u: %s has %zu cameras", o.index, o.cameras, count);
    }
    uint32_t tw = 0, th = 0;
    float *target = load_target(&o, &tw, &th);
    if (target == NULL) {
        cls_cameras_free(&cams);
        return 1;
    }
    const cls_camera cam = cls_camera_resized(&cams.cameras[o.index], tw);
    cls_cameras_free(&cams);
    if (cam.height != th) {
        free(target);
        return cli_error("%s is %ux%u but camera %u scaled to that width is %ux%u: the aspect ratios differ", o.target,
                         tw, th, o.index, cam.width, cam.height);
    }

    int rc = 1;
    cls_context *ctx = NULL;
    cls_scene *scene = NULL;
    cls_frame *frame = NULL;
    cls_grads *grads = NULL;
    cls_gaussians g = {0};
    const size_t values = (size_t)tw * th * 3;
    float *rgb = malloc(values * sizeof(float)), *d_rgb = malloc(values * sizeof(float));
    if (rgb == NULL || d_rgb == NULL) {
        cli_error("out of memory");
        goto done;
    }
    if (!cli_open_context(&o.dev, &ctx))
        goto done;
    st = cls_scene_load(ctx, o.scene, &scene);
    if (st == CLS_OK)
        st = cls_frame_create(ctx, &frame);
    if (st == CLS_OK)
        st = cls_grads_create(ctx, &grads);
    if (st == CLS_OK)
        st = cls_render_forward(frame, scene, &cam, &o.desc);
    if (st == CLS_OK)
        st = cls_frame_read(frame, &(cls_render_output){.rgb = rgb});
    if (st != CLS_OK) {
        cli_status_error(st, "rendering", cls_context_errmsg(ctx));
        goto done;
    }
    double loss = 0.0;
    for (size_t i = 0; i < values; i++) {
        const double diff = (double)rgb[i] - (double)target[i];
        loss += diff * diff;
        d_rgb[i] = (float)(2.0 * diff / (double)values);
    }
    loss /= (double)values;
    st = cls_render_backward(frame, scene, &(cls_backward_desc){.d_rgb = d_rgb}, grads);
    if (st == CLS_OK)
        st = cls_grads_read(grads, &g, NULL, NULL, NULL);
    if (st != CLS_OK) {
        cli_status_error(st, "the backward pass", cls_context_errmsg(ctx));
        goto done;
    }
    st = cls_gradients_save(o.out, &g, &err);
    if (st != CLS_OK) {
        cli_status_error(st, "writing the gradients", err.message);
        goto done;
    }
    printf("loss (mean squared error) %.6g over %ux%u pixels; wrote dL/dparameters of %zu Gaussians to %s\n", loss,
           tw, th, g.count, o.out);
    rc = 0;
done:
    cls_gaussians_free(&g);
    free(rgb);
    free(d_rgb);
    free(target);
    cls_grads_destroy(grads);
    cls_frame_destroy(frame);
    cls_scene_destroy(scene);
    cls_context_destroy(ctx);
    return rc;
}
