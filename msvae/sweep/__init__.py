"""Ray Tune sweeps whose every trial is a full Ray Train run on the training code path."""
