"""The reviewers' surface: a static site of kept and rejected tasks, their labels and terminal view."""
