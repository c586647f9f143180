"""Distributed training on Ray Train: the worker loop, checkpoints and the driver."""
