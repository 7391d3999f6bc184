/* project.cl - per Gaussian and camera: cull, 3D covariance, EWA projection to a 2D conic,
 * opacity (with optional antialiasing compensation), screen extent, tiles touched, and the
 * view-dependent colour from spherical harmonics. 3dgs-math.md sections 2 and 3; the
 * conventions are gsplat's (pinhole K, pixel centres at +0.5, per-axis opacity-aware radii).
 *
 * Buffers (n Gaussians, structure of arrays):
 *   means[3n], log_scales[3n], quats[n] (w, x, y, z; any norm), opacity_logits[n],
 *   sh[n * sh_stride * 3] (coefficient-major, RGB innermost)
 * Camera:
 *   pose   = (R row-major s0..s8, t s9..sb, camera centre sc..se, unused sf)
 *   intr   = (fx, fy, cx, cy, near, far, width, height)
 * Outputs per Gaussian:
 *   xy (pixels), conic_opacity (A, B, C, opacity), rgb[3n], depth (camera z),
 *   radius (pixels per axis; 0 when culled), tiles (tiles touched; 0 when culled),
 *   visible (1 when tiles > 0), clamped (bit c set when colour channel c was clamped at 0).
 */

#ifndef CLS_ANTIALIASED
#define CLS_ANTIALIASED 0 /* multiply opacity by the Mip-Splatting compensation */
#endif

#define SH_C0 0.28209479177387814f
#define SH_C1 0.4886025119029199f
#define SH_C2_0 1.0925484305920792f
#define SH_C2_1 -1.0925484305920792f
#define SH_C2_2 0.31539156525252005f
#define SH_C2_3 -1.0925484305920792f
#define SH_C2_4 0.5462742152960396f
#define SH_C3_0 -0.5900435899266435f
#define SH_C3_1 2.890611442640554f
#define SH_C3_2 -0.4570457994644658f
#define SH_C3_3 0.3731763325901154f
#define SH_C3_4 -0.4570457994644658f
#define SH_C3_5 1.445305721320277f
#define SH_C3_6 -0.5900435899266435f

/* Colour (before the +0.5 and the clamp) of SH coefficients c[k*3 + channel] toward unit
 * direction d, up to `degree`. */
inline float3 cls_eval_sh(__global const float *c, uint degree, float3 d)
{
    float3 result = SH_C0 * vload3(0, c);
    if (degree < 1)
        return result;
    float x = d.x, y = d.y, z = d.z;
    result += -SH_C1 * y * vload3(1, c) + SH_C1 * z * vload3(2, c) - SH_C1 * x * vload3(3, c);
    if (degree < 2)
        return result;
    float xx = x * x, yy = y * y, zz = z * z, xy = x * y, yz = y * z, xz = x * z;
    result += SH_C2_0 * xy * vload3(4, c) + SH_C2_1 * yz * vload3(5, c) +
              SH_C2_2 * (2.0f * zz - xx - yy) * vload3(6, c) + SH_C2_3 * xz * vload3(7, c) +
              SH_C2_4 * (xx - yy) * vload3(8, c);
    if (degree < 3)
        return result;
    result += SH_C3_0 * y * (3.0f * xx - yy) * vload3(9, c) + SH_C3_1 * xy * z * vload3(10, c) +
              SH_C3_2 * y * (4.0f * zz - xx - yy) * vload3(11, c) +
              SH_C3_3 * z * (2.0f * zz - 3.0f * xx - 3.0f * yy) * vload3(12, c) +
              SH_C3_4 * x * (4.0f * zz - xx - yy) * vload3(13, c) + SH_C3_5 * z * (xx - yy) * vload3(14, c) +
              SH_C3_6 * x * (xx - 3.0f * yy) * vload3(15, c);
    return result;
}

__kernel void project(uint n, __global const float *means, __global const float *log_scales,
                      __global const float4 *quats, __global const float *opacity_logits,
                      __global const float *sh, uint sh_stride, uint sh_degree, float16 pose, float8 intr,
                      uint tiles_x, uint tiles_y, __global float2 *xy, __global float4 *conic_opacity,
                      __global float *rgb, __global float *depth, __global int2 *radius, __global uint *tiles,
                      __global uint *visible, __global uchar *clamped)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    radius[i] = (int2)(0, 0);
    tiles[i] = 0;
    visible[i] = 0;
    clamped[i] = 0;

    const float fx = intr.s0, fy = intr.s1, cx = intr.s2, cy = intr.s3;
    const float width = intr.s6, height = intr.s7;
    const float3 mean = vload3(i, means);
    const float3 p = (float3)(dot(pose.s012, mean), dot(pose.s345, mean), dot(pose.s678, mean)) + pose.s9ab;
    depth[i] = p.z;
    if (!(p.z >= intr.s4 && p.z <= intr.s5))
        return;

    /* 3D covariance: R(q) diag(s^2) R(q)^T (section 2.3). */
    float4 q = quats[i];
    float qn = length(q);
    if (!(qn > 0.0f))
        return;
    q /= qn;
    const float w = q.s0, x = q.s1, y = q.s2, z = q.s3;
    const float3 r0 = (float3)(1.0f - 2.0f * (y * y + z * z), 2.0f * (x * y - w * z), 2.0f * (x * z + w * y));
    const float3 r1 = (float3)(2.0f * (x * y + w * z), 1.0f - 2.0f * (x * x + z * z), 2.0f * (y * z - w * x));
    const float3 r2 = (float3)(2.0f * (x * z - w * y), 2.0f * (y * z + w * x), 1.0f - 2.0f * (x * x + y * y));
    const float3 s = exp(vload3(i, log_scales));
    /* Rows of M = R(q) diag(s): Sigma = M M^T. */
    const float3 m0 = r0 * s, m1 = r1 * s, m2 = r2 * s;

    /* Camera rotation applied: W = R_cw M, Sigma_c = W W^T (section 2.4). */
    const float3 c0 = pose.s012, c1 = pose.s345, c2 = pose.s678;
    /* Column j of M is (m0[j], m1[j], m2[j]); W row r = sum_k Rcw[r][k] * M row k. */
    const float3 w0 = c0.x * m0 + c0.y * m1 + c0.z * m2;
    const float3 w1 = c1.x * m0 + c1.y * m1 + c1.z * m2;
    const float3 w2 = c2.x * m0 + c2.y * m1 + c2.z * m2;

    /* Jacobian with the frustum clamp (gsplat's asymmetric limits). */
    const float tan_x = 0.5f * width / fx, tan_y = 0.5f * height / fy;
    const float lim_xp = (width - cx) / fx + 0.3f * tan_x, lim_xn = cx / fx + 0.3f * tan_x;
    const float lim_yp = (height - cy) / fy + 0.3f * tan_y, lim_yn = cy / fy + 0.3f * tan_y;
    const float rz = 1.0f / p.z;
    const float tx = p.z * clamp(p.x * rz, -lim_xn, lim_xp);
    const float ty = p.z * clamp(p.y * rz, -lim_yn, lim_yp);
    const float j00 = fx * rz, j02 = -fx * tx * rz * rz;
    const float j11 = fy * rz, j12 = -fy * ty * rz * rz;
    /* T = J W (2x3); Sigma_2D = T T^T. */
    const float3 t0 = j00 * w0 + j02 * w2;
    const float3 t1 = j11 * w1 + j12 * w2;
    float a = dot(t0, t0), b = dot(t0, t1), c = dot(t1, t1);
    const float det0 = a * c - b * b;
    a += CLS_DILATION;
    c += CLS_DILATION;
    const float det = a * c - b * b;
    if (!(det > 0.0f))
        return;

    float opacity = 1.0f / (1.0f + exp(-opacity_logits[i]));
#if CLS_ANTIALIASED
    opacity *= sqrt(fmax(CLS_AA_MIN_RATIO, det0 / det));
#else
    (void)det0;
#endif
    if (!(opacity >= CLS_ALPHA_MIN))
        return;

    const float2 mean2d = (float2)(fx * p.x * rz + cx, fy * p.y * rz + cy);
    /* Opacity-aware extent: beyond k sigmas alpha < 1/255 (gsplat 1.5.3). */
    const float k = fmin(CLS_EXTENT_SIGMAS, sqrt(2.0f * log(255.0f * opacity)));
    const int2 r = (int2)((int)ceil(k * sqrt(a)), (int)ceil(k * sqrt(c)));
    if (r.x <= 0 && r.y <= 0)
        return;
    if (mean2d.x + (float)r.x <= 0.0f || mean2d.x - (float)r.x >= width || mean2d.y + (float)r.y <= 0.0f ||
        mean2d.y - (float)r.y >= height)
        return;
    const int4 rect = cls_tile_rect(mean2d, r, tiles_x, tiles_y);
    const uint touched = (uint)((rect.s2 - rect.s0) * (rect.s3 - rect.s1));
    if (touched == 0)
        return;

    /* Colour toward the Gaussian from the camera centre (section 3). */
    const float3 dir = normalize(mean - pose.scde);
    float3 colour = cls_eval_sh(sh + (size_t)i * sh_stride * 3, sh_degree, dir) + 0.5f;
    clamped[i] = (uchar)((colour.x < 0.0f ? 1 : 0) | (colour.y < 0.0f ? 2 : 0) | (colour.z < 0.0f ? 4 : 0));
    colour = fmax(colour, 0.0f);

    const float inv_det = 1.0f / det;
    xy[i] = mean2d;
    conic_opacity[i] = (float4)(c * inv_det, -b * inv_det, a * inv_det, opacity);
    vstore3(colour, i, rgb);
    radius[i] = r;
    tiles[i] = touched;
    visible[i] = 1;
}
