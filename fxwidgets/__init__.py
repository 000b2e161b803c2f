"""fxwidgets: see what a model's features do.

Affinities, attributions and selections computed with torch (GPU or CPU) and streamed, while they are
being computed, into interactive Jupyter widgets.
"""

from .compute.affinity import METRICS
from .compute.attribution import METHODS as ATTRIBUTION_METHODS
from .compute.memory import options
from .runtime import Job, JobCancelled

# Affinities: dense matrices, k-NN lists and graphs, graph analysis, dense correspondence
from .api.affinity import (
    affinity,
    eigenvector_centrality,
    knn,
    knn_graph,
    label_noise,
    location_affinity,
    mutual_nn,
    propagate,
    spectral_clustering,
    spectral_embedding,
    spectral_order,
)
from .results.affinity import AffinityResult, GraphResult, KnnResult, LabelNoiseResult, PropagationResult

# Representation similarity: one score, or a layer x layer CKA matrix
from .api.similarity import compare, similarity
from .results.similarity import CompareResult, SimilarityResult

# Attributions
from .api.attribution import attribute
from .results.attribution import AttributionResult

# Feature selection
from .api.selection import FeatureSelector, select
from .results.selection import SelectionResult

# Views
from .widgets import (AffinityHeatmap, AttributionView, FeatureRanking, LayerComparison, Link, PixelAffinity, Scatter,
                      ZoomHeatmap, link)

__version__ = "0.1.0"

__all__ = [
    "ATTRIBUTION_METHODS", "AffinityHeatmap", "AffinityResult", "AttributionResult", "AttributionView",
    "CompareResult", "FeatureRanking", "FeatureSelector", "GraphResult", "Job", "JobCancelled", "KnnResult",
    "LabelNoiseResult", "LayerComparison", "Link", "METRICS", "PixelAffinity", "PropagationResult", "SelectionResult",
    "Scatter", "SimilarityResult", "ZoomHeatmap", "affinity", "attribute", "compare", "eigenvector_centrality", "knn",
    "knn_graph", "label_noise", "link", "location_affinity", "mutual_nn", "options", "propagate", "select", "similarity",
    "spectral_clustering", "spectral_embedding", "spectral_order",
]
