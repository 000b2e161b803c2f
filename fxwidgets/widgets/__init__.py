"""One anywidget class per view (named as its twin ``js/<view>.ts``): traits and wiring to the runtime, no math.

Importing this package registers each view as the one ``Result.show()`` opens for its result type.
"""

from ..results import views as _views
from ..results.affinity import AffinityResult
from ..results.attribution import AttributionResult
from ..results.datasets import EmbeddingResult, SampleSelectionResult
from ..results.selection import SelectionResult
from ..results.similarity import CompareResult
from .affinity_heatmap import AffinityHeatmap
from .attribution_view import AttributionView
from .feature_ranking import FeatureRanking
from .layer_comparison import LayerComparison
from .linking import Link, link, linked_factory
from .pixel_affinity import PixelAffinity
from .scatter import Scatter, show_sample_selection
from .zoom_heatmap import ZoomHeatmap

# `result.show(link=other_view)` joins other_view's link (linked_factory adds link= and link_index=).
_views.register(AffinityResult, linked_factory(AffinityHeatmap.from_result))
_views.register(AttributionResult, linked_factory(AttributionView.from_result))
_views.register(CompareResult, LayerComparison.from_result)
_views.register(SelectionResult, linked_factory(FeatureRanking.from_result))
_views.register(EmbeddingResult, Scatter.from_embedding)  # takes link= itself
_views.register(SampleSelectionResult, linked_factory(show_sample_selection))

__all__ = ["AffinityHeatmap", "AttributionView", "FeatureRanking", "LayerComparison", "Link", "PixelAffinity",
           "Scatter", "ZoomHeatmap", "link"]
