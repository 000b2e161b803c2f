"""fxwidgets: see what a model's features do.

Affinities, attributions and selections computed with torch (GPU or CPU) and streamed, while they are
being computed, into interactive Jupyter widgets.
"""

from ._memory import options
from .api import affinity
from .compute.affinity import METRICS
from .results import AffinityResult
from .runtime import Job, JobCancelled
from .widgets import AffinityHeatmap

__version__ = "0.1.0"

__all__ = ["AffinityHeatmap", "AffinityResult", "Job", "JobCancelled", "METRICS", "affinity", "options"]
