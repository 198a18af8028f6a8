"""Evaluation: our model behind lm-eval, task sources (generated minimal pairs, local BLiMP, the
hub's tasks, synthetic probes) and n-gram baselines.

Importing this package imports nothing heavy; ``lm_model`` imports torch and lm-eval.
"""
