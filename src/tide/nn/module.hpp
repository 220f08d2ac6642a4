// Module: a piece of a network that owns named parameters and child modules.
//
// Parameter names are dotted paths as in PyTorch ("0.weight", "encoder.1.bias"), so a
// state dict saved by Tide loads in PyTorch and back.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/core/rng.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {

// Where a module's dropout masks come from: the k-th drawn in training step s is
// RngStream(seed, dropout, {id, s, k}), so masks depend on neither the batch nor a resume. The
// module calls begin_step(s) from its own Module::begin_step override.
class DropoutStreams {
 public:
  DropoutStreams(uint64_t seed, uint64_t id) : seed_(seed), id_(id) {}
  void begin_step(int64_t step) {
    step_ = step;
    calls_ = 0;
  }
  RngStream next() {
    return RngStream(seed_, RngPurpose::dropout,
                     {id_, static_cast<uint64_t>(step_), static_cast<uint64_t>(calls_++)});
  }

 private:
  uint64_t seed_, id_;
  int64_t step_ = 0, calls_ = 0;
};

class Module {
 public:
  virtual ~Module() = default;

  // The module's computation for one input tensor.
  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }
  // A one-line description, such as "Linear(784, 1024)".
  virtual std::string describe() const = 0;

  // Every parameter of this module and its children, depth first in registration order.
  std::vector<Variable> parameters() const;
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  int64_t num_parameters() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

  // Training mode (the default) or evaluation mode, for this module and its children.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Tells this module and its children that training step `step` begins: modules that draw
  // random numbers (Dropout) derive their stream from it, so a resumed run draws the same.
  virtual void begin_step(int64_t step);

  // Parameters and buffers by dotted name; the tensors share storage with the module.
  TensorMap state_dict() const;
  // Copies values in by name. Throws naming the tensor on a shape or dtype mismatch or a
  // non-finite value, and naming the keys when some are missing or unexpected; the module
  // is then unchanged.
  void load_state_dict(const TensorMap& state);

  // A multi-line tree of describe() for this module and its children.
  std::string summary() const;

 protected:
  Variable register_parameter(std::string name, Tensor value);
  // State that is saved and loaded but not trained (running statistics).
  void register_buffer(std::string name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    children_.emplace_back(std::move(name), module);
    return module;
  }
  const Tensor& buffer(const std::string& name) const;

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Variable>>* params,
               TensorMap* state) const;
  void summarize(const std::string& name, int depth, std::string* out) const;

  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace tide
