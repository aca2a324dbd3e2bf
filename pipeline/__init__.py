"""farside: raw lunar far-side frames to georeferenced map mosaics."""

__version__ = "0.1.0"
