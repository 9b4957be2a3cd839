"""Shared runtime for the collector and the workers: settings, logging, service clients."""
