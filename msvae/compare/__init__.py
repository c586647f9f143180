"""The paper's comparison: vae, single and msvae at one budget, over several seeds."""
