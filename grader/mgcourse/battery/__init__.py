"""The battery every front-end shares: the checkpoint and mistake catalogues, the checks, the
grader's own arithmetic (oracle, random expressions), the diagnosis, loading an implementation.
May import only the standard library, its own modules and mgcourse.paths."""
