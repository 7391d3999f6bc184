/* Initial Gaussian scales on the device: mean squared distance to the 3 nearest neighbours. */
#ifndef CLS_KNN_H
#define CLS_KNN_H

#include "internal.h"

/* For n points xyz[3n] (host), writes mean_sq[n] (host): the mean squared distance of each
 * point to its 3 nearest neighbours among those close to it along a Morton curve (cl/knn.cl),
 * at least 1e-7. */
cls_status cls__knn_mean_sq3(cls_context *ctx, const float *xyz, size_t n, float *mean_sq);

#endif
