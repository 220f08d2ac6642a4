// Basic layers: Linear, Sequential, Flatten and the elementwise activations.
#pragma once

#include <functional>

#include "tide/core/rng.hpp"
#include "tide/nn/module.hpp"

namespace tide {

enum class LinearInit {
  torch_default,  // PyTorch's: weight and bias U(-1/sqrt(in), 1/sqrt(in))
  kaiming,        // He uniform for ReLU networks (gain sqrt 2), zero bias
  xavier,         // Glorot uniform (gain 1), zero bias
};

// y (..., out) = x (..., in) W^T + b, with weight (out, in) and bias (out), as torch.nn.Linear.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, RngStream& rng, bool bias = true,
         LinearInit init = LinearInit::torch_default);
  Variable forward(const Variable& x) override;
  std::string describe() const override;
  const Variable& weight() const { return weight_; }
  const Variable& bias() const { return bias_; }

 private:
  int64_t in_features_, out_features_;
  Variable weight_, bias_;
};

// Applies its children in order; they are named "0", "1", ... as in torch.nn.Sequential.
//
// forward() follows a plan of stages, each a run of consecutive children computed by one
// function. add() appends a stage of one child that calls the child's forward(); fuse()
// replaces a run of such stages by one fused stage (fuse_conv_relu_maxpool in
// conv_layers.hpp is the pass that does so). The children, and so the parameters and their
// names, are the same either way: a fused stage only computes what its children would.
class Sequential : public Module {
 public:
  struct Stage {
    size_t first = 0;  // index of the stage's first child
    size_t count = 0;  // how many children it computes
    std::string op;    // the fused op's name; empty for a child run by its own forward()
    std::function<Variable(const Variable&)> run;
  };

  Sequential() = default;
  // Appends a child named by its index ("0", "1", ...), or by `name`.
  Sequential& add(std::shared_ptr<Module> module);
  Sequential& add(std::string name, std::shared_ptr<Module> module);
  // Appends a stage that adds a parameter of this Sequential, `name`, to its input
  // (broadcasting): the learned positions a transformer adds to its token embeddings.
  Sequential& add_parameter(std::string name, Tensor value);
  // From now on forward() computes children first .. first + count - 1 by `run`, which must
  // give what they give one by one, in value and gradient. Throws if the children do not
  // exist, if count < 2, if `run` is empty, or if one of them already belongs to a fused
  // stage.
  void fuse(size_t first, size_t count, std::string op,
            std::function<Variable(const Variable&)> run);
  // Whether child `index` belongs to a fused stage.
  bool is_fused(size_t index) const;
  const std::vector<Stage>& plan() const { return plan_; }
  Variable forward(const Variable& x) override;
  // "Sequential", or with fused stages "Sequential(fused: 0-2 conv2d_relu_maxpool)".
  std::string describe() const override;
  size_t size() const { return children().size(); }

 private:
  std::vector<Stage> plan_;  // in child order; together the stages cover every child once
};

// Applies every child to the same input and concatenates their outputs along `dim`: the
// parallel branches of an Inception block. Children are named "0", "1", ...
class Concat : public Module {
 public:
  explicit Concat(int dim) : dim_(dim) {}
  Concat& add(std::shared_ptr<Module> module);
  Variable forward(const Variable& x) override;
  std::string describe() const override { return fmt::format("Concat(dim {})", dim_); }
  int dim() const { return dim_; }

 private:
  int dim_;
};

// Applies every child to the same input and adds their outputs, which must have one shape:
// a residual connection is Sum(Identity, block). Children are named "0", "1", ...
class Sum : public Module {
 public:
  Sum& add(std::shared_ptr<Module> module);
  Variable forward(const Variable& x) override;
  std::string describe() const override { return "Sum"; }
};

class Identity : public Module {
 public:
  Variable forward(const Variable& x) override { return x; }
  std::string describe() const override { return "Identity"; }
};

// The mean over dimension `dim`, which goes: (B, T, E) -> (B, E) for dim 1.
class Mean : public Module {
 public:
  explicit Mean(int dim) : dim_(dim) {}
  Variable forward(const Variable& x) override;
  std::string describe() const override { return fmt::format("Mean(dim {})", dim_); }
  int dim() const { return dim_; }

 private:
  int dim_;
};

// Reorders the axes, as torch.permute: output dimension i is input dimension dims[i].
class Permute : public Module {
 public:
  explicit Permute(std::vector<int> dims) : dims_(std::move(dims)) {}
  Variable forward(const Variable& x) override;
  std::string describe() const override;
  const std::vector<int>& dims() const { return dims_; }

 private:
  std::vector<int> dims_;
};

// (N, d1, d2, ...) -> (N, d1 * d2 * ...) from start_dim on.
class Flatten : public Module {
 public:
  explicit Flatten(int start_dim = 1) : start_dim_(start_dim) {}
  Variable forward(const Variable& x) override;
  std::string describe() const override;
  int start_dim() const { return start_dim_; }

 private:
  int start_dim_;
};

// A parameter-free elementwise function as a module (ReLU, Sigmoid, Tanh).
class Activation : public Module {
 public:
  Activation(std::string name, std::function<Variable(const Variable&)> fn)
      : name_(std::move(name)), fn_(std::move(fn)) {}
  Variable forward(const Variable& x) override { return fn_(x); }
  std::string describe() const override { return name_; }

 private:
  std::string name_;
  std::function<Variable(const Variable&)> fn_;
};

// torch.nn.ReLU; its own type so that fuse_conv_relu_maxpool can recognise it.
class ReLU : public Activation {
 public:
  ReLU();
};

std::shared_ptr<Module> make_relu();
std::shared_ptr<Module> make_sigmoid();
std::shared_ptr<Module> make_tanh();
std::shared_ptr<Module> make_gelu();

}  // namespace tide
