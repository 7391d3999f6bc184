#include <stdio.h>

#include "cli.h"

int cmd_convert(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: clsplat convert IN OUT\n\nConverts a scene between the INRIA 3DGS .ply and the antimatter15 .splat\n"
               "formats (the output format follows OUT's extension). .splat keeps only the\n"
               "DC colour and 8-bit opacity and rotation. Needs no OpenCL device.\n");
        return 0;
    }
    if (argc != 3)
        return cli_error("convert: expected IN and OUT (clsplat convert --help)");
    cls_gaussians g = {0};
    cls_error err = {0};
    cls_status st = cls_gaussians_load(argv[1], &g, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "reading the scene", err.message);
    st = cls_gaussians_save(argv[2], &g, &err);
    size_t count = g.count;
    cls_gaussians_free(&g);
    if (st != CLS_OK)
        return cli_status_error(st, "writing the scene", err.message);
    printf("wrote %zu Gaussians to %s\n", count, argv[2]);
    return 0;
}
