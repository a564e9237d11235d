"""Concrete backends: memory, SQLite, PostgreSQL, files and S3, and migrations."""
