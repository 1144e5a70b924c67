"""The micrograd course: the graded battery and the tools built on it.

Its rooms, each importing only from those above it: battery (the checks every front-end
shares), isolation (the student's code in a process of its own), student (the checkpoint
runner, the notebooks' check(), the pytest plugin), batch (grading a class), nbgrading (the
nbgrader course), handout (what a course builds and hands out); cli.py is the command line.
"""
