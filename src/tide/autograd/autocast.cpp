#include "tide/autograd/autocast.hpp"

#include <array>
#include <string>

#include "tide/core/error.hpp"
#include "tide/kernels/cpu.hpp"

namespace tide {
namespace {

// The one table. Products go to bf16: they are most of a step's time, oneDNN runs them at
// about twice the f32 rate with AVX512_BF16, and their f32 accumulation keeps sums exact
// to f32 rounding. The ops that are not here stay f32 because bf16's 8-bit mantissa is too
// coarse for them (softmax's exponentials and sums, normalisation's variance, losses and
// reductions over many terms) or because they are memory-bound and gain nothing.
constexpr std::array kTable{
    AutocastRule{CastOp::linear, "linear", Precision::bf16},
    AutocastRule{CastOp::matmul, "matmul", Precision::bf16},
    AutocastRule{CastOp::bmm, "bmm", Precision::bf16},  // attention's scores and mixing
    AutocastRule{CastOp::conv2d, "conv2d", Precision::bf16},
    AutocastRule{CastOp::lstm, "lstm", Precision::bf16},
    // oneDNN 2.6 has only its reference GRU in bf16 (as in f32): nothing to gain.
    AutocastRule{CastOp::gru, "gru", Precision::f32},
    AutocastRule{CastOp::rnn, "rnn", Precision::bf16},
};

thread_local Precision scope_precision = Precision::f32;

}  // namespace

std::span<const AutocastRule> autocast_table() {
  return kTable;
}

Precision runnable_precision(Precision asked, std::string* why) {
  if (asked != Precision::bf16 || bf16_native()) return asked;
  if (why)
    *why = fmt::format(
        "bf16: this processor has no native bf16 products (oneDNN uses {}; AVX512_BF16 or AMX "
        "is needed), so the run computes in f32",
        cpu_isa_name());
  return Precision::f32;
}

Autocast::Autocast(Precision precision)
    : precision_(runnable_precision(precision)), outer_(scope_precision) {
  scope_precision = precision_;
}

Autocast::~Autocast() {
  scope_precision = outer_;
}

Precision precision_of(CastOp op) {
  if (scope_precision == Precision::f32) return Precision::f32;
  for (const AutocastRule& rule : kTable)
    if (rule.op == op) return rule.bf16_scope;
  return Precision::f32;
}

}  // namespace tide
