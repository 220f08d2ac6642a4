// Variable: a tensor, its gradient, and the node of the graph that produced it.
//
// Ops (ops_*.hpp) compute their result and return it with a closure that computes their
// inputs' gradients; backward() runs those closures in reverse topological order. A
// Variable is a shared handle: copies refer to the same value and gradient.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tide/tensor/tensor.hpp"

namespace tide {

class Variable;

// Given the gradient of an op's output, adds each input's gradient with
// inputs[i].accumulate_grad(...), skipping inputs that do not require a gradient.
using BackwardFn = std::function<void(const Tensor& grad_output, std::vector<Variable>& inputs)>;

// One recorded op: its inputs and its backward closure (which holds what it saved).
struct Node {
  const char* name;
  std::vector<Variable> inputs;
  BackwardFn backward;
};

class Variable {
 public:
  // An undefined variable.
  Variable() = default;
  // A leaf: a parameter (requires_grad) or an input (not).
  explicit Variable(Tensor value, bool requires_grad = false);

  bool defined() const { return data_ != nullptr; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  DType dtype() const { return value().dtype(); }
  int64_t numel() const { return value().numel(); }
  int64_t dim(int i) const { return value().dim(i); }
  // Replaces the value (same shape and dtype), as optimizers and state-dict loading do.
  void set_value(Tensor value);

  bool requires_grad() const;
  // The accumulated gradient; undefined before the first backward or after zero_grad().
  const Tensor& grad() const;
  // Adds g to the gradient (takes it as the gradient when there is none yet).
  void accumulate_grad(Tensor g);
  // For a gradient that covers part of this variable (the backward of slice): add() adds it
  // into the tensor it is given, which is the gradient itself when nothing else holds it,
  // else a copy of it, or zeros when there is no gradient yet.
  void accumulate_grad_part(const std::function<void(const Tensor& grad)>& add);
  // Drops the gradient; the next backward starts from nothing.
  void zero_grad();
  // A tensor of this variable's shape and dtype for an op to write a gradient of it into,
  // then pass to accumulate_grad(). Uninitialised. Normally a new tensor; while there is no
  // gradient yet and a gradient buffer is set, that buffer: the gradient then lands where a
  // data-parallel reducer sends it from, without a copy.
  Tensor new_grad() const;
  // The buffer new_grad() hands out (a view of the reducer's bucket); undefined to unset.
  void set_grad_buffer(Tensor buffer);
  // For a leaf: `hook(*this)` runs during each backward() as soon as this variable's
  // gradient for that backward is complete (every op that used it has added its part), on
  // the thread running backward(). A data-parallel reducer starts averaging it from there
  // while the rest of backward goes on. An empty function removes the hook.
  void set_grad_ready_hook(std::function<void(Variable&)> hook);

  // Back-propagates from this scalar variable (its gradient is 1).
  void backward() const;
  // Back-propagates from this variable with the given gradient of the same shape.
  void backward(const Tensor& grad_output) const;

  // The same value as a new leaf that requires no gradient.
  Variable detach() const;
  bool is_leaf() const;
  const std::shared_ptr<Node>& node() const;
  // Variables are equal when they are the same handle.
  bool same(const Variable& other) const { return data_ == other.data_; }

 private:
  friend Variable make_result(Tensor, std::vector<Variable>, BackwardFn, const char*);
  struct Data {
    // Releases a long chain of nodes iteratively; the default destructor would recurse once
    // per node and overflow the stack on deep graphs.
    ~Data();
    Tensor value;
    Tensor grad;
    bool requires_grad = false;
    std::shared_ptr<Node> node;
    // Set when backward() consumed `node`; another backward through here is an error.
    const char* freed_op = nullptr;
    std::function<void(Variable&)> grad_ready_hook;
    Tensor grad_buffer;
  };
  Data& data() const;
  std::shared_ptr<Data> data_;
};

// Wraps `value` as the output of the op `name` on `inputs`. Records `backward` in the graph
// when gradients are enabled and some input requires a gradient; otherwise returns a leaf.
Variable make_result(Tensor value, std::vector<Variable> inputs, BackwardFn backward,
                     const char* name);

// While a NoGradGuard lives, ops on this thread record nothing (evaluation, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

bool grad_enabled();

}  // namespace tide
