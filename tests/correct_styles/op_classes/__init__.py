"""A correct implementation with an operation class per op (see engine.py)."""
