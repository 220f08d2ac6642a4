#include "tide/optim/param_state.hpp"

#include <fmt/format.h>

namespace tide {

ParamState::ParamState(const std::vector<Variable>& params, std::vector<std::string> kinds) {
  for (const Variable& p : params) shapes_.push_back(p.shape());
  for (std::string& k : kinds) tensors_[std::move(k)].resize(shapes_.size());
}

float* ParamState::get(const std::string& kind, size_t i) {
  Tensor& t = tensors_.at(kind)[i];
  if (!t.defined()) t = Tensor::zeros(shapes_[i]);
  return t.data<float>();
}

TensorMap ParamState::state_dict() const {
  TensorMap out;
  out.emplace("step", Tensor::full({}, static_cast<double>(step), DType::i64));
  for (const auto& [kind, list] : tensors_)
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i].defined()) out.emplace(fmt::format("{}.{}", kind, i), list[i]);
  return out;
}

void ParamState::load_state_dict(const TensorMap& state, const std::string& who) {
  for (auto& [kind, list] : tensors_) std::fill(list.begin(), list.end(), Tensor());
  step = 0;
  for (const auto& [name, t] : state) {
    if (name == "step") {
      TIDE_CHECK(t.numel() == 1, "{} state 'step' should hold one number, got {}", who, t.str());
      step = static_cast<int64_t>(t.item());
      continue;
    }
    const size_t dot = name.rfind('.');
    const auto it = tensors_.find(name.substr(0, dot));
    size_t i = 0;
    TIDE_CHECK(dot != std::string::npos && it != tensors_.end() &&
                   std::sscanf(name.c_str() + dot + 1, "%zu", &i) == 1 && i < shapes_.size(),
               "{} state has an unexpected entry '{}'", who, name);
    TIDE_CHECK(t.shape() == shapes_[i] && t.dtype() == DType::f32,
               "{} state '{}' is {}, its parameter is f32{}", who, name, t.str(), shapes_[i].str());
    it->second[i] = t.clone();
  }
}

}  // namespace tide
