// Tide's public API in one include, for a program that links Tide::tide (CMake,
// find_package(Tide)) or `pkg-config --libs tide`: tensors, automatic differentiation and
// mixed precision, layers, optimizers and schedules, datasets and loaders, the
// communicator and data parallelism, model files, ONNX, and the monitored training run.
// The headers of a layer's internals (kernels, the Reducer's buckets, the ONNX op table)
// are installed too, for those who need them, but are not part of this one.
#pragma once

#include "tide/autograd/autocast.hpp"
#include "tide/autograd/gradcheck.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/autograd/variable.hpp"
#include "tide/classify/evaluate.hpp"
#include "tide/core/error.hpp"
#include "tide/core/log.hpp"
#include "tide/core/precision.hpp"
#include "tide/core/rng.hpp"
#include "tide/data/dataset.hpp"
#include "tide/data/loader.hpp"
#include "tide/data/mnist.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/distributed/data_parallel.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/models/model_file.hpp"
#include "tide/nn/attention.hpp"
#include "tide/nn/conv_layers.hpp"
#include "tide/nn/init.hpp"
#include "tide/nn/layers.hpp"
#include "tide/nn/module.hpp"
#include "tide/nn/norm_layers.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/onnx/onnx.hpp"
#include "tide/optim/adaptive.hpp"
#include "tide/optim/factory.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/optim/sgd.hpp"
#include "tide/session/config.hpp"
#include "tide/session/training_run.hpp"
#include "tide/tensor/random.hpp"
#include "tide/tensor/safetensors.hpp"
#include "tide/tensor/tensor.hpp"
