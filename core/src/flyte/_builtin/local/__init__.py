"""The local runtime: runs a task tree in this process, no server needed."""
