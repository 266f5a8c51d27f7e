"""Reasoning-chain mining from radiology reports: plan → reasoning → refine, then validation."""
