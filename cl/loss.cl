/* loss.cl - the training loss of 3dgs-math.md section 7.1 and its gradient w.r.t. the render.
 *
 *   L = (1 - lambda) L1 + lambda (1 - SSIM),   L1 = mean |x - y|,   SSIM = mean S,
 *   S = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
 *
 * means over all width * height * 3 values, x the render, y the target, per channel. Window
 * statistics use the 11 x 11 Gaussian window (sigma 1.5, normalised, w(i, j) = g(i) g(j)) with
 * zero padding outside the image, i.e. the reference's F.conv2d(..., padding = 5): border
 * windows are not renormalised. C1 = 0.01^2, C2 = 0.03^2. test/ref/ref_loss.c holds the plain
 * 2D version and the derivation of the gradient.
 *
 * Evaluation. With e = x - y, four blurred statistics suffice:
 *   mu_x = G*x,  m = G*e (= mu_x - mu_y),  P = G*(x^2 + y^2),  Q = G*(e^2);   mu_y = mu_x - m,
 *   c = mu_x^2 + mu_y^2 + C1,  d = P - mu_x^2 - mu_y^2 + C2   (= s_x^2 + s_y^2 + C2),
 *   u = m^2 / c,  q = (Q - m^2) / d,  and since 2 mu_x mu_y + C1 = c - m^2 and
 *   2 s_xy + C2 = d - (Q - m^2):   S = (1 - u)(1 - q),   1 - S = u + (1 - u) q.
 * Written this way, 1 - S and the gradient lose no precision when the render is close to the
 * target (the usual case in training): m and Q are blurs of the small e, not differences of
 * large blurs.
 *
 * Backward. With l = 1 - u, s = 1 - q, and A, B, E the partial derivatives of S(p) w.r.t.
 * (mu_x and m moved together, which is what x(q) does), P and Q:
 *   A = -s (2/c)(m - u mu_x) + l (2/d)(m - q mu_x),   B = l q / d,   E = -l / d,
 *   dSSIM_sum/dx(q) = sum_p w(q - p) [A(p) + 2 x(q) B(p) + 2 e(q) E(p)]
 *                   = (G*A)(q) + 2 x(q) (G*B)(q) + 2 e(q) (G*E)(q)
 * (the adjoint of the zero-padded blur is the same blur: the window is symmetric), and
 *   dL/dx = (1 - lambda)/N sign(x - y) - lambda/N dSSIM_sum/dx,   sign(0) = 0.
 * Identical images give m = Q = 0 exactly, hence 1 - S = 0 and a zero gradient, bit for bit.
 *
 * Layouts. The render x and dL/dx: planar float, 3 planes of `rows` rows of `pitch` floats
 * (pitch >= width and a multiple of CLS_PIXELS_PER_ITEM, rows >= height; the rest is padding,
 * written as 0 in dL/dx). The target y: uint8 RGB interleaved, width * height * 3, read as
 * value / 255. Scratch maps ("bordered"): 3 planes of brows rows of bpitch floats, pixel (x, y)
 * at row CLS_LOSS_HALO + y, column CLS_LOSS_LEFT + x, zero outside the image wherever a blur
 * reads, so no blur checks bounds. `map` is the floats of one map (3 planes). The covered
 * region is pitch x (bands * CLS_LOSS_BAND) pixels, the latter at least `rows`.
 *
 * Work split. A work-item owns CLS_PIXELS_PER_ITEM consecutive pixels of a row as the lanes
 * of a vector (as in the rasterizer: 16 on CPUs, where PoCL does not vectorise per-item loops,
 * 1 on GPUs) and sweeps a band of CLS_LOSS_BAND rows of one plane top to bottom: each row is
 * blurred horizontally (11 unaligned loads) into a window of the last 11 rows kept in
 * registers, from which the vertical blur of the row 5 above is taken. Bands re-blur the 10
 * rows they share with their neighbours. A work-group is CLS_TILE neighbouring strips of
 * CLS_TILE / CLS_PIXELS_PER_ITEM bands (CPUs: 256 pixels of one band; GPUs: 16 x 16).
 *
 *   loss_prepare   render, target -> xy = {x, y} bordered (whole planes, margins zeroed)
 *   loss_ssim      xy -> S, A, B, E per pixel; A, B, E stored (0 outside the image; the
 *                  margins of the abc maps are zeroed once by the host) and per work-group
 *                  partial sums {|e|, 1 - S, e^2} -> partials[3 * group]
 *   loss_gradient  abc (blurred the same way), xy -> dL/dx in the render's layout
 *   loss_finish    one work-group: partials -> values
 * Every sum has a fixed order (per lane the rows of its band in order, then the lanes of a
 * work-group pairwise, then per work-item of loss_finish the groups at a fixed stride, then those
 * in order): results are bit-identical from run to run.
 */

#ifndef CLS_LOSS_BAND
#define CLS_LOSS_BAND 32 /* rows one work-item sweeps */
#endif
/* The bordered layout (engine/loss.h passes the same values). */
#ifndef CLS_LOSS_HALO
#define CLS_LOSS_HALO 5 /* window radius: 11 taps; also the top and bottom margin rows */
#endif
#ifndef CLS_LOSS_LEFT
#define CLS_LOSS_LEFT 8 /* left margin columns of the bordered maps (>= the radius) */
#endif
#if CLS_LOSS_HALO != 5 || CLS_LOSS_LEFT < CLS_LOSS_HALO
#error "the taps below are written for an 11-tap window inside the left margin"
#endif
#if CLS_LOSS_BAND < 1
#error "CLS_LOSS_BAND must be positive"
#endif

#define CLS_SSIM_C1 (0.01f * 0.01f)
#define CLS_SSIM_C2 (0.03f * 0.03f)

/* g(i) = exp(-i^2 / (2 * 1.5^2)) / sum_k exp(-k^2 / (2 * 1.5^2)), i = -5..5, rounded to float. */
#define CLS_SSIM_W0 1.028380124e-03f
#define CLS_SSIM_W1 7.598758209e-03f
#define CLS_SSIM_W2 3.600077331e-02f
#define CLS_SSIM_W3 1.093606874e-01f
#define CLS_SSIM_W4 2.130055428e-01f
#define CLS_SSIM_W5 2.660117149e-01f
#define CLS_SSIM_W6 CLS_SSIM_W4
#define CLS_SSIM_W7 CLS_SSIM_W3
#define CLS_SSIM_W8 CLS_SSIM_W2
#define CLS_SSIM_W9 CLS_SSIM_W1
#define CLS_SSIM_W10 CLS_SSIM_W0

/* Pixels (lanes) a work-group of the sweeps covers per row of its bands. */
#define CLS_LOSS_LANES (CLS_GROUP_ITEMS * CLS_PIXELS_PER_ITEM)

/* The 11 taps, unrolled. */
#define CLS_TAPS(T) T(0) T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8) T(9) T(10)

/* The vertical blur of a window of 11 rows r[0..10] (r[5] is the centre row). */
#define VTAP_(r, k) +CLS_SSIM_W##k * r[k]
#define VBLUR(r)                                                                                  \
    (CLS_SSIM_W0 * r[0] VTAP_(r, 1) VTAP_(r, 2) VTAP_(r, 3) VTAP_(r, 4) VTAP_(r, 5) VTAP_(r, 6)     \
         VTAP_(r, 7) VTAP_(r, 8) VTAP_(r, 9) VTAP_(r, 10))

/* Moves a window of 11 rows up by one; slot 10 is then free for the next row. */
#define SHIFT_WINDOW(r)                                                                           \
    do {                                                                                          \
        _Pragma("unroll") for (int k_ = 0; k_ < 10; k_++) r[k_] = r[k_ + 1];                      \
    } while (0)

/* The plane (0..2) and band of the work-item row index i of a sweep launch; plane 3 marks the
 * rows the launch rounded up (without a division, see the Oclgrind notes in common.cl). */
#define SWEEP_PLANE(i, bands) (((i) >= (bands)) + ((i) >= 2 * (bands)) + ((i) >= 3 * (bands)))

/* ---- prepare: the render and the target as bordered planar floats ------------------------ */

/* Global (bpitch / CLS_PIXELS_PER_ITEM, 3 * brows): one bordered row segment of one plane per
 * work-item. */
__kernel __attribute__((reqd_work_group_size(CLS_TILE, CLS_ITEMS_X, 1))) void
loss_prepare(__global const float *image, __global const uchar *target, uint width, uint height, uint pitch,
             uint rows, uint bpitch, uint brows, uint bplane, uint map, __global float *xy)
{
    const uint strip = get_global_id(0), row = get_global_id(1);
    const uint c = SWEEP_PLANE(row, brows);
    if (c >= 3 || strip * CLS_PIXELS_PER_ITEM >= bpitch)
        return;
    const uint by = row - c * brows, bx0 = strip * CLS_PIXELS_PER_ITEM;
    const int y = (int)by - CLS_LOSS_HALO, x0 = (int)bx0 - CLS_LOSS_LEFT;
    __global float *px = xy + (c * bplane + by * bpitch + bx0), *py = px + map;
    const int row_inside = y >= 0 && y < (int)height;
    if (row_inside && x0 >= 0 && x0 + CLS_PIXELS_PER_ITEM <= (int)width) {
        VSTORE(VLOAD(image + (c * pitch * rows + (uint)y * pitch + (uint)x0)), px);
        __global const uchar *t = target + (((uint)y * width + (uint)x0) * 3u + c);
        for (int i = 0; i < CLS_PIXELS_PER_ITEM; i++)
            py[i] = (float)t[3 * i] * (1.0f / 255.0f);
        return;
    }
    /* Segments that cross the image border, and the margins. */
    for (int i = 0; i < CLS_PIXELS_PER_ITEM; i++) {
        const int x = x0 + i;
        const int inside = row_inside && x >= 0 && x < (int)width;
        px[i] = inside ? image[c * pitch * rows + (uint)y * pitch + (uint)x] : 0.0f;
        py[i] = inside ? (float)target[((uint)y * width + (uint)x) * 3u + c] * (1.0f / 255.0f) : 0.0f;
    }
}

/* ---- SSIM, its partial derivatives and the partial sums ---------------------------------- */

/* Global (strips, 3 * bands) rounded up to the local size (CLS_TILE, CLS_ITEMS_X), exactly
 * that: a work-group sweeps CLS_TILE neighbouring strips of CLS_ITEMS_X bands (on CPUs, 16
 * strips of one band: the halo columns it reads twice are still in cache). */
__kernel __attribute__((reqd_work_group_size(CLS_TILE, CLS_ITEMS_X, 1))) void
loss_ssim(__global const float *xy, uint width, uint height, uint strips, uint bpitch, uint bplane, uint map,
          uint bands, uint write_grad, __global float *abc, __global float *partials)
{
    __local float red[3][CLS_LOSS_LANES];
    const uint strip = get_global_id(0), band_row = get_global_id(1);
    const uint lid = get_local_id(1) * CLS_TILE + get_local_id(0);
    const uint c = SWEEP_PLANE(band_row, bands);
    vecf sum_l1 = 0.0f, sum_dssim = 0.0f, sum_l2 = 0.0f;

    if (c < 3 && strip < strips) {
        const uint y0 = (band_row - c * bands) * CLS_LOSS_BAND, x0 = strip * CLS_PIXELS_PER_ITEM;
        const veci in_x = (x0 + LANES) < (float)width;
        /* Bordered row y0 - 5 (image row y0 - 5 sits at bordered row y0), from column x0 - 5. */
        const uint first = c * bplane + y0 * bpitch + CLS_LOSS_LEFT + x0;
        __global const float *rx = xy + (first - CLS_LOSS_HALO), *ry = rx + map;
        vecf w_mx[11], w_m[11], w_p[11], w_q[11]; /* the window: rows y - 5 .. y + 5 */

#define HTAP(k)                                                                                   \
    {                                                                                             \
        const vecf a = VLOAD(rx + k), b = VLOAD(ry + k), e = a - b;                               \
        mx += CLS_SSIM_W##k * a;                                                                  \
        m += CLS_SSIM_W##k * e;                                                                   \
        p += CLS_SSIM_W##k * (a * a + b * b);                                                     \
        q += CLS_SSIM_W##k * (e * e);                                                             \
    }
#define HBLUR_ROW(slot)                                                                           \
    {                                                                                             \
        vecf mx = 0.0f, m = 0.0f, p = 0.0f, q = 0.0f;                                             \
        CLS_TAPS(HTAP)                                                                            \
        w_mx[slot] = mx;                                                                          \
        w_m[slot] = m;                                                                            \
        w_p[slot] = p;                                                                            \
        w_q[slot] = q;                                                                            \
        rx += bpitch;                                                                             \
        ry += bpitch;                                                                             \
    }
#pragma unroll
        for (int k = 1; k < 11; k++)
            HBLUR_ROW(k)
        for (uint y = y0; y < y0 + CLS_LOSS_BAND; y++) {
            SHIFT_WINDOW(w_mx);
            SHIFT_WINDOW(w_m);
            SHIFT_WINDOW(w_p);
            SHIFT_WINDOW(w_q);
            HBLUR_ROW(10)
            const vecf mx = VBLUR(w_mx), m = VBLUR(w_m), p = VBLUR(w_p), q = VBLUR(w_q);
            const vecf my = mx - m;
            const vecf cc = mx * mx + my * my + CLS_SSIM_C1;
            const vecf d = (p - (mx * mx + my * my)) + CLS_SSIM_C2;
            const vecf u = m * m / cc, l = 1.0f - u;
            const vecf qq = (q - m * m) / d, s = 1.0f - qq;
            const vecf dssim = u + l * qq; /* 1 - S */

            const uint o = c * bplane + (CLS_LOSS_HALO + y) * bpitch + CLS_LOSS_LEFT + x0;
            const vecf e = VLOAD(xy + o) - VLOAD(xy + map + o);
            const veci inside = in_x & SPLAT_I(y < height ? -1 : 0);
            sum_l1 += select((vecf)0.0f, fabs(e), inside);
            sum_l2 += select((vecf)0.0f, e * e, inside);
            sum_dssim += select((vecf)0.0f, dssim, inside);
            if (write_grad) {
                const vecf A = -s * (2.0f / cc) * (m - u * mx) + l * (2.0f / d) * (m - qq * mx);
                VSTORE(select((vecf)0.0f, A, inside), abc + o);
                VSTORE(select((vecf)0.0f, l * qq / d, inside), abc + map + o);
                VSTORE(select((vecf)0.0f, -l / d, inside), abc + 2 * map + o);
            }
        }
#undef HBLUR_ROW
#undef HTAP
    }

    /* The work-group's sums: every lane of every work-item into local memory (summing lanes
     * with vector swizzles crashes Oclgrind 21.10's uninitialised-value plugin), then summed
     * pairwise, in a fixed order, by work-item 0. */
    VSTORE(sum_l1, &red[0][lid * CLS_PIXELS_PER_ITEM]);
    VSTORE(sum_dssim, &red[1][lid * CLS_PIXELS_PER_ITEM]);
    VSTORE(sum_l2, &red[2][lid * CLS_PIXELS_PER_ITEM]);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        const uint group = get_group_id(1) * get_num_groups(0) + get_group_id(0);
        for (uint i = 0; i < 3; i++) {
            __local float *a = red[i];
            for (uint n = CLS_LOSS_LANES; n > 1; n = (n + 1) >> 1) {
                for (uint k = 0; k < (n >> 1); k++)
                    a[k] = a[2 * k] + a[2 * k + 1];
                if (n & 1)
                    a[n >> 1] = a[n - 1];
            }
            partials[3 * group + i] = a[0];
        }
    }
}

/* ---- the gradient ------------------------------------------------------------------------- */

/* Launched as loss_ssim: dL/dx at every pixel of the render's layout (pitch x rows), 0 in its
 * padding. scale_l1 = (1 - lambda)/N, scale_ssim = lambda/N. */
__kernel __attribute__((reqd_work_group_size(CLS_TILE, CLS_ITEMS_X, 1))) void
loss_gradient(__global const float *xy, __global const float *abc, uint width, uint height, uint pitch, uint rows,
              uint bpitch, uint bplane, uint map, uint bands, float scale_l1, float scale_ssim,
              __global float *d_image)
{
    const uint strip = get_global_id(0), band_row = get_global_id(1);
    const uint c = SWEEP_PLANE(band_row, bands);
    const uint y0 = (band_row - c * bands) * CLS_LOSS_BAND, x0 = strip * CLS_PIXELS_PER_ITEM;
    if (c >= 3 || x0 >= pitch || y0 >= rows) /* x0 < pitch: strip < strips */
        return;
    const veci in_x = (x0 + LANES) < (float)width;
    const uint first = c * bplane + y0 * bpitch + CLS_LOSS_LEFT + x0;
    __global const float *ra = abc + (first - CLS_LOSS_HALO), *rb = ra + map, *re = ra + 2 * map;
    vecf w_a[11], w_b[11], w_e[11];

#define HTAP(k)                                                                                   \
    {                                                                                             \
        sa += CLS_SSIM_W##k * VLOAD(ra + k);                                                      \
        sb += CLS_SSIM_W##k * VLOAD(rb + k);                                                      \
        se += CLS_SSIM_W##k * VLOAD(re + k);                                                      \
    }
#define HBLUR_ROW(slot)                                                                           \
    {                                                                                             \
        vecf sa = 0.0f, sb = 0.0f, se = 0.0f;                                                     \
        CLS_TAPS(HTAP)                                                                            \
        w_a[slot] = sa;                                                                           \
        w_b[slot] = sb;                                                                           \
        w_e[slot] = se;                                                                           \
        ra += bpitch;                                                                             \
        rb += bpitch;                                                                             \
        re += bpitch;                                                                             \
    }
#pragma unroll
    for (int k = 1; k < 11; k++)
        HBLUR_ROW(k)
    const uint y_end = min(y0 + CLS_LOSS_BAND, rows);
    for (uint y = y0; y < y_end; y++) {
        SHIFT_WINDOW(w_a);
        SHIFT_WINDOW(w_b);
        SHIFT_WINDOW(w_e);
        HBLUR_ROW(10)
        const uint o = c * bplane + (CLS_LOSS_HALO + y) * bpitch + CLS_LOSS_LEFT + x0;
        const vecf xv = VLOAD(xy + o), e = xv - VLOAD(xy + map + o);
        const vecf dssim = VBLUR(w_a) + 2.0f * xv * VBLUR(w_b) + 2.0f * e * VBLUR(w_e);
        const vecf g = scale_l1 * sign(e) - scale_ssim * dssim;
        const veci inside = in_x & SPLAT_I(y < height ? -1 : 0);
        VSTORE(select((vecf)0.0f, g, inside), d_image + (c * pitch * rows + y * pitch + x0));
    }
#undef HBLUR_ROW
#undef HTAP
}

/* ---- the final sums ----------------------------------------------------------------------- */

/* One work-group of CLS_GROUP_ITEMS work-items. Work-item i sums the partials of groups i,
 * i + CLS_GROUP_ITEMS, ...; work-item 0 then sums those in order. mode 0 (loss) writes
 * values = {L, L1, 1 - SSIM}; mode 1 (metrics) writes {SSIM, MSE, L1}. */
__kernel __attribute__((reqd_work_group_size(CLS_GROUP_ITEMS, 1, 1))) void
loss_finish(__global const float *partials, uint groups, float inv_n, float lambda, uint mode,
            __global float *values)
{
    __local float red[3][CLS_GROUP_ITEMS];
    const uint lid = get_local_id(0);
    float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f;
    for (uint g = lid; g < groups; g += CLS_GROUP_ITEMS) {
        t0 += partials[3 * g];
        t1 += partials[3 * g + 1];
        t2 += partials[3 * g + 2];
    }
    red[0][lid] = t0;
    red[1][lid] = t1;
    red[2][lid] = t2;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        float l1 = 0.0f, dssim = 0.0f, l2 = 0.0f;
        for (uint k = 0; k < CLS_GROUP_ITEMS; k++) {
            l1 += red[0][k];
            dssim += red[1][k];
            l2 += red[2][k];
        }
        l1 *= inv_n;
        dssim *= inv_n;
        l2 *= inv_n;
        if (mode == 0) {
            values[0] = (1.0f - lambda) * l1 + lambda * dssim;
            values[1] = l1;
            values[2] = dssim;
        } else {
            values[0] = 1.0f - dssim;
            values[1] = l2;
            values[2] = l1;
        }
    }
}
