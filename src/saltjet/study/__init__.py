"""The paper's studies, one command each: `run_study(NAME)` reads saltjet/experiments/NAME.yaml, trains
every run (resumable), evaluates on held-out jets and writes reports/NAME/{report.md, results.json,
figures/}.

Modules: spec (YAML -> StudySpec), data (generated or user data), runner (run_study), evaluation
(held-out scoring, model cost), report (markdown from results.json), figures, attention_maps,
scaling (the bench-based study).
"""

from saltjet.study.report import render_report, write_report
from saltjet.study.runner import run_study
from saltjet.study.spec import list_studies, load_study

__all__ = ["list_studies", "load_study", "render_report", "run_study", "write_report"]
