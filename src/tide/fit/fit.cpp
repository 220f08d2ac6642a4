#include "tide/fit/fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"
#include "tide/kernels/lstsq.hpp"
#include "tide/nn/module.hpp"
#include "tide/optim/factory.hpp"

namespace tide {
namespace {

enum class Kind { linear, polynomial, exponential, logistic, rational };

Kind kind_of(const FitOptions& o) {
  if (o.model == "linear") return Kind::linear;
  if (o.model == "quadratic" || o.model == "polynomial") return Kind::polynomial;
  if (o.model == "exponential") return Kind::exponential;
  if (o.model == "logistic") return Kind::logistic;
  return Kind::rational;
}

int64_t degree_of(const FitOptions& o) {
  return o.model == "quadratic" ? 2 : o.degree;
}

// Standardisation of inputs (z = (x - mu) / sigma) and outputs (y' = (y - nu) / tau). The
// output shift is only for models that can absorb it (a constant term); the logistic curve
// keeps y as it is.
struct Scaling {
  std::vector<double> mu, sigma;
  double nu = 0, tau = 1;
};

Scaling scaling_for(Kind kind, const std::vector<double>& x, int64_t d,
                    const std::vector<double>& y, bool scale) {
  const auto n = static_cast<int64_t>(y.size());
  Scaling s{std::vector<double>(static_cast<size_t>(d), 0.0),
            std::vector<double>(static_cast<size_t>(d), 1.0), 0, 1};
  if (!scale) return s;
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[static_cast<size_t>(i * d + j)];
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[static_cast<size_t>(i * d + j)] - mean;
      var += v * v;
    }
    const double sd = std::sqrt(var / static_cast<double>(n));
    s.mu[static_cast<size_t>(j)] = mean;
    s.sigma[static_cast<size_t>(j)] = sd > 0 ? sd : 1.0;
  }
  if (kind == Kind::logistic) return s;
  double mean = 0, sq = 0;
  for (const double v : y) mean += v;
  mean /= static_cast<double>(n);
  for (const double v : y) sq += (v - mean) * (v - mean);
  const double sd = std::sqrt(sq / static_cast<double>(n));
  const bool shift = kind == Kind::linear || kind == Kind::polynomial;
  if (shift) s.nu = mean;
  // Without a shift, scale by the root mean square so y' stays of order one.
  double rms = 0;
  for (const double v : y) rms += v * v;
  rms = std::sqrt(rms / static_cast<double>(n));
  const double t = shift ? sd : rms;
  s.tau = t > 0 ? t : 1.0;
  return s;
}

// z^1 .. z^k of a column z (n, 1), as (n, k).
Tensor powers(const Tensor& z, int64_t k) {
  const int64_t n = z.dim(0);
  Tensor p = Tensor::empty({n, k});
  for (int64_t i = 0; i < n; ++i) {
    double v = 1;
    for (int64_t j = 0; j < k; ++j) {
      v *= z.data<float>()[i];
      p.data<float>()[i * k + j] = static_cast<float>(v);
    }
  }
  return p;
}

// The model on scaled data, f32: z (n, d) -> y' (n, 1). Its parameters, in order, are the
// scaled parameter vector: linear [b, w1..wd], polynomial [c0..cn], exponential [N, r],
// logistic [a, b], rational [p0..pn, q1..qm].
class ScaledModel : public Module {
 public:
  ScaledModel(Kind kind, int64_t d, int64_t degree, int64_t denominator)
      : kind_(kind), degree_(degree), denominator_(denominator) {
    switch (kind) {
      case Kind::linear:
        bias_ = register_parameter("b", Tensor::zeros({1}));
        weight_ = register_parameter("w", Tensor::zeros({1, d}));
        break;
      case Kind::polynomial:
        bias_ = register_parameter("c0", Tensor::zeros({1}));
        weight_ = register_parameter("c", Tensor::zeros({1, degree}));
        break;
      case Kind::exponential:
        bias_ = register_parameter("N", Tensor::full({1}, 1.0));
        weight_ = register_parameter("r", Tensor::zeros({1}));
        break;
      case Kind::logistic:
        bias_ = register_parameter("a", Tensor::zeros({1}));
        weight_ = register_parameter("b", Tensor::zeros({1}));
        break;
      case Kind::rational:
        bias_ = register_parameter("p0", Tensor::zeros({1}));
        weight_ = register_parameter("p", Tensor::zeros({1, degree}));
        denominator_weight_ = register_parameter("q", Tensor::zeros({denominator, 1}));
        break;
    }
  }

  Variable forward(const Variable& z) override {
    switch (kind_) {
      case Kind::linear:
        return linear(z, weight_, bias_);
      case Kind::polynomial:
        return linear(Variable(powers(z.value(), degree_)), weight_, bias_);
      case Kind::exponential:
        return bias_ * exp(weight_ * z);
      case Kind::logistic:
        return sigmoid(bias_ + weight_ * z);
      case Kind::rational: {
        const Variable numerator = linear(Variable(powers(z.value(), degree_)), weight_, bias_);
        const Variable denominator =
            matmul(Variable(powers(z.value(), denominator_)), denominator_weight_) + 1.0;
        return numerator / denominator;
      }
    }
    return z;
  }
  std::string describe() const override { return "ScaledModel"; }

  std::vector<double> scaled_parameters() const {
    std::vector<double> v;
    for (const Variable& p : parameters())
      for (const double x : p.value().to_vector()) v.push_back(x);
    return v;
  }

 private:
  Kind kind_;
  int64_t degree_, denominator_;
  Variable bias_, weight_, denominator_weight_;
};

double binomial(int64_t n, int64_t k) {
  double r = 1;
  for (int64_t i = 1; i <= k; ++i) r = r * static_cast<double>(n - k + i) / static_cast<double>(i);
  return r;
}

// The coefficients in x of sum_k c[k] z^k with z = alpha x + beta.
std::vector<double> expand(const std::vector<double>& c, double alpha, double beta) {
  std::vector<double> a(c.size(), 0.0);
  for (size_t k = 0; k < c.size(); ++k)
    for (size_t j = 0; j <= k; ++j)
      a[j] += c[k] * binomial(static_cast<int64_t>(k), static_cast<int64_t>(j)) *
              std::pow(alpha, static_cast<double>(j)) * std::pow(beta, static_cast<double>(k - j));
  return a;
}

// Scaled parameters to the data's units.
std::vector<double> unscale(Kind kind, const std::vector<double>& t, const Scaling& s,
                            int64_t degree) {
  const double alpha = 1.0 / s.sigma[0], beta = -s.mu[0] / s.sigma[0];
  switch (kind) {
    case Kind::linear: {
      std::vector<double> out(t.size());
      double b = t[0];
      for (size_t j = 1; j < t.size(); ++j) {
        out[j] = s.tau * t[j] / s.sigma[j - 1];
        b -= t[j] * s.mu[j - 1] / s.sigma[j - 1];
      }
      out[0] = s.nu + s.tau * b;
      return out;
    }
    case Kind::polynomial: {
      std::vector<double> a = expand(t, alpha, beta);
      for (double& v : a) v *= s.tau;
      a[0] += s.nu;
      return a;
    }
    case Kind::exponential:
      return {s.tau * t[0] * std::exp(t[1] * beta), t[1] * alpha};
    case Kind::logistic:
      return {t[0] + t[1] * beta, t[1] * alpha};
    case Kind::rational: {
      const auto n = static_cast<size_t>(degree);
      std::vector<double> p(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(n) + 1);
      std::vector<double> q = {1.0};
      q.insert(q.end(), t.begin() + static_cast<std::ptrdiff_t>(n) + 1, t.end());
      std::vector<double> a = expand(p, alpha, beta), b = expand(q, alpha, beta);
      double largest = 0;
      for (const double v : b) largest = std::max(largest, std::abs(v));
      TIDE_CHECK(std::abs(b[0]) > 1e-12 * largest,
                 "the fitted rational has a pole at x = 0, so its denominator cannot be written "
                 "as 1 + q1 x + ...; shift x (or try another --denominator-degree)");
      std::vector<double> out;
      for (const double v : a) out.push_back(s.tau * v / b[0]);
      for (size_t j = 1; j < b.size(); ++j) out.push_back(b[j] / b[0]);
      return out;
    }
  }
  return t;
}

std::vector<std::string> names_of(Kind kind, int64_t d, int64_t degree, int64_t denominator) {
  std::vector<std::string> names;
  switch (kind) {
    case Kind::linear:
      names.push_back("b");
      for (int64_t j = 1; j <= d; ++j) names.push_back(d == 1 ? "m" : fmt::format("m{}", j));
      break;
    case Kind::polynomial:
      for (int64_t k = 0; k <= degree; ++k) names.push_back(fmt::format("c{}", k));
      break;
    case Kind::exponential:
      names = {"N", "r"};
      break;
    case Kind::logistic:
      names = {"a", "b"};
      break;
    case Kind::rational:
      for (int64_t k = 0; k <= degree; ++k) names.push_back(fmt::format("p{}", k));
      for (int64_t k = 1; k <= denominator; ++k) names.push_back(fmt::format("q{}", k));
      break;
  }
  return names;
}

// c[first] + c[first + 1] x + ... (count terms); with `constant_one`, 1 + c[first] x + ...
std::string polynomial_text(const std::vector<double>& c, size_t first, size_t count,
                            bool constant_one) {
  std::string s = constant_one ? "1" : fmt::format("{:.6g}", c[first]);
  for (size_t k = constant_one ? 0 : 1; k < count; ++k) {
    const double v = c[first + k];
    const size_t power = constant_one ? k + 1 : k;
    s += fmt::format(" {} {:.6g} x{}", v < 0 ? "-" : "+", std::abs(v),
                     power > 1 ? fmt::format("^{}", power) : "");
  }
  return s;
}

std::string formula_of(Kind kind, const std::vector<double>& p, int64_t d, int64_t degree) {
  switch (kind) {
    case Kind::linear: {
      std::string s = fmt::format("y = {:.6g}", p[0]);
      for (int64_t j = 1; j <= d; ++j)
        s += fmt::format(" {} {:.6g} x{}", p[static_cast<size_t>(j)] < 0 ? "-" : "+",
                         std::abs(p[static_cast<size_t>(j)]), d == 1 ? "" : std::to_string(j));
      return s;
    }
    case Kind::polynomial:
      return "y = " + polynomial_text(p, 0, p.size(), false);
    case Kind::exponential:
      return fmt::format("y = {:.6g} e^({:.6g} x)", p[0], p[1]);
    case Kind::logistic:
      return fmt::format("y = 1 / (1 + e^-({:.6g} {} {:.6g} x))", p[0], p[1] < 0 ? "-" : "+",
                         std::abs(p[1]));
    case Kind::rational: {
      const auto n = static_cast<size_t>(degree) + 1;
      return "y = (" + polynomial_text(p, 0, n, false) + ") / (" +
             polynomial_text(p, n, p.size() - n, true) + ")";
    }
  }
  return "";
}

double horner(const double* c, size_t count, double x) {
  double v = 0;
  for (size_t k = count; k-- > 0;) v = v * x + c[k];
  return v;
}

// Rows `rows` of x (scaled to z, f32) and y (scaled, f32), as (n, d) and (n, 1).
std::pair<Tensor, Tensor> gather(const std::vector<double>& x, int64_t d,
                                 const std::vector<double>& y, const Scaling& s,
                                 const std::vector<int64_t>& rows) {
  const auto n = static_cast<int64_t>(rows.size());
  Tensor z = Tensor::empty({n, d}), t = Tensor::empty({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const auto r = static_cast<size_t>(rows[static_cast<size_t>(i)]);
    for (int64_t j = 0; j < d; ++j)
      z.data<float>()[i * d + j] = static_cast<float>(
          (x[r * static_cast<size_t>(d) + static_cast<size_t>(j)] - s.mu[static_cast<size_t>(j)]) /
          s.sigma[static_cast<size_t>(j)]);
    t.data<float>()[i] = static_cast<float>((y[r] - s.nu) / s.tau);
  }
  return {z, t};
}

}  // namespace

std::vector<std::string> fit_model_names() {
  return {"linear", "quadratic", "polynomial", "exponential", "logistic", "rational"};
}

int64_t parameter_count(const FitOptions& o, int64_t d) {
  switch (kind_of(o)) {
    case Kind::linear:
      return d + 1;
    case Kind::polynomial:
      return degree_of(o) + 1;
    case Kind::exponential:
    case Kind::logistic:
      return 2;
    case Kind::rational:
      return o.degree + 1 + o.denominator_degree;
  }
  return 0;
}

void validate(const FitOptions& o) {
  const auto models = fit_model_names();
  TIDE_CHECK(std::find(models.begin(), models.end(), o.model) != models.end(),
             "--model: unknown model '{}'; known models: {}", o.model, fmt::join(models, ", "));
  TIDE_CHECK(o.degree >= 1 && o.degree <= 30, "--degree must be in [1, 30], got {}", o.degree);
  TIDE_CHECK(o.denominator_degree >= 1 && o.denominator_degree <= 30,
             "--denominator-degree must be in [1, 30], got {}", o.denominator_degree);
  TIDE_CHECK(
      o.method == "gd" || o.method == "sgd" || o.method == "minibatch" || o.method == "closed-form",
      "--method must be gd, sgd, minibatch or closed-form, got '{}'", o.method);
  const Kind k = kind_of(o);
  TIDE_CHECK(o.method != "closed-form" || k == Kind::linear || k == Kind::polynomial,
             "--method closed-form solves the models linear in their parameters (linear, "
             "quadratic, polynomial); {} needs gd, sgd or minibatch",
             o.model);
  TIDE_CHECK(o.batch_size > 0, "--batch-size must be positive, got {}", o.batch_size);
  TIDE_CHECK(o.epochs >= 0, "--epochs must be >= 0 (0: about 2000 updates), got {}", o.epochs);
  TIDE_CHECK(std::isfinite(o.lr) && o.lr > 0, "--lr must be a positive number, got {}", o.lr);
  TIDE_CHECK(o.momentum >= 0 && o.momentum < 1, "--momentum must be in [0, 1), got {}", o.momentum);
  TIDE_CHECK(o.epochs <= 100000000, "--epochs {} is more than 1e8", o.epochs);
  try {
    validate(o.schedule);
  } catch (const OptionError& e) {
    throw e.prefixed("schedule.");
  }
  check_option(o.schedule.kind != ScheduleKind::plateau, {"schedule.kind"},
               "{0} plateau follows a test loss, and a fit has none: choose another");
}

void check_fit_data(const std::vector<double>& x, int64_t d, const std::vector<double>& y,
                    const FitOptions& o, const FitSource& source) {
  const bool in_float = !o.scale && o.method != "closed-form";
  const double limit = in_float ? std::numeric_limits<float>::max() : kMaxFitMagnitude;
  const auto check = [&](size_t row, double v, const std::string& column, bool output) {
    if (std::isfinite(v) && std::abs(v) <= limit) [[likely]]
      return;
    const std::string where =
        row < source.lines.size() && !source.path.empty()
            ? fmt::format("{}: line {}, column '{}'", source.path, source.lines[row], column)
            : fmt::format("row {}, {}", row + 1, column);
    TIDE_CHECK(std::isfinite(v), "{}: {} is not a finite number", where, v);
    TIDE_FAIL("{}: {} is beyond +-{:g}, the largest {} value a fit takes{}", where, v, limit,
              output ? "output" : "input",
              in_float ? " without scaling (--no-scale fits in float32)"
                       : " (its square would overflow)");
  };
  const auto n = y.size();
  for (size_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d && i * static_cast<size_t>(d) + static_cast<size_t>(j) < x.size();
         ++j) {
      const auto k = static_cast<size_t>(j);
      check(i, x[i * static_cast<size_t>(d) + k],
            k < source.x_names.size() ? source.x_names[k] : fmt::format("x{}", j + 1), false);
    }
    check(i, y[i], source.y_name.empty() ? "y" : source.y_name, true);
  }
}

namespace {

// The data and options of fit(), refused with the reason before anything is fitted.
void check_fit_inputs(const std::vector<double>& x, int64_t d, const std::vector<double>& y,
                      const FitOptions& o) {
  validate(o);
  const Kind kind = kind_of(o);
  const auto n = static_cast<int64_t>(y.size());
  TIDE_CHECK(d >= 1 && static_cast<int64_t>(x.size()) == n * d,
             "fit: {} inputs for {} outputs of {} dimension{}", x.size(), n, d, d > 1 ? "s" : "");
  TIDE_CHECK(kind == Kind::linear || d == 1, "--model {} takes one input column, got {}", o.model,
             d);
  const int64_t count = parameter_count(o, d);
  TIDE_CHECK(n >= count,
             "{} point{} cannot determine the {} parameters of --model {}: give at "
             "least {}",
             n, n == 1 ? "" : "s", count, o.model, count);
  check_fit_data(x, d, y, o);
  if (kind == Kind::logistic)
    for (int64_t i = 0; i < n; ++i)
      TIDE_CHECK(y[static_cast<size_t>(i)] >= 0 && y[static_cast<size_t>(i)] <= 1,
                 "--model logistic fits y in [0, 1]; row {} has y = {}", i + 1,
                 y[static_cast<size_t>(i)]);
}

// Least squares in the scaled variables: the centred parameters; a rank-deficient design is
// a warning in r.
std::vector<double> solve_closed_form(const std::vector<double>& x, int64_t d,
                                      const std::vector<double>& y, Kind kind, int64_t count,
                                      const Scaling& s, FitResult& r) {
  const auto n = static_cast<int64_t>(y.size());
  std::vector<double> scaled;
  // Design matrix in z: [1, z1..zd] or [1, z, z^2, ..].
  const int64_t p = count;
  std::vector<double> a(static_cast<size_t>(n * p)), b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double* row = a.data() + i * p;
    row[0] = 1;
    if (kind == Kind::linear) {
      for (int64_t j = 0; j < d; ++j)
        row[j + 1] = (x[static_cast<size_t>(i * d + j)] - s.mu[static_cast<size_t>(j)]) /
                     s.sigma[static_cast<size_t>(j)];
    } else {
      const double z = (x[static_cast<size_t>(i)] - s.mu[0]) / s.sigma[0];
      for (int64_t k = 1; k < p; ++k) {
        row[k] = row[k - 1] * z;
        TIDE_CHECK(std::isfinite(row[k]),
                   "row {}: x = {} to the power {} overflows a double: keep the scaling (no "
                   "--no-scale), lower the degree, or rescale the data",
                   i + 1, x[static_cast<size_t>(i)], k);
      }
    }
    b[static_cast<size_t>(i)] = (y[static_cast<size_t>(i)] - s.nu) / s.tau;
  }
  scaled.resize(static_cast<size_t>(p));
  const int64_t rank = least_squares(scaled.data(), a.data(), b.data(), n, p);
  if (rank < p)
    r.warning = fmt::format(
        "the design has rank {} of {} (repeated or collinear columns, or too few distinct x): "
        "this is the solution of least norm among many",
        rank, p);
  return scaled;
}

// Gradient descent (gd, sgd, minibatch) in the scaled variables: the centred parameters; the
// loss curve and step count go in r.
std::vector<double> fit_by_descent(const std::vector<double>& x, int64_t d,
                                   const std::vector<double>& y, Kind kind, int64_t degree,
                                   const Scaling& s, const FitOptions& o, FitResult& r) {
  const auto n = static_cast<int64_t>(y.size());
  ScaledModel model(kind, d, degree, o.denominator_degree);
  const std::unique_ptr<Optimizer> optimizer = make_optimizer(
      model.parameters(), OptimizerConfig{.kind = o.optimizer, .lr = o.lr, .momentum = o.momentum});
  const int64_t batch = o.method == "gd" ? n : o.method == "sgd" ? 1 : std::min(o.batch_size, n);
  const int64_t per_epoch = (n + batch - 1) / batch;
  const int64_t epochs = o.epochs > 0 ? o.epochs : (2000 + per_epoch - 1) / per_epoch;
  const int64_t total = epochs * per_epoch;
  TIDE_CHECK(total <= 1000000000, "{} epochs of {} steps is more than 1e9 steps", epochs,
             per_epoch);
  const LrSchedule schedule(o.lr, total, o.schedule);
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  const auto [z_all, t_all] = gather(x, d, y, s, all);
  const int64_t record_every = std::max<int64_t>(1, total / 200);
  const auto record = [&](int64_t step) {
    NoGradGuard no_grad;
    const double mse = mse_loss(model(Variable(z_all)), Variable(t_all)).value().item();
    TIDE_CHECK(std::isfinite(mse) || step > 0,
               "the model's values at the starting point are not finite in float32 (powers of "
               "x overflow): keep the scaling (no --no-scale) or lower the degree");
    TIDE_CHECK(std::isfinite(mse),
               "the fit diverged at step {} (mean squared error {}): lower --lr (now {})", step,
               mse, o.lr);
    r.loss.emplace_back(step, mse * s.tau * s.tau);
  };
  record(0);
  std::vector<int64_t> order = all;
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    if (batch < n) {  // the previous epoch's order shuffled again, with (seed, epoch)
      RngStream rng(o.seed, RngPurpose::shuffle, {static_cast<uint64_t>(epoch)});
      shuffle(order, rng);
    }
    for (int64_t start = 0; start < n; start += batch) {
      optimizer->zero_grad();
      optimizer->set_lr(schedule.at(step));
      Variable loss;
      if (batch == n) {
        loss = mse_loss(model(Variable(z_all)), Variable(t_all));
      } else {
        const std::vector<int64_t> rows(order.begin() + start,
                                        order.begin() + std::min(start + batch, n));
        const auto [z, t] = gather(x, d, y, s, rows);
        loss = mse_loss(model(Variable(z)), Variable(t));
      }
      loss.backward();
      optimizer->step();
      ++step;
      if (step % record_every == 0 || step == total) record(step);
    }
  }
  r.steps = step;
  return model.scaled_parameters();
}

// A warning in r when the terms of the coefficients in x cancel over the data (digits lost).
void warn_of_cancellation(const std::vector<double>& x, Kind kind, int64_t degree, const Scaling& s,
                          const std::vector<double>& fitted, FitResult& r) {
  if (kind != Kind::polynomial && kind != Kind::rational) return;
  const auto n = static_cast<int64_t>(x.size());
  // How much the terms of the coefficients in x cancel over the data: the digits lost.
  const std::vector<double>& p = r.parameters;
  double terms = 0, values = 0;
  const size_t count = kind == Kind::polynomial ? p.size() : static_cast<size_t>(degree) + 1;
  for (int64_t i = 0; i < n; ++i) {
    const double xi = std::abs(x[static_cast<size_t>(i)]);
    double power = 1, sum = 0;
    for (size_t k = 0; k < count; ++k, power *= xi) sum += std::abs(p[k]) * power;
    terms = std::max(terms, sum);
    values = std::max(values, std::abs(fitted[static_cast<size_t>(i)]));
  }
  const double lost = std::log10(std::max(terms, 1e-300) / std::max(values, 1e-300));
  if (lost > 8)
    r.warning = fmt::format(
        "x lies far from 0 for these coefficients: their terms cancel over about {:.0f} of a "
        "double's 16 digits, so evaluate the formula with care; fitted values, R and R^2 "
        "come from the centred form in z = (x - {:.6g}) / {:.6g} (fit.json: centred)",
        lost, s.mu[0], s.sigma[0]);
}

// A warning in r when the fitted denominator changes sign between the data's points.
void warn_of_pole(const std::vector<double>& x, Kind kind, int64_t degree, const Scaling& s,
                  const std::vector<double>& scaled, FitResult& r) {
  if (kind != Kind::rational) return;
  const auto n = static_cast<int64_t>(x.size());
  std::vector<double> q = {1.0};
  q.insert(q.end(), scaled.begin() + degree + 1, scaled.end());
  int sign = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double z = (x[static_cast<size_t>(i)] - s.mu[0]) / s.sigma[0];
    const int here = horner(q.data(), q.size(), z) > 0 ? 1 : -1;
    if (sign != 0 && here != sign) {
      r.warning =
          "the fitted denominator changes sign within the data: the curve has a pole "
          "between the points (try other degrees)";
      break;
    }
    sign = here;
  }
}

// R (the residuals' sum of squares) and R^2 in r; a result that is not finite is refused.
void residuals_and_checks(const std::vector<double>& y, const std::vector<double>& fitted,
                          const FitOptions& o, FitResult& r) {
  const auto n = static_cast<int64_t>(y.size());
  double mean = 0, total_ss = 0;
  for (const double v : y) mean += v;
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const double e = y[static_cast<size_t>(i)] - fitted[static_cast<size_t>(i)];
    r.rss += e * e;
    total_ss += (y[static_cast<size_t>(i)] - mean) * (y[static_cast<size_t>(i)] - mean);
  }
  r.r2 = total_ss > 0 ? 1 - r.rss / total_ss : std::numeric_limits<double>::quiet_NaN();
  // The data are finite, but powers and products of them can still overflow: refused by
  // name rather than printed (and plotted) as inf or NaN.
  for (size_t i = 0; i < r.parameters.size(); ++i)
    TIDE_CHECK(std::isfinite(r.parameters[i]),
               "the fitted {} = {} is not finite: the powers of the data overflow for --model {}; "
               "keep the scaling (no --no-scale), lower the degree, or rescale the data",
               r.names[i], r.parameters[i], o.model);
  TIDE_CHECK(std::isfinite(r.rss),
             "the fit's R (sum of squared residuals) = {} is not finite: the residuals are too "
             "large to square; rescale the data",
             r.rss);
  for (const auto& [step, mse] : r.loss)
    TIDE_CHECK(std::isfinite(mse),
               "the fit's mean squared error at step {} is {}: rescale the data", step, mse);
}

}  // namespace

FitResult fit(const std::vector<double>& x, int64_t d, const std::vector<double>& y,
              const FitOptions& o) {
  check_fit_inputs(x, d, y, o);
  const Kind kind = kind_of(o);
  const int64_t degree = degree_of(o), count = parameter_count(o, d);
  const Scaling s = scaling_for(kind, x, d, y, o.scale);
  FitResult r;
  r.names = names_of(kind, d, degree, o.denominator_degree);
  const std::vector<double> scaled = o.method == "closed-form"
                                         ? solve_closed_form(x, d, y, kind, count, s, r)
                                         : fit_by_descent(x, d, y, kind, degree, s, o, r);
  r.parameters = unscale(kind, scaled, s, degree);
  r.centred = scaled;
  r.mean = s.mu;
  r.stddev = s.sigma;
  r.y_shift = s.nu;
  r.y_scale = s.tau;
  const std::vector<double> fitted = evaluate(o, r, x, d);
  warn_of_cancellation(x, kind, degree, s, fitted, r);
  warn_of_pole(x, kind, degree, s, scaled, r);
  residuals_and_checks(y, fitted, o, r);
  r.formula = formula_of(kind, r.parameters, d, degree);
  return r;
}

std::vector<double> predict(const FitOptions& o, const std::vector<double>& p,
                            const std::vector<double>& x, int64_t d) {
  const Kind kind = kind_of(o);
  const auto n = static_cast<int64_t>(x.size()) / d;
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double* row = x.data() + i * d;
    double v = 0;
    switch (kind) {
      case Kind::linear:
        v = p[0];
        for (int64_t j = 0; j < d; ++j) v += p[static_cast<size_t>(j + 1)] * row[j];
        break;
      case Kind::polynomial:
        v = horner(p.data(), p.size(), row[0]);
        break;
      case Kind::exponential:
        v = p[0] * std::exp(p[1] * row[0]);
        break;
      case Kind::logistic:
        v = 1 / (1 + std::exp(-(p[0] + p[1] * row[0])));
        break;
      case Kind::rational: {
        const auto k = static_cast<size_t>(o.degree) + 1;
        std::vector<double> q = {1.0};
        q.insert(q.end(), p.begin() + static_cast<std::ptrdiff_t>(k), p.end());
        v = horner(p.data(), k, row[0]) / horner(q.data(), q.size(), row[0]);
        break;
      }
    }
    y[static_cast<size_t>(i)] = v;
  }
  return y;
}

std::vector<double> evaluate(const FitOptions& o, const FitResult& f, const std::vector<double>& x,
                             int64_t d) {
  const Kind kind = kind_of(o);
  const std::vector<double>& t = f.centred;
  TIDE_CHECK(!t.empty() && static_cast<int64_t>(f.mean.size()) == d,
             "evaluate: the fit has no centred form for {} input{}", d, d > 1 ? "s" : "");
  const auto n = static_cast<int64_t>(x.size()) / d;
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto z = [&](int64_t j) {
      return (x[static_cast<size_t>(i * d + j)] - f.mean[static_cast<size_t>(j)]) /
             f.stddev[static_cast<size_t>(j)];
    };
    double v = 0;
    switch (kind) {
      case Kind::linear:
        v = t[0];
        for (int64_t j = 0; j < d; ++j) v += t[static_cast<size_t>(j + 1)] * z(j);
        break;
      case Kind::polynomial:
        v = horner(t.data(), t.size(), z(0));
        break;
      case Kind::exponential:
        v = t[0] * std::exp(t[1] * z(0));
        break;
      case Kind::logistic:
        v = 1 / (1 + std::exp(-(t[0] + t[1] * z(0))));
        break;
      case Kind::rational: {
        const auto k = static_cast<size_t>(o.degree) + 1;
        std::vector<double> q = {1.0};
        q.insert(q.end(), t.begin() + static_cast<std::ptrdiff_t>(k), t.end());
        v = horner(t.data(), k, z(0)) / horner(q.data(), q.size(), z(0));
        break;
      }
    }
    y[static_cast<size_t>(i)] = kind == Kind::logistic ? v : f.y_shift + f.y_scale * v;
  }
  return y;
}

CapacityResult fit_degrees(const std::vector<double>& x, const std::vector<double>& y,
                           int64_t first, int64_t last, double validation, FitOptions o) {
  TIDE_CHECK(first >= 1 && last >= first && last <= 30,
             "--degrees must be a range such as 1-15 within 1-30, got {}-{}", first, last);
  TIDE_CHECK(validation > 0 && validation < 1, "--validation must be a fraction in (0, 1), got {}",
             validation);
  check_fit_data(x, 1, y, o);  // before the shuffle, so that rows keep their numbers
  const auto n = static_cast<int64_t>(y.size());
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  RngStream rng(o.seed, RngPurpose::data, {1});
  shuffle(order, rng);
  CapacityResult result;
  result.validation_rows = std::max<int64_t>(1, std::llround(validation * static_cast<double>(n)));
  result.train_rows = n - result.validation_rows;
  TIDE_CHECK(result.train_rows >= last + 1,
             "{} training points (of {}, with --validation {}) cannot fit a polynomial of degree "
             "{}: it has {} parameters",
             result.train_rows, n, validation, last, last + 1);
  std::vector<double> xt, yt, xv, yv;
  for (int64_t i = 0; i < n; ++i) {
    const auto r = static_cast<size_t>(order[static_cast<size_t>(i)]);
    (i < result.train_rows ? xt : xv).push_back(x[r]);
    (i < result.train_rows ? yt : yv).push_back(y[r]);
  }
  const auto mse = [](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s / static_cast<double>(a.size());
  };
  o.model = "polynomial";
  double best = std::numeric_limits<double>::infinity();
  for (int64_t k = first; k <= last; ++k) {
    o.degree = k;
    const FitResult f = fit(xt, 1, yt, o);
    DegreeScore score{k, f.rss / static_cast<double>(yt.size()), mse(evaluate(o, f, xv, 1), yv)};
    if (score.validation_mse < best) {
      best = score.validation_mse;
      result.best_degree = k;
    }
    result.scores.push_back(score);
  }
  return result;
}

}  // namespace tide
