"""fxwidgets: see what a model's features do.

Affinities, attributions and selections computed with torch (GPU or CPU) and streamed, while they are
being computed, into interactive Jupyter widgets.
"""

from .compute.affinity import METRICS
from .compute.attribution import METHODS as ATTRIBUTION_METHODS
from .compute.evaluation import METRICS as EVALUATION_METRICS
from .compute.engines import RayEngine
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

# Attributions, and how far to trust them
from .api.attribution import attribute
from .api.evaluation import evaluate
from .compute.evaluation import attribution_explainer
from .results.attribution import AttributionResult
from .results.evaluation import EvaluationResult

# Feature selection
from .api.selection import FeatureSelector, select
from .results.selection import SelectionResult

# Datasets: embeddings, data selection, dataset distances
from .api.datasets import activation_histograms, dataset_distance, embed, pair_score_histograms, select_samples
from .results.datasets import (
    ActivationHistogramsResult,
    DatasetDistanceResult,
    EmbeddingResult,
    PairScoreHistogramsResult,
    SampleSelectionResult,
)

# Views
from .widgets import (AffinityHeatmap, AttributionSummary, AttributionView, FeatureRanking, LayerComparison, Link,
                      MetricsTable, PixelAffinity, Scatter, ZoomHeatmap, link, save_html)

__version__ = "0.1.0"

__all__ = [
    "ATTRIBUTION_METHODS", "EVALUATION_METRICS", "METRICS", "ActivationHistogramsResult", "AffinityHeatmap",
    "AffinityResult", "AttributionResult", "AttributionSummary", "AttributionView", "CompareResult",
    "DatasetDistanceResult", "EmbeddingResult", "EvaluationResult", "FeatureRanking", "FeatureSelector", "GraphResult",
    "Job", "JobCancelled", "KnnResult", "LabelNoiseResult", "LayerComparison", "Link", "MetricsTable",
    "PairScoreHistogramsResult", "PixelAffinity", "PropagationResult", "RayEngine", "SampleSelectionResult", "Scatter",
    "SelectionResult", "SimilarityResult", "ZoomHeatmap", "activation_histograms", "affinity", "attribute",
    "attribution_explainer", "compare", "dataset_distance", "eigenvector_centrality", "embed", "evaluate", "knn",
    "knn_graph", "label_noise", "link", "location_affinity", "mutual_nn", "options", "pair_score_histograms",
    "propagate", "save_html", "select", "select_samples", "similarity",
    "spectral_clustering", "spectral_embedding", "spectral_order",
]
