// What the processor offers oneDNN, as oneDNN itself sees it (after ONEDNN_MAX_CPU_ISA).
#pragma once

#include <string>

namespace tide {

// oneDNN's name for the instruction set its kernels use here: "avx512_core_bf16", ...
std::string cpu_isa_name();
// True when bf16 products run natively (AVX512_BF16 or AMX). Without them oneDNN 2.6
// emulates bf16 on AVX-512 (slower than f32) and has no bf16 products at all on AVX2.
bool bf16_native();

}  // namespace tide
