"""The student's tools: the checkpoint runner (check, hint, watch), the notebooks' check()
helper and the pytest plugin.
May import mgcourse.battery, mgcourse.isolation and mgcourse.paths."""
