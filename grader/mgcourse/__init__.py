"""The micrograd course: the graded battery and the tools built on it.

The graded checks live in `mgcourse.checks`; `mgcourse.battery` runs them against any
implementation folder; the pytest plugin, the command line and the graders are front-ends.
"""
