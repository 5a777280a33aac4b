"""Transport: settings, credentials, middlewares, the retry table and the one HTTP layer."""
