#include "sort.h"

#include <stdio.h>
#include <string.h>

/* Kernel variant: GPUs reorder each block in local memory so that stores are coalesced;
 * CPUs (PoCL) write each work-item's keys straight to their places. */
static int sort_reorders(const cls_context *ctx) { return ctx->params.sort_reorder; }

cls_status cls__sort_init(cls_context *ctx, cls__sort *sort) { return cls__sort_init_variant(ctx, sort, -1); }

cls_status cls__sort_init_variant(cls_context *ctx, cls__sort *sort, int reorder)
{
    memset(sort, 0, sizeof *sort);
    const cls_params *p = &ctx->params;
    if (p->sort_radix_bits < 1 || p->sort_radix_bits > 8 || p->sort_group_size < 1 || p->sort_items < 1)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "sort: invalid parameters sort_radix_bits=%d (1..8) sort_group_size=%d sort_items=%d",
                             p->sort_radix_bits, p->sort_group_size, p->sort_items);
    if (reorder < 0)
        reorder = sort_reorders(ctx);
    reorder = reorder != 0;
    uint64_t radix = UINT64_C(1) << p->sort_radix_bits;
    uint64_t block = (uint64_t)p->sort_group_size * (uint64_t)p->sort_items;
    /* radix_scatter's local memory: ranks[radix][group], delta[radix], s[group], and with
     * the reorder variant the block's keys and values. */
    uint64_t local_bytes = (radix * (uint64_t)p->sort_group_size + radix + (uint64_t)p->sort_group_size +
                            (reorder ? 2 * block : 0)) * sizeof(cl_uint);
    if ((size_t)p->sort_group_size > ctx->rt.info.max_work_group_size || block > (1u << 24) ||
        local_bytes > ctx->rt.info.local_mem)
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT,
                             "sort: sort_radix_bits=%d, sort_group_size=%d x sort_items=%d needs %llu bytes of "
                             "local memory and %d work-items; the device offers %llu bytes and %zu work-items",
                             p->sort_radix_bits, p->sort_group_size, p->sort_items, (unsigned long long)local_bytes,
                             p->sort_group_size, (unsigned long long)ctx->rt.info.local_mem,
                             ctx->rt.info.max_work_group_size);
    sort->radix_bits = (uint32_t)p->sort_radix_bits;
    sort->group_size = (size_t)p->sort_group_size;
    sort->block = (uint32_t)block;
    sort->reorder = reorder;

    char options[64];
    snprintf(options, sizeof options, "-DCLS_SORT_REORDER=%d", reorder);
    cls_status st = cls__scan_init(ctx, &sort->scan);
    if (st == CLS_OK)
        st = cls__kernel(ctx, "radix_sort", options, "radix_histogram", &sort->histogram_kernel);
    if (st == CLS_OK)
        st = cls__kernel(ctx, "radix_sort", options, "radix_scatter", &sort->scatter_kernel);
    if (st == CLS_OK)
        st = cls__check_group_size(ctx, sort->histogram_kernel, "sort", sort->group_size);
    if (st == CLS_OK)
        st = cls__check_group_size(ctx, sort->scatter_kernel, "sort", sort->group_size);
    if (st != CLS_OK)
        cls__sort_release(sort);
    return st;
}

void cls__sort_release(cls__sort *sort)
{
    if (sort->histogram_kernel != NULL)
        clReleaseKernel(sort->histogram_kernel);
    if (sort->scatter_kernel != NULL)
        clReleaseKernel(sort->scatter_kernel);
    sort->histogram_kernel = NULL;
    sort->scatter_kernel = NULL;
    cls__scan_release(&sort->scan);
    cls__sort_trim(sort);
}

void cls__sort_trim(cls__sort *sort)
{
    clh_buffer_release(&sort->histogram);
    clh_buffer_release(&sort->keys_alt);
    clh_buffer_release(&sort->values_alt);
}

uint32_t cls__sort_passes(const cls__sort *sort, uint32_t key_bits)
{
    return sort->radix_bits == 0 ? 0 : (key_bits + sort->radix_bits - 1) / sort->radix_bits;
}

cls_status cls__sort_pairs(cls_context *ctx, cls__sort *sort, clh_buffer *keys, clh_buffer *values, uint32_t n,
                           uint32_t key_bits, cls__profile *prof, cls_pass pass)
{
    if (sort->histogram_kernel == NULL || keys == NULL || values == NULL)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "cls__sort_pairs: sorter not initialised or no buffers");
    if (key_bits > 32)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT, "sort: key_bits is %u; at most 32", key_bits);
    if (n >= UINT32_C(0x80000000))
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "sort of %u pairs: at most 2^31 - 1 are supported", n);
    if (n <= 1 || key_bits == 0)
        return CLS_OK;
    size_t bytes = (size_t)n * sizeof(cl_uint);
    if (keys->mem == NULL || values->mem == NULL || keys->size < bytes || values->size < bytes)
        return cls__ctx_fail(ctx, CLS_ERROR_INVALID_ARGUMENT,
                             "sort of %u pairs: the key and value buffers hold %zu and %zu bytes, %zu needed", n,
                             keys->size, values->size, bytes);

    cl_uint blocks = (n + sort->block - 1) / sort->block;
    uint64_t table = (uint64_t)blocks << sort->radix_bits;
    if (table >= UINT64_C(0x80000000))
        return cls__ctx_fail(ctx, CLS_ERROR_LIMIT, "sort of %u pairs: the histogram of %llu entries is too large", n,
                             (unsigned long long)table);
    clh_error herr;
    clh_result hr = clh_buffer_reserve(&ctx->rt, &sort->keys_alt, bytes, "sort keys", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_reserve(&ctx->rt, &sort->values_alt, bytes, "sort values", &herr);
    if (hr == CLH_OK)
        hr = clh_buffer_reserve(&ctx->rt, &sort->histogram, (size_t)table * sizeof(cl_uint), "sort histogram", &herr);
    if (hr != CLH_OK)
        return cls__from_host(ctx, hr, &herr);

    clh_buffer *src_keys = keys, *src_values = values;
    clh_buffer *dst_keys = &sort->keys_alt, *dst_values = &sort->values_alt;
    clh_launch_desc desc = {.dims = 1, .items = {(size_t)blocks * sort->group_size}, .local = {sort->group_size},
                            .exact_local = 1};
    cl_uint n_arg = n;
    for (uint32_t shift = 0; shift < key_bits; shift += sort->radix_bits) {
        uint32_t bits = key_bits - shift < sort->radix_bits ? key_bits - shift : sort->radix_bits;
        cl_uint shift_arg = shift;
        cl_uint mask = (cl_uint)((UINT64_C(1) << bits) - 1);

        desc.name = "radix_histogram";
        clh_arg hist_args[] = {CLH_MEM(*src_keys), CLH_ARG(n_arg), CLH_ARG(shift_arg), CLH_ARG(mask),
                               CLH_ARG(blocks),    CLH_MEM(sort->histogram)};
        cls_status st = cls__launch(ctx, sort->histogram_kernel, &desc, hist_args, CLS__ARRAY_COUNT(hist_args), prof,
                                    pass);
        if (st == CLS_OK)
            st = cls__scan_exclusive(ctx, &sort->scan, sort->histogram.mem, sort->histogram.mem, (uint32_t)table, NULL,
                                     prof, pass);
        if (st != CLS_OK)
            return st;
        desc.name = "radix_scatter";
        clh_arg scatter_args[] = {CLH_MEM(*src_keys), CLH_MEM(*src_values),    CLH_ARG(n_arg),
                                  CLH_ARG(shift_arg), CLH_ARG(mask),           CLH_ARG(blocks),
                                  CLH_MEM(sort->histogram), CLH_MEM(*dst_keys), CLH_MEM(*dst_values)};
        st = cls__launch(ctx, sort->scatter_kernel, &desc, scatter_args, CLS__ARRAY_COUNT(scatter_args), prof, pass);
        if (st != CLS_OK)
            return st;
        clh_buffer *t = src_keys;
        src_keys = dst_keys;
        dst_keys = t;
        t = src_values;
        src_values = dst_values;
        dst_values = t;
    }
    if (src_keys != keys) { /* an odd number of passes: the result is in the alternates */
        clh_buffer t = *keys;
        *keys = sort->keys_alt;
        sort->keys_alt = t;
        t = *values;
        *values = sort->values_alt;
        sort->values_alt = t;
    }
    return CLS_OK;
}
