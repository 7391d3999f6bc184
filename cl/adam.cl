/* adam.cl - one fused Adam update per parameter group (3dgs-math.md section 7.2):
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
 * with the bias corrections bc1 = 1 - b1^t and bc2 = 1 - b2^t computed by the host. Dense, as
 * the reference trainer's default optimiser: every value of the group is updated. */
__kernel void adam(uint count, __global float *param, __global const float *grad, __global float *m,
                   __global float *v, float lr, float b1, float b2, float eps, float bc1, float bc2)
{
    const uint i = get_global_id(0);
    if (i >= count)
        return;
    const float g = grad[i];
    const float mi = b1 * m[i] + (1.0f - b1) * g;
    const float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
}

/* Adam over the SH coefficients of `count` Gaussians with `stride` values each (K coefficients
 * times RGB): the first three values of a Gaussian (the DC term) take lr_dc, the rest lr_rest
 * (the reference's separate f_dc and f_rest groups). A 2D launch (value, Gaussian) keeps the
 * index arithmetic free of divisions. */
__kernel void adam_sh(uint count, uint stride, __global float *param, __global const float *grad, __global float *m,
                      __global float *v, float lr_dc, float lr_rest, float b1, float b2, float eps, float bc1,
                      float bc2)
{
    const uint c = get_global_id(0), g = get_global_id(1);
    if (c >= stride || g >= count)
        return;
    const size_t i = (size_t)g * stride + c;
    const float gr = grad[i];
    const float mi = b1 * m[i] + (1.0f - b1) * gr;
    const float vi = b2 * v[i] + (1.0f - b2) * gr * gr;
    m[i] = mi;
    v[i] = vi;
    param[i] -= (c < 3 ? lr_dc : lr_rest) * (mi / bc1) / (sqrt(vi / bc2) + eps);
}
