"""The front end: spec text to a syntax tree (grammar, parser, syntax nodes), files and imports to a program."""
