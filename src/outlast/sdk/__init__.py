"""The Outlast SDK. Import the public API from ``outlast``; modules here are internal."""
