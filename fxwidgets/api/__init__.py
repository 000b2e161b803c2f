"""The public verbs, one module per family (``affinity``, ``similarity``, ``attribution``, ``evaluation``,
``selection``, ``datasets``): data first, parameters by keyword, ``stream=True`` for a Job.
``fxwidgets/__init__.py`` re-exports them."""
