"""Reproducing ChestX-Reasoner: SFT, then GRPO with format, outcome and process rewards."""
