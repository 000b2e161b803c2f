"""One anywidget class per view: traits and wiring to the runtime, no math."""

from .heatmap import AffinityHeatmap

__all__ = ["AffinityHeatmap"]
