// Classical regression: fitting y = f_theta(x) by minimising R = sum_i (y_i - f_theta(x_i))^2
// with the autograd and optimizers that train the networks (full-batch gradient descent,
// SGD over single shuffled examples, mini-batches), or, for the models linear in theta, in
// closed form by LAPACK's least squares.
//
// Inputs are standardised (z = (x - mean) / std) and outputs scaled while fitting, so one
// learning rate suits any data; the parameters are reported in the data's own units.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tide/optim/factory.hpp"
#include "tide/optim/schedule.hpp"

namespace tide {

// The models of `tide fit --model`:
//   linear       y = b + m1 x1 + ... + md xd           (any number of inputs)
//   quadratic    y = c0 + c1 x + c2 x^2
//   polynomial   y = c0 + c1 x + ... + cn x^n          (--degree n)
//   exponential  y = N e^(r x)
//   logistic     y = 1 / (1 + e^-(a + b x))
//   rational     y = (p0 + p1 x + ... + pn x^n) / (1 + q1 x + ... + qm x^m)  (--degree n,
//                --denominator-degree m)
std::vector<std::string> fit_model_names();

struct FitOptions {
  std::string model = "linear";
  int64_t degree = 1;              // polynomial, rational numerator
  int64_t denominator_degree = 1;  // rational
  std::string method = "gd";       // gd | sgd | minibatch | closed-form
  int64_t batch_size = 32;         // minibatch
  int64_t epochs = 0;  // passes over the data (gd: steps); 0: about 2000 updates, at least
                       // one epoch
  OptimizerKind optimizer = OptimizerKind::adam;
  double lr = 0.05;
  double momentum = 0.9;  // sgd, rmsprop, lars
  ScheduleOptions schedule = {.kind = ScheduleKind::cosine};
  bool scale = true;  // standardise inputs and scale outputs while fitting
  uint64_t seed = 0;  // the order of sgd and minibatch examples
};

// Throws tide::Error naming the flag when an option is out of range or does not apply.
void validate(const FitOptions& options);

struct FitResult {
  std::vector<std::string> names;  // parameter names in the formula: b, m1, c0, N, r, a, p0, q1
  std::vector<double> parameters;  // in the data's units
  double rss = 0;                  // R = sum of squared residuals, in the data's units
  double r2 = 0;                   // 1 - R / sum (y - mean y)^2; NaN when y is constant
  int64_t steps = 0;               // parameter updates (0 for closed-form)
  std::vector<std::pair<int64_t, double>> loss;  // (step, mean squared error) as it fell
  std::string formula;  // the fitted function with its numbers, for printing
  // The fit as it was solved, on z = (x - mean) / stddev and y' = (y - y_shift) / y_scale.
  // Fitted values (and R, R^2, plots, validation errors) come from this centred form: the
  // coefficients in x can lose every digit when x lies far from 0.
  std::vector<double> centred, mean, stddev;
  double y_shift = 0, y_scale = 1;
  // Set when something about the fit deserves a look (digits lost in the coefficients in
  // x, a rank-deficient design, a pole of a rational inside the data).
  std::string warning;
};

// The largest magnitude of a value fit() takes: the squares of larger values (in R and in
// the variances of the scaling) could overflow a double.
inline constexpr double kMaxFitMagnitude = 1e100;

// Where the values to fit came from, for error messages: the file, the line of each row
// and the names of the input and output columns. Empty: rows are numbered from 1.
struct FitSource {
  std::string path;
  std::vector<int64_t> lines;
  std::vector<std::string> x_names;
  std::string y_name;
};

// Throws tide::Error naming the file, line and column (or the row and column) of the first
// value that is not finite, that is beyond +-kMaxFitMagnitude, or, for a fit by gradient
// descent without scaling (scale = false), beyond float's range (that fit runs in float32).
void check_fit_data(const std::vector<double>& x, int64_t d, const std::vector<double>& y,
                    const FitOptions& options, const FitSource& source = {});

// Fits `options.model` to the rows of x (n rows of d inputs, row-major: x[i * d + j]) and y.
// Throws when there are fewer points than parameters, when the model takes one input and d
// is not 1, when closed-form is asked of a model that is not linear in its parameters, for
// values check_fit_data refuses, and when the fitted parameters or R are not finite (powers
// of the data overflowing).
FitResult fit(const std::vector<double>& x, int64_t d, const std::vector<double>& y,
              const FitOptions& options);

// The fitted function at the rows of x (n x d), from a FitResult's parameters in the data's
// units (the printed formula).
std::vector<double> predict(const FitOptions& options, const std::vector<double>& parameters,
                            const std::vector<double>& x, int64_t d);
// The same from the fit's centred form, which keeps its precision for any x.
std::vector<double> evaluate(const FitOptions& options, const FitResult& fit,
                             const std::vector<double>& x, int64_t d);

// Number of parameters of the model (given d inputs).
int64_t parameter_count(const FitOptions& options, int64_t d);

// Capacity: polynomials of each degree fitted on a shuffled (seed) training part and scored
// on the held-out `validation` fraction, by mean squared error.
struct DegreeScore {
  int64_t degree = 0;
  double train_mse = 0, validation_mse = 0;
};
struct CapacityResult {
  std::vector<DegreeScore> scores;
  int64_t best_degree = 0;  // the lowest validation error
  int64_t train_rows = 0, validation_rows = 0;
};
CapacityResult fit_degrees(const std::vector<double>& x, const std::vector<double>& y,
                           int64_t first_degree, int64_t last_degree, double validation,
                           FitOptions options);

}  // namespace tide
