"""The nbgrader course: its assignment and sample class (nbgrade), the parallel autograde
(nbautograde, forked), the preprocessors (nbgrader_plugins) and the sandboxed kernels (kernels).
May import the battery, isolation, batch and student rooms; handout only to build the release."""
