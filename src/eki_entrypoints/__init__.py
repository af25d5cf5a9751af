"""Entry points: settings, the composition root, the CLI and the web app."""
