"""One anywidget class per view (named as its twin ``js/<view>.ts``): traits and wiring to the runtime, no math.

Importing this package registers each view as the one ``Result.show()`` opens for its result type.
"""

from ..results import views as _views
from ..results.affinity import AffinityResult
from ..results.attribution import AttributionResult
from ..results.selection import SelectionResult
from ..results.similarity import CompareResult
from .affinity_heatmap import AffinityHeatmap
from .attribution_view import AttributionView
from .feature_ranking import FeatureRanking
from .layer_comparison import LayerComparison
from .pixel_affinity import PixelAffinity
from .zoom_heatmap import ZoomHeatmap
from ._standalone import save_html

_views.register(AffinityResult, AffinityHeatmap.from_result)
_views.register(AttributionResult, AttributionView.from_result)
_views.register(CompareResult, LayerComparison.from_result)
_views.register(SelectionResult, FeatureRanking.from_result)

__all__ = ["AffinityHeatmap", "AttributionView", "FeatureRanking", "LayerComparison", "PixelAffinity", "ZoomHeatmap",
           "save_html"]
