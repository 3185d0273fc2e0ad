"""``openvino:DIR``: a directory written by ``viewrank export openvino`` run by OpenVINO on the CPU."""
