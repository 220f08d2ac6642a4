#!/usr/bin/python3
"""ONNX's own checks of the models Tide wrote.

    check_onnx.py MODEL.onnx ...

For each file: onnx.checker.check_model with full_check (which runs shape inference), then
strict shape inference with type checks, and the inferred output shape must be
(batch, ...) with the batch dimension symbolic (named). Prints "ok NAME [dims]" per file; exits 1
at the first model that fails.
"""
import sys

import onnx

for path in sys.argv[1:]:
    model = onnx.load(path)
    try:
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # the checker's own exception types vary by version
        print(f"{path}: {e}")
        sys.exit(1)
    dims = [d.dim_param or d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]
    if not dims or not isinstance(dims[0], str) or not dims[0]:
        print(f"{path}: the output's first dimension is {dims[:1]}, not a symbolic batch")
        sys.exit(1)
    print(f"ok {path} {dims}")
