/* project_backward.cl - per Gaussian: sums its (tile, Gaussian) gradients in a fixed order
 * (the atomic-free reduction), then applies the chain rule through the projection to the
 * stored parameters (3dgs-math.md sections 2, 3, 6.2, 6.3): means (through the 2D mean, the
 * covariance Jacobian, the depth and the SH view direction), log-scales, raw quaternions
 * (through the normalisation), opacity logits (through the sigmoid and, in antialiased mode,
 * the compensation), and every SH coefficient of the active degree. Clamped colour channels
 * and an active alpha clamp give zero gradients; the frustum clamp of the Jacobian is
 * differentiated exactly (gsplat's rule). Also writes the densification statistics of this
 * view: the screen-space mean-gradient norm in INRIA's units (pixel gradient scaled by
 * (W/2, H/2), i.e. NDC), gsplat's absgrad norm in the same units, and visibility.
 *
 * Inputs as in project.cl, plus tiles/rank/offsets (where a Gaussian's slots are) and
 * isect_grads (12 values per slot, see rasterize_backward.cl). Two kernels share the chain
 * rule: project_backward stores the gradients (dense: every Gaussian gets a value, zero when it
 * was culled); project_backward_adam feeds them straight into Adam and the densification
 * statistics, so that a training step never holds a gradient array (59 floats per Gaussian). */

#ifndef CLS_ANTIALIASED
#define CLS_ANTIALIASED 0
#endif
#define CLS_GRAD_VALUES 12


/* For basis k with value `b` and gradient (bx, by, bz) with respect to the direction:
 * dL/dsh[k] = b * g (per channel) and dL/dn += (g . sh[k]) * (bx, by, bz). */
#define CLS_SH_BWD(k, b, bx, by, bz)                                                          \
    do {                                                                                       \
        const float basis_ = (b);                                                              \
        d_sh[3 * (k)] = basis_ * g_r;                                                          \
        d_sh[3 * (k) + 1] = basis_ * g_g;                                                      \
        d_sh[3 * (k) + 2] = basis_ * g_b;                                                      \
        const float gc_ = g_r * coef[3 * (k)] + g_g * coef[3 * (k) + 1] + g_b * coef[3 * (k) + 2]; \
        dn_x += gc_ * (bx);                                                                    \
        dn_y += gc_ * (by);                                                                    \
        dn_z += gc_ * (bz);                                                                    \
    } while (0)

/* Everything the chain rule needs of one Gaussian: the stored parameters (read only here;
 * the fused kernel updates them after), the view, and where its slots are. */
#define CLS_PB_INPUTS                                                                                  \
    uint n, __global const float *means, __global const float *log_scales, __global const float4 *quats, \
        __global const float *opacity_logits, __global const float *sh, uint sh_stride, uint sh_degree,  \
        float16 pose, float8 intr, __global const uint *tiles, __global const uint *rank,                \
        __global const uint *offsets, __global const uchar *clamped, __global const float *isect_grads
#define CLS_PB_INPUT_NAMES \
    n, means, log_scales, quats, opacity_logits, sh, sh_stride, sh_degree, pose, intr, tiles, rank, offsets, clamped, \
        isect_grads

/* One Adam update of one value (3dgs-math.md section 7.2): m = b1 m + (1 - b1) g;
 * v = b2 v + (1 - b2) g^2; p -= lr * (m / bc1) / (sqrt(v / bc2) + eps), with bc1 = 1 - b1^t and bc2 = 1 - b2^t. */
inline void cls_adam_value(__global float *p, __global float *m, __global float *v, float g, float lr, float b1,
                           float b2, float eps, float bc1, float bc2)
{
    const float mi = b1 * *m + (1.0f - b1) * g;
    const float vi = b2 * *v + (1.0f - b2) * g * g;
    *m = mi;
    *v = vi;
    *p -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
}

#define CLS_SH_MAX_VALUES 48 /* (CLS_MAX_SH_DEGREE + 1)^2 coefficients times RGB */

/* The gradient of one Gaussian's stored parameters, and the densification statistics of the
 * view: the screen-space mean-gradient norm, the absgrad norm and visibility. */
typedef struct cls_gaussian_grad {
    float means[3], log_scales[3], quats[4], opacity, sh[CLS_SH_MAX_VALUES];
    float grad_norm, absgrad_norm;
    uint visible;
} cls_gaussian_grad;

inline void cls_gaussian_grad_of(uint i, CLS_PB_INPUTS, cls_gaussian_grad *out)
{
    float *d_sh = out->sh;
    for (uint k = 0; k < 3; k++)
        out->means[k] = out->log_scales[k] = 0.0f;
    for (uint k = 0; k < 4; k++)
        out->quats[k] = 0.0f;
    out->opacity = 0.0f;
    for (uint k = 0; k < sh_stride * 3; k++)
        d_sh[k] = 0.0f;
    out->grad_norm = out->absgrad_norm = 0.0f;
    out->visible = 0;
    const uint count = tiles[i];
    if (count == 0)
        return;

    /* The atomic-free reduction: this Gaussian's slots, in order. */
    float gsum[CLS_GRAD_VALUES];
    for (uint v = 0; v < CLS_GRAD_VALUES; v++)
        gsum[v] = 0.0f;
    const uint first = offsets[rank[i]];
    for (uint s = first; s < first + count; s++)
        for (uint v = 0; v < CLS_GRAD_VALUES; v++)
            gsum[v] += isect_grads[CLS_GRAD_VALUES * s + v];
    const uchar cl = clamped[i];
    const float g_r = (cl & 1) ? 0.0f : gsum[0], g_g = (cl & 2) ? 0.0f : gsum[1], g_b = (cl & 4) ? 0.0f : gsum[2];
    const float g_o = gsum[3], g_u = gsum[4], g_v = gsum[5];
    const float g_A = gsum[6], g_B = gsum[7], g_C = gsum[8], g_z = gsum[9];

    const float fx = intr.s0, fy = intr.s1, cx = intr.s2, cy = intr.s3;
    const float width = intr.s6, height = intr.s7;
    out->visible = 1;
    out->grad_norm = hypot(g_u * 0.5f * width, g_v * 0.5f * height);
    out->absgrad_norm = hypot(gsum[10] * 0.5f * width, gsum[11] * 0.5f * height);

    /* ---- recompute the forward quantities (as in project.cl) ---- */
    const float mx = means[3 * i], my = means[3 * i + 1], mz = means[3 * i + 2];
    const float px = pose.s0 * mx + pose.s1 * my + pose.s2 * mz + pose.s9;
    const float py = pose.s3 * mx + pose.s4 * my + pose.s5 * mz + pose.sa;
    const float pz = pose.s6 * mx + pose.s7 * my + pose.s8 * mz + pose.sb;
    const float4 q_raw = quats[i];
    const float qn = length(q_raw);
    const float4 q = q_raw / qn;
    const float w = q.s0, x = q.s1, y = q.s2, z = q.s3;
    const float s0 = exp(log_scales[3 * i]), s1 = exp(log_scales[3 * i + 1]), s2 = exp(log_scales[3 * i + 2]);
    const float r00 = 1.0f - 2.0f * (y * y + z * z), r01 = 2.0f * (x * y - w * z), r02 = 2.0f * (x * z + w * y);
    const float r10 = 2.0f * (x * y + w * z), r11 = 1.0f - 2.0f * (x * x + z * z), r12 = 2.0f * (y * z - w * x);
    const float r20 = 2.0f * (x * z - w * y), r21 = 2.0f * (y * z + w * x), r22 = 1.0f - 2.0f * (x * x + y * y);
    /* M = R(q) diag(s); V = Rcw M; Sigma_2D = T T^T with T = J V. */
    const float m[3][3] = {{r00 * s0, r01 * s1, r02 * s2}, {r10 * s0, r11 * s1, r12 * s2}, {r20 * s0, r21 * s1, r22 * s2}};
    const float rc[3][3] = {{pose.s0, pose.s1, pose.s2}, {pose.s3, pose.s4, pose.s5}, {pose.s6, pose.s7, pose.s8}};
    float vm[3][3];
    for (int r = 0; r < 3; r++)
        for (int col = 0; col < 3; col++)
            vm[r][col] = rc[r][0] * m[0][col] + rc[r][1] * m[1][col] + rc[r][2] * m[2][col];
    const float tan_x = 0.5f * width / fx, tan_y = 0.5f * height / fy;
    const float lim_xp = (width - cx) / fx + 0.3f * tan_x, lim_xn = cx / fx + 0.3f * tan_x;
    const float lim_yp = (height - cy) / fy + 0.3f * tan_y, lim_yn = cy / fy + 0.3f * tan_y;
    const float rz = 1.0f / pz;
    const float ratio_x = px * rz, ratio_y = py * rz;
    const int clamp_x = ratio_x < -lim_xn || ratio_x > lim_xp;
    const int clamp_y = ratio_y < -lim_yn || ratio_y > lim_yp;
    const float tx = pz * clamp(ratio_x, -lim_xn, lim_xp);
    const float ty = pz * clamp(ratio_y, -lim_yn, lim_yp);
    const float j00 = fx * rz, j02 = -fx * tx * rz * rz, j11 = fy * rz, j12 = -fy * ty * rz * rz;
    float t[2][3];
    for (int col = 0; col < 3; col++) {
        t[0][col] = j00 * vm[0][col] + j02 * vm[2][col];
        t[1][col] = j11 * vm[1][col] + j12 * vm[2][col];
    }
    const float a0 = t[0][0] * t[0][0] + t[0][1] * t[0][1] + t[0][2] * t[0][2];
    const float b = t[0][0] * t[1][0] + t[0][1] * t[1][1] + t[0][2] * t[1][2];
    const float c0 = t[1][0] * t[1][0] + t[1][1] * t[1][1] + t[1][2] * t[1][2];
    const float a = a0 + CLS_DILATION, c = c0 + CLS_DILATION;
    const float det = a * c - b * b;
    const float inv_det = 1.0f / det;
    const float cA = c * inv_det, cB = -b * inv_det, cC = a * inv_det; /* the conic = Sigma_2D^-1 */
    const float sig = 1.0f / (1.0f + exp(-opacity_logits[i]));

    /* ---- opacity: o' = sigmoid(l) * rho (antialiased) or sigmoid(l) ---- */
    float g_a = 0.0f, g_b2 = 0.0f, g_c = 0.0f; /* dL/d of Sigma_2D entries a, b (the scalar), c */
#if CLS_ANTIALIASED
    const float det0 = a0 * c0 - b * b;
    const float ratio = det0 / det;
    const float rho = sqrt(fmax(CLS_AA_MIN_RATIO, ratio));
    out->opacity = g_o * rho * sig * (1.0f - sig);
    if (ratio > CLS_AA_MIN_RATIO) {
        /* rho = sqrt(det0 / det): derivatives with respect to the undilated a0, b, c0. */
        const float g_rho = g_o * sig;
        const float g_ratio = g_rho * 0.5f / rho;
        const float inv_det2 = inv_det * inv_det;
        g_a += g_ratio * (c0 * det - det0 * c) * inv_det2;
        g_c += g_ratio * (a0 * det - det0 * a) * inv_det2;
        g_b2 += g_ratio * (-2.0f * b * (det - det0)) * inv_det2;
    }
#else
    out->opacity = g_o * sig * (1.0f - sig);
#endif

    /* ---- conic -> Sigma_2D: dL/dSigma = -Sigma^-1 V Sigma^-1, V = [[gA, gB/2], [gB/2, gC]] ---- */
    {
        const float v00 = g_A, v01 = 0.5f * g_B, v11 = g_C;
        /* P = conic V */
        const float p00 = cA * v00 + cB * v01, p01 = cA * v01 + cB * v11;
        const float p10 = cB * v00 + cC * v01, p11 = cB * v01 + cC * v11;
        /* G = -P conic */
        g_a += -(p00 * cA + p01 * cB);
        g_c += -(p10 * cB + p11 * cC);
        g_b2 += -2.0f * (p00 * cB + p01 * cC); /* b appears twice in the symmetric matrix */
    }

    /* ---- Sigma_2D = T T^T: dL/dT = 2 G T with G = [[g_a, g_b2/2], [g_b2/2, g_c]] ---- */
    float gt[2][3];
    for (int col = 0; col < 3; col++) {
        gt[0][col] = 2.0f * (g_a * t[0][col] + 0.5f * g_b2 * t[1][col]);
        gt[1][col] = 2.0f * (0.5f * g_b2 * t[0][col] + g_c * t[1][col]);
    }
    /* T = J V: dL/dJ = dL/dT V^T (only the non-zero entries of J), dL/dV = J^T dL/dT. */
    const float gj00 = gt[0][0] * vm[0][0] + gt[0][1] * vm[0][1] + gt[0][2] * vm[0][2];
    const float gj02 = gt[0][0] * vm[2][0] + gt[0][1] * vm[2][1] + gt[0][2] * vm[2][2];
    const float gj11 = gt[1][0] * vm[1][0] + gt[1][1] * vm[1][1] + gt[1][2] * vm[1][2];
    const float gj12 = gt[1][0] * vm[2][0] + gt[1][1] * vm[2][1] + gt[1][2] * vm[2][2];
    float gv[3][3];
    for (int col = 0; col < 3; col++) {
        gv[0][col] = j00 * gt[0][col];
        gv[1][col] = j11 * gt[1][col];
        gv[2][col] = j02 * gt[0][col] + j12 * gt[1][col];
    }
    /* V = Rcw M: dL/dM = Rcw^T dL/dV. */
    float gm[3][3];
    for (int r = 0; r < 3; r++)
        for (int col = 0; col < 3; col++)
            gm[r][col] = rc[0][r] * gv[0][col] + rc[1][r] * gv[1][col] + rc[2][r] * gv[2][col];
    /* M = R diag(s): dL/ds_j = sum_i R_ij dL/dM_ij; dL/dR_ij = dL/dM_ij s_j. */
    const float rr[3][3] = {{r00, r01, r02}, {r10, r11, r12}, {r20, r21, r22}};
    const float sv[3] = {s0, s1, s2};
    float u[3][3];
    for (int col = 0; col < 3; col++) {
        float gs = 0.0f;
        for (int r = 0; r < 3; r++) {
            gs += rr[r][col] * gm[r][col];
            u[r][col] = gm[r][col] * sv[col];
        }
        out->log_scales[col] = gs * sv[col]; /* through s = exp(log s) */
    }
    /* dL/dq (normalised), 3dgs-math.md 6.3, then through the normalisation. */
    const float gw = 2.0f * (x * (u[2][1] - u[1][2]) + y * (u[0][2] - u[2][0]) + z * (u[1][0] - u[0][1]));
    const float gx = 2.0f * (-2.0f * x * (u[1][1] + u[2][2]) + y * (u[1][0] + u[0][1]) + z * (u[2][0] + u[0][2]) +
                             w * (u[2][1] - u[1][2]));
    const float gy = 2.0f * (x * (u[1][0] + u[0][1]) - 2.0f * y * (u[0][0] + u[2][2]) + z * (u[2][1] + u[1][2]) +
                             w * (u[0][2] - u[2][0]));
    const float gz = 2.0f * (x * (u[2][0] + u[0][2]) + y * (u[2][1] + u[1][2]) - 2.0f * z * (u[0][0] + u[1][1]) +
                             w * (u[1][0] - u[0][1]));
    const float gq_dot = gw * w + gx * x + gy * y + gz * z;
    out->quats[0] = (gw - gq_dot * w) / qn;
    out->quats[1] = (gx - gq_dot * x) / qn;
    out->quats[2] = (gy - gq_dot * y) / qn;
    out->quats[3] = (gz - gq_dot * z) / qn;

    /* ---- camera-space mean: from J (exact through the frustum clamp), the 2D mean, depth ---- */
    float gpx = fx * rz * g_u, gpy = fy * rz * g_v;
    float gpz = -(fx * px * g_u + fy * py * g_v) * rz * rz + g_z;
    gpz += -fx * rz * rz * gj00 - fy * rz * rz * gj11;
    if (clamp_x)
        gpz += fx * tx * rz * rz * rz * gj02; /* tx = pz * lim: J02 = -fx lim / pz */
    else {
        gpx += -fx * rz * rz * gj02;
        gpz += 2.0f * fx * tx * rz * rz * rz * gj02;
    }
    if (clamp_y)
        gpz += fy * ty * rz * rz * rz * gj12;
    else {
        gpy += -fy * rz * rz * gj12;
        gpz += 2.0f * fy * ty * rz * rz * rz * gj12;
    }
    /* p = Rcw mu + t: dL/dmu = Rcw^T dL/dp. */
    float gmx = rc[0][0] * gpx + rc[1][0] * gpy + rc[2][0] * gpz;
    float gmy = rc[0][1] * gpx + rc[1][1] * gpy + rc[2][1] * gpz;
    float gmz = rc[0][2] * gpx + rc[1][2] * gpy + rc[2][2] * gpz;

    /* ---- colour: SH coefficients and the view direction (section 3) ---- */
    const float dxw = mx - pose.sc, dyw = my - pose.sd, dzw = mz - pose.se;
    const float len = sqrt(dxw * dxw + dyw * dyw + dzw * dzw);
    const float nx = dxw / len, ny = dyw / len, nz = dzw / len;
    __global const float *coef = sh + (size_t)i * sh_stride * 3;
    float dn_x = 0.0f, dn_y = 0.0f, dn_z = 0.0f;
    {
        const float xx = nx * nx, yy = ny * ny, zz = nz * nz;
        const float X = nx, Y = ny, Z = nz;
        CLS_SH_BWD(0, SH_C0, 0.0f, 0.0f, 0.0f);
        if (sh_degree >= 1) {
            CLS_SH_BWD(1, -SH_C1 * Y, 0.0f, -SH_C1, 0.0f);
            CLS_SH_BWD(2, SH_C1 * Z, 0.0f, 0.0f, SH_C1);
            CLS_SH_BWD(3, -SH_C1 * X, -SH_C1, 0.0f, 0.0f);
        }
        if (sh_degree >= 2) {
            CLS_SH_BWD(4, SH_C2_0 * X * Y, SH_C2_0 * Y, SH_C2_0 * X, 0.0f);
            CLS_SH_BWD(5, SH_C2_1 * Y * Z, 0.0f, SH_C2_1 * Z, SH_C2_1 * Y);
            CLS_SH_BWD(6, SH_C2_2 * (2.0f * zz - xx - yy), -2.0f * SH_C2_2 * X, -2.0f * SH_C2_2 * Y,
                       4.0f * SH_C2_2 * Z);
            CLS_SH_BWD(7, SH_C2_3 * X * Z, SH_C2_3 * Z, 0.0f, SH_C2_3 * X);
            CLS_SH_BWD(8, SH_C2_4 * (xx - yy), 2.0f * SH_C2_4 * X, -2.0f * SH_C2_4 * Y, 0.0f);
        }
        if (sh_degree >= 3) {
            CLS_SH_BWD(9, SH_C3_0 * Y * (3.0f * xx - yy), 6.0f * SH_C3_0 * X * Y, SH_C3_0 * (3.0f * xx - 3.0f * yy), 0.0f);
            CLS_SH_BWD(10, SH_C3_1 * X * Y * Z, SH_C3_1 * Y * Z, SH_C3_1 * X * Z, SH_C3_1 * X * Y);
            CLS_SH_BWD(11, SH_C3_2 * Y * (4.0f * zz - xx - yy), -2.0f * SH_C3_2 * X * Y,
                       SH_C3_2 * (4.0f * zz - xx - 3.0f * yy), 8.0f * SH_C3_2 * Y * Z);
            CLS_SH_BWD(12, SH_C3_3 * Z * (2.0f * zz - 3.0f * xx - 3.0f * yy), -6.0f * SH_C3_3 * X * Z,
                       -6.0f * SH_C3_3 * Y * Z, SH_C3_3 * (6.0f * zz - 3.0f * xx - 3.0f * yy));
            CLS_SH_BWD(13, SH_C3_4 * X * (4.0f * zz - xx - yy), SH_C3_4 * (4.0f * zz - 3.0f * xx - yy),
                       -2.0f * SH_C3_4 * X * Y, 8.0f * SH_C3_4 * X * Z);
            CLS_SH_BWD(14, SH_C3_5 * Z * (xx - yy), 2.0f * SH_C3_5 * X * Z, -2.0f * SH_C3_5 * Y * Z,
                       SH_C3_5 * (xx - yy));
            CLS_SH_BWD(15, SH_C3_6 * X * (xx - 3.0f * yy), SH_C3_6 * (3.0f * xx - 3.0f * yy), -6.0f * SH_C3_6 * X * Y,
                       0.0f);
        }
    }
    /* Through the normalisation n = d / |d|: only the tangential part survives. */
    const float dn_dot = dn_x * nx + dn_y * ny + dn_z * nz;
    gmx += (dn_x - dn_dot * nx) / len;
    gmy += (dn_y - dn_dot * ny) / len;
    gmz += (dn_z - dn_dot * nz) / len;
    out->means[0] = gmx;
    out->means[1] = gmy;
    out->means[2] = gmz;
}

/* The gradients, stored (cls_render_backward): dense, every Gaussian gets a value. */
__kernel void project_backward(CLS_PB_INPUTS, __global float *d_means, __global float *d_log_scales,
                               __global float *d_quats, __global float *d_opacity_logits, __global float *d_sh,
                               __global float *grad_norm, __global float *absgrad_norm, __global uint *visible)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    cls_gaussian_grad g;
    cls_gaussian_grad_of(i, CLS_PB_INPUT_NAMES, &g);
    for (uint k = 0; k < 3; k++) {
        d_means[3 * i + k] = g.means[k];
        d_log_scales[3 * i + k] = g.log_scales[k];
    }
    for (uint k = 0; k < 4; k++)
        d_quats[4 * i + k] = g.quats[k];
    d_opacity_logits[i] = g.opacity;
    for (uint k = 0; k < sh_stride * 3; k++)
        d_sh[(size_t)i * sh_stride * 3 + k] = g.sh[k];
    grad_norm[i] = g.grad_norm;
    absgrad_norm[i] = g.absgrad_norm;
    visible[i] = g.visible;
}

/* The trainer's step (cls_trainer): the gradients go straight into Adam, never to memory.
 * The parameter pointers are the inputs' (each work-item reads and then updates only its own
 * Gaussian). m and v hold the groups' moments in the order means, log-scales, quaternions,
 * opacity, SH; lr the groups' learning rates with SH split into DC (s4) and the rest (s5);
 * adam = (beta1, beta2, eps, unused), bias = (1 - beta1^t, 1 - beta2^t). flags: 1 applies
 * Adam (a densification step applies none, as the reference), 2 adds the view's statistics to
 * grad_accum and denom. Every value is updated, visible or not, as by the reference's dense
 * Adam. (Staging the SH gradients in local memory so that the work-group updates its block of
 * coefficients contiguously was measured 1.6x slower on PoCL: the barrier costs more than the
 * strided accesses it saves.) */
__kernel void project_backward_adam(CLS_PB_INPUTS, __global float *m_means, __global float *v_means,
                                    __global float *m_log_scales, __global float *v_log_scales,
                                    __global float *m_quats, __global float *v_quats, __global float *m_opacity,
                                    __global float *v_opacity, __global float *m_sh, __global float *v_sh, float8 lr,
                                    float4 adam, float2 bias, uint flags, __global float *grad_accum,
                                    __global uint *denom)
{
    const uint i = get_global_id(0);
    if (i >= n)
        return;
    cls_gaussian_grad g;
    cls_gaussian_grad_of(i, CLS_PB_INPUT_NAMES, &g);
    if ((flags & 2u) && g.visible) {
        grad_accum[i] += g.grad_norm;
        denom[i] += 1;
    }
    if (!(flags & 1u))
        return;
    const float b1 = adam.s0, b2 = adam.s1, eps = adam.s2, bc1 = bias.s0, bc2 = bias.s1;
    /* The inputs are const for the chain rule above; this work-item owns Gaussian i. */
    __global float *p_means = (__global float *)means, *p_log_scales = (__global float *)log_scales;
    __global float *p_quats = (__global float *)quats, *p_opacity = (__global float *)opacity_logits;
    for (uint k = 0; k < 3; k++) {
        const uint j = 3 * i + k;
        cls_adam_value(p_means + j, m_means + j, v_means + j, g.means[k], lr.s0, b1, b2, eps, bc1, bc2);
        cls_adam_value(p_log_scales + j, m_log_scales + j, v_log_scales + j, g.log_scales[k], lr.s1, b1, b2, eps,
                       bc1, bc2);
    }
    for (uint k = 0; k < 4; k++) {
        const uint j = 4 * i + k;
        cls_adam_value(p_quats + j, m_quats + j, v_quats + j, g.quats[k], lr.s2, b1, b2, eps, bc1, bc2);
    }
    cls_adam_value(p_opacity + i, m_opacity + i, v_opacity + i, g.opacity, lr.s3, b1, b2, eps, bc1, bc2);
    const size_t base = (size_t)i * sh_stride * 3;
    __global float *p_sh = (__global float *)sh + base;
    m_sh += base;
    v_sh += base;
    for (uint k = 0; k < sh_stride * 3; k++)
        cls_adam_value(p_sh + k, m_sh + k, v_sh + k, g.sh[k], k < 3 ? lr.s4 : lr.s5, b1, b2, eps, bc1, bc2);
}
