/* densify.cl - adaptive density control on the device (3dgs-math.md section 8):
 *   densify_plan    per Gaussian: how many Gaussians it becomes (0 pruned, 1 kept, 2 cloned or
 *                   split), from the averaged gradient, its largest scale and its opacity
 *   densify_geometry  writes the new means, scales, rotations and opacities at the scanned
 *                   offsets: split children are sampled from the parent (N(0, S) in its frame)
 *                   with scales divided by 1.6
 *   densify_copy    moves one other array (SH, an Adam moment) to the new offsets: kept and
 *                   cloned Gaussians keep their moments, clones and split children start at 0
 *   opacity_reset   opacity <- min(opacity, 0.01), its moments zeroed
 * Randomness (split children) comes from a counter-based hash of (seed, step, Gaussian,
 * child): deterministic whatever the launch shape. */

/* Actions in the plan (multiplicities are derived from them). */
#define CLS_KEEP 1u
#define CLS_CLONE 2u
#define CLS_SPLIT 3u
#define CLS_PRUNE 0u

inline float cls_max_scale(__global const float *log_scales, uint i)
{
    return exp(fmax(log_scales[3 * i], fmax(log_scales[3 * i + 1], log_scales[3 * i + 2])));
}

/* plan[i]: the action; count[i]: how many Gaussians it becomes. prune_large enables the
 * world-size prune (the reference does it after the first opacity reset). */
__kernel void densify_plan(uint n, __global const float *grad_accum, __global const uint *denom,
                           __global const float *log_scales, __global const float *opacity_logits, float grad_threshold,
                           float dense_scale, float prune_scale, float min_opacity_logit, uint prune_large,
                           uint allow_growth, __global uint *plan, __global uint *count)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    const float grad = denom[i] > 0 ? grad_accum[i] / (float)denom[i] : 0.0f;
    const float size = cls_max_scale(log_scales, i);
    uint action = CLS_KEEP;
    if (allow_growth && grad >= grad_threshold)
        action = size <= dense_scale ? CLS_CLONE : CLS_SPLIT;
    /* Pruning looks at what the Gaussian becomes: clones keep its opacity and size, split
     * children its opacity and 1/1.6 of its size. */
    const float out_size = action == CLS_SPLIT ? size / 1.6f : size;
    if (opacity_logits[i] < min_opacity_logit || (prune_large && out_size > prune_scale))
        action = CLS_PRUNE;
    plan[i] = action;
    count[i] = action == CLS_PRUNE ? 0u : (action == CLS_KEEP ? 1u : 2u);
}

/* A uniform float in (0, 1) from a hash of four counters (a few rounds of a 32-bit mixer). */
inline float cls_hash_uniform(uint a, uint b, uint c, uint d)
{
    uint h = a * 0x9e3779b9u ^ b * 0x85ebca6bu ^ c * 0xc2b2ae35u ^ d * 0x27d4eb2fu;
    for (int r = 0; r < 3; r++) {
        h ^= h >> 16;
        h *= 0x7feb352du;
        h ^= h >> 15;
        h *= 0x846ca68bu;
        h ^= h >> 16;
    }
    return ((float)(h >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

/* A standard normal sample (Box-Muller) for component `k` of child `child`. */
inline float cls_hash_normal(uint seed, uint step, uint i, uint child, uint k)
{
    const float u1 = cls_hash_uniform(seed, step, i, child * 8u + k);
    const float u2 = cls_hash_uniform(seed ^ 0x5bd1e995u, step, i, child * 8u + k);
    return sqrt(-2.0f * log(u1)) * cos(6.283185307179586f * u2);
}

/* Whether output c of a Gaussian with this action keeps the Adam moments: the kept Gaussian
 * (or the first of a clone pair) keeps its own; a clone and split children start from zero,
 * as the reference appends them. */
inline int cls_keeps_moments(uint action, uint c) { return action == CLS_KEEP || (action == CLS_CLONE && c == 0); }

/* The new geometry arrays (means, log-scales, quaternions, opacity logits) at the scanned
 * offsets; one work-item per old Gaussian, `offset` the exclusive scan of its count. Split
 * children are sampled from the parent: mean + R(q) (s * eps), eps ~ N(0, I), scale s / 1.6. */
__kernel void densify_geometry(uint n, uint seed, uint step, __global const uint *plan, __global const uint *offset,
                               __global const float *means, __global const float *log_scales,
                               __global const float4 *quats, __global const float *opacity, __global float *o_means,
                               __global float *o_log_scales, __global float4 *o_quats, __global float *o_opacity)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    const uint action = plan[i];
    if (action == CLS_PRUNE)
        return;
    const uint outs = action == CLS_KEEP ? 1u : 2u;
    const float4 q = quats[i];
    for (uint c = 0; c < outs; c++) {
        const uint o = offset[i] + c;
        if (action == CLS_SPLIT) {
            const float qn = length(q);
            const float w = q.s0 / qn, x = q.s1 / qn, y = q.s2 / qn, z = q.s3 / qn;
            const float s0 = exp(log_scales[3 * i]), s1 = exp(log_scales[3 * i + 1]), s2 = exp(log_scales[3 * i + 2]);
            const float e0 = s0 * cls_hash_normal(seed, step, i, c, 0), e1 = s1 * cls_hash_normal(seed, step, i, c, 1),
                        e2 = s2 * cls_hash_normal(seed, step, i, c, 2);
            o_means[3 * o] = means[3 * i] + (1.0f - 2.0f * (y * y + z * z)) * e0 + 2.0f * (x * y - w * z) * e1 +
                             2.0f * (x * z + w * y) * e2;
            o_means[3 * o + 1] = means[3 * i + 1] + 2.0f * (x * y + w * z) * e0 + (1.0f - 2.0f * (x * x + z * z)) * e1 +
                                 2.0f * (y * z - w * x) * e2;
            o_means[3 * o + 2] = means[3 * i + 2] + 2.0f * (x * z - w * y) * e0 + 2.0f * (y * z + w * x) * e1 +
                                 (1.0f - 2.0f * (x * x + y * y)) * e2;
            for (uint k = 0; k < 3; k++)
                o_log_scales[3 * o + k] = log_scales[3 * i + k] - log(1.6f);
        } else {
            for (uint k = 0; k < 3; k++) {
                o_means[3 * o + k] = means[3 * i + k];
                o_log_scales[3 * o + k] = log_scales[3 * i + k];
            }
        }
        o_quats[o] = q;
        o_opacity[o] = opacity[i];
    }
}

/* Any other per-Gaussian array of `stride` values (SH coefficients, Adam moments) at the
 * scanned offsets: copied, or with `moments` zero for the outputs that start afresh. One
 * array per launch, so the host can free each old array before it allocates the next. */
__kernel void densify_copy(uint n, uint stride, uint moments, __global const uint *plan, __global const uint *offset,
                           __global const float *src, __global float *dst)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    const uint action = plan[i];
    if (action == CLS_PRUNE)
        return;
    const uint outs = action == CLS_KEEP ? 1u : 2u;
    for (uint c = 0; c < outs; c++) {
        const size_t o = (size_t)(offset[i] + c) * stride;
        const int keep = !moments || cls_keeps_moments(action, c);
        for (uint k = 0; k < stride; k++)
            dst[o + k] = keep ? src[(size_t)i * stride + k] : 0.0f;
    }
}

/* opacity <- min(opacity, reset) in logit space; its Adam moments are zeroed. */
__kernel void opacity_reset(uint n, float reset_logit, __global float *opacity, __global float *m, __global float *v)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    opacity[i] = fmin(opacity[i], reset_logit);
    m[i] = 0.0f;
    v[i] = 0.0f;
}
