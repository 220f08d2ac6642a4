#include "tide/nn/module.hpp"

#include <set>

#include <fmt/ranges.h>

namespace tide {

void Module::collect(const std::string& prefix,
                     std::vector<std::pair<std::string, Variable>>* params,
                     TensorMap* state) const {
  for (const auto& [name, p] : params_) {
    if (params) params->emplace_back(prefix + name, p);
    if (state) state->emplace(prefix + name, p.value());
  }
  if (state)
    for (const auto& [name, b] : buffers_) state->emplace(prefix + name, b);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, state);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  collect("", &out, nullptr);
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Variable& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::begin_step(int64_t step) {
  for (auto& [name, child] : children_) child->begin_step(step);
}

TensorMap Module::state_dict() const {
  TensorMap out;
  collect("", nullptr, &out);
  return out;
}

void Module::load_state_dict(const TensorMap& state) {
  const TensorMap mine = state_dict();
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, t] : mine)
    if (!state.contains(name)) missing.push_back(name);
  for (const auto& [name, t] : state)
    if (!mine.contains(name)) unexpected.push_back(name);
  TIDE_CHECK(missing.empty() && unexpected.empty(),
             "state dict does not match the model: missing [{}], unexpected [{}]",
             fmt::join(missing, ", "), fmt::join(unexpected, ", "));
  for (const auto& [name, t] : mine) {
    const Tensor& src = state.at(name);
    TIDE_CHECK(src.shape() == t.shape() && src.dtype() == t.dtype(),
               "state dict tensor '{}' is {}, the model expects {}", name, src.str(), t.str());
    check_finite(src, fmt::format("state dict tensor '{}'", name));
  }
  // Copy only after every check passed, so a bad state dict leaves the model untouched.
  for (const auto& [name, t] : mine) Tensor(t).copy_from(state.at(name));
}

Variable Module::register_parameter(std::string name, Tensor value) {
  Variable p(std::move(value), true);
  params_.emplace_back(std::move(name), p);
  return p;
}

void Module::register_buffer(std::string name, Tensor value) {
  buffers_.emplace_back(std::move(name), std::move(value));
}

const Tensor& Module::buffer(const std::string& name) const {
  for (const auto& [n, b] : buffers_)
    if (n == name) return b;
  TIDE_FAIL("{} has no buffer '{}'", describe(), name);
}

void Module::summarize(const std::string& name, int depth, std::string* out) const {
  *out +=
      fmt::format("{:{}}{}{}\n", "", 2 * depth, name.empty() ? "" : "(" + name + ") ", describe());
  for (const auto& [n, child] : children_) child->summarize(n, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  summarize("", 0, &out);
  return out;
}

}  // namespace tide
