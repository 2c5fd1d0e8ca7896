"""What a model costs and how it leaves PyTorch: FLOP counts (`flops`), latency, throughput and
memory (`bench`, tables and plots in `bench_report`), and ONNX export / ONNX Runtime inference
(`export`).

Uses `training.run` to read run folders; imports nothing from `evaluation`, `study` or `cli`.
"""
