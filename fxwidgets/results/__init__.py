"""Typed results: a compute record plus how to look at it (``.show()``, ``.plot()``, ``.numpy()``, ``.to_dict()``).

Each result class extends the plain record its compute module returns, so anything that takes the record takes
the result too. A result finds its interactive view through :mod:`~fxwidgets.results.views`, a registry that
``fxwidgets.widgets`` fills: results never import widgets.
"""

from .affinity import AffinityResult, GraphResult, KnnResult, LabelNoiseResult, PropagationResult, default_style
from .attribution import AttributionResult
from .base import Result
from .datasets import (ActivationHistogramsResult, DatasetDistanceResult, EmbeddingResult,
                       PairScoreHistogramsResult, SampleSelectionResult)
from .evaluation import EvaluationResult
from .selection import SelectionResult
from .similarity import CompareResult, SimilarityResult

__all__ = ["ActivationHistogramsResult", "AffinityResult", "AttributionResult", "CompareResult",
           "DatasetDistanceResult", "EmbeddingResult", "EvaluationResult", "GraphResult", "KnnResult",
           "LabelNoiseResult", "PairScoreHistogramsResult", "PropagationResult", "Result", "SampleSelectionResult",
           "SelectionResult", "SimilarityResult", "default_style"]
