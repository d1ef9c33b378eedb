"""photoclust: find the people in a personal photo collection, offline."""

__version__ = "0.1.0"
