"""MLflow tracking and registry, written for rank 0 and the command line."""
