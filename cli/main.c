/* clsplat - the command-line front end of the clsplat library. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    cli_command_fn run;
    const char *summary;
} commands[] = {
    {"devices", cmd_devices, "list OpenCL platforms and devices"},
    {"info", cmd_info, "describe a scene (.ply or .splat)"},
    {"render", cmd_render, "render a scene from cameras to PNG files"},
    {"train", cmd_train, "train a scene from photos and camera poses"},
    {"eval", cmd_eval, "PSNR/SSIM of a trained scene on a dataset's photos"},
    {"grad", cmd_grad, "gradients of a photometric loss with respect to every parameter"},
    {"convert", cmd_convert, "convert a scene between .ply and .splat"},
    {"bench", cmd_bench, "measure the render passes and the sort on a device"},
    {"tune", cmd_tune, "find and remember the fastest kernel configuration of a device"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: clsplat <command> [options]   (clsplat <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nclsplat %s. Environment: CLSPLAT_DEVICE (device index or name), CLSPLAT_KERNEL_DIR\n"
                 "(read kernels from a folder), CLSPLAT_CACHE_DIR (compiled-program cache), CLSPLAT_TUNE_DIR\n"
                 "(tuning results).\n",
            cls_version_string());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("clsplat %s\n", cls_version_string());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return 2;
}
