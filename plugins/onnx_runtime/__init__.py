"""``onnx:DIR``: any directory written by ``viewrank export onnx`` served by ONNX Runtime."""
