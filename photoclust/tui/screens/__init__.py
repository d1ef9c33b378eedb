"""The TUI's screens: People, Person, Unknown faces, Photo, Search, Scan, History, Help, and dialogs."""
