#include "params.h"

void cls__params_default(const clh_device_info *info, cls_params *out)
{
    int cpu = (info->type & CL_DEVICE_TYPE_CPU) != 0;
    /* PoCL does not vectorise a per-pixel loop across work-items (brief section 4): on CPUs a
     * work-item owns a row of 16 pixels as float16 lanes; GPUs want one pixel per work-item. */
    *out = (cls_params){
        .tile_size = 16,
        .pixels_per_item = cpu ? 16 : 1,
        .raster_batch = cpu ? 64 : 256,
        .sort_radix_bits = 4,
        /* On CPUs one work-item per block of 4096 keys compiles to the tight loop hand-written C
         * would be: 60-85% of the copy bandwidth, against ~35% for 16 x 64. */
        .sort_group_size = cpu ? 1 : 256,
        .sort_items = cpu ? 4096 : 4,
        .sort_reorder = cpu ? 0 : 1,
        .scan_group_size = cpu ? 1 : 256,
        .scan_items = cpu ? 4096 : 4,
        .gaussian_group_size = cpu ? 64 : 128,
    };
}
