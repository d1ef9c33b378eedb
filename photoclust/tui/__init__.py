"""The terminal UI (Textual). Entry points: :func:`photoclust.tui.app.make_app` and :func:`photoclust.tui.app.run`."""
