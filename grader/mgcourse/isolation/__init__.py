"""The student's code in a process of its own: the worker that answers probes, the grader's side
that asks it (isolated), the sandbox (bubblewrap, limits, reaping) and the in-process CPU limit.
May import mgcourse.battery and mgcourse.paths."""
