"""Action-conditioned latent world model: latent cache, predictor, training."""
