"""The synthetic "phantom" demo benchmark: chest-radiograph-like images, reports and questions."""

from radrbench.data.phantom.generate import generate_demo

__all__ = ["generate_demo"]
