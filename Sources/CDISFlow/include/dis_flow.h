// A C interface to OpenCV's DIS optical flow (cv::DISOpticalFlow, video module), for Swift.
//
// Why C and not C++ interop: the Swift side needs a handful of calls, and a C surface keeps OpenCV's headers, exceptions
// and reference-counted types out of every Swift module that imports this one.
#ifndef MCJEPA_DIS_FLOW_H
#define MCJEPA_DIS_FLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An OpenCV DIS instance; not safe to use from two threads at once.
typedef struct dis_flow dis_flow;

/// DIS presets, as cv::DISOpticalFlow::PRESET_*.
enum { DIS_FLOW_PRESET_ULTRAFAST = 0, DIS_FLOW_PRESET_FAST = 1, DIS_FLOW_PRESET_MEDIUM = 2 };

/// DIS's tunable parameters, one field per cv::DISOpticalFlow setter (booleans as 0 or 1).
typedef struct dis_flow_params {
    int finest_scale;                       /// finest pyramid level searched (0 = full resolution)
    int patch_size;                         /// side of the square patches, px
    int patch_stride;                       /// distance between neighbouring patches, px
    int gradient_descent_iterations;        /// inverse-search iterations per patch and scale
    int variational_refinement_iterations;  /// fixed-point iterations of the variational refinement (0: none)
    float variational_refinement_alpha;     /// its smoothness weight
    float variational_refinement_delta;     /// its colour-constancy weight
    float variational_refinement_gamma;     /// its gradient-constancy weight
    int use_mean_normalization;             /// patches compared after subtracting their mean
    int use_spatial_propagation;            /// neighbours' flows tried as each patch's start
} dis_flow_params;

/// The parameters OpenCV's `preset` sets (cv::DISOpticalFlow::create(preset) read back through its getters).
/// Returns 0, or -1 with a message in `error`.
int dis_flow_preset_params(int preset, dis_flow_params *params, char *error, size_t error_capacity);

/// A DIS instance with `params` set on it, or the medium preset's own when `params` is NULL. OpenCV checks none of
/// these values; the caller keeps them in range. NULL (with a message in `error`) when OpenCV refuses.
dis_flow *dis_flow_create(const dis_flow_params *params, char *error, size_t error_capacity);

void dis_flow_destroy(dis_flow *dis);

/// Flow from `gray1` to `gray2` (8-bit, `width` x `height`, rows `width` bytes apart) into `flow`, 2 floats per
/// pixel (u, v) interleaved. When `use_initial_flow` is non-zero, `flow` holds the initial flow on entry and DIS
/// starts its coarse-to-fine search from it instead of from zero. Returns 0, or -1 with a message in `error`.
int dis_flow_calc(dis_flow *dis, const uint8_t *gray1, const uint8_t *gray2, int width, int height, float *flow,
                  int use_initial_flow, char *error, size_t error_capacity);

/// OpenCV's worker-thread count for all its parallel loops (cv::setNumThreads; process-wide).
void dis_flow_set_threads(int threads);

/// The OpenCV version the target was built against, e.g. "4.6.0".
const char *dis_flow_opencv_version(void);

#ifdef __cplusplus
}
#endif

#endif
