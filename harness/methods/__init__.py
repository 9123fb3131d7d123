"""The methods. Each is one registration (registry.py: its config section from sections.py, its
implementation's path, its recipe) and one small module with its implementation, a
harness.methods.base.Method: the training loop sees only that interface, built by factory.py.
This package's own import is torch-free, so that planning can read the registry."""
