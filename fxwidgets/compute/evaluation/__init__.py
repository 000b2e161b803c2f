"""Evaluation of attributions: how far to trust a map (faithfulness, robustness, complexity, randomisation sanity
checks, scores against a known ground truth) and Bhatt et al.'s aggregate of several methods. Pure torch.

``plan_evaluation`` validates everything and runs the model once; ``iter_evaluation`` yields partial results per
chunk of model rows; :class:`EvaluationAccumulator` folds them into an :class:`EvaluationRecord`; ``evaluate``
does all three (blocking).
"""

from .aggregate import AggregateRecord, aggregate_attributions, aggregate_explainer, sensitivity_gram
from .complexity import entropy_complexity, gini_sparseness
from .core import (
                   EvaluationAccumulator,
                   EvaluationPlan,
                   EvaluationRecord,
                   EvaluationStep,
                   MetricRecord,
                   MetricSpec,
                   row_seed,
)
from .explain import attribution_explainer
from .plan import (
                   ALIASES,
                   METRICS,
                   evaluate,
                   iter_evaluation,
                   metric_names,
                   plan_evaluation,
)

from .stats import average_ranks, pearson, spearman, ssim
from .synthetic import (
                   SyntheticTask,
                   mass_in_mask,
                   planted_image_task,
                   tabular_task,
                   top_k_precision,
)

__all__ = ["ALIASES", "METRICS", "AggregateRecord", "EvaluationAccumulator", "EvaluationPlan", "EvaluationRecord",
           "EvaluationStep", "MetricRecord", "MetricSpec", "SyntheticTask", "aggregate_attributions",
           "aggregate_explainer", "attribution_explainer", "average_ranks", "entropy_complexity", "evaluate", "gini_sparseness",
           "iter_evaluation", "mass_in_mask", "metric_names", "pearson", "plan_evaluation", "planted_image_task",
           "row_seed", "sensitivity_gram", "spearman", "ssim", "tabular_task", "top_k_precision"]
