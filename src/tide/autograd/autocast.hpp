// Mixed precision, autocast-style: inside a bf16 scope the products of the ops that the
// table in autocast.cpp names (matrix products, convolutions, recurrences) read bf16
// roundings of their operands and accumulate in f32; everything else (softmax,
// normalisation, losses, reductions, elementwise ops, the optimizer) stays f32. Tensors,
// parameters and gradients are f32 throughout: the master weights are the parameters.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "tide/core/precision.hpp"

namespace tide {

// The ops whose products a scope may lower.
enum class CastOp : uint8_t { linear, matmul, bmm, conv2d, lstm, gru, rnn };

struct AutocastRule {
  CastOp op;
  std::string_view name;  // the op as the graph names it
  Precision bf16_scope;   // what it computes in inside a bf16 scope
};
// Every op of CastOp with its precision in a bf16 scope.
std::span<const AutocastRule> autocast_table();

// Sets the precision of the calling thread's ops until destroyed; scopes nest. A bf16 scope
// on a processor without native bf16 (bf16_native() in kernels/cpu.hpp) runs f32, as
// runnable_precision() says; precision() is what the scope runs.
class Autocast {
 public:
  explicit Autocast(Precision precision);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;
  Precision precision() const { return precision_; }

 private:
  Precision precision_, outer_;
};

// The precision `asked` runs at on this processor: bf16 only where it is native. When it
// falls back, *why (if given) says so in one line.
Precision runnable_precision(Precision asked, std::string* why = nullptr);

// What `op` computes in now on this thread: f32 outside every bf16 scope. A forward op
// reads this once and its backward pass computes in the same precision.
Precision precision_of(CastOp op);

}  // namespace tide
