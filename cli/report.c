/* Evaluation reports shared by `train --eval` and `eval`: PSNR/SSIM of every view of a split,
 * side-by-side renders (render | photo) and metrics.json, all written atomically. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* "dir/test/0001.png" for the image "images/0001.jpg". */
static void render_path(const char *dir, const char *name, char *out, size_t cap)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    const int len = (int)(dot && dot != base ? dot - base : (long)strlen(base));
    snprintf(out, cap, "%s/test/%.*s.png", dir, len, base);
}

/* One view: metrics and the side-by-side PNG. */
static int evaluate_view(cls_scene *scene, const cls_dataset *ds, cls_split split, size_t i,
                         const cls_render_desc *desc, const char *dir, float *psnr, float *ssim, const char **name)
{
    cls_camera cam;
    const uint8_t *photo = NULL;
    cls_error err = {0};
    if (cls_dataset_view(ds, split, i, &cam, &photo, name, &err) != CLS_OK)
        return cli_error("%s", err.message);
    const size_t w = cam.width, h = cam.height;
    float *render = malloc(w * h * 3 * sizeof(float)), *pair = malloc(2 * w * h * 3 * sizeof(float));
    int rc = 0;
    cls_status st = (render && pair) ? cls_evaluate_view(scene, ds, split, i, desc, psnr, ssim, render)
                                     : CLS_ERROR_OUT_OF_HOST_MEMORY;
    if (st != CLS_OK) {
        rc = cli_status_error(st, "evaluating a view", "");
    } else {
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++)
                for (size_t c = 0; c < 3; c++) {
                    pair[(y * 2 * w + x) * 3 + c] = render[(y * w + x) * 3 + c];
                    pair[(y * 2 * w + w + x) * 3 + c] = (float)photo[(y * w + x) * 3 + c] / 255.0f;
                }
        char path[4096];
        render_path(dir, *name, path, sizeof path);
        st = cls_image_write_png(path, pair, (uint32_t)(2 * w), (uint32_t)h, 3, 8, &err);
        if (st != CLS_OK)
            rc = cli_status_error(st, "writing a render", err.message);
    }
    free(render);
    free(pair);
    return rc;
}

size_t cli_peak_rss_bytes(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (size_t)ru.ru_maxrss * 1024u : 0;
}

int cli_evaluate_report(cls_context *ctx, cls_scene *scene, const cls_dataset *ds, cls_split split,
                        const cls_render_desc *desc, const char *dir, const cli_report_extra *extra)
{
    const size_t n = cls_dataset_count(ds, split);
    if (n == 0)
        return cli_error("no views to evaluate in this split (use --eval / --split all)");
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/test", dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cli_error("cannot create %s: %s", dir, strerror(errno));
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return cli_error("cannot create %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return cli_error("cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "{\n  \"views\": [\n");
    double sum_psnr = 0.0, sum_ssim = 0.0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        float psnr = 0.0f, ssim = 0.0f;
        const char *name = "";
        rc = evaluate_view(scene, ds, split, i, desc, dir, &psnr, &ssim, &name);
        fprintf(f, "    {\"image\": \"%s\", \"psnr\": %.4f, \"ssim\": %.5f}%s\n", name, psnr, ssim, i + 1 < n ? "," : "");
        sum_psnr += psnr;
        sum_ssim += ssim;
    }
    size_t device_now = 0, device_peak = 0;
    cls_context_memory(ctx, &device_now, &device_peak);
    const double mean_psnr = sum_psnr / (double)n, mean_ssim = sum_ssim / (double)n;
    fprintf(f, "  ],\n  \"mean_psnr\": %.4f,\n  \"mean_ssim\": %.5f,\n  \"views_evaluated\": %zu,\n", mean_psnr,
            mean_ssim, n);
    fprintf(f, "  \"gaussians\": %zu,\n", cls_scene_count(scene));
    if (extra != NULL)
        fprintf(f, "  \"steps\": %u,\n  \"train_seconds\": %.2f,\n", extra->steps, extra->train_seconds);
    fprintf(f, "  \"peak_device_bytes\": %zu,\n  \"peak_host_rss_bytes\": %zu\n}\n", device_peak,
            cli_peak_rss_bytes());
    const int closed = fclose(f) == 0;
    if (rc != 0 || !closed || rename(tmp, path) != 0) {
        remove(tmp);
        return rc != 0 ? rc : cli_error("cannot write %s", path);
    }
    printf("%zu views: mean PSNR %.2f dB, mean SSIM %.4f, %zu Gaussians (%s)\n", n, mean_psnr, mean_ssim,
           cls_scene_count(scene), path);
    return 0;
}
