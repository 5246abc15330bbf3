// OpenCV's DIS behind the C interface in include/dis_flow.h. Every OpenCV exception is caught here and turned into
// a return code and a message: none may unwind into Swift.
#include "dis_flow.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/video/tracking.hpp>

#include <cstdio>
#include <exception>
#include <memory>

struct dis_flow {
    cv::Ptr<cv::DISOpticalFlow> dis;
};

static void set_error(char *error, size_t capacity, const char *message) {
    if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", message);
}

extern "C" int dis_flow_preset_params(int preset, dis_flow_params *params, char *error, size_t error_capacity) {
    if (preset < DIS_FLOW_PRESET_ULTRAFAST || preset > DIS_FLOW_PRESET_MEDIUM || params == nullptr) {
        set_error(error, error_capacity, "unknown DIS preset, or no parameters to fill");
        return -1;
    }
    try {
        const cv::Ptr<cv::DISOpticalFlow> dis = cv::DISOpticalFlow::create(preset);
        *params = dis_flow_params{dis->getFinestScale(), dis->getPatchSize(), dis->getPatchStride(),
                                  dis->getGradientDescentIterations(), dis->getVariationalRefinementIterations(),
                                  dis->getVariationalRefinementAlpha(), dis->getVariationalRefinementDelta(),
                                  dis->getVariationalRefinementGamma(), dis->getUseMeanNormalization() ? 1 : 0,
                                  dis->getUseSpatialPropagation() ? 1 : 0};
        return 0;
    } catch (const std::exception &e) {
        set_error(error, error_capacity, e.what());
        return -1;
    }
}

extern "C" dis_flow *dis_flow_create(const dis_flow_params *params, char *error, size_t error_capacity) {
    try {
        auto handle = std::make_unique<dis_flow>(dis_flow{cv::DISOpticalFlow::create(DIS_FLOW_PRESET_MEDIUM)});
        if (params != nullptr) {
            cv::DISOpticalFlow &dis = *handle->dis;
            dis.setFinestScale(params->finest_scale);
            dis.setPatchSize(params->patch_size);
            dis.setPatchStride(params->patch_stride);
            dis.setGradientDescentIterations(params->gradient_descent_iterations);
            dis.setVariationalRefinementIterations(params->variational_refinement_iterations);
            dis.setVariationalRefinementAlpha(params->variational_refinement_alpha);
            dis.setVariationalRefinementDelta(params->variational_refinement_delta);
            dis.setVariationalRefinementGamma(params->variational_refinement_gamma);
            dis.setUseMeanNormalization(params->use_mean_normalization != 0);
            dis.setUseSpatialPropagation(params->use_spatial_propagation != 0);
        }
        return handle.release();
    } catch (const std::exception &e) {
        set_error(error, error_capacity, e.what());
        return nullptr;
    }
}

extern "C" void dis_flow_destroy(dis_flow *dis) { delete dis; }

extern "C" int dis_flow_calc(dis_flow *dis, const uint8_t *gray1, const uint8_t *gray2, int width, int height,
                             float *flow, int use_initial_flow, char *error, size_t error_capacity) {
    if (dis == nullptr || gray1 == nullptr || gray2 == nullptr || flow == nullptr || width <= 0 || height <= 0) {
        set_error(error, error_capacity, "invalid arguments");
        return -1;
    }
    try {
        // Headers over the caller's buffers: nothing is copied in, and DIS writes the result into `flow` itself as
        // long as its size and type already match (OpenCV's create() keeps a matching buffer).
        const cv::Mat first(height, width, CV_8UC1, const_cast<uint8_t *>(gray1));
        const cv::Mat second(height, width, CV_8UC1, const_cast<uint8_t *>(gray2));
        cv::Mat result(height, width, CV_32FC2, flow);
        if (use_initial_flow) {
            // DIS takes the output array's content as its initial flow when it has the frames' size and type.
            dis->dis->calc(first, second, result);
        } else {
            cv::Mat fresh;
            dis->dis->calc(first, second, fresh);
            fresh.copyTo(result);
        }
        if (result.data != reinterpret_cast<uchar *>(flow)) {
            set_error(error, error_capacity, "OpenCV reallocated the flow buffer");
            return -1;
        }
        return 0;
    } catch (const std::exception &e) {
        set_error(error, error_capacity, e.what());
        return -1;
    }
}

extern "C" void dis_flow_set_threads(int threads) { cv::setNumThreads(threads); }

extern "C" const char *dis_flow_opencv_version(void) { return CV_VERSION; }
