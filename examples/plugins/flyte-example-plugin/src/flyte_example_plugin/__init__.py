"""An example flyte plugin: one of every kind."""
