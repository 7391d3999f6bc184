#include "scan.h"

#include <string.h>

cls_status cls__check_group_size(cls_context *ctx, cl_kernel kernel, const char *what, size_t group_size)
{
    size_t max_local = 0;
    clh_error herr;
    clh_result hr = clh_kernel_max_local(&ctx->rt, kernel, &max_local, &herr);
    if (hr != CLH_OK)
        return cls__from_host(ctx, hr, &herr);
    if (group_size > max_local)
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "%s: work-groups of %zu work-items requested; the device runs "
                             "this kernel with at most %zu", what, group_size, max_local);
    return CLS_OK;
}

cls_status cls__scan_init(cls_context *ctx, cls__scan *scan)
{
    memset(scan, 0, sizeof *scan);
    const cls_params *p = &ctx->params;
    if (p->scan_group_size < 1 || p->scan_items < 1)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "scan: invalid parameters scan_group_size=%d scan_items=%d",
                             p->scan_group_size, p->scan_items);
    uint64_t block = (uint64_t)p->scan_group_size * (uint64_t)p->scan_items;
    /* scan_blocks / scan_downsweep: a block's tile (none with one work-item) and s[group]. */
    uint64_t local_bytes = ((p->scan_group_size > 1 ? block : 1) + (uint64_t)p->scan_group_size) * sizeof(cl_uint);
    if ((size_t)p->scan_group_size > ctx->rt.info.max_work_group_size || block > (1u << 24) ||
        local_bytes > ctx->rt.info.local_mem)
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT,
                             "scan: scan_group_size=%d x scan_items=%d needs %llu bytes of local memory and %d "
                             "work-items; the device offers %llu bytes and %zu work-items",
                             p->scan_group_size, p->scan_items, (unsigned long long)local_bytes, p->scan_group_size,
                             (unsigned long long)ctx->rt.info.local_mem, ctx->rt.info.max_work_group_size);
    scan->group_size = (size_t)p->scan_group_size;
    scan->block = (uint32_t)block;

    cls_status st = cls__kernel(ctx, "scan", NULL, "scan_reduce", &scan->reduce);
    if (st == CLS_OK)
        st = cls__kernel(ctx, "scan", NULL, "scan_blocks", &scan->scan_blocks);
    if (st == CLS_OK)
        st = cls__kernel(ctx, "scan", NULL, "scan_downsweep", &scan->downsweep);
    cl_kernel kernels[] = {scan->reduce, scan->scan_blocks, scan->downsweep};
    for (int i = 0; st == CLS_OK && i < CLS__ARRAY_COUNT(kernels); i++)
        st = cls__check_group_size(ctx, kernels[i], "scan", scan->group_size);
    if (st != CLS_OK)
        cls__scan_release(scan);
    return st;
}

void cls__scan_release(cls__scan *scan)
{
    cl_kernel *kernels[] = {&scan->reduce, &scan->scan_blocks, &scan->downsweep};
    for (int i = 0; i < CLS__ARRAY_COUNT(kernels); i++) {
        if (*kernels[i] != NULL)
            clReleaseKernel(*kernels[i]);
        *kernels[i] = NULL;
    }
    for (int l = 0; l < CLS__SCAN_MAX_LEVELS; l++)
        clh_buffer_release(&scan->block_sums[l]);
}

static clh_launch_desc scan_launch(const cls__scan *scan, const char *name, size_t groups)
{
    return (clh_launch_desc){
        .name = name, .dims = 1, .items = {groups * scan->group_size}, .local = {scan->group_size}, .exact_local = 1};
}

static cls_status scan_level(cls_context *ctx, cls__scan *scan, cl_mem in, cl_mem out, cl_uint n, cl_mem total,
                             cls__profile *prof, cls_pass pass, int level)
{
    if (n <= scan->block || level >= CLS__SCAN_MAX_LEVELS) {
        /* One work-group scans everything; total (or a dummy, never written) as argument 3. */
        cl_uint write_total = total != NULL;
        cl_mem total_arg = total != NULL ? total : out;
        clh_launch_desc desc = scan_launch(scan, "scan_blocks", 1);
        clh_arg args[] = {CLH_ARG(in), CLH_ARG(out), CLH_ARG(n), CLH_ARG(total_arg), CLH_ARG(write_total)};
        return cls__launch(ctx, scan->scan_blocks, &desc, args, CLS__ARRAY_COUNT(args), prof, pass);
    }

    cl_uint blocks = (n + scan->block - 1) / scan->block;
    clh_buffer *sums = &scan->block_sums[level];
    clh_error herr;
    clh_result hr = clh_buffer_reserve(&ctx->rt, sums, (size_t)blocks * sizeof(cl_uint), "scan block sums", &herr);
    if (hr != CLH_OK)
        return cls__from_host(ctx, hr, &herr);

    clh_launch_desc desc = scan_launch(scan, "scan_reduce", blocks);
    clh_arg reduce_args[] = {CLH_ARG(in), CLH_ARG(n), CLH_MEM(*sums)};
    cls_status st = cls__launch(ctx, scan->reduce, &desc, reduce_args, CLS__ARRAY_COUNT(reduce_args), prof, pass);
    if (st != CLS_OK)
        return st;
    st = scan_level(ctx, scan, sums->mem, sums->mem, blocks, total, prof, pass, level + 1);
    if (st != CLS_OK)
        return st;
    desc = scan_launch(scan, "scan_downsweep", blocks);
    clh_arg down_args[] = {CLH_ARG(in), CLH_ARG(out), CLH_ARG(n), CLH_MEM(*sums)};
    return cls__launch(ctx, scan->downsweep, &desc, down_args, CLS__ARRAY_COUNT(down_args), prof, pass);
}

cls_status cls__scan_exclusive(cls_context *ctx, cls__scan *scan, cl_mem in, cl_mem out, uint32_t n, cl_mem total,
                               cls__profile *prof, cls_pass pass)
{
    if (scan->reduce == NULL || in == NULL || out == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls__scan_exclusive: scan not initialised or no buffer");
    if (n >= UINT32_C(0x80000000))
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "scan of %u elements: at most 2^31 - 1 are supported", n);
    if (n == 0 && total == NULL)
        return CLS_OK;
    return scan_level(ctx, scan, in, out, (cl_uint)n, total, prof, pass, 0);
}
