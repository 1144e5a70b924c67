"""What the batch grader writes besides the gradebook, a module per output: the feedback pages,
Gradescope's results.json, the class summary; rows reads the gradebook for them, layout writes
them all as files (safe_files: each atomically). Imports nothing of mgcourse."""
