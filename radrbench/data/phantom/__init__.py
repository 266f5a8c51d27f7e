"""The synthetic "phantom" demo benchmark: chest-radiograph-like images, reports and questions."""

from radrbench.data.phantom.cases import PhantomCase, phantom_cases
from radrbench.data.phantom.claims import Claim, ReportText, Statement
from radrbench.data.phantom.generate import REPORT_STYLES, ReportStyle, generate_demo

__all__ = [
    "REPORT_STYLES",
    "Claim",
    "PhantomCase",
    "ReportStyle",
    "ReportText",
    "Statement",
    "generate_demo",
    "phantom_cases",
]
