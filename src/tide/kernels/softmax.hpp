// Softmax, log-softmax and cross-entropy along one axis. A tensor is seen as
// (outer, size, inner) with the softmax taken over `size`; inner = 1 is the common
// "last dimension" case and has the fast path.
#pragma once

#include <cstdint>

namespace tide {

// y (outer, size, inner) = softmax (or log-softmax when log) of x over the middle axis.
// float runs oneDNN's softmax primitives (vectorised exp); double runs the loops below.
void softmax(float* y, const float* x, int64_t outer, int64_t size, int64_t inner, bool log);
void softmax(double* y, const double* x, int64_t outer, int64_t size, int64_t inner, bool log);

// dx = the input gradient of softmax (log = false) or log-softmax (log = true), given the
// forward output y and its gradient dy; all (outer, size, inner).
void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t size,
                      int64_t inner, bool log);
void softmax_backward(double* dx, const double* dy, const double* y, int64_t outer, int64_t size,
                      int64_t inner, bool log);

// The plain loops, for checking and for f64; backward adds into dx when accumulate.
template <class T>
void softmax_reference(T* y, const T* x, int64_t outer, int64_t size, int64_t inner, bool log);
template <class T>
void softmax_backward_reference(T* dx, const T* dy, const T* y, int64_t outer, int64_t size,
                                int64_t inner, bool log, bool accumulate);

// Mean cross-entropy of logits (n, classes) against integer labels (n): writes the softmax
// probabilities to probs (n, classes) for the backward pass and returns the mean loss.
// Throws naming the row when a label is outside [0, classes).
template <class T>
double cross_entropy(T* probs, const T* logits, const int64_t* labels, int64_t n, int64_t classes);

// dlogits (n, classes) (+)= (probs - onehot(labels)) * scale; scale is dloss / n for a mean.
template <class T>
void cross_entropy_backward(T* dlogits, const T* probs, const int64_t* labels, int64_t n,
                            int64_t classes, T scale, bool accumulate);

// Label smoothing's extra term: the mean over rows of -(1/classes) sum_c log softmax(x)_c
// = logsumexp(x) - mean(x), for logits (n, classes).
template <class T>
double mean_uniform_nll(const T* logits, int64_t n, int64_t classes);

// dlogits (n, classes) += scale * eps * (onehot(labels) - 1 / classes): with the
// cross-entropy backward, the gradient of a smoothed target (1 - eps) onehot + eps / classes.
template <class T>
void label_smoothing_backward(T* dlogits, const int64_t* labels, int64_t n, int64_t classes,
                              T scale, T eps);

}  // namespace tide
