// Classical regression: each model recovers known parameters from noisy data it generated,
// the gradient methods agree with LAPACK's closed form, the capacity sweep finds the degree
// of the data, and bad requests are clear errors.
#include <cmath>
#include <functional>
#include <tuple>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/core/rng.hpp"
#include "tide/data/csv.hpp"
#include "tide/fit/fit.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;
using tide::testing::error_of;

struct Data {
  std::vector<double> x, y;
};

// n points of f at x evenly spread over [lo, hi], plus N(0, noise) from a fixed stream.
Data generate(const std::function<double(double)>& f, double lo, double hi, int n, double noise,
              uint64_t seed = 1) {
  RngStream rng(seed, RngPurpose::test);
  Data d;
  for (int i = 0; i < n; ++i) {
    const double x = lo + (hi - lo) * i / (n - 1);
    d.x.push_back(x);
    d.y.push_back(f(x) + noise * rng.normal());
  }
  return d;
}

void expect_parameters(const FitResult& r, const std::vector<double>& want, double tol,
                       const std::string& what) {
  ASSERT_EQ(r.parameters.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(r.parameters[i], want[i], tol) << what << ": " << r.names[i];
}

TEST(Fit, LinearByEveryMethodRecoversSlopeAndIntercept) {
  const Data d = generate([](double x) { return 2 + 0.5 * x; }, 0, 10, 200, 0.1);
  FitOptions o;
  o.method = "closed-form";
  const FitResult exact = fit(d.x, 1, d.y, o);
  expect_parameters(exact, {2, 0.5}, 0.05, "closed-form");
  EXPECT_EQ(exact.names, (std::vector<std::string>{"b", "m"}));
  EXPECT_GT(exact.r2, 0.99);
  EXPECT_EQ(exact.steps, 0);
  // The gradient methods reach the closed form's minimum.
  // SGD with momentum 0.9 at (method, epochs, lr): single examples need a smaller rate;
  // both stochastic methods anneal it (cosine) so the last steps settle.
  o.optimizer = OptimizerKind::sgd;
  for (const auto& [method, epochs, lr] : {std::tuple{"gd", 500, 0.1}, std::tuple{"sgd", 40, 0.01},
                                           std::tuple{"minibatch", 100, 0.05}}) {
    o.method = method;
    o.epochs = epochs;
    o.lr = lr;
    o.schedule.kind = std::string(method) == "gd" ? ScheduleKind::constant : ScheduleKind::cosine;
    const FitResult r = fit(d.x, 1, d.y, o);
    expect_parameters(r, exact.parameters, std::string(method) == "gd" ? 1e-4 : 2e-3, method);
    EXPECT_NEAR(r.rss, exact.rss, exact.rss * (std::string(method) == "gd" ? 1e-5 : 1e-3))
        << method;
    EXPECT_GT(r.steps, 0);
    ASSERT_GE(r.loss.size(), 2u);
    EXPECT_LT(r.loss.back().second, r.loss.front().second) << method;
  }
}

TEST(Fit, LinearWithSeveralInputs) {
  RngStream rng(2, RngPurpose::test);
  std::vector<double> x, y;
  for (int i = 0; i < 300; ++i) {
    const double a = rng.uniform() * 4, b = rng.uniform() * 10 - 5, c = rng.uniform() * 100;
    x.insert(x.end(), {a, b, c});
    y.push_back(1 + 2 * a - 3 * b + 0.05 * c + 0.01 * rng.normal());
  }
  FitOptions o;
  o.method = "closed-form";
  const FitResult exact = fit(x, 3, y, o);
  expect_parameters(exact, {1, 2, -3, 0.05}, 0.01, "closed-form");
  EXPECT_EQ(exact.names, (std::vector<std::string>{"b", "m1", "m2", "m3"}));
  o.method = "gd";  // the defaults: Adam, lr 0.05, cosine over 2000 steps
  const FitResult by_default = fit(x, 3, y, o);
  expect_parameters(by_default, exact.parameters, 1e-3, "gd");
  EXPECT_EQ(by_default.steps, 2000);
}

TEST(Fit, QuadraticAndPolynomialRecoverTheirCoefficients) {
  const Data q = generate([](double x) { return 1 - 2 * x + 0.5 * x * x; }, -3, 5, 150, 0.05);
  FitOptions o;
  o.model = "quadratic";
  o.method = "closed-form";
  const FitResult exact = fit(q.x, 1, q.y, o);
  expect_parameters(exact, {1, -2, 0.5}, 0.03, "quadratic closed-form");
  o.method = "sgd";  // defaults: about 2000 updates, here 14 epochs of 150
  const FitResult by_sgd = fit(q.x, 1, q.y, o);
  EXPECT_EQ(by_sgd.steps, 14 * 150);
  expect_parameters(by_sgd, exact.parameters, 2e-2, "quadratic sgd");

  const Data c =
      generate([](double x) { return 0.5 + x - 0.3 * x * x + 0.02 * x * x * x; }, -5, 10, 200, 0.1);
  o = FitOptions{};
  o.model = "polynomial";
  o.degree = 3;
  o.method = "closed-form";
  const FitResult cubic = fit(c.x, 1, c.y, o);
  expect_parameters(cubic, {0.5, 1, -0.3, 0.02}, 0.05, "cubic closed-form");
  EXPECT_NEAR(cubic.parameters[3], 0.02, 2e-3);
  o.method = "gd";
  o.epochs = 3000;
  expect_parameters(fit(c.x, 1, c.y, o), cubic.parameters, 2e-3, "cubic adam");
}

TEST(Fit, ExponentialLogisticAndRationalRecoverTheirParameters) {
  FitOptions o;  // the defaults: full-batch Adam, lr 0.05, cosine over 2000 steps
  o.model = "exponential";
  const Data e = generate([](double x) { return 3 * std::exp(0.4 * x); }, 0, 5, 100, 0.05);
  const FitResult exp_fit = fit(e.x, 1, e.y, o);
  expect_parameters(exp_fit, {3, 0.4}, 0.02, "exponential");
  EXPECT_GT(exp_fit.r2, 0.999);

  o.model = "logistic";
  Data l = generate([](double x) { return 1 / (1 + std::exp(-(-3 + 1.5 * x))); }, 0, 4, 120, 0.01);
  for (double& v : l.y) v = std::clamp(v, 0.0, 1.0);
  expect_parameters(fit(l.x, 1, l.y, o), {-3, 1.5}, 0.1, "logistic");

  o.model = "rational";
  o.degree = 1;
  o.denominator_degree = 1;
  const Data r = generate([](double x) { return (1 + 2 * x) / (1 + 0.5 * x); }, 0, 5, 120, 0.002);
  const FitResult rat = fit(r.x, 1, r.y, o);
  EXPECT_EQ(rat.names, (std::vector<std::string>{"p0", "p1", "q1"}));
  expect_parameters(rat, {1, 2, 0.5}, 0.03, "rational");
  EXPECT_THAT(rat.formula, HasSubstr(") / (1 + "));
}

// The example data against torch.linalg.lstsq in float64 on the raw monomials
// (tests/fixtures/generate.py): our closed form solves the standardised problem and maps the
// coefficients back, so this checks the mapping as well as the solve.
TEST(Fit, ClosedFormAndGradientDescentMatchPyTorchsLeastSquares) {
  const TensorMap want =
      load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/fit.safetensors");
  const std::string data = std::string(TIDE_SOURCE_DIR) + "/examples/data/";
  const CsvTable cubic = read_csv(data + "cubic.csv");
  FitOptions o;
  o.model = "polynomial";
  for (const int64_t degree : {3, 9}) {
    o.degree = degree;
    o.method = "closed-form";
    const std::vector<double> torch = want.at(fmt::format("cubic_degree{}", degree)).to_vector();
    const FitResult exact = fit(cubic.column("x"), 1, cubic.column("y"), o);
    expect_parameters(exact, torch, 1e-7, fmt::format("degree {} closed-form", degree));
    if (degree == 3) {
      o.method = "gd";
      expect_parameters(fit(cubic.column("x"), 1, cubic.column("y"), o), torch, 2e-3,
                        "degree 3 gd");
    }
  }
  const CsvTable plane = read_csv(data + "plane.csv");
  std::vector<double> x;
  for (int64_t i = 0; i < plane.rows(); ++i)
    for (const char* c : {"a", "b", "c"}) x.push_back(plane.column(c)[static_cast<size_t>(i)]);
  o = FitOptions{};
  o.method = "closed-form";
  const std::vector<double> torch = want.at("plane").to_vector();
  expect_parameters(fit(x, 3, plane.column("y"), o), torch, 1e-9, "plane closed-form");
  o.method = "minibatch";
  expect_parameters(fit(x, 3, plane.column("y"), o), torch, 1e-2, "plane minibatch");
}

// Without scaling the same minimum is reached (on data near 0, where float32 suffices), and a
// rational of degrees 2 over 2 recovers its five parameters.
TEST(Fit, UnscaledFitsAndAHigherRational) {
  const Data d = generate([](double x) { return 0.5 - 1.5 * x; }, -1, 1, 50, 0.01);
  FitOptions o;
  o.method = "closed-form";
  const FitResult exact = fit(d.x, 1, d.y, o);
  o.method = "gd";
  o.scale = false;
  expect_parameters(fit(d.x, 1, d.y, o), exact.parameters, 1e-3, "unscaled gd");
  o.method = "closed-form";
  expect_parameters(fit(d.x, 1, d.y, o), exact.parameters, 1e-12, "unscaled closed form");

  o = FitOptions{};
  o.model = "rational";
  o.degree = 2;
  o.denominator_degree = 2;
  o.epochs = 6000;
  const Data r =
      generate([](double x) { return (1 + x + 0.5 * x * x) / (1 + 0.2 * x + 0.1 * x * x); }, -2, 4,
               150, 0.001);
  const FitResult rat = fit(r.x, 1, r.y, o);
  EXPECT_EQ(rat.names, (std::vector<std::string>{"p0", "p1", "p2", "q1", "q2"}));
  EXPECT_LT(rat.rss / 150, 4e-6);  // at the noise: 0.001^2 = 1e-6 per point
  expect_parameters(rat, {1, 1, 0.5, 0.2, 0.1}, 0.05, "rational 2/2");
}

// x far from 0: the coefficients in x cancel, so fitted values come from the centred form,
// which stays exact, and the fit says so.
TEST(Fit, DataFarFromZeroKeepsItsPrecision) {
  const auto f = [](double x) {
    const double t = x - 2000;
    return 3 + t - 0.5 * t * t + 0.1 * t * t * t * t * t;
  };
  const Data d = generate(f, 1998, 2002, 80, 0.01);
  FitOptions o;
  o.model = "polynomial";
  o.degree = 5;
  o.method = "closed-form";
  const FitResult r = fit(d.x, 1, d.y, o);
  EXPECT_LT(r.rss / 80, 2e-4);  // the noise, 1e-4 per point, not round-off
  EXPECT_GT(r.r2, 0.9999);
  EXPECT_THAT(r.warning, HasSubstr("x lies far from 0"));
  const std::vector<double> at = evaluate(o, r, {1999.5, 2001.25}, 1);
  EXPECT_NEAR(at[0], f(1999.5), 0.02);
  EXPECT_NEAR(at[1], f(2001.25), 0.02);
  // Near 0 the same fit needs no warning.
  const Data near = generate([](double x) { return 3 + x - 0.5 * x * x; }, -2, 2, 80, 0.01);
  EXPECT_EQ(fit(near.x, 1, near.y, o).warning, "");
}

TEST(Fit, ConstantDataAndRankDeficiencyAreReported) {
  FitOptions o;
  o.method = "closed-form";
  const FitResult flat = fit({0, 1, 2, 3}, 1, {5, 5, 5, 5}, o);
  EXPECT_NEAR(flat.parameters[0], 5, 1e-12);
  EXPECT_TRUE(std::isnan(flat.r2));
  const FitResult twice = fit({1, 1, 2, 2, 3, 3}, 2, {2, 4, 6}, o);  // two equal columns
  EXPECT_THAT(twice.warning, HasSubstr("rank 2 of 3"));
  EXPECT_NEAR(twice.parameters[1], twice.parameters[2], 1e-9);  // least norm splits evenly
}

// Values a fit cannot square, or (--no-scale, gradient descent) hold in float32, are
// refused by file, line and column before anything is fitted, as are NaN and infinity from
// a caller; powers that overflow a double are refused after the fit, never returned.
TEST(Fit, ValuesTooLargeToFitAreRefusedByPlace) {
  FitOptions o;
  const std::vector<double> x = {0, 1, 2, 3}, y = {1, 2, 1e300, 4};
  const FitSource source{"data.csv", {2, 3, 5, 6}, {"time"}, "count"};
  EXPECT_THAT(error_of([&] { check_fit_data(x, 1, y, o, source); }),
              HasSubstr("data.csv: line 5, column 'count': 1e+300 is beyond +-1e+100, the "
                        "largest output value a fit takes"));
  EXPECT_THAT(error_of([&] {
                check_fit_data({0, -1e101, 2, 3}, 1, {1, 2, 3, 4}, o, source);
              }),
              HasSubstr("data.csv: line 3, column 'time': -1e+101 is beyond +-1e+100, the "
                        "largest input value"));
  EXPECT_THAT(error_of([&] { fit(x, 1, y, o); }), HasSubstr("row 3, y: 1e+300 is beyond"));
  EXPECT_THAT(error_of([&] {
                fit({0, 1, NAN, 3}, 1, {1, 2, 3, 4}, o);
              }),
              HasSubstr("row 3, x1: nan is not a finite number"));
  EXPECT_THAT(error_of([&] {
                fit({0, 1, 2, 3, 4, 5}, 2, {1, INFINITY, 3}, o);
              }),
              HasSubstr("row 2, y: inf is not a finite number"));
  EXPECT_THAT(error_of([&] {
                fit_degrees({0, 1, 2, 3, 4, 5}, {0, 1, 2, 3, 4, 1e200}, 1, 2, 0.3, o);
              }),
              HasSubstr("row 6, y: 1e+200 is beyond"));
  o.scale = false;
  EXPECT_THAT(error_of([&] {
                fit({0, 1, 2, 1e39}, 1, {1, 2, 3, 4}, o);
              }),
              HasSubstr("row 4, x1: 1e+39 is beyond +-3.40282e+38, the largest input value a fit "
                        "takes without scaling (--no-scale fits in float32)"));
  // Closed form works in double: 1e39 is taken, but its 12th power is not.
  o.method = "closed-form";
  o.model = "polynomial";
  o.degree = 12;
  std::vector<double> big_x, big_y;
  for (int i = 0; i < 20; ++i) {
    big_x.push_back(1e39 * (i + 1));
    big_y.push_back(i);
  }
  EXPECT_THAT(error_of([&] { fit(big_x, 1, big_y, o); }),
              HasSubstr("row 1: x = 1e+39 to the power 8 overflows a double"));
  // Values up to the limit still fit.
  o = FitOptions{};
  o.method = "closed-form";
  const FitResult r = fit({0, 1e99, 2e99, 3e99}, 1, {1e99, 3e99, 5e99, 7e99}, o);
  EXPECT_NEAR(r.parameters[1], 2, 1e-9);
  EXPECT_NEAR(r.parameters[0] / 1e99, 1, 1e-9);
}

TEST(Fit, PredictEvaluatesTheReportedFormula) {
  FitOptions o;
  o.model = "rational";
  o.degree = 2;
  o.denominator_degree = 1;
  // (1 + 2x + 3x^2) / (1 + 4x) at x = 2: 17 / 9.
  EXPECT_NEAR(predict(o, {1, 2, 3, 4}, {2.0}, 1)[0], 17.0 / 9.0, 1e-15);
  o.model = "logistic";
  EXPECT_NEAR(predict(o, {0, 1}, {0.0}, 1)[0], 0.5, 1e-15);
}

TEST(Fit, CapacitySweepFindsTheDegreeOfTheData) {
  const Data d = generate([](double x) { return 1 + x - 0.5 * x * x * x; }, -2, 2, 60, 0.3, 4);
  FitOptions o;
  o.method = "closed-form";
  const CapacityResult c = fit_degrees(d.x, d.y, 1, 12, 0.3, o);
  EXPECT_EQ(c.validation_rows, 18);
  EXPECT_EQ(c.train_rows, 42);
  ASSERT_EQ(c.scores.size(), 12u);
  EXPECT_GE(c.best_degree, 3);  // under-fitting below 3
  EXPECT_LE(c.best_degree, 6);
  for (size_t k = 1; k < c.scores.size(); ++k)  // nested models: train error never rises
    EXPECT_LE(c.scores[k].train_mse, c.scores[k - 1].train_mse * (1 + 1e-9)) << k + 1;
  const double best = c.scores[static_cast<size_t>(c.best_degree - 1)].validation_mse;
  EXPECT_GT(c.scores[0].validation_mse, 3 * best);  // degree 1: under-fit
  EXPECT_GT(c.scores[11].validation_mse, best);     // degree 12: over-fit
  EXPECT_LT(c.scores[11].train_mse, c.scores[2].train_mse);
}

TEST(Fit, BadRequestsAreClearErrors) {
  const Data d = generate([](double x) { return x; }, 0, 1, 3, 0);
  FitOptions o;
  o.model = "polynomial";
  o.degree = 3;
  EXPECT_THAT(error_of([&] { fit(d.x, 1, d.y, o); }),
              HasSubstr("3 points cannot determine the 4 parameters of --model polynomial"));
  o.model = "exponential";
  o.method = "closed-form";
  EXPECT_THAT(error_of([&] { fit(d.x, 1, d.y, o); }),
              HasSubstr("closed-form solves the models linear in their parameters"));
  o = FitOptions{};
  o.model = "logistic";
  EXPECT_THAT(error_of([&] {
                fit({0, 1, 2}, 1, {0, 0.5, 2}, o);
              }),
              HasSubstr("logistic fits y in [0, 1]; row 3 has y = 2"));
  o.model = "quartic";
  EXPECT_THAT(error_of([&] { fit(d.x, 1, d.y, o); }), HasSubstr("unknown model 'quartic'"));
  o = FitOptions{};
  o.optimizer = OptimizerKind::sgd;
  o.lr = 1e6;
  o.epochs = 200;
  EXPECT_THAT(error_of([&] { fit(d.x, 1, {1e3, -1e3, 1e3}, o); }), HasSubstr("diverged"));
  o = FitOptions{};
  o.model = "exponential";
  EXPECT_THAT(error_of([&] {
                fit({0, 1, 2, 3}, 2, {1, 2}, o);
              }),
              HasSubstr("takes one input column, got 2"));
  EXPECT_THAT(error_of([&] { fit_degrees(d.x, d.y, 1, 5, 0.3, FitOptions{}); }),
              HasSubstr("cannot fit a polynomial of degree 5"));
}

}  // namespace
}  // namespace tide
