"""The faces of the service: the command line (``cli`` and one module per command under
``commands``), the daemon, the web view, logging, and the wiring that builds a crawl from settings."""
