"""What a course builds and hands out: the skeleton, the notebooks, the student release, the
Gradescope and PrairieLearn packages, and a sample class to try the batch grader on.
May import every other room; only the command line (mgcourse.cli) imports it."""
