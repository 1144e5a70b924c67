"""Grading a class (`mgcourse grade`), step by step: collect the hand-ins (submissions), run the
battery isolated and judge (grading, hidden), write the gradebook's reports (reports).
May import mgcourse.battery, mgcourse.isolation and mgcourse.paths."""
