"""Campaigns as data: the model, the YAML loader and the planner."""
