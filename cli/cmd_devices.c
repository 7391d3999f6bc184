#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char *type_name(cls_device_type t)
{
    static const char *const names[] = {"other", "CPU", "GPU", "accelerator"};
    return (t >= 0 && t <= CLS_DEVICE_TYPE_ACCELERATOR) ? names[t] : "other";
}

int cmd_devices(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: clsplat devices\n\nLists every OpenCL device with the index and name that --device and\n"
               "CLSPLAT_DEVICE accept, and the capabilities clsplat cares about.\n");
        return 0;
    }
    if (argc > 1)
        return cli_error("devices: unexpected argument '%s'", argv[1]);
    cls_device_info *list = NULL;
    size_t count = 0;
    cls_error err = {0};
    cls_status st = cls_device_list(&list, &count, &err);
    if (st != CLS_OK)
        return cli_status_error(st, "listing devices", err.message);
    if (count == 0) {
        free(list);
        return cli_error("no OpenCL device found: install an OpenCL driver (CPU: apt-get install pocl-opencl-icd)");
    }
    int platform = -1;
    for (size_t i = 0; i < count; i++) {
        const cls_device_info *d = &list[i];
        if (d->platform_index != platform) {
            platform = d->platform_index;
            printf("platform %d: %s (%s)\n", platform, d->platform_name, d->platform_version);
        }
        printf("  device %d: %s\n", d->device_index, d->name);
        printf("    type %s, vendor %s, driver %s, %s\n", type_name(d->type), d->vendor, d->driver_version,
               d->opencl_c_version);
        printf("    %u compute units, %.1f GiB memory (largest allocation %.1f GiB), %.0f KiB local memory, "
               "work-groups up to %zu\n",
               d->compute_units, (double)d->global_memory_bytes / (1 << 30),
               (double)d->max_allocation_bytes / (1 << 30), (double)d->local_memory_bytes / 1024,
               d->max_work_group_size);
        printf("    fp16 %s, fp64 %s, subgroups %s, float atomics %s, int64 atomics %s\n", d->has_fp16 ? "yes" : "no",
               d->has_fp64 ? "yes" : "no", d->has_subgroups ? "yes" : "no", d->has_float_atomics ? "yes" : "no",
               d->has_int64_atomics ? "yes" : "no");
    }
    free(list);
    return 0;
}
