"""Generation: sending benchmark prompts to a model and keeping every response."""
