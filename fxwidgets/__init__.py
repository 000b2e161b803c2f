"""fxwidgets: see what a model's features do.

Affinities, attributions and selections computed with torch (GPU or CPU) and streamed, while they are
being computed, into interactive Jupyter widgets.
"""

from .compute.memory import options
from .runtime import Job, JobCancelled

# Affinities: dense, k-NN, graphs, dense correspondence (issues 2, 3)
from .api import affinity
from .compute.affinity import METRICS
from .compute.dense import LabelNoiseResult, PropagationResult, label_noise, location_affinity, propagate
from .compute.graph import GraphResult, eigenvector_centrality, spectral_clustering, spectral_embedding, spectral_order
from .compute.knn import KnnResult, knn, knn_graph, mutual_nn
from .results import AffinityResult

# Representation similarity (issue 4)
from .compare_api import CompareResult, compare
from .similarity_api import SimilarityResult, similarity

# Attributions (issue 5)
from .attribution_api import attribute
from .attribution_results import AttributionResult
from .compute.attribution import METHODS as ATTRIBUTION_METHODS

# Feature selection (issue 6)
from .feature_selection import FeatureSelector, SelectionResult, select

# Views
from .widgets import AffinityHeatmap
from .widgets.attribution import AttributionView
from .widgets.pixel_affinity import PixelAffinity
from .widgets.ranking import FeatureRanking
from .widgets.similarity import LayerComparison
from .widgets.zoom_heatmap import ZoomHeatmap

__version__ = "0.1.0"

__all__ = [
    "ATTRIBUTION_METHODS", "AffinityHeatmap", "AffinityResult", "AttributionResult", "AttributionView",
    "CompareResult", "FeatureRanking", "FeatureSelector", "GraphResult", "Job", "JobCancelled", "KnnResult",
    "LabelNoiseResult", "LayerComparison", "METRICS", "PixelAffinity", "PropagationResult", "SelectionResult",
    "SimilarityResult", "ZoomHeatmap", "affinity", "attribute", "compare", "eigenvector_centrality", "knn",
    "knn_graph", "label_noise", "location_affinity", "mutual_nn", "options", "propagate", "select", "similarity",
    "spectral_clustering", "spectral_embedding", "spectral_order",
]
