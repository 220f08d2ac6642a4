// What the processor offers oneDNN, as oneDNN itself sees it (after ONEDNN_MAX_CPU_ISA).
#pragma once

#include <string>

namespace tide {

// oneDNN's name for the instruction set its kernels use here: "avx512_core_bf16", ...
std::string cpu_isa_name();
// True when bf16 products run natively (AVX512_BF16 or AMX). Without them oneDNN still
// accepts bf16 but emulates it, at less than the f32 rate.
bool bf16_native();

}  // namespace tide
