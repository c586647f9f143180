"""Scoring models: the indicators, a model scored on windows or a manifest, and figures."""
