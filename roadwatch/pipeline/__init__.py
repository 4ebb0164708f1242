"""The pipeline: the loop that takes detected batches through the tracker into events and outputs, the roster
of sources, the detection worker, the plate stage, and each stream's state.

May import the stage packages, the event plane (roadwatch.events) and the outputs (roadwatch.outputs).
"""

from roadwatch.pipeline.loop import Pipeline, rounds
from roadwatch.pipeline.roster import file_read_ahead

__all__ = ["Pipeline", "file_read_ahead", "rounds"]
