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
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential& add(std::shared_ptr<Module> module);
  Variable forward(const Variable& x) override;
  std::string describe() const override { return "Sequential"; }
  size_t size() const { return children().size(); }
};

// Applies every child to the same input and concatenates their outputs along `dim`: the
// parallel branches of an Inception block. Children are named "0", "1", ...
class Concat : public Module {
 public:
  explicit Concat(int dim) : dim_(dim) {}
  Concat& add(std::shared_ptr<Module> module);
  Variable forward(const Variable& x) override;
  std::string describe() const override { return fmt::format("Concat(dim {})", dim_); }

 private:
  int dim_;
};

// (N, d1, d2, ...) -> (N, d1 * d2 * ...) from start_dim on.
class Flatten : public Module {
 public:
  explicit Flatten(int start_dim = 1) : start_dim_(start_dim) {}
  Variable forward(const Variable& x) override;
  std::string describe() const override { return "Flatten"; }

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

// torch.nn.ReLU; its own type so that Sequential can recognise it for fusion.
class ReLU : public Activation {
 public:
  ReLU();
};

std::shared_ptr<Module> make_relu();
std::shared_ptr<Module> make_sigmoid();
std::shared_ptr<Module> make_tanh();
std::shared_ptr<Module> make_gelu();

}  // namespace tide
