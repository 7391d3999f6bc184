/*
 * clsplat.h - the public C API of clsplat, a portable 3D Gaussian Splatting engine on OpenCL.
 *
 * Overview
 *   cls_context   an OpenCL device, its queue, compiled programs and the last error message.
 *   cls_scene     Gaussians living on the device of one context.
 *   cls_frame     a render target plus the forward state a backward pass needs.
 *   cls_gaussians plain host arrays (structure of arrays) of the stored, pre-activation
 *                 parameters: what files hold and what scenes are made from.
 *   cls_camera    a value struct: pinhole intrinsics and a world-to-camera pose in the
 *                 OpenCV convention (+x right, +y down, +z forward).
 *
 * Every fallible call returns a cls_status (CLS_OK == 0, failures negative). Calls on a
 * context put a message for people on it (cls_context_errmsg); the calls that need no
 * device (file readers and writers) take an optional cls_error record instead. Nothing in
 * the library prints, exits or keeps global mutable state; separate contexts may be used
 * from separate threads.
 *
 * Minimal render:
 *
 *     cls_context *ctx = NULL;
 *     cls_scene *scene = NULL;
 *     cls_camera_set cams = {0};
 *     if (cls_context_create(&(cls_context_desc){0}, &ctx) != CLS_OK) { ... }
 *     cls_scene_load(ctx, "scene.ply", &scene);
 *     cls_cameras_load("sparse/0", &cams, NULL);
 *     float *rgb = malloc(3 * sizeof(float) * cams.cameras[0].width * cams.cameras[0].height);
 *     cls_render(scene, &cams.cameras[0], &(cls_render_desc){0}, &(cls_render_output){.rgb = rgb});
 *     cls_image_write_png("out.png", rgb, w, h, 3, 8, NULL);
 *     cls_cameras_free(&cams); cls_scene_destroy(scene); cls_context_destroy(ctx);
 *
 * Versioning: a major version bump means a source-incompatible change of this header;
 * minor versions only add functions, fields at the end of structs, and status codes.
 */
#ifndef CLSPLAT_H
#define CLSPLAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLS_VERSION_MAJOR 0
#define CLS_VERSION_MINOR 1
#define CLS_VERSION_PATCH 0
#define CLS_VERSION_HEX ((CLS_VERSION_MAJOR << 16) | (CLS_VERSION_MINOR << 8) | CLS_VERSION_PATCH)

#if defined(_WIN32) && defined(CLS_SHARED_BUILD)
#define CLS_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLS_API __attribute__((visibility("default")))
#else
#define CLS_API
#endif

/* "0.1.0". Cannot fail. */
CLS_API const char *cls_version_string(void);

/* ---------------------------------------------------------------------------------------
 * Status codes. One list generates the enum, the names and the descriptions. Values are
 * never renumbered.
 * ------------------------------------------------------------------------------------- */
#define CLS_STATUS_LIST(X)                                                                   \
    X(CLS_OK, 0, "success")                                                                  \
    X(CLS_ERROR_INVALID_ARGUMENT, -1, "invalid argument")                                    \
    X(CLS_ERROR_OUT_OF_HOST_MEMORY, -2, "out of host memory")                                \
    X(CLS_ERROR_IO, -3, "a file could not be opened, read or written")                       \
    X(CLS_ERROR_FORMAT, -4, "a file is malformed")                                           \
    X(CLS_ERROR_UNSUPPORTED, -5, "the input uses a feature clsplat does not support")        \
    X(CLS_ERROR_NO_DEVICE, -6, "no matching OpenCL device")                                  \
    X(CLS_ERROR_OPENCL, -7, "an OpenCL call failed")                                         \
    X(CLS_ERROR_KERNEL_BUILD, -8, "an OpenCL kernel failed to build")                        \
    X(CLS_ERROR_DEVICE_OUT_OF_MEMORY, -9, "out of device memory")                            \
    X(CLS_ERROR_LIMIT, -10, "the problem exceeds a size limit of the engine or the device")

typedef enum cls_status {
#define CLS__STATUS_ENUM(name, value, text) name = value,
    CLS_STATUS_LIST(CLS__STATUS_ENUM)
#undef CLS__STATUS_ENUM
} cls_status;

/* "CLS_ERROR_IO" and "a file could not be ..." for a status; "unknown status" otherwise. */
CLS_API const char *cls_status_name(cls_status status);
CLS_API const char *cls_status_string(cls_status status);

/* The error record of calls that run without a context. Optional everywhere: pass NULL
 * when only the status matters. `message` names the file, the element and the problem. */
typedef struct cls_error {
    cls_status status;
    int cl_code; /* the raw OpenCL error code of the failure, 0 when none */
    char message[1024];
} cls_error;

/* ---------------------------------------------------------------------------------------
 * Devices and contexts
 * ------------------------------------------------------------------------------------- */
typedef enum cls_device_type {
    CLS_DEVICE_TYPE_OTHER = 0,
    CLS_DEVICE_TYPE_CPU = 1,
    CLS_DEVICE_TYPE_GPU = 2,
    CLS_DEVICE_TYPE_ACCELERATOR = 3
} cls_device_type;

typedef struct cls_device_info {
    int platform_index;
    int device_index;   /* index across all platforms: what --device N selects */
    char platform_name[128];
    char platform_version[128];
    char name[256];
    char vendor[128];
    char driver_version[128];
    char opencl_c_version[128];
    cls_device_type type;
    uint32_t compute_units;
    uint64_t global_memory_bytes;
    uint64_t max_allocation_bytes;
    uint64_t local_memory_bytes;
    size_t max_work_group_size;
    int has_fp16;              /* cl_khr_fp16 */
    int has_fp64;              /* cl_khr_fp64 */
    int has_subgroups;         /* cl_khr_subgroups or cl_intel_subgroups */
    int has_float_atomics;     /* cl_ext_float_atomics */
    int has_int64_atomics;     /* cl_khr_int64_base_atomics */
} cls_device_info;

/* Lists every device of every platform. *out is malloc'd; free it with free(). */
CLS_API cls_status cls_device_list(cls_device_info **out, size_t *count, cls_error *err);

typedef enum cls_log_level {
    CLS_LOG_ERROR = 1,
    CLS_LOG_WARN = 2,
    CLS_LOG_INFO = 3,
    CLS_LOG_DEBUG = 4
} cls_log_level;

typedef void (*cls_log_fn)(void *user_data, cls_log_level level, const char *message);

typedef struct cls_log_desc {
    cls_log_fn fn;        /* NULL: the library is silent */
    void *user_data;
    cls_log_level level;  /* 0: CLS_LOG_WARN */
} cls_log_desc;

/* Zero means default everywhere. */
typedef struct cls_context_desc {
    /* Device: an index from cls_device_list, or a case-insensitive substring of
     * "platform name / device name". NULL: the CLSPLAT_DEVICE environment variable, else
     * the first GPU, else the first CPU device. */
    const char *device;
    /* Read kernels from this folder instead of the copies embedded in the library. NULL:
     * the CLSPLAT_KERNEL_DIR environment variable, else the embedded sources. */
    const char *kernel_dir;
    /* Folder of the compiled-program cache. NULL: $CLSPLAT_CACHE_DIR, else
     * $XDG_CACHE_HOME/clsplat, else ~/.cache/clsplat. Never used on PoCL (it caches itself). */
    const char *cache_dir;
    int disable_program_cache;
    /* Record per-pass device times (cls_frame_timings). Costs a little. */
    int enable_profiling;
    cls_log_desc log;
    /* Folder of the autotuner's results (docs/tuning.md). NULL: $CLSPLAT_TUNE_DIR, else
     * $CLSPLAT_CACHE_DIR/tune when that is set, else $XDG_CACHE_HOME/clsplat/tune, else
     * ~/.cache/clsplat/tune. */
    const char *tune_dir;
    /* Ignore tuning results: run the compiled-in kernel configuration of the device type. */
    int disable_tuning;
    /* Pixels per image the context will mostly render: picks the tuning result of the nearest
     * problem-size bucket. 0: the largest bucket tuned on this device. */
    uint64_t tune_pixels;
} cls_context_desc;

typedef struct cls_context cls_context;

/* Creates a context. When creation fails after the context was allocated, *out still
 * receives it so cls_context_errmsg can explain; the caller destroys it either way. */
CLS_API cls_status cls_context_create(const cls_context_desc *desc, cls_context **out);
/* NULL is a no-op. All scenes and frames of the context must be destroyed first. */
CLS_API void cls_context_destroy(cls_context *ctx);
/* The message of the last failure on ctx; "" when none. Owned by ctx, valid until the next
 * call on ctx. */
CLS_API const char *cls_context_errmsg(const cls_context *ctx);
/* The raw OpenCL code of the last failure on ctx, 0 when it was not an OpenCL failure. */
CLS_API int cls_context_cl_error(const cls_context *ctx);
/* The device the context runs on. Cannot fail. */
CLS_API const cls_device_info *cls_context_device(const cls_context *ctx);
/* Bytes of device buffers the context holds now, and the most it held at any time. */
CLS_API void cls_context_memory(const cls_context *ctx, size_t *current, size_t *peak);

/* ---------------------------------------------------------------------------------------
 * Gaussians on the host: stored (pre-activation) parameters, structure of arrays.
 * means: xyz; log_scales: log of the three axis scales; quats: (w, x, y, z), need not be
 * normalised; opacity_logits: sigmoid gives the opacity; sh: per Gaussian (deg+1)^2
 * coefficients, each RGB (coefficient-major, RGB innermost; coefficient 0 is the DC term).
 * ------------------------------------------------------------------------------------- */
#define CLS_MAX_SH_DEGREE 3

typedef struct cls_gaussians {
    size_t count;
    int sh_degree; /* 0..3 */
    float *means;          /* count * 3 */
    float *log_scales;     /* count * 3 */
    float *quats;          /* count * 4 */
    float *opacity_logits; /* count */
    float *sh;             /* count * (sh_degree + 1)^2 * 3 */
} cls_gaussians;

/* Number of SH coefficients per channel for a degree: (degree + 1)^2. */
CLS_API int cls_sh_coeff_count(int sh_degree);

/* Writes gradients with respect to the stored parameters, laid out like the Gaussians they
 * belong to, as a .ply with exactly the scene's vertex properties (normals zero), so any PLY
 * tool reads them. Only finiteness is required. Atomic. */
CLS_API cls_status cls_gradients_save(const char *path, const cls_gaussians *grads, cls_error *err);

/* Allocates zeroed arrays for count Gaussians of the given degree. */
CLS_API cls_status cls_gaussians_alloc(cls_gaussians *g, size_t count, int sh_degree, cls_error *err);
/* Frees the arrays of g and zeroes it. NULL and zeroed structs are no-ops. */
CLS_API void cls_gaussians_free(cls_gaussians *g);

/* Reads an INRIA 3DGS .ply (binary little/big endian or ASCII) or an antimatter15 .splat,
 * chosen by content (a .ply starts with "ply"). On failure *out is zeroed. */
CLS_API cls_status cls_gaussians_load(const char *path, cls_gaussians *out, cls_error *err);
/* Writes a .ply (INRIA layout, binary little endian) or a .splat, chosen by the extension of
 * path. Written to a temporary file and renamed: a failure leaves no partial file. */
CLS_API cls_status cls_gaussians_save(const char *path, const cls_gaussians *g, cls_error *err);

/* ---------------------------------------------------------------------------------------
 * Cameras
 * ------------------------------------------------------------------------------------- */
typedef struct cls_camera {
    uint32_t width, height;
    float fx, fy, cx, cy;  /* pixels; pixel (i, j) has its centre at (j + 0.5, i + 0.5) */
    float rotation[9];     /* world-to-camera rotation, row-major */
    float translation[3];  /* world-to-camera translation: x_cam = R x_world + t */
} cls_camera;

typedef struct cls_camera_set {
    size_t count;
    cls_camera *cameras;
    char **image_names; /* count entries: the image each camera saw (file name or path as written) */
} cls_camera_set;

/* Reads cameras from a COLMAP sparse model folder (binary or text; the folder itself,
 * its parent's sparse/0, or a scene folder holding sparse/0), a NeRF transforms.json
 * (Blender, instant-ngp, nerfstudio), or an INRIA cameras.json. Cameras are sorted by
 * image name. PINHOLE and SIMPLE_PINHOLE only: other models fail with
 * CLS_ERROR_UNSUPPORTED naming the model. On failure *out is zeroed. */
CLS_API cls_status cls_cameras_load(const char *path, cls_camera_set *out, cls_error *err);
/* Writes an INRIA cameras.json, atomically. */
CLS_API cls_status cls_cameras_save_json(const char *path, const cls_camera_set *set, cls_error *err);
/* NULL and zeroed sets are no-ops. */
CLS_API void cls_cameras_free(cls_camera_set *set);
/* Returns a camera scaled to a new width (height, focal lengths and principal point follow).
 * width 0 returns the camera unchanged. */
CLS_API cls_camera cls_camera_resized(const cls_camera *cam, uint32_t width);

/* ---------------------------------------------------------------------------------------
 * Images
 * ------------------------------------------------------------------------------------- */
/* Writes interleaved float pixels (channels 1..4, values clamped to [0, 1]) as an 8- or
 * 16-bit PNG. Atomic (temporary file, then rename). */
CLS_API cls_status cls_image_write_png(const char *path, const float *pixels, uint32_t width,
                                       uint32_t height, int channels, int bit_depth, cls_error *err);
/* Reads a PNG (8 or 16 bit; gray, palette, RGB, with or without alpha) or a JPEG into
 * interleaved floats in [0, 1] (8-bit precision), rows from the top; channels is 3 (RGB) or 4
 * (RGBA). *pixels is malloc'd; free it with free(). */
CLS_API cls_status cls_image_read(const char *path, float **pixels, uint32_t *width, uint32_t *height,
                                  int *channels, cls_error *err);
/* Writes a single-channel float image as a PFM (the raw floats, bottom row first as PFM
 * requires). Atomic. */
CLS_API cls_status cls_image_write_pfm(const char *path, const float *pixels, uint32_t width,
                                       uint32_t height, cls_error *err);

/* ---------------------------------------------------------------------------------------
 * Scenes: Gaussians on the device
 * ------------------------------------------------------------------------------------- */
typedef struct cls_scene cls_scene;

/* Uploads host Gaussians (copied; the caller keeps g). */
CLS_API cls_status cls_scene_create(cls_context *ctx, const cls_gaussians *g, cls_scene **out);
/* cls_gaussians_load + cls_scene_create. */
CLS_API cls_status cls_scene_load(cls_context *ctx, const char *path, cls_scene **out);
/* Copies the scene back into freshly allocated host arrays (free with cls_gaussians_free). */
CLS_API cls_status cls_scene_download(cls_scene *scene, cls_gaussians *out);
/* cls_scene_download + cls_gaussians_save. */
CLS_API cls_status cls_scene_save(cls_scene *scene, const char *path);
CLS_API size_t cls_scene_count(const cls_scene *scene);
CLS_API int cls_scene_sh_degree(const cls_scene *scene);
/* NULL is a no-op. */
CLS_API void cls_scene_destroy(cls_scene *scene);

/* ---------------------------------------------------------------------------------------
 * Rendering
 * ------------------------------------------------------------------------------------- */
typedef struct cls_render_desc {
    float background[3];  /* linear RGB added with the final transmittance */
    int antialiased;      /* Mip-Splatting compensation (gsplat "antialiased", INRIA 2024) */
    int sh_degree;        /* active SH degree plus one; 0: the scene's degree */
    float near_plane;     /* 0: 0.01 */
    float far_plane;      /* 0: 1e10 */
    int with_depth;       /* also accumulate the expected depth (a little slower) */
} cls_render_desc;

/* The defaults zero fields stand for, filled in. Cannot fail. */
CLS_API cls_render_desc cls_render_desc_defaults(const cls_render_desc *desc);

/* Host buffers to fill; NULL means not wanted. rgb: width*height*3 interleaved, row-major
 * from the top row; alpha: width*height (1 - final transmittance); depth: width*height,
 * expected camera-space z of the blended Gaussians (0 where nothing was hit; needs
 * with_depth). */
typedef struct cls_render_output {
    float *rgb;
    float *alpha;
    float *depth;
} cls_render_output;

typedef struct cls_frame cls_frame;

CLS_API cls_status cls_frame_create(cls_context *ctx, cls_frame **out);
/* NULL is a no-op. */
CLS_API void cls_frame_destroy(cls_frame *frame);

/* Renders scene from cam into frame, on the device. The frame keeps the forward state
 * (per-Gaussian projections, sorted tile lists, final transmittance and last contributor
 * per pixel) until the next forward call. */
CLS_API cls_status cls_render_forward(cls_frame *frame, cls_scene *scene, const cls_camera *cam,
                                      const cls_render_desc *desc);
/* Reads the frame's images into host buffers. */
CLS_API cls_status cls_frame_read(cls_frame *frame, const cls_render_output *out);

typedef struct cls_frame_stats {
    uint32_t width, height;
    uint32_t gaussians;      /* in the scene */
    uint32_t visible;        /* survived culling and touch at least one tile */
    uint32_t intersections;  /* (tile, Gaussian) pairs */
    uint32_t tiles;
} cls_frame_stats;
CLS_API cls_status cls_frame_stats_get(const cls_frame *frame, cls_frame_stats *out);

/* Device time of each pass of the last forward call (and of the backward call after it), in milliseconds, from OpenCL profiling
 * events (the context needs enable_profiling). */
typedef enum cls_pass {
    CLS_PASS_PROJECT = 0,
    CLS_PASS_SCAN,
    CLS_PASS_DEPTH_SORT,
    CLS_PASS_EMIT,
    CLS_PASS_TILE_SORT,
    CLS_PASS_RANGES,
    CLS_PASS_RASTERIZE,
    CLS_PASS_RASTERIZE_BACKWARD,
    CLS_PASS_PROJECT_BACKWARD,
    CLS_PASS_LOSS,
    CLS_PASS_OPTIMIZE,
    CLS_PASS_COUNT
} cls_pass;
CLS_API const char *cls_pass_name(cls_pass pass);
CLS_API cls_status cls_frame_timings(const cls_frame *frame, double ms[CLS_PASS_COUNT]);

/* One-shot: cls_frame_create + cls_render_forward + cls_frame_read + cls_frame_destroy. */
CLS_API cls_status cls_render(cls_scene *scene, const cls_camera *cam, const cls_render_desc *desc,
                              const cls_render_output *out);

/* ---------------------------------------------------------------------------------------
 * Gradients: the backward pass
 *
 * From dL/d(rendered images) back to every stored parameter of every Gaussian, without
 * atomics: each (tile, Gaussian) gradient is reduced inside the tile's work-group and stored
 * at its intersection slot, then each Gaussian sums its slots in a fixed order. The same
 * inputs give bit-identical gradients on the same device.
 * ------------------------------------------------------------------------------------- */
typedef struct cls_grads cls_grads;

/* Device buffers for the gradients of a scene (resized to the scene on each backward call). */
CLS_API cls_status cls_grads_create(cls_context *ctx, cls_grads **out);
/* NULL is a no-op. */
CLS_API void cls_grads_destroy(cls_grads *grads);

/* The upstream gradients of a frame's images, host arrays of the frame's size. */
typedef struct cls_backward_desc {
    const float *d_rgb;   /* required: dL/dRGB, width*height*3, interleaved like cls_render_output */
    const float *d_alpha; /* optional: dL/dalpha, width*height */
    const float *d_depth; /* optional: dL/d(expected depth), width*height; needs a with_depth forward */
} cls_backward_desc;

/* Gradients of the loss with respect to the parameters of `scene`, through the forward state
 * kept in `frame` (the last cls_render_forward of this scene into this frame). Fills grads on
 * the device. */
CLS_API cls_status cls_render_backward(cls_frame *frame, cls_scene *scene, const cls_backward_desc *in,
                                       cls_grads *grads);

/* Reads the gradients back. `out` receives freshly allocated arrays laid out like the scene
 * (free with cls_gaussians_free): dL/d(means, log_scales, raw quaternions, opacity logits,
 * SH coefficients; zero above the active SH degree). The optional arrays (count entries)
 * receive the densification statistics of this view: grad_norm, the norm of the 2D mean
 * gradient in INRIA's units (pixel gradient times (width/2, height/2)); absgrad_norm,
 * gsplat's absgrad (sums of per-pixel absolute values) in the same units; visible, 1 where
 * the Gaussian was rendered. */
CLS_API cls_status cls_grads_read(cls_grads *grads, cls_gaussians *out, float *grad_norm, float *absgrad_norm,
                                  uint32_t *visible);

/* ---------------------------------------------------------------------------------------
 * Training data: photos and their cameras, decoded once and kept on the host as 8-bit RGB
 * ------------------------------------------------------------------------------------- */
typedef struct cls_dataset cls_dataset;

/* Zero means default everywhere. */
typedef struct cls_dataset_desc {
    uint32_t downscale;   /* 0 or 1: full size; d > 1: each axis n -> max(1, floor((n + d/2) / d)) */
    uint32_t max_width;   /* 0: none; else images wider (after downscale) are resampled to it */
    float background[3];  /* RGBA photos are composited onto it; undistortion fills with it */
    int eval;             /* hold out every 8th view (by name) as the test split */
    const char *images;   /* a COLMAP model's image folder; NULL: found next to the model */
    int threads;          /* decoding threads; 0: one per CPU, at most 16 */
} cls_dataset_desc;

typedef enum cls_split { CLS_SPLIT_ALL = 0, CLS_SPLIT_TRAIN = 1, CLS_SPLIT_TEST = 2 } cls_split;
#define CLS_DATASET_PUBLIC_TYPES 1

/* Loads a COLMAP scene (images/ + sparse/0, binary or text) or a NeRF transforms.json dataset
 * (Blender, instant-ngp, nerfstudio). SIMPLE_RADIAL, RADIAL and OPENCV cameras (and
 * transforms.json distortion) are undistorted to their pinhole part on load; fisheye models
 * are CLS_ERROR_UNSUPPORTED. On failure *out is NULL. */
CLS_API cls_status cls_dataset_load(const char *path, const cls_dataset_desc *desc, cls_dataset **out,
                                    cls_error *err);
/* NULL is a no-op. */
CLS_API void cls_dataset_destroy(cls_dataset *ds);
/* Views in a split. Without eval, TRAIN is every view and TEST is empty. */
CLS_API size_t cls_dataset_count(const cls_dataset *ds, cls_split split);
/* View i of a split: its pinhole camera, its photo (8-bit RGB interleaved, owned by the
 * dataset) and its image name; each output may be NULL. */
CLS_API cls_status cls_dataset_view(const cls_dataset *ds, cls_split split, size_t i, cls_camera *cam,
                                    const uint8_t **rgb, const char **name, cls_error *err);
/* Bytes held by the decoded photos. */
CLS_API size_t cls_dataset_image_bytes(const cls_dataset *ds);

/* Renders view i of a split from `scene` (any trained scene, ours or another tool's) and
 * measures it against the view's photo: PSNR (dB, from the MSE over all pixels and channels;
 * 99 for identical images) and mean SSIM (11x11 Gaussian window, sigma 1.5); optionally the
 * render (interleaved RGB, width*height*3). The render is not clamped to [0, 1] first. */
CLS_API cls_status cls_evaluate_view(cls_scene *scene, const cls_dataset *ds, cls_split split, size_t i,
                                     const cls_render_desc *desc, float *psnr, float *ssim, float *rgb);

/* ---------------------------------------------------------------------------------------
 * Training
 * ------------------------------------------------------------------------------------- */
typedef struct cls_trainer cls_trainer;

/* Zero means default everywhere. */
typedef struct cls_trainer_desc {
    uint32_t iterations;   /* length of the run, for the position learning-rate schedule; 0: 30000 */
    int sh_degree;         /* highest SH degree plus one; 0: 3 (raised one band every 1000 steps) */
    float background[3];   /* render background (and the colour RGBA photos were composited on) */
    uint64_t seed;         /* camera order and random initialisation */
    int antialiased;       /* train in antialiased mode */
    float lambda_dssim;    /* weight of the D-SSIM term; 0: 0.2 */
    uint32_t random_points;/* Gaussians of the random initialisation when the dataset has no SfM
                              points; 0: 100000 */
    uint32_t max_gaussians;/* cap on the count: densification only prunes once growth would pass
                              it; 0: no cap */
    int no_densify;        /* turn adaptive density control (and the opacity reset) off */
} cls_trainer_desc;

/* The defaults zero fields stand for, filled in. Cannot fail. */
CLS_API cls_trainer_desc cls_trainer_desc_defaults(const cls_trainer_desc *desc);

typedef struct cls_train_stats {
    uint32_t step;
    float loss, l1, dssim; /* the step's loss and its two terms (L1, 1 - SSIM) */
    uint32_t gaussians, visible;
    int sh_degree;         /* active SH degree */
    /* Device time of each pass of this step (ms) when the context profiles, else zeros:
     * the forward passes, loss, backward passes and the optimiser (Adam, densification). */
    double pass_ms[CLS_PASS_COUNT];
} cls_train_stats;

/* A trainer for a dataset: Gaussians initialised at the dataset's SfM points (isotropic
 * scales from the mean distance to the 3 nearest neighbours, opacity 0.1, colour from the
 * points) or, when it has none, at random points. The dataset must outlive the trainer. */
CLS_API cls_status cls_trainer_create(cls_context *ctx, const cls_dataset *ds, const cls_trainer_desc *desc,
                                      cls_trainer **out);
/* One optimisation step on the next training view. With stats, the step's loss is read back
 * (a synchronisation); pass NULL on steps that need no report. */
CLS_API cls_status cls_trainer_step(cls_trainer *t, cls_train_stats *stats);
/* Renders view i of a split with the current scene and measures it against its photo: PSNR
 * (dB) and mean SSIM; optionally the render (interleaved RGB, width*height*3). */
CLS_API cls_status cls_trainer_evaluate(cls_trainer *t, cls_split split, size_t i, float *psnr, float *ssim,
                                        float *rgb);
/* Writes the whole training state (options, step, random generator, camera order, Gaussians,
 * Adam moments, densification statistics) to path, atomically. */
CLS_API cls_status cls_trainer_save_checkpoint(cls_trainer *t, const char *path);
/* Replaces the trainer's state (options included) with a checkpoint's: the run continues
 * exactly as the one that wrote it would have. The dataset must have the same training views. */
CLS_API cls_status cls_trainer_load_checkpoint(cls_trainer *t, const char *path);
/* NULL is a no-op. */
CLS_API void cls_trainer_destroy(cls_trainer *t);
/* The scene being trained (owned by the trainer): render, save or download it. */
CLS_API cls_scene *cls_trainer_scene(cls_trainer *t);
/* Steps done so far. */
CLS_API uint32_t cls_trainer_step_count(const cls_trainer *t);

/* ---------------------------------------------------------------------------------------
 * Benchmarks (what `clsplat bench` runs). Times come from OpenCL profiling events, median of
 * `repeats` runs after a warm-up; the context needs enable_profiling.
 * ------------------------------------------------------------------------------------- */
typedef struct cls_bench_sort_result {
    uint32_t count;
    uint32_t key_bits;
    double median_ms;
    double min_ms;
    double pairs_per_second;
    double copy_bytes_per_second;  /* device copy bandwidth (read + write) in the same run */
    double bytes_moved_per_pair;   /* what the sort reads and writes per pair, all passes */
    double fraction_of_copy;       /* effective sort bandwidth / copy bandwidth */
} cls_bench_sort_result;

/* Sorts `count` random (key, value) pairs on `key_bits` bits, `repeats` times. */
CLS_API cls_status cls_bench_sort(cls_context *ctx, uint32_t count, uint32_t key_bits, int repeats,
                                  cls_bench_sort_result *out);
/* Device copy bandwidth (bytes read + written per second) with a copy kernel over `bytes`. */
CLS_API cls_status cls_bench_copy_bandwidth(cls_context *ctx, size_t bytes, int repeats,
                                            double *bytes_per_second);

/* ---------------------------------------------------------------------------------------
 * Autotuning (docs/tuning.md): which kernel configuration (tile size, pixels per work-item,
 * batch sizes, sort and scan shapes, work-group sizes) is fastest on this device, measured
 * with profiling events and remembered per user. A context loads the remembered choice when
 * it is created (unless disable_tuning) and otherwise runs compiled-in defaults.
 * ------------------------------------------------------------------------------------- */

/* Where the context's kernel configuration came from and what it is, one line, e.g.
 * "tuned (/home/u/.cache/clsplat/tune/...txt, 2^18 px): tile_size=16 pixels_per_item=8 ..."
 * or "defaults (cpu): ...". Owned by ctx. Cannot fail. */
CLS_API const char *cls_context_config(const cls_context *ctx);

/* Zero means default everywhere. */
typedef struct cls_tune_desc {
    double budget_seconds;  /* wall-clock budget of the whole search; 0: 120 */
    int no_cache_write;     /* measure and apply to the context, but write no results file */
    int repeats;            /* timed runs per candidate when the budget allows; 0: 7 */
    const char *kernels;    /* comma-separated names of the tunable kernels to tune; NULL: all */
} cls_tune_desc;

#define CLS_TUNE_MAX_KERNELS 8

typedef struct cls_tune_kernel_report {
    char name[32];          /* "rasterize", "radix_sort", ... */
    int candidates;         /* valid on this device after pruning (the default included) */
    int measured;           /* timed at least once */
    int rejected;           /* failed to build or run, or their output differed from the default's */
    int timed_runs;         /* profiled runs over all candidates */
    double default_ms;      /* median device time of the default configuration (0: not measured) */
    double best_ms;         /* median of the winner */
    char best[160];         /* the winner's parameters, "name=value ..." */
    char defaults[160];     /* the default's parameters */
} cls_tune_kernel_report;

typedef struct cls_tune_report {
    int kernel_count;
    cls_tune_kernel_report kernels[CLS_TUNE_MAX_KERNELS];
    double seconds;         /* wall time of the search */
    int bucket;             /* the problem-size bucket: round(log2(pixels)) */
    char path[1024];        /* the results file written ("" when none) */
} cls_tune_report;

/* Tunes every tunable kernel of the context's device on `scene` seen from `cam` (the sort and
 * scan on inputs of the same size), within the desc's time budget: per kernel, every
 * candidate the device allows is built, run once as a warm-up and checked against the default
 * configuration's output (bit-identical for the scan and the sort, within a stated tolerance
 * for the rasterizers), then timed with profiling events, round-robin over the candidates,
 * halving the field when the budget cannot time all of them. Candidates that fail to build
 * or run are rejected, never fatal. The winners become the context's configuration (for
 * objects created afterwards) and, unless no_cache_write, are written to the results file
 * for the camera's image size bucket. The context needs enable_profiling and no live frames
 * or scenes other than `scene`. */
CLS_API cls_status cls_tune(cls_context *ctx, cls_scene *scene, const cls_camera *cam, const cls_tune_desc *desc,
                            cls_tune_report *report);

#ifdef __cplusplus
}
#endif

#endif /* CLSPLAT_H */
