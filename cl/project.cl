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
 *   radius (pixels per axis; 0 when culled), sigma_max (the largest exponent with alpha >=
 *   1/255, plus the row-test margin: log(255 opacity)), tiles (tiles of the bounding rectangle
 *   the alpha >= 1/255 ellipse touches, see cls_tile_span; 0 when culled),
 *   visible (1 when tiles > 0), clamped (bit c set when colour channel c was clamped at 0).
 */

#ifndef CLS_ANTIALIASED
#define CLS_ANTIALIASED 0 /* multiply opacity by the Mip-Splatting compensation */
#endif


/* Adds basis value `b` times coefficient k (RGB) of c to colour. */
#define CLS_SH_ADD(k, b)                                                                     \
    do {                                                                                     \
        const float basis_ = (b);                                                            \
        colour.x += basis_ * c[3 * (k)];                                                     \
        colour.y += basis_ * c[3 * (k) + 1];                                                 \
        colour.z += basis_ * c[3 * (k) + 2];                                                 \
    } while (0)

/* Colour (before the +0.5 and the clamp) of SH coefficients c[k*3 + channel] toward the unit
 * direction (x, y, z), up to `degree` (section 3, INRIA's polynomial forms). Written without
 * a private array: Oclgrind 21.10's uninitialised-value checker crashes on one here. */
inline float4 cls_eval_sh(__global const float *c, uint degree, float x, float y, float z)
{
    float4 colour = (float4)(0.0f);
    CLS_SH_ADD(0, SH_C0);
    if (degree >= 1) {
        CLS_SH_ADD(1, -SH_C1 * y);
        CLS_SH_ADD(2, SH_C1 * z);
        CLS_SH_ADD(3, -SH_C1 * x);
    }
    if (degree >= 2) {
        const float xx = x * x, yy = y * y, zz = z * z;
        CLS_SH_ADD(4, SH_C2_0 * x * y);
        CLS_SH_ADD(5, SH_C2_1 * y * z);
        CLS_SH_ADD(6, SH_C2_2 * (2.0f * zz - xx - yy));
        CLS_SH_ADD(7, SH_C2_3 * x * z);
        CLS_SH_ADD(8, SH_C2_4 * (xx - yy));
    }
    if (degree >= 3) {
        const float xx = x * x, yy = y * y, zz = z * z;
        CLS_SH_ADD(9, SH_C3_0 * y * (3.0f * xx - yy));
        CLS_SH_ADD(10, SH_C3_1 * x * y * z);
        CLS_SH_ADD(11, SH_C3_2 * y * (4.0f * zz - xx - yy));
        CLS_SH_ADD(12, SH_C3_3 * z * (2.0f * zz - 3.0f * xx - 3.0f * yy));
        CLS_SH_ADD(13, SH_C3_4 * x * (4.0f * zz - xx - yy));
        CLS_SH_ADD(14, SH_C3_5 * z * (xx - yy));
        CLS_SH_ADD(15, SH_C3_6 * x * (xx - 3.0f * yy));
    }
    return colour;
}

__kernel void project(uint n, __global const float *means, __global const float *log_scales,
                      __global const float4 *quats, __global const float *opacity_logits,
                      __global const float *sh, uint sh_stride, uint sh_degree, float16 pose, float8 intr,
                      uint tiles_x, uint tiles_y, __global float *xy, __global float *conic_opacity,
                      __global float *rgb, __global float *depth, __global int *radius,
                      __global float *sigma_max, __global uint *tiles, __global uint *visible,
                      __global uchar *clamped)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    /* Every output is written for every Gaussian, culled ones included (zeros), so later
     * passes never see stale or uninitialised values. */
    /* (Scalar stores: Oclgrind 21.10 mistakes stores of constant vectors for stores of
     * undefined values.) */
    for (int k = 0; k < 4; k++)
        conic_opacity[4 * i + k] = 0.0f;
    xy[2 * i] = xy[2 * i + 1] = 0.0f;
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = 0.0f;
    radius[2 * i] = radius[2 * i + 1] = 0;
    sigma_max[i] = 0.0f;
    tiles[i] = 0;
    visible[i] = 0;
    clamped[i] = 0;

    const float fx = intr.s0, fy = intr.s1, cx = intr.s2, cy = intr.s3;
    const float width = intr.s6, height = intr.s7;
    /* Scalars rather than float3: a float3 carries an undefined fourth lane, which
     * Oclgrind's uninitialised-value checker reports. */
    const float mx = means[3 * i], my = means[3 * i + 1], mz = means[3 * i + 2];
    const float px = pose.s0 * mx + pose.s1 * my + pose.s2 * mz + pose.s9;
    const float py = pose.s3 * mx + pose.s4 * my + pose.s5 * mz + pose.sa;
    const float pz = pose.s6 * mx + pose.s7 * my + pose.s8 * mz + pose.sb;
    depth[i] = pz;
    if (!(pz >= intr.s4 && pz <= intr.s5))
        return;

    /* 3D covariance: R(q) diag(s^2) R(q)^T (section 2.3), as M M^T with M = R(q) diag(s). */
    float4 q = quats[i];
    const float qn = length(q);
    if (!(qn > 0.0f))
        return;
    q /= qn;
    const float w = q.s0, x = q.s1, y = q.s2, z = q.s3;
    const float sx = exp(log_scales[3 * i]), sy = exp(log_scales[3 * i + 1]), sz = exp(log_scales[3 * i + 2]);
    const float m00 = (1.0f - 2.0f * (y * y + z * z)) * sx, m01 = 2.0f * (x * y - w * z) * sy,
                m02 = 2.0f * (x * z + w * y) * sz;
    const float m10 = 2.0f * (x * y + w * z) * sx, m11 = (1.0f - 2.0f * (x * x + z * z)) * sy,
                m12 = 2.0f * (y * z - w * x) * sz;
    const float m20 = 2.0f * (x * z - w * y) * sx, m21 = 2.0f * (y * z + w * x) * sy,
                m22 = (1.0f - 2.0f * (x * x + y * y)) * sz;

    /* V = R_cw M: Sigma_c = V V^T (section 2.4). */
    const float v00 = pose.s0 * m00 + pose.s1 * m10 + pose.s2 * m20;
    const float v01 = pose.s0 * m01 + pose.s1 * m11 + pose.s2 * m21;
    const float v02 = pose.s0 * m02 + pose.s1 * m12 + pose.s2 * m22;
    const float v10 = pose.s3 * m00 + pose.s4 * m10 + pose.s5 * m20;
    const float v11 = pose.s3 * m01 + pose.s4 * m11 + pose.s5 * m21;
    const float v12 = pose.s3 * m02 + pose.s4 * m12 + pose.s5 * m22;
    const float v20 = pose.s6 * m00 + pose.s7 * m10 + pose.s8 * m20;
    const float v21 = pose.s6 * m01 + pose.s7 * m11 + pose.s8 * m21;
    const float v22 = pose.s6 * m02 + pose.s7 * m12 + pose.s8 * m22;

    /* Jacobian with the frustum clamp (gsplat's asymmetric limits; 1.3 tan(fov/2) when the
     * principal point is centred). */
    const float tan_x = 0.5f * width / fx, tan_y = 0.5f * height / fy;
    const float lim_xp = (width - cx) / fx + 0.3f * tan_x, lim_xn = cx / fx + 0.3f * tan_x;
    const float lim_yp = (height - cy) / fy + 0.3f * tan_y, lim_yn = cy / fy + 0.3f * tan_y;
    const float rz = 1.0f / pz;
    const float tx = pz * clamp(px * rz, -lim_xn, lim_xp);
    const float ty = pz * clamp(py * rz, -lim_yn, lim_yp);
    const float j00 = fx * rz, j02 = -fx * tx * rz * rz;
    const float j11 = fy * rz, j12 = -fy * ty * rz * rz;
    /* T = J V (2x3); Sigma_2D = T T^T. */
    const float t00 = j00 * v00 + j02 * v20, t01 = j00 * v01 + j02 * v21, t02 = j00 * v02 + j02 * v22;
    const float t10 = j11 * v10 + j12 * v20, t11 = j11 * v11 + j12 * v21, t12 = j11 * v12 + j12 * v22;
    float a = t00 * t00 + t01 * t01 + t02 * t02;
    const float b = t00 * t10 + t01 * t11 + t02 * t12;
    float c = t10 * t10 + t11 * t11 + t12 * t12;
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

    const float2 mean2d = (float2)(fx * px * rz + cx, fy * py * rz + cy);
    /* Opacity-aware extent: beyond k sigmas alpha < 1/255 (gsplat 1.5.3). */
    const float k = fmin(CLS_EXTENT_SIGMAS, sqrt(2.0f * log(255.0f * opacity)));
    const int2 r = (int2)((int)ceil(k * sqrt(a)), (int)ceil(k * sqrt(c)));
    if (r.x <= 0 && r.y <= 0)
        return;
    if (mean2d.x + (float)r.x <= 0.0f || mean2d.x - (float)r.x >= width || mean2d.y + (float)r.y <= 0.0f ||
        mean2d.y - (float)r.y >= height)
        return;
    int x0, y0, x1, y1;
    CLS_TILE_RECT(mean2d.x, mean2d.y, r.x, r.y, tiles_x, tiles_y, x0, y0, x1, y1);
    const float inv_det = 1.0f / det;
    const float conic_a = c * inv_det, conic_b = -b * inv_det, conic_c = a * inv_det;
    const float limit = log(opacity * 255.0f * CLS_ROW_TEST_MARGIN);
    uint touched = 0;
    for (int ty = y0; ty < y1; ty++) {
        const uint span = cls_tile_span(mean2d.x, mean2d.y, conic_a, conic_b, conic_c, limit, ty, x0, x1);
        touched += (span >> 16) - (span & 0xffffu);
    }
    if (touched == 0)
        return;

    /* Colour toward the Gaussian from the camera centre (section 3). */
    const float dx = mx - pose.sc, dy = my - pose.sd, dz = mz - pose.se;
    const float inv_len = rsqrt(dx * dx + dy * dy + dz * dz);
    const float4 colour = cls_eval_sh(sh + (size_t)i * sh_stride * 3, sh_degree, dx * inv_len, dy * inv_len,
                                      dz * inv_len) + 0.5f;
    const uchar clamp_bits = (uchar)((colour.x < 0.0f ? 1 : 0) | (colour.y < 0.0f ? 2 : 0) | (colour.z < 0.0f ? 4 : 0));
    rgb[3 * i] = fmax(colour.x, 0.0f);
    rgb[3 * i + 1] = fmax(colour.y, 0.0f);
    rgb[3 * i + 2] = fmax(colour.z, 0.0f);
    clamped[i] = clamp_bits;

    xy[2 * i] = mean2d.x;
    xy[2 * i + 1] = mean2d.y;
    conic_opacity[4 * i] = conic_a;
    conic_opacity[4 * i + 1] = conic_b;
    conic_opacity[4 * i + 2] = conic_c;
    conic_opacity[4 * i + 3] = opacity;
    radius[2 * i] = r.x;
    radius[2 * i + 1] = r.y;
    sigma_max[i] = limit;
    tiles[i] = touched;
    visible[i] = 1;
}
