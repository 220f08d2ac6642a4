#include "tide/autograd/variable.hpp"

#include <unordered_set>

#include "tide/autograd/tensor_math.hpp"

namespace tide {
namespace {

// Gradient recording is per thread, like PyTorch's: a data-loading thread is unaffected by
// an evaluation running under no_grad.
thread_local bool t_grad_enabled = true;

}  // namespace

Variable::Variable(Tensor value, bool requires_grad) : data_(std::make_shared<Data>()) {
  TIDE_CHECK(value.defined(), "a Variable needs a defined tensor");
  TIDE_CHECK(!requires_grad || value.dtype() != DType::i64,
             "an integer tensor {} cannot require a gradient", value.str());
  data_->value = std::move(value);
  data_->requires_grad = requires_grad;
}

Variable::Data::~Data() {
  std::vector<std::shared_ptr<Node>> pending;
  if (node && node.use_count() == 1) pending.push_back(std::move(node));
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    for (Variable& input : n->inputs) {
      // Steal the node of any input that dies with this one, so its destructor finds none.
      Data* d = input.data_.get();
      if (d && input.data_.use_count() == 1 && d->node && d->node.use_count() == 1)
        pending.push_back(std::move(d->node));
    }
  }
}

Variable::Data& Variable::data() const {
  TIDE_CHECK(data_ != nullptr, "use of an undefined Variable");
  return *data_;
}

const Tensor& Variable::value() const {
  return data().value;
}

void Variable::set_value(Tensor value) {
  TIDE_CHECK(value.shape() == data().value.shape() && value.dtype() == data().value.dtype(),
             "cannot replace a value of {} with {}", data().value.str(), value.str());
  data().value = std::move(value);
}

bool Variable::requires_grad() const {
  return data().requires_grad;
}
const Tensor& Variable::grad() const {
  return data().grad;
}
bool Variable::is_leaf() const {
  return data().node == nullptr;
}
const std::shared_ptr<Node>& Variable::node() const {
  return data().node;
}

void Variable::accumulate_grad(Tensor g) {
  Data& d = data();
  if (!d.requires_grad) return;
  TIDE_CHECK(g.shape() == d.value.shape() && g.dtype() == d.value.dtype(),
             "gradient {} does not match its variable {}", g.str(), d.value.str());
  if (!d.grad.defined()) {
    d.grad = std::move(g);
  } else if (d.grad.sole_owner() ||  // nothing else sees it, or it is the gradient buffer
             (d.grad_buffer.defined() && d.grad.raw_data() == d.grad_buffer.raw_data())) {
    dispatch_float(g.dtype(), "gradient accumulation", [&]<class T>(T) {
      binary(d.grad.data<T>(), d.grad.data<T>(), g.data<T>(), g.shape(), g.shape(), g.shape(),
             BinaryOp::add);
    });
  } else {  // the first contribution may be a tensor the caller still holds
    d.grad = binary_tensor(d.grad, g, BinaryOp::add);
  }
}

void Variable::accumulate_grad_part(const std::function<void(const Tensor& grad)>& add) {
  Data& d = data();
  if (!d.requires_grad) return;
  if (!d.grad.defined())
    d.grad = Tensor::zeros(d.value.shape(), d.value.dtype());
  else if (!d.grad.sole_owner())
    d.grad = d.grad.clone();
  add(d.grad);
}

void Variable::zero_grad() {
  data().grad = Tensor();
}

Tensor Variable::new_grad() const {
  const Data& d = data();
  if (!d.grad.defined() && d.grad_buffer.defined()) return d.grad_buffer;
  return Tensor::empty(d.value.shape(), d.value.dtype());
}

void Variable::set_grad_buffer(Tensor buffer) {
  TIDE_CHECK(!buffer.defined() || (buffer.shape() == value().shape() && buffer.dtype() == dtype()),
             "gradient buffer {} does not match its variable {}", buffer.str(), value().str());
  data().grad_buffer = std::move(buffer);
}

void Variable::set_grad_ready_hook(std::function<void(Variable&)> hook) {
  TIDE_CHECK(is_leaf(),
             "a gradient-ready hook goes on a leaf (a parameter), not on an op's output");
  data().grad_ready_hook = std::move(hook);
}

Variable Variable::detach() const {
  return Variable(value(), false);
}

void Variable::backward() const {
  TIDE_CHECK(numel() == 1, "backward() without a gradient needs a scalar, got {}", value().str());
  backward(Tensor::full(shape(), 1.0, dtype()));
}

void Variable::backward(const Tensor& grad_output) const {
  TIDE_CHECK(requires_grad(), "backward() on a variable that does not require a gradient");
  TIDE_CHECK(grad_output.shape() == shape() && grad_output.dtype() == dtype(),
             "backward(): gradient {} does not match the output {}", grad_output.str(),
             value().str());
  // Reverse topological order by an iterative depth-first search: graphs of long recurrent
  // networks are too deep for recursion.
  // `order` owns its entries: freeing a node as it is consumed must not free a variable
  // that is still to be processed.
  std::vector<std::shared_ptr<Data>> order;
  std::unordered_set<Data*> visited;
  auto check_not_freed = [](const Data& d) {
    TIDE_CHECK(d.freed_op == nullptr,
               "backward() through the output of '{}' a second time: an earlier backward() "
               "freed that part of the graph; run the forward pass again",
               d.freed_op);
  };
  check_not_freed(*data_);
  std::vector<std::pair<std::shared_ptr<Data>, size_t>> stack{{data_, 0}};
  visited.insert(data_.get());
  while (!stack.empty()) {
    auto& [d, next] = stack.back();
    if (d->node && next < d->node->inputs.size()) {
      const std::shared_ptr<Data>& child = d->node->inputs[next++].data_;
      if (child->requires_grad && visited.insert(child.get()).second) {
        check_not_freed(*child);
        stack.emplace_back(child, 0);
      }
    } else {
      order.push_back(d);
      stack.pop_back();
    }
  }
  data_->grad = grad_output;
  // Reverse post-order is topological: a leaf comes after every op that uses it, so its
  // gradient is complete when the loop reaches it.
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Data* d = it->get();
    if (!d->node) {  // a leaf: its gradient stays
      if (d->grad_ready_hook) {
        Variable leaf;
        leaf.data_ = *it;
        d->grad_ready_hook(leaf);
      }
      continue;
    }
    // Take the node and the gradient out first: the graph is freed as it is consumed, so
    // saved activations go as soon as they are used.
    std::shared_ptr<Node> node = std::move(d->node);
    d->freed_op = node->name;
    Tensor grad = std::move(d->grad);
    if (!grad.defined()) continue;  // no path from the output reached this node
    node->backward(grad, node->inputs);
  }
}

Variable make_result(Tensor value, std::vector<Variable> inputs, BackwardFn backward,
                     const char* name) {
  Variable out(std::move(value));
  if (!t_grad_enabled) return out;
  bool any = false;
  for (const Variable& v : inputs) any = any || v.requires_grad();
  if (!any) return out;
  out.data_->requires_grad = true;
  out.data_->node = std::make_shared<Node>(Node{name, std::move(inputs), std::move(backward)});
  return out;
}

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) {
  t_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  t_grad_enabled = previous_;
}
bool grad_enabled() {
  return t_grad_enabled;
}

}  // namespace tide
