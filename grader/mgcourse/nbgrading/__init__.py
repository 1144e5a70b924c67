"""The nbgrader course: assignment and sample class (nbgrade), parallel autograde (nbautograde,
forked), preprocessors (nbgrader_plugins, hidden_tests), kernels (kernels, forked_kernels).
May import the battery, isolation, batch and student rooms; handout only to build the release."""
