"""The TUI's own widgets: the virtual picture grids and the scan progress."""
