"""``viewrank serve``: an HTTP inference service whose shapes fit ml-commons remote connectors."""
