"""Hugging Face Hub integration: fetch the official annotations and baseline weights by repo id
and pinned revision, publish leaderboard results as a dataset and the site as a Space.

Everything goes through ``huggingface_hub``, so ``HF_ENDPOINT``, ``HF_TOKEN``,
``HF_HUB_OFFLINE`` and the shared cache behave as they do for every Hub tool.
"""
