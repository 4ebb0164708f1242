"""Tools that ship with the command but are not the pipeline: `roadwatch bench`."""
