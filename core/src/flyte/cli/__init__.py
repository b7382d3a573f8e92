"""The ``flyte`` command line. Commands live in their own modules and are imported on use."""
