"""One anywidget class per view (named as its twin ``js/<view>.ts``): traits and wiring to the runtime, no math.

Importing this package registers each view as the one ``Result.show()`` opens for its result type.
"""

from typing import Any

from ..results import views as _views
from ..results.affinity import AffinityResult
from ..results.attribution import AttributionResult
from ..results.evaluation import EvaluationResult
from ..results.datasets import EmbeddingResult, SampleSelectionResult
from ..results.selection import SelectionResult
from ..results.similarity import CompareResult
from .affinity_heatmap import AffinityHeatmap
from .attribution_summary import AttributionSummary, is_tabular_batch
from .attribution_view import AttributionView
from .feature_ranking import FeatureRanking
from .layer_comparison import LayerComparison
from .metrics_table import MetricsTable
from .linking import Link, link, linked_factory
from .pixel_affinity import PixelAffinity
from .scatter import Scatter, show_sample_selection
from .zoom_heatmap import ZoomHeatmap
from ._standalone import save_html

#: Arguments only the one-row view takes: given one of them, ``show()`` opens AttributionView.
_ROW_VIEW_ARGS = ("index", "tokens", "kind", "image", "metrics", "sign", "opacity", "clip")


def show_attribution(result: AttributionResult, *args: Any, **kwargs: Any) -> Any:
    """``AttributionResult.show()``: many rows of 1-D features open the summary (beeswarm and dependence plots);
    images, text and a single row open AttributionView (also when a one-row argument such as ``index`` is given)."""
    if is_tabular_batch(result) and not any(k in kwargs for k in _ROW_VIEW_ARGS):
        return AttributionSummary.from_result(result, *args, **kwargs)
    return AttributionView.from_result(result, *args, **kwargs)


# `result.show(link=other_view)` joins other_view's link (linked_factory adds link= and link_index=).
_views.register(AffinityResult, linked_factory(AffinityHeatmap.from_result))
_views.register(AttributionResult, linked_factory(show_attribution))
_views.register(CompareResult, LayerComparison.from_result)
_views.register(EvaluationResult, MetricsTable.from_result)
_views.register(SelectionResult, linked_factory(FeatureRanking.from_result))
_views.register(EmbeddingResult, Scatter.from_embedding)  # takes link= itself
_views.register(SampleSelectionResult, linked_factory(show_sample_selection))

__all__ = ["AffinityHeatmap", "AttributionSummary", "AttributionView", "FeatureRanking", "LayerComparison", "Link",
           "MetricsTable", "PixelAffinity", "Scatter", "ZoomHeatmap", "link", "save_html"]
