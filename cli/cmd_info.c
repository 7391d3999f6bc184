#include <math.h>
#include <stdio.h>

#include "cli.h"

typedef struct stats {
    double min, max, sum;
} stats;

static void stats_add(stats *s, double v, size_t i)
{
    if (i == 0 || v < s->min)
        s->min = v;
    if (i == 0 || v > s->max)
        s->max = v;
    s->sum += v;
}

int cmd_info(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: clsplat info SCENE\n\nPrints the Gaussian count, SH degree, bounding box and opacity and scale\n"
               "statistics of a .ply or .splat scene. Needs no OpenCL device.\n");
        return 0;
    }
    if (argc != 2)
        return cli_error("info: expected exactly one scene file (clsplat info --help)");
    cls_gaussians g = {0};
    cls_error err = {0};
    cls_status st = cls_gaussians_load(argv[1], &g, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "reading the scene", err.message);
    stats pos[3] = {{0}}, opacity = {0}, scale = {0};
    size_t transparent = 0;
    for (size_t i = 0; i < g.count; i++) {
        for (int a = 0; a < 3; a++)
            stats_add(&pos[a], g.means[i * 3 + a], i);
        double o = 1.0 / (1.0 + exp(-(double)g.opacity_logits[i]));
        stats_add(&opacity, o, i);
        transparent += (o < 1.0 / 255.0);
        double s = exp(fmax(g.log_scales[i * 3], fmax(g.log_scales[i * 3 + 1], g.log_scales[i * 3 + 2])));
        stats_add(&scale, s, i);
    }
    double n = (double)g.count;
    printf("file: %s\n", argv[1]);
    printf("gaussians: %zu\n", g.count);
    printf("sh degree: %d (%d coefficients per channel)\n", g.sh_degree, cls_sh_coeff_count(g.sh_degree));
    printf("bounding box: x [%g, %g]  y [%g, %g]  z [%g, %g]\n", pos[0].min, pos[0].max, pos[1].min, pos[1].max,
           pos[2].min, pos[2].max);
    printf("centre (mean): %g %g %g\n", pos[0].sum / n, pos[1].sum / n, pos[2].sum / n);
    printf("opacity: min %.4g  mean %.4g  max %.4g  (%zu below 1/255)\n", opacity.min, opacity.sum / n, opacity.max,
           transparent);
    printf("largest axis scale: min %.4g  mean %.4g  max %.4g\n", scale.min, scale.sum / n, scale.max);
    cls_gaussians_free(&g);
    return 0;
}
