"""A correct implementation whose parameters() build their lists differently (see nn.py)."""
