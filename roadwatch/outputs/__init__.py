"""What a run leaves on disk: the events file, the annotated videos, summary.json, the HTML report, and the
segment clock that cuts 24/7 outputs into pieces. `RunOutputs` owns them all for one run.

Imports the event schema and the trackers' track views; never the pipeline.
"""
