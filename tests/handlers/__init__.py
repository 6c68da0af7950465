"""Handler modules for HANDLER_MODULES in tests, and helpers that store notifications."""
