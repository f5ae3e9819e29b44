"""Offline DeepSphere cosmology experiment: lognormal map generator, patches, methods, runs."""
