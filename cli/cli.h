/* The clsplat command: shared helpers of the sub-commands. Uses only clsplat.h. */
#ifndef CLSPLAT_CLI_H
#define CLSPLAT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "clsplat.h"

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* Prints "clsplat: <message>" on stderr; returns 1 (the exit code of a failed command). */
int cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Prints a failed library call with its status name and the context's message. */
int cli_status_error(cls_status st, const char *what, const char *detail);

/* Strict parsers: the whole string must be a number in range; on failure they print a
 * message naming the option and return 0. */
int cli_parse_u32(const char *option, const char *text, uint32_t min, uint32_t max, uint32_t *out);
int cli_parse_float(const char *option, const char *text, float *out);
/* "R,G,B" with components in [0, 1]. */
int cli_parse_rgb(const char *option, const char *text, float out[3]);

/* Common options of commands that use a device. */
typedef struct cli_device_options {
    const char *device;
    int verbose;
    int profiling;
    int no_tune;        /* --no-tune: the compiled-in kernel configuration, not the tuned one */
    uint64_t pixels;    /* image size the command renders, when known: picks the tuning bucket */
} cli_device_options;
/* The getopt value of --no-tune, shared by the commands that take it. */
#define CLI_OPT_NO_TUNE 1000
#define CLI_NO_TUNE_OPTION {"no-tune", no_argument, 0, CLI_OPT_NO_TUNE}
#define CLI_NO_TUNE_HELP "  --no-tune            run the compiled-in kernel configuration, not the tuned one\n"
/* Creates a context; prints the error and returns 0 on failure. With verbose, the library's
 * info log names the device and the kernel configuration (tuned or defaults). */
int cli_open_context(const cli_device_options *opts, cls_context **ctx);

typedef int (*cli_command_fn)(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_grad(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);

/* N random Gaussians (SH degree 3) filling the view of a camera of width x height at the origin
 * looking down +z: the synthetic scene of `bench` and `tune`. Prints and returns 1 on failure. */
int cli_synthetic_scene(uint32_t n, uint32_t width, uint32_t height, cls_gaussians *g, cls_camera *cam);

/* Evaluation report (cli/report.c): renders every view of `split`, writes dir/test/<image>.png
 * (render | photo) and dir/metrics.json (per view and mean PSNR and SSIM, Gaussian count, peak
 * device memory and host RSS, and the training figures when `extra` is given). */
typedef struct cli_report_extra {
    uint32_t steps;
    double train_seconds;
} cli_report_extra;
int cli_evaluate_report(cls_context *ctx, cls_scene *scene, const cls_dataset *ds, cls_split split,
                        const cls_render_desc *desc, const char *dir, const cli_report_extra *extra);
/* The process's peak resident memory in bytes (0 when unknown). */
size_t cli_peak_rss_bytes(void);

int cmd_eval(int argc, char **argv);

/* Whether argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
