// Every differentiable op, one header per op family.
#pragma once

#include "tide/autograd/ops_activation.hpp"
#include "tide/autograd/ops_conv.hpp"
#include "tide/autograd/ops_elementwise.hpp"
#include "tide/autograd/ops_embedding.hpp"
#include "tide/autograd/ops_loss.hpp"
#include "tide/autograd/ops_matmul.hpp"
#include "tide/autograd/ops_norm.hpp"
#include "tide/autograd/ops_pad.hpp"
#include "tide/autograd/ops_pool.hpp"
#include "tide/autograd/ops_reduce.hpp"
#include "tide/autograd/ops_rnn.hpp"
#include "tide/autograd/ops_shape.hpp"
#include "tide/autograd/variable.hpp"
