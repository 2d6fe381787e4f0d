"""amibot package."""
