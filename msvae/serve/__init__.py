"""Serving a registered model over HTTP with MLflow's scoring server."""
