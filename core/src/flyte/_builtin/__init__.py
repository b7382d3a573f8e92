"""Built-in plugins. They register through the same entry point group as any other."""
