#include "tide/autograd/gradcheck.hpp"

#include <cmath>

#include "tide/autograd/ops.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

double project(const Tensor& y, const Tensor& w) {
  const auto yv = y.to_vector(), wv = w.to_vector();
  double s = 0;
  for (size_t i = 0; i < yv.size(); ++i) s += yv[i] * wv[i];
  return s;
}

// Reads or writes element i of a float tensor as double.
double get(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
}
void set(const Tensor& t, int64_t i, double v) {
  if (t.dtype() == DType::f64)
    t.data<double>()[i] = v;
  else
    t.data<float>()[i] = static_cast<float>(v);
}

}  // namespace

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
  std::vector<Tensor> values;
  std::vector<Variable> leaves;
  for (const Tensor& t : inputs) {
    values.push_back(t.clone());
    leaves.emplace_back(values.back(), t.dtype() != DType::i64);
  }
  const Variable y = f(leaves);
  RngStream rng(options.seed, RngPurpose::test);
  const Tensor w = uniform(y.shape(), -1.0, 1.0, rng, y.dtype());
  y.backward(w);

  GradcheckResult result;
  int reported = 0;
  for (size_t k = 0; k < leaves.size(); ++k) {
    if (!leaves[k].requires_grad()) continue;
    const Tensor analytic = leaves[k].grad();
    const std::vector<double> a =
        analytic.defined() ? analytic.to_vector() : std::vector<double>(values[k].numel(), 0.0);
    for (int64_t i = 0; i < values[k].numel(); ++i) {
      // f sees the nudged storage through fresh leaves; no graph from this is kept.
      auto eval = [&](double delta) {
        NoGradGuard no_grad;
        const double original = get(values[k], i);
        set(values[k], i, original + delta);
        std::vector<Variable> probe;
        for (const Tensor& v : values) probe.emplace_back(v);
        const double out = project(f(probe).value(), w);
        set(values[k], i, original);
        return out;
      };
      const double numeric = (eval(options.eps) - eval(-options.eps)) / (2 * options.eps);
      const double err = std::abs(a[i] - numeric);
      result.max_error = std::max(result.max_error, err);
      if (err > options.atol + options.rtol * std::abs(numeric)) {
        result.ok = false;
        if (reported++ < 5)
          result.report += fmt::format("input {} element {}: analytic {:.10g}, numeric {:.10g}\n",
                                       k, i, a[i], numeric);
      }
    }
  }
  return result;
}

}  // namespace tide
