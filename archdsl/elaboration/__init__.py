"""Elaboration and checks: the syntax tree to the checked IR, every shape inferred; templates for the classes."""
